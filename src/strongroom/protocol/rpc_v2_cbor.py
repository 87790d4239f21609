"""Smithy RPC v2 CBOR (`smithy-rpc-v2-cbor`), CloudWatch's first protocol (the AWS SDKs that
rank a model's protocols by its order speak it; botocore 1.43 prefers awsJson1.0): a POST to
`/service/{targetPrefix}/operation/{Operation}` with the header `smithy-protocol: rpc-v2-cbor`
and a CBOR map as body; results are CBOR maps, errors a map with `__type` and `message`.
Timestamps are epoch seconds under CBOR tag 1, blobs byte strings.

Requests are read with cbor2, turned into the JSON-like form `shapes.decode_input` checks
(blobs as base64, timestamps as epoch seconds), so validation and its messages are those of
the JSON protocol. Services migrated from awsQuery (CloudWatch's model says
`awsQueryCompatible`) also name each error in the query protocol's words in the header
`x-amzn-query-error: Code;Sender`, which botocore reports as the error code.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import cbor2
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from strongroom.auth.sigv4 import AuthFailure, HttpRequest
from strongroom.protocol import query, shapes
from strongroom.protocol.errors import (
    AwsError,
    NamedError,
    SerializationException,
    ValidationException,
)
from strongroom.protocol.json_codec import AUTH_ERRORS
from strongroom.protocol.registry import error_status
from strongroom.protocol.wire import WireRequest, WireResponse

PROTOCOL = "smithy-rpc-v2-cbor"
_CONTENT_TYPE = "application/cbor"
_PATH = re.compile(r"/service/([^/]+)/operation/([^/]+)")
# Deep enough for any model's shapes (CloudWatch's deepest input is six levels).
_MAX_DEPTH = 64


def _refuse(decoder: object) -> object:
    raise cbor2.CBORDecodeError("unsupported CBOR tag")


# Tags that build shared or cyclic values (value sharing, string references): refused, so a
# request is always a tree. Other semantic tags decode to values no shape accepts.
_REFUSED_TAGS: dict[int, Callable[..., Any]] = {tag: _refuse for tag in (25, 28, 29, 256)}


def speaks(request: WireRequest) -> bool:
    """Whether the request is in this protocol (the header botocore sends with every call)."""
    return (request.http.header("smithy-protocol") or "").strip().lower() == "rpc-v2-cbor"


def operation_name(model: ServiceModel | None, request: HttpRequest) -> str:
    """The operation the path names ("" when it names another service, or none)."""
    match = _PATH.fullmatch(request.raw_path.partition("?")[0])
    if match is None or request.method != "POST":
        return ""
    if model is not None and match[1] != model.metadata.get("targetPrefix"):
        return ""
    return match[2]


def decode(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    body = request.body
    if not body:
        data: object = {}
    else:
        stream = io.BytesIO(body)
        try:
            decoder = cbor2.CBORDecoder(
                stream,
                semantic_decoders=_REFUSED_TAGS,
                max_depth=_MAX_DEPTH,
                strict_hashable_types=True,
            )
            data = decoder.decode()
        except (cbor2.CBORDecodeError, ValueError, OverflowError, RecursionError):
            raise SerializationException("Request body is not valid CBOR") from None
        if stream.tell() != len(body):
            raise SerializationException("Request body has data after its CBOR value")
    shape = operation.input_shape
    try:
        return shapes.decode_input(shape, _json_like(shape, data) if shape else data)
    except shapes.SerializationError as error:
        raise SerializationException(str(error)) from None
    except shapes.ValidationError as error:
        raise ValidationException(str(error)) from None


def _json_like(shape: Shape, value: Any) -> Any:
    """The value as the JSON protocol carries it: blobs as base64 text, timestamps as epoch
    seconds. A value not of its member's CBOR type is left as it is, for shapes to refuse."""
    kind = shape.type_name
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        if shape.metadata.get("document"):
            return value
        members = _by_wire_name(shape)
        return {
            key: _json_like(members[key], item) if key in members else item
            for key, item in value.items()
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_json_like(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _json_like(shape.value, item) for key, item in value.items()}
    if kind == "blob":
        # Text is a type error here: base64 text in a CBOR blob is not the blob.
        return base64.b64encode(value).decode() if isinstance(value, bytes) else _NotABlob()
    if kind == "timestamp":
        if isinstance(value, datetime):
            return value.timestamp()
        # Untagged numbers are read as epoch seconds too, as botocore's parser reads them.
        return value if isinstance(value, int | float) else _NotATimestamp()
    return value


@functools.cache
def _by_wire_name(shape: StructureShape) -> dict[str, Shape]:
    return {
        member.serialization.get("name", name): member for name, member in shape.members.items()
    }


class _NotABlob:
    """Stands for a blob member's value of another CBOR type: shapes refuses it by type."""


class _NotATimestamp:
    """Stands for a timestamp member's value of another CBOR type."""


# Responses


def _headers(request_id: str) -> list[tuple[str, str]]:
    return [
        ("content-type", _CONTENT_TYPE),
        ("smithy-protocol", "rpc-v2-cbor"),
        ("x-amzn-requestid", request_id),
    ]


def encode_result(
    model: ServiceModel,
    operation: OperationModel,
    result: Mapping[str, Any] | None,
    request_id: str,
) -> WireResponse:
    shape = operation.output_shape
    body = b"" if shape is None else _dumps(_encode(shape, result or {}))
    return WireResponse(200, _headers(request_id), body, operation=operation.name)


def _dumps(value: Any) -> bytes:
    return cbor2.dumps(value, datetime_as_timestamp=True)


def _encode(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        if shape.metadata.get("document"):
            return value
        return {
            member.serialization.get("name", name): _encode(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if isinstance(shape, ListShape):
        return [_encode(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: _encode(shape.value, item) for key, item in value.items()}
    kind = shape.type_name
    if kind == "timestamp":
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromtimestamp(float(value), UTC)
    if kind == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long"):
        return int(value)
    return value


def encode_error(model: ServiceModel | None, error: AwsError, request_id: str) -> WireResponse:
    status = error_status(model, error)
    body = {"__type": error.code, _message_member(model, error.code): error.message}
    headers = _headers(request_id)
    compatible = query.compatible_error(model, error, status)
    if compatible is not None:
        headers.append(("x-amzn-query-error", compatible))
    return WireResponse(status, headers, _dumps(body), error_code=error.code)


def _message_member(model: ServiceModel | None, code: str) -> str:
    if model is not None and code in model.shape_names:
        members = model.shape_for(code).members
        if "Message" in members and "message" not in members:
            return "Message"
    return "message"


def auth_error(failure: AuthFailure) -> AwsError:
    """An authentication failure: the JSON protocols' code with the query protocol's status
    (the header x-amzn-query-error gives the query code to query-compatible services)."""
    return NamedError(AUTH_ERRORS[failure.kind], failure.message, status=query.auth_status(failure))
