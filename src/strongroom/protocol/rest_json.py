"""The rest-json wire protocol (Lambda): routing and the members in the URI, query string and
headers are the REST protocols' (`rest.py`); the other members are a JSON body, or the body
itself when the shape names a blob payload (Invoke's Payload, both ways). Errors are JSON
documents `{"Type": "User", "Message": ...}` named by the `x-amzn-ErrorType` header, which is
where botocore's RestJSONParser reads the code."""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.model import OperationModel, ServiceModel, StructureShape

from strongroom.auth.sigv4 import AuthFailure, HttpRequest
from strongroom.protocol import rest, shapes
from strongroom.protocol.errors import (
    AwsError,
    NamedError,
    SerializationException,
    ValidationException,
)
from strongroom.protocol.json_codec import AUTH_ERRORS
from strongroom.protocol.registry import error_status, fault_errors
from strongroom.protocol.wire import WireResponse

_CONTENT_TYPE = "application/json"

operation_name = rest.operation_name


# Requests


def decode(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    data = _body_members(shape, request.body)
    data.update(rest.located_members(operation, request))
    try:
        return shapes.decode_input(shape, data)
    except shapes.SerializationError as error:
        raise SerializationException(str(error)) from None
    except shapes.ValidationError as error:
        raise ValidationException(str(error)) from None


def _body_members(shape: StructureShape, body: bytes) -> dict[str, Any]:
    payload = shape.serialization.get("payload")
    if payload is not None and shape.members[payload].type_name in ("blob", "string"):
        if not body:
            return {}
        # The body is the member itself; shapes.decode_input checks blobs as base64 text.
        if shape.members[payload].type_name == "string":
            return {payload: body.decode("utf-8", errors="replace")}
        return {payload: base64.b64encode(body).decode("ascii")}
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SerializationException("Could not parse request body into json") from None
    except RecursionError:
        raise SerializationException("Request body is nested too deeply") from None
    if payload is not None:
        document = {payload: document}
    if not isinstance(document, dict):
        raise SerializationException("Could not parse request body into json")
    # Only body members are read from the body: a member the URI carries cannot be smuggled.
    return {
        key: value
        for key, value in document.items()
        if key in shape.members and rest.in_body(shape.members[key])
    }


# Results


def encode_result(
    model: ServiceModel, operation: OperationModel, result: dict[str, Any] | None, request_id: str
) -> WireResponse:
    shape = operation.output_shape
    result = result or {}
    headers = [("x-amzn-requestid", request_id)]
    body = b""
    if shape is not None:
        headers += rest.header_members(shape, result)
        payload = shape.serialization.get("payload")
        if payload is not None and shape.members[payload].type_name == "blob":
            body = bytes(result.get(payload) or b"")
            headers.append(("content-type", _CONTENT_TYPE))
        elif payload is not None:
            member = shape.members[payload]
            value = result.get(payload)
            if value is not None:
                body = _json(shapes.encode_output(member, value))  # type: ignore[arg-type]
                headers.append(("content-type", _CONTENT_TYPE))
        else:
            members = {k: v for k, v in result.items() if k in shape.members}
            in_body = {k: v for k, v in members.items() if rest.in_body(shape.members[k])}
            if any(rest.in_body(m) for m in shape.members.values()):
                body = _json(shapes.encode_output(shape, in_body))
                headers.append(("content-type", _CONTENT_TYPE))
    return WireResponse(rest.status(operation, result), headers, body, operation=operation.name)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# Errors


def encode_error(model: ServiceModel | None, error: AwsError, request_id: str) -> WireResponse:
    status = error_status(model, error)
    body: dict[str, str] = {}
    if model is not None and error.code in model.shape_names:
        members = model.shape_for(error.code).members
        if "Type" in members:
            # Lambda's words for whose fault it is.
            fault = status >= 500 or error.code in fault_errors(model.service_name)
            body["Type"] = "Service" if fault else "User"
        body["Message" if "Message" in members else "message"] = error.message
    else:
        body["message"] = error.message
    return WireResponse(
        status,
        [
            ("content-type", _CONTENT_TYPE),
            ("x-amzn-requestid", request_id),
            ("x-amzn-errortype", error.code),
        ],
        _json(body),
        error_code=error.code,
    )


def auth_error(failure: AuthFailure) -> AwsError:
    return NamedError(AUTH_ERRORS[failure.kind], failure.message, status=403)
