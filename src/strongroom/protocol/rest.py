"""What the REST protocols (rest-xml, rest-json) share: the operation is named by method, path
and query string; members travel in URI labels, the query string and headers; the status code
is the operation's (or a result member's). Only the body's format differs: that is each
codec's own."""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from strongroom.auth.sigv4 import HttpRequest
from strongroom.protocol.errors import ValidationException

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


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


def located_members(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    """The input members the URI, the query string and the headers carry, keyed by wire name
    (as shapes.decode_input reads them), as JSON-like values for it to check."""
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
        if raw is not None:
            data[wire_name] = _from_text(member, wire_name, raw)
    return data


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


def status(operation: OperationModel, result: Mapping[str, Any]) -> int:
    """The result's status: a statusCode member's (Lambda's Invoke: 200, 202 or 204), else
    the operation's."""
    shape = operation.output_shape
    for name, member in shape.members.items() if shape is not None else ():
        if member.serialization.get("location") == "statusCode" and result.get(name) is not None:
            return int(result[name])
    return int(operation.http.get("responseCode", 200))


def in_body(member: Shape) -> bool:
    return member.serialization.get("location") is None


def header_members(shape: StructureShape, result: Mapping[str, Any]) -> list[tuple[str, str]]:
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
            headers.append((wire_name, text(member, value)))
    return headers


def text(shape: Shape, value: Any) -> str:
    """A scalar as REST protocols write it in headers (and rest-xml in its documents)."""
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":  # ISO 8601 with milliseconds, as S3 writes it
        moment = _moment(value)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return str(value)


def _header_time(shape: Shape, value: Any) -> str:
    if shape.serialization.get("timestampFormat") == "iso8601":
        return text(shape, value)
    return email.utils.formatdate(_moment(value).timestamp(), usegmt=True)  # RFC 1123


def _moment(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)
