"""The awsJson1.0 / awsJson1.1 wire protocol: `X-Amz-Target: Prefix.Operation`, JSON bodies."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.model import OperationModel, ServiceModel

from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.protocol import query, shapes
from strongroom.protocol.errors import (
    AwsError,
    NamedError,
    SerializationException,
    ValidationException,
)
from strongroom.protocol.registry import error_status
from strongroom.protocol.wire import WireRequest, WireResponse

# The JSON protocols' words for failed authentication (rest-json and rpc-v2-cbor use them too).
AUTH_ERRORS = {
    FailureKind.MISSING_TOKEN: "MissingAuthenticationTokenException",
    FailureKind.INCOMPLETE: "IncompleteSignatureException",
    FailureKind.UNKNOWN_KEY: "UnrecognizedClientException",
    FailureKind.BAD_SIGNATURE: "InvalidSignatureException",
    FailureKind.EXPIRED_TOKEN: "ExpiredTokenException",
}
# A JSON escape of a UTF-16 surrogate; only bodies containing one can hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def target(request: WireRequest) -> tuple[str, str] | None:
    """(target prefix, operation name) from X-Amz-Target, or None for non-JSON requests."""
    value = request.http.header("x-amz-target")
    if not value or "." not in value:
        return None
    prefix, _, operation = value.rpartition(".")
    return prefix, operation


def decode(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    body = request.body
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise SerializationException("Request body is not valid JSON") from None
    except RecursionError:  # Hostile nesting must not surface as an internal error.
        raise SerializationException("Request body is nested too deeply") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(data):
        # Escapes like "\ud800" parse, but the result is not text: no storage can hold it.
        raise SerializationException("Request body contains an unpaired surrogate escape")
    try:
        return shapes.decode_input(operation.input_shape, data)
    except shapes.SerializationError as error:
        raise SerializationException(str(error)) from None
    except shapes.ValidationError as error:
        raise ValidationException(str(error)) from None


def _has_lone_surrogate(data: object) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _content_type(model: ServiceModel) -> str:
    return f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"


def encode_result(
    model: ServiceModel, operation: OperationModel, result: dict[str, Any] | None, request_id: str
) -> WireResponse:
    body = json.dumps(shapes.encode_output(operation.output_shape, result), separators=(",", ":"))
    return WireResponse(
        200,
        [("content-type", _content_type(model)), ("x-amzn-requestid", request_id)],
        body.encode(),
        operation=operation.name,
    )


def _message_member(model: ServiceModel | None, code: str) -> str:
    if model is not None and code in model.shape_names:
        members = model.shape_for(code).members
        if "Message" in members and "message" not in members:
            return "Message"
    return "message"


def encode_error(model: ServiceModel | None, error: AwsError, request_id: str) -> WireResponse:
    body = {"__type": error.code, _message_member(model, error.code): error.message}
    status = error_status(model, error)
    headers = [
        ("content-type", _content_type(model) if model else "application/x-amz-json-1.1"),
        ("x-amzn-requestid", request_id),
        ("x-amzn-errortype", error.code),
    ]
    compatible = query.compatible_error(model, error, status)
    if compatible is not None:  # CloudWatch, once an awsQuery service
        headers.append(("x-amzn-query-error", compatible))
    return WireResponse(status, headers, json.dumps(body).encode(), error_code=error.code)


def auth_error(failure: AuthFailure) -> AwsError:
    """An authentication failure in the JSON protocol's vocabulary (all status 400)."""
    return NamedError(AUTH_ERRORS[failure.kind], failure.message)
