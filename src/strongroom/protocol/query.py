"""The awsQuery wire protocol (IAM, STS, SNS, CloudWatch): the operation is the form field
`Action` (with `Version`, the model's API version), members travel as dotted form fields
(`Tags.member.1.Key`, `Attributes.entry.1.value`) in a urlencoded POST body or a GET query
string, and results are XML documents: `<{Op}Response><{Op}Result>...` or `<ErrorResponse>`."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.protocol import shapes
from strongroom.protocol.errors import (
    AwsError,
    NamedError,
    UnknownOperationException,
    ValidationException,
)
from strongroom.protocol.registry import error_status
from strongroom.protocol.wire import WireResponse

_FORM = "application/x-www-form-urlencoded"
_CONTENT_TYPE = "text/xml"
# AWS answers errors of its request framework (InvalidAction) in this namespace, and the
# service's own errors in the service's namespace.
_FAULT_NAMESPACE = "http://webservices.amazon.com/AWSFault/2005-15-09"
_NO_VERSION = "NO_VERSION_SPECIFIED"
_AUTH_ERRORS: dict[FailureKind, tuple[str, int]] = {
    FailureKind.MISSING_TOKEN: ("MissingAuthenticationToken", 403),
    FailureKind.INCOMPLETE: ("IncompleteSignature", 400),
    FailureKind.UNKNOWN_KEY: ("InvalidClientTokenId", 403),
    FailureKind.BAD_SIGNATURE: ("SignatureDoesNotMatch", 403),
    FailureKind.EXPIRED_TOKEN: ("ExpiredToken", 403),
}
# The dispatcher's own errors, in the query services' words.
_ERROR_CODES = {
    "ValidationException": "ValidationError",
    "ServiceUnavailableException": "ServiceUnavailable",
}
# What Coral's query deserializer accepts for numbers (as Java's parsers do: "+900", "0900").
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|NaN|[+-]?Infinity")
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}  # xsd:boolean
# Characters XML 1.0 cannot carry: replaced, or no client could parse the document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class InvalidAction(AwsError):
    status = 400


class MalformedInput(AwsError):
    """A value that is not of its member's type: AWS says so without echoing it, often with no
    message at all."""

    status = 400


# Requests


def operation_name(model: ServiceModel | None, request: HttpRequest) -> str:
    """The form's Action ("" when there is none; the dispatcher then answers InvalidAction)."""
    # Scanned rather than parsed: this runs before any check, on bodies of any size.
    for pair in _raw_pairs(request):
        name, _, value = pair.partition("=")
        if unquote_plus(name) == "Action":
            return unquote_plus(value, errors="replace")
    return ""


def _raw_pairs(request: HttpRequest) -> Iterator[str]:
    yield from request.query_string.split("&")
    if _is_form(request):
        yield from request.body.decode("utf-8", "replace").split("&")


def _is_form(request: HttpRequest) -> bool:
    content_type = request.header("content-type") or ""
    return request.method == "POST" and content_type.partition(";")[0].strip().lower() == _FORM


def decode(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    try:
        fields = _fields(request)
    except UnicodeDecodeError:
        raise MalformedInput("The request is not valid UTF-8.") from None
    version = fields.value_of("Version")
    if version != operation.metadata["apiVersion"]:
        raise InvalidAction(_not_found(operation.name, _NO_VERSION if version is None else version))
    shape = operation.input_shape
    if shape is None:
        return {}
    try:
        data = _structure(shape, fields)
    except RecursionError:  # Recursive shapes plus hostile nesting must not become a 500.
        raise MalformedInput("The request is nested too deeply.") from None
    try:
        return shapes.decode_input(shape, data)
    except shapes.SerializationError as error:
        raise MalformedInput(str(error)) from None
    except shapes.ValidationError as error:
        raise ValidationException(str(error)) from None


def _not_found(action: str, version: str) -> str:
    return f"Could not find operation {action} for version {version}"


class _Field:
    """The form's fields as a tree of their dotted names: `Tags.member.1.Key` is the node
    Tags → member → 1 → Key. Built in one pass over the names, so deep names cost no more
    than long ones."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Field] = {}

    def value_of(self, name: str) -> str | None:
        child = self.children.get(name)
        return child.value if child is not None else None


def _fields(request: HttpRequest) -> _Field:
    pairs = parse_qsl(request.query_string, keep_blank_values=True, errors="strict")
    if _is_form(request):
        body = request.body.decode("utf-8")
        pairs += parse_qsl(body, keep_blank_values=True, errors="strict")
    root = _Field()
    for name, value in pairs:
        node = root
        for part in name.split("."):
            node = node.children.setdefault(part, _Field())
        if node.value is None:  # The first of repeated fields counts, as at AWS.
            node.value = value
    return root


def _read(shape: Shape, node: _Field) -> Any:
    """The JSON-like value shapes.decode_input checks, or None when the form has none."""
    if isinstance(shape, StructureShape):
        return _structure(shape, node)
    if isinstance(shape, ListShape):
        return _list(shape, node)
    if isinstance(shape, MapShape):
        return _map(shape, node)
    return _scalar(shape, node.value)


def _structure(shape: StructureShape, node: _Field) -> dict[str, Any]:
    data = {}
    for name, member in shape.members.items():
        # Keyed by wire name, as shapes.decode_input reads them.
        wire_name = member.serialization.get("name", name)
        child = node.children.get(_field_name(member, wire_name))
        if child is not None and (value := _read(member, child)) is not None:
            data[wire_name] = value
    return data


def _field_name(member: Shape, wire_name: str) -> str:
    # A flattened list whose items are named goes by the items' name (`Item.1`), as botocore's
    # serializer writes it.
    if isinstance(member, ListShape) and member.serialization.get("flattened"):
        return str(member.member.serialization.get("name", wire_name))
    return wire_name


def _list(shape: ListShape, node: _Field) -> list[Any] | None:
    if shape.serialization.get("flattened"):
        items: _Field | None = node
    else:
        items = node.children.get(shape.member.serialization.get("name", "member"))
    values = [_read(shape.member, item) for item in _numbered(items)]
    if values:
        return values
    # `Name=` with no items is how the query protocol says "an empty list".
    return [] if node.value == "" else None


def _map(shape: MapShape, node: _Field) -> dict[Any, Any] | None:
    entries = node if shape.serialization.get("flattened") else node.children.get("entry")
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    data: dict[Any, Any] = {}
    for entry in _numbered(entries):
        key_node, value_node = entry.children.get(key_name), entry.children.get(value_name)
        key = _read(shape.key, key_node) if key_node is not None else None
        value = _read(shape.value, value_node) if value_node is not None else None
        # A missing key or value stays None, which shapes.decode_input rejects by its path.
        data.setdefault(key, value)
    if data:
        return data
    return {} if node.value == "" else None


def _numbered(node: _Field | None) -> Iterator[_Field]:
    """The items `.1`, `.2`, ... of a list or map, up to the first one missing."""
    index = 1
    while node is not None and (item := node.children.get(str(index))) is not None:
        yield item
        index += 1


def _scalar(shape: Shape, text: str | None) -> Any:
    kind = shape.type_name
    if text is None or kind in ("string", "blob", "timestamp"):
        return text  # blobs (base64) and timestamps (ISO 8601) are read by shapes.decode_input
    if kind in ("integer", "long"):
        if not _INTEGER.fullmatch(text):
            raise MalformedInput("missing value for decimal type" if not text else "")
        digits = text.lstrip("+-").lstrip("0") or "0"
        if len(digits) > 19:  # Beyond any bound (and int() refuses more than 4,300 digits).
            raise MalformedInput("")
        number = -int(digits) if text[0] == "-" else int(digits)
        low, high = _INT_BOUNDS[kind]
        if not low <= number <= high:
            raise MalformedInput("")
        return number
    if kind in ("float", "double"):
        if not _DECIMAL.fullmatch(text):
            raise MalformedInput("missing value for decimal type" if not text else "")
        return float(text.replace("Infinity", "inf"))
    if kind == "boolean":
        if text not in _BOOLEANS:
            raise MalformedInput("boolean must follow xsd1.1 definition")
        return _BOOLEANS[text]
    return text


# Results


def encode_result(
    model: ServiceModel,
    operation: OperationModel,
    result: Mapping[str, Any] | None,
    request_id: str,
) -> WireResponse:
    name = operation.name
    out = [f'<{name}Response xmlns="{_namespace(model)}">']
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            out.append(f"<{wrapper}>")
        _members(out, shape, result or {})
        if wrapper:
            out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{_escape(request_id)}</RequestId>")
    out.append(f"</ResponseMetadata></{name}Response>")
    return WireResponse(200, _headers(request_id), "".join(out).encode(), operation=name)


def _namespace(model: ServiceModel) -> str:
    return str(
        model.metadata.get("xmlNamespace")
        or f"https://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"
    )


def _headers(request_id: str) -> list[tuple[str, str]]:
    return [("content-type", _CONTENT_TYPE), ("x-amzn-requestid", request_id)]


def _members(out: list[str], shape: StructureShape, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _element(out, member.serialization.get("name", name), member, value[name])


def _element(out: list[str], tag: str, shape: Shape, value: Any) -> None:
    if isinstance(shape, StructureShape):
        out.append(f"<{tag}>")
        _members(out, shape, value)
        out.append(f"</{tag}>")
    elif isinstance(shape, ListShape):
        item_tag = shape.member.serialization.get("name")
        if shape.serialization.get("flattened"):  # <Item>..</Item><Item>..</Item>
            for item in value:
                _element(out, item_tag or tag, shape.member, item)
        else:
            out.append(f"<{tag}>")
            for item in value:
                _element(out, item_tag or "member", shape.member, item)
            out.append(f"</{tag}>")
    elif isinstance(shape, MapShape):
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        flattened = shape.serialization.get("flattened")
        if not flattened:
            out.append(f"<{tag}>")
        for key, item in value.items():
            out.append(f"<{tag}>" if flattened else "<entry>")
            _element(out, key_tag, shape.key, key)
            _element(out, value_tag, shape.value, item)
            out.append(f"</{tag}>" if flattened else "</entry>")
        if not flattened:
            out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{_escape(_text(shape, value))}</{tag}>")


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    if kind in ("integer", "long"):
        return str(int(value))
    return str(value)


def _timestamp(value: datetime | float) -> str:
    """ISO 8601 in UTC, with milliseconds when there are any, as AWS writes them."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(value, UTC)
    moment = moment.astimezone(UTC)
    text = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    milliseconds = moment.microsecond // 1000
    return f"{text}.{milliseconds:03d}Z" if milliseconds else f"{text}Z"


def _escape(text: str) -> str:
    text = _NOT_XML.sub("\ufffd", text)
    # A raw CR would reach the client as LF (XML normalises line ends); &#13; survives.
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


# Errors


def encode_error(model: ServiceModel | None, error: AwsError, request_id: str) -> WireResponse:
    if isinstance(error, UnknownOperationException):
        # The request's version is not known here; the model's is the one clients send.
        version = model.api_version if model is not None else _NO_VERSION
        error = InvalidAction(_not_found(error.operation, version))
    code = _code(model, error)
    status = error_status(model, error)
    namespace = (
        _namespace(model)
        if model is not None and not isinstance(error, InvalidAction)
        else _FAULT_NAMESPACE
    )
    out = [f'<ErrorResponse xmlns="{namespace}"><Error>']
    out.append(f"<Type>{'Receiver' if status >= 500 else 'Sender'}</Type>")
    out.append(f"<Code>{_escape(code)}</Code>")
    if error.message:
        out.append(f"<Message>{_escape(error.message)}</Message>")
    out.append(f"</Error><RequestId>{_escape(request_id)}</RequestId></ErrorResponse>")
    return WireResponse(status, _headers(request_id), "".join(out).encode(), error_code=code)


def _code(model: ServiceModel | None, error: AwsError) -> str:
    """The model's awsQueryError code for its error shapes (NoSuchEntityException is
    `NoSuchEntity` on the wire), the query words for the dispatcher's own errors."""
    if model is not None and error.code in model.shape_names:
        return str(model.shape_for(error.code).metadata.get("error", {}).get("code", error.code))
    return _ERROR_CODES.get(error.code, error.code)


def auth_error(failure: AuthFailure) -> AwsError:
    """An authentication failure in the query services' vocabulary."""
    code, status = _AUTH_ERRORS[failure.kind]
    return NamedError(code, failure.message, status=status)


def auth_status(failure: AuthFailure) -> int:
    return _AUTH_ERRORS[failure.kind][1]


# The JSON protocols' words for errors the model does not list, in the query protocol's.
_COMPATIBLE_CODES = {
    "AccessDeniedException": "AccessDenied",
    "UnknownOperationException": "InvalidAction",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "ExpiredTokenException": "ExpiredToken",
}


def compatible_error(model: ServiceModel | None, error: AwsError, status: int) -> str | None:
    """For a service moved from awsQuery to a JSON or CBOR protocol (its model says
    `awsQueryCompatible`): the header `x-amzn-query-error` that names the error as the query
    protocol did (`InvalidParameterValue;Sender`), which botocore reports as the code."""
    if model is None or "awsQueryCompatible" not in model.metadata:
        return None
    code = _COMPATIBLE_CODES.get(error.code) or _code(model, error)
    return f"{code};{'Receiver' if status >= 500 else 'Sender'}"
