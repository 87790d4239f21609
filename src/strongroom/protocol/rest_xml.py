"""The rest-xml wire protocol (S3): the operation is named by method, path and query string;
members travel in the URI, the query string and headers; results are XML documents, or a raw
body when the output has a blob payload (GetObject)."""

from __future__ import annotations

import email.utils
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.protocol import shapes
from strongroom.protocol.errors import AwsError, NamedError, ValidationException
from strongroom.protocol.registry import error_status
from strongroom.protocol.wire import WireResponse

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_CONTENT_TYPE = "application/xml"
_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")

# (code, status, message; None keeps the failure's own wording)
_AUTH_ERRORS: dict[FailureKind, tuple[str, int, str | None]] = {
    FailureKind.MISSING_TOKEN: ("AccessDenied", 403, "Access Denied"),
    FailureKind.INCOMPLETE: ("AuthorizationHeaderMalformed", 400, None),
    FailureKind.UNKNOWN_KEY: (
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    FailureKind.BAD_SIGNATURE: ("SignatureDoesNotMatch", 403, None),
    FailureKind.EXPIRED_TOKEN: ("ExpiredToken", 400, "The provided token has expired."),
    FailureKind.PAYLOAD_HASH_MISSING: ("InvalidRequest", 400, None),
    FailureKind.PAYLOAD_HASH_INVALID: ("InvalidArgument", 400, None),
    FailureKind.PAYLOAD_HASH_MISMATCH: ("XAmzContentSHA256Mismatch", 400, None),
}
# The dispatcher's own errors, in S3's words.
_ERROR_CODES = {
    "InternalFailure": "InternalError",
    "ServiceUnavailableException": "ServiceUnavailable",
}
# Documents the model cannot describe: S3 names each result's root element itself, and
# GetBucketLocation's document is its one member ("cannot be modeled properly", botocore).
_ROOT_ELEMENTS = {"ListObjects": "ListBucketResult"}
_VALUE_DOCUMENTS = frozenset({"GetBucketLocation"})


# Routing


@dataclass(frozen=True)
class _Route:
    method: str
    path: re.Pattern[str]
    # What the request must carry besides the path: (where, name, value or None for any),
    # from the template's query (`?location`, `?list-type=2`) and the required query-string
    # and header members (ListParts' uploadId, CopyObject's x-amz-copy-source).
    needs: tuple[tuple[str, str, str | None], ...]
    literal: int  # characters of the path that are not labels
    operation: str


def operation_name(model: ServiceModel, request: HttpRequest) -> str:
    """The operation whose URI template fits the request best, or "" when none does: the one
    that needs the most (`/{Bucket}?location` beats `/{Bucket}`)."""
    query = parse_qs(request.query_string, keep_blank_values=True)
    headers = {name for name, _ in request.headers}
    for route in _routes(model):
        if (
            route.method == request.method
            and route.path.fullmatch(request.raw_path)
            and all(
                name in headers
                if where == "header"
                else name in query and (value is None or value in query[name])
                for where, name, value in route.needs
            )
        ):
            return route.operation
    return ""


@functools.cache
def _routes(model: ServiceModel) -> tuple[_Route, ...]:
    routes = [_route(model.operation_model(name)) for name in model.operation_names]
    # Most specific first: more needs, then more literal path characters.
    return tuple(sorted(routes, key=lambda r: (-len(r.needs), -r.literal)))


def _route(operation: OperationModel) -> _Route:
    template, _, template_query = operation.http["requestUri"].partition("?")
    needs: list[tuple[str, str, str | None]] = []
    for item in filter(None, template_query.split("&")):
        key, equals, value = item.partition("=")
        needs.append(("querystring", key, value if equals else None))
    shape = operation.input_shape
    for name in shape.required_members if shape else []:
        member = shape.members[name]
        where = member.serialization.get("location")
        if where in ("querystring", "header"):
            wire_name = member.serialization.get("name", name)
            needs.append((where, wire_name.lower() if where == "header" else wire_name, None))
    return _Route(
        operation.http["method"],
        _path_pattern(operation.http["requestUri"])[0],
        tuple(needs),
        len(_LABEL.sub("", template)),
        operation.name,
    )


@functools.cache
def _path_pattern(request_uri: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A template's path as a pattern over the raw (still percent-encoded) request path."""
    template = request_uri.partition("?")[0]
    parts, labels, position = [], [], 0
    for label in _LABEL.finditer(template):
        parts.append(re.escape(template[position : label.start()]))
        parts.append("(.+)" if label.group(2) else "([^/]+)")  # {Key+} is greedy
        labels.append(label.group(1))
        position = label.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts)), tuple(labels)


# Requests


def decode(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    pattern, names = _path_pattern(operation.http["requestUri"])
    match = pattern.fullmatch(request.raw_path)
    labels = dict(zip(names, match.groups(), strict=True)) if match else {}
    query = parse_qs(request.query_string, keep_blank_values=True)
    data: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        raw: Any = None
        if location == "uri" and wire_name in labels:
            raw = unquote(labels[wire_name])
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            raw = values if member.type_name == "list" else values[0]
        elif location == "header":
            raw = request.header(wire_name.lower())
        elif location == "headers":
            prefix = wire_name.lower()
            raw = {k[len(prefix) :]: v for k, v in request.headers if k.startswith(prefix)} or None
        # No operation served here takes an XML body, so body members are never read.
        if raw is not None:  # keyed as shapes.decode_input reads them: by wire name
            data[wire_name] = _from_text(member, wire_name, raw)
    try:
        return shapes.decode_input(shape, data)
    except (shapes.SerializationError, shapes.ValidationError) as error:
        raise ValidationException(str(error)) from None


def _from_text(shape: Shape, wire_name: str, raw: Any) -> Any:
    """Wire text as the JSON-like value shapes.decode_input checks."""
    kind = shape.type_name
    if kind == "list":
        assert isinstance(shape, ListShape)
        items = raw if isinstance(raw, list) else [v.strip() for v in raw.split(",")]
        return [_from_text(shape.member, wire_name, item) for item in items]
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise ValidationException(
                f"Provided {wire_name} not an integer or within integer range"
            ) from None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValidationException(f"Provided {wire_name} not a boolean")
        return raw == "true"
    if kind == "timestamp":
        return _parse_timestamp(wire_name, raw)
    return raw


def _parse_timestamp(wire_name: str, text: str) -> float:
    try:
        if text[:1].isdigit():
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (ValueError, TypeError, IndexError):
        raise ValidationException(f"Provided {wire_name} not a valid date") from None


# Results


def encode_result(
    model: ServiceModel, operation: OperationModel, result: dict[str, Any] | None, request_id: str
) -> WireResponse:
    shape = operation.output_shape
    result = result or {}
    headers = [("x-amz-request-id", request_id)]
    body = b""
    if shape is not None:
        headers += _header_members(shape, result)
        payload = shape.serialization.get("payload")
        if payload is not None:
            # A blob payload (GetObject's Body) is the response body itself; its type is in
            # the ContentType member.
            body = bytes(result.get(payload) or b"")
        elif any(_in_body(m) for m in shape.members.values()):
            headers.append(("content-type", _CONTENT_TYPE))
            body = _document(model, operation, shape, result)
    return WireResponse(200, headers, body, operation=operation.name)


def _in_body(member: Shape) -> bool:
    return member.serialization.get("location") is None


def _header_members(shape: StructureShape, result: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for name, member in shape.members.items():
        value = result.get(name)
        location = member.serialization.get("location")
        if value is None or location not in ("header", "headers"):
            continue
        wire_name = member.serialization.get("name", name).lower()
        if location == "headers":  # a map under a prefix: S3's x-amz-meta-*
            headers += [(wire_name + key.lower(), str(item)) for key, item in value.items()]
        elif member.type_name == "timestamp":
            headers.append((wire_name, _header_time(member, value)))
        else:
            headers.append((wire_name, _text(member, value)))
    return headers


def _document(
    model: ServiceModel, operation: OperationModel, shape: StructureShape, result: Mapping[str, Any]
) -> bytes:
    namespace = model.metadata.get("xmlNamespace") or (
        f"http://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"
    )
    if operation.name in _VALUE_DOCUMENTS:
        (name, member), *_ = shape.members.items()
        root = ET.Element(name, xmlns=namespace)
        if result.get(name) is not None:
            root.text = _text(member, result[name])
    else:
        root = ET.Element(_ROOT_ELEMENTS.get(operation.name, f"{operation.name}Result"))
        root.set("xmlns", namespace)
        _add_members(root, shape, result)
    return _xml(root)


def _xml(root: ET.Element) -> bytes:
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return _XML_DECLARATION + text


def _add_members(parent: ET.Element, shape: StructureShape, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():
        if value.get(name) is not None and _in_body(member):
            _add(parent, member.serialization.get("name", name), member, value[name])


def _add(parent: ET.Element, tag: str, shape: Shape, value: Any) -> None:
    if isinstance(shape, ListShape):
        item_tag = shape.member.serialization.get("name")
        if shape.serialization.get("flattened"):
            for item in value:  # <Contents>..</Contents><Contents>..</Contents>
                _add(parent, item_tag or tag, shape.member, item)
        else:
            element = ET.SubElement(parent, tag)
            for item in value:
                _add(element, item_tag or "member", shape.member, item)
    elif isinstance(shape, StructureShape):
        _add_members(ET.SubElement(parent, tag), shape, value)
    elif shape.type_name == "map":
        raise TypeError("maps in XML bodies are not supported")  # no result served has one
    else:
        ET.SubElement(parent, tag).text = _text(shape, value)


def _text(shape: Shape, value: Any) -> str:
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":  # ISO 8601 with milliseconds, as S3 writes it
        moment = _moment(value)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return str(value)


def _header_time(shape: Shape, value: Any) -> str:
    if shape.serialization.get("timestampFormat") == "iso8601":
        return _text(shape, value)
    return email.utils.formatdate(_moment(value).timestamp(), usegmt=True)  # RFC 1123


def _moment(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


# Errors


def encode_error(model: ServiceModel | None, error: AwsError, request_id: str) -> WireResponse:
    code = _ERROR_CODES.get(error.code, error.code)
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = code
    ET.SubElement(root, "Message").text = error.message
    ET.SubElement(root, "RequestId").text = request_id
    return WireResponse(
        error_status(model, error),
        [("x-amz-request-id", request_id), ("content-type", _CONTENT_TYPE)],
        _xml(root),
        error_code=code,
    )


def auth_error(failure: AuthFailure) -> AwsError:
    """An authentication failure in S3's vocabulary."""
    code, status, message = _AUTH_ERRORS[failure.kind]
    return NamedError(code, message or failure.message, status=status)
