"""Decode, validate and encode AWS JSON-protocol payloads using botocore service models.

Input handling mirrors what AWS's Coral frameworks do: a type-decoding pass that fails fast
with a ``SerializationException``, then a constraint pass that collects every violation into
one ``ValidationException`` message in Coral's exact wording (SDKs and tests match on it).
Values of sensitive members are never echoed back in error messages.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from strongroom.protocol.java_regex import compile_java_pattern

__all__ = ["SerializationError", "ValidationError", "decode_input", "encode_output"]


class SerializationError(Exception):
    """The request body does not match the input shape's types (AWS ``SerializationException``)."""


class ValidationError(Exception):
    """The decoded request violates model constraints (AWS ``ValidationException``).

    ``str(e)`` is the full Coral message; ``violations`` holds the individual clauses.
    """

    def __init__(self, message: str, violations: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.violations = tuple(violations)

    @classmethod
    def from_violations(cls, violations: Sequence[str]) -> ValidationError:
        count = len(violations)
        noun = "error" if count == 1 else "errors"
        return cls(f"{count} validation {noun} detected: " + "; ".join(violations), violations)


# Java ints/longs: values outside these ranges would fail deserialization on real AWS and
# could break downstream storage, so they are type errors rather than constraint violations.
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def decode_input(shape: StructureShape | None, data: object) -> dict[str, Any]:
    """Decode a parsed JSON request body against ``shape`` and validate its constraints.

    Returns a dict keyed by botocore member names with blobs as ``bytes`` and timestamps as
    aware UTC ``datetime``s. Raises ``SerializationError`` or ``ValidationError``.
    """
    if not isinstance(data, dict):
        raise SerializationError("Unexpected value type for request body: expected object")
    if shape is None:
        return {}
    try:
        decoded: dict[str, Any] = _decode(shape, data, "")
        violations: list[str] = []
        _validate(shape, decoded, "", False, violations)
    except RecursionError:
        # Recursive shapes plus hostile nesting must not surface as an internal error.
        raise SerializationError("Request body is nested too deeply") from None
    if violations:
        raise ValidationError.from_violations(violations)
    return decoded


def encode_output(shape: StructureShape | None, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Encode a response mapping (keyed by member names) into JSON-ready wire form."""
    if shape is None or value is None:
        return {}
    encoded: dict[str, Any] = _encode(shape, value)
    return encoded


# --------------------------------------------------------------------------------------------
# Pass 1: type decoding
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _member_path(parent: str, member_name: str) -> str:
    # Coral reports members in lowerCamelCase, joined with dots. Cached: this runs for every
    # member of every request, and the same few paths recur.
    name = member_name[:1].lower() + member_name[1:]
    return f"{parent}.{name}" if parent else name


def _wire_name(member_name: str, member: Shape) -> str:
    # The JSON protocol honours an explicit locationName, as botocore's serializer does.
    name: str = member.serialization.get("name", member_name)
    return name


def _type_error(path: str, expected: str) -> SerializationError:
    # Never include the offending value: it may be a secret.
    return SerializationError(f"Unexpected value type for '{path}': expected {expected}")


def _decode(shape: Shape, value: object, path: str) -> Any:
    decoder = _DECODERS.get(shape.type_name)
    return decoder(shape, value, path) if decoder else value


def _decode_structure(shape: Shape, value: object, path: str) -> Any:
    if shape.metadata.get("document"):
        return value  # Document types carry arbitrary JSON.
    if not isinstance(value, dict):
        raise _type_error(path, "object")
    assert isinstance(shape, StructureShape)
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        raw = value.get(_wire_name(name, member))
        if raw is not None:  # JSON null means "absent"; unknown keys are simply never read.
            result[name] = _decode(member, raw, _member_path(path, name))
    return result


def _decode_list(shape: Shape, value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _type_error(path, "array")
    assert isinstance(shape, ListShape)
    return [_decode(shape.member, item, f"{path}.{i}.member") for i, item in enumerate(value, 1)]


def _decode_map(shape: Shape, value: object, path: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise _type_error(path, "object")
    assert isinstance(shape, MapShape)
    return {
        _decode(shape.key, key, path): _decode(shape.value, item, f"{path}.{key}")
        for key, item in value.items()
    }


def _decode_string(shape: Shape, value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _type_error(path, "string")
    return value


def _decode_integer(shape: Shape, value: object, path: str) -> int:
    # bool is an int subclass and floats (even 3.0) are not integers on the wire.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(path, shape.type_name)
    low, high = _INT_BOUNDS[shape.type_name]
    if not low <= value <= high:
        raise _type_error(path, shape.type_name)
    return value


# The JSON protocols write the doubles JSON has no numbers for as strings (botocore does).
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _decode_float(shape: Shape, value: object, path: str) -> float:
    if isinstance(value, str) and value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _type_error(path, "number")
    try:
        return float(value)
    except OverflowError:  # Huge JSON integers do not fit a double.
        raise _type_error(path, "number") from None


def _decode_boolean(shape: Shape, value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _type_error(path, "boolean")
    return value


def _decode_blob(shape: Shape, value: object, path: str) -> bytes:
    if not isinstance(value, str):
        raise _type_error(path, "base64-encoded string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters.
        raise SerializationError(f"Invalid base64 value for '{path}'") from None


def _decode_timestamp(shape: Shape, value: object, path: str) -> datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):  # Bad text, NaN/inf, out-of-range epochs.
        pass
    raise _type_error(path, "timestamp (epoch seconds or ISO-8601 string)")


_DECODERS: dict[str, Callable[[Shape, object, str], Any]] = {
    "structure": _decode_structure,
    "list": _decode_list,
    "map": _decode_map,
    "string": _decode_string,
    "integer": _decode_integer,
    "long": _decode_integer,
    "float": _decode_float,
    "double": _decode_float,
    "boolean": _decode_boolean,
    "blob": _decode_blob,
    "timestamp": _decode_timestamp,
}


# --------------------------------------------------------------------------------------------
# Pass 2: constraint validation
# --------------------------------------------------------------------------------------------

_LENGTH_MIN = "Member must have length greater than or equal to {}"
_LENGTH_MAX = "Member must have length less than or equal to {}"
_VALUE_MIN = "Member must have value greater than or equal to {}"
_VALUE_MAX = "Member must have value less than or equal to {}"


def _violation(echo: str | None, path: str, constraint: str) -> str:
    # Coral writes "Value 'x' at", "Value null at" or, when it won't echo, "Value at".
    prefix = f"Value {echo} " if echo is not None else "Value "
    return f"{prefix}at '{path}' failed to satisfy constraint: {constraint}"


def _echo(value: object, sensitive: bool) -> str | None:
    if sensitive or not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    return f"'{value}'"


def _format_bound(bound: object) -> str:
    # Models sometimes give integral bounds as floats (e.g. 1.0); Coral prints "1".
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def _bound_checks(shape: Shape, size: float, templates: tuple[str, str]) -> list[str]:
    """Return the min/max constraint texts that ``size`` violates."""
    failed: list[str] = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        failed.append(templates[0].format(_format_bound(low)))
    if high is not None and size > high:
        failed.append(templates[1].format(_format_bound(high)))
    return failed


def _string_checks(shape: Shape, value: str) -> list[str]:
    failed = _bound_checks(shape, len(value), (_LENGTH_MIN, _LENGTH_MAX))
    pattern_text = shape.metadata.get("pattern")
    if pattern_text is not None:
        compiled = compile_java_pattern(pattern_text)
        if compiled is not None and compiled.fullmatch(value) is None:
            failed.append(f"Member must satisfy regular expression pattern: {pattern_text}")
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        failed.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
    return failed


def _scalar_checks(shape: Shape, value: Any) -> list[str]:
    kind = shape.type_name
    if kind == "string" and isinstance(value, str):
        return _string_checks(shape, value)
    if kind in ("blob", "list", "map") and hasattr(value, "__len__"):
        return _bound_checks(shape, len(value), (_LENGTH_MIN, _LENGTH_MAX))
    if kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        return _bound_checks(shape, value, (_VALUE_MIN, _VALUE_MAX))
    return []


def _validate(shape: Shape, value: Any, path: str, sensitive: bool, out: list[str]) -> None:
    # Sensitivity is inherited: nothing inside a sensitive container may be echoed.
    sensitive = sensitive or bool(shape.metadata.get("sensitive"))
    failures = _scalar_checks(shape, value)
    if failures:
        echo = _echo(value, sensitive)
        out.extend(_violation(echo, path, text) for text in failures)
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        _validate_structure(shape, value, path, sensitive, out)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for i, item in enumerate(value, 1):
            _validate(shape.member, item, f"{path}.{i}.member", sensitive, out)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        _validate_map(shape, value, path, sensitive, out)


def _validate_structure(
    shape: StructureShape, value: dict[str, Any], path: str, sensitive: bool, out: list[str]
) -> None:
    if shape.metadata.get("document"):
        return
    required = set(shape.required_members)
    for name, member in shape.members.items():
        if name in value:
            _validate(member, value[name], _member_path(path, name), sensitive, out)
        elif name in required:
            out.append(_violation("null", _member_path(path, name), "Member must not be null"))


def _validate_map(
    shape: MapShape, value: dict[Any, Any], path: str, sensitive: bool, out: list[str]
) -> None:
    for key, item in value.items():
        # Coral reports bad keys against the whole map, listing the failed key constraints.
        key_failures = _scalar_checks(shape.key, key)
        if key_failures:
            detail = f"Map keys must satisfy constraint: [{', '.join(key_failures)}]"
            out.append(_violation(None, path, detail))
        _validate(shape.value, item, f"{path}.{key}", sensitive, out)


# --------------------------------------------------------------------------------------------
# Output encoding
# --------------------------------------------------------------------------------------------


def _encode(shape: Shape, value: Any) -> Any:
    encoder = _ENCODERS.get(shape.type_name)
    return encoder(shape, value) if encoder else value


def _encode_structure(shape: Shape, value: Any) -> Any:
    if shape.metadata.get("document"):
        return value
    assert isinstance(shape, StructureShape)
    # Only modelled members go on the wire; None means "omit".
    return {
        _wire_name(name, member): _encode(member, value[name])
        for name, member in shape.members.items()
        if value.get(name) is not None
    }


def _encode_list(shape: Shape, value: Any) -> list[Any]:
    assert isinstance(shape, ListShape)
    return [_encode(shape.member, item) for item in value]


def _encode_map(shape: Shape, value: Any) -> dict[Any, Any]:
    assert isinstance(shape, MapShape)
    return {key: _encode(shape.value, item) for key, item in value.items()}


def _encode_blob(shape: Shape, value: Any) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode("ascii")


def _encode_timestamp(shape: Shape, value: Any) -> float:
    if not isinstance(value, datetime):
        return float(value)
    moment: datetime = value
    if moment.tzinfo is None:  # Naive datetimes are taken to be UTC.
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


_ENCODERS: dict[str, Callable[[Shape, Any], Any]] = {
    "structure": _encode_structure,
    "list": _encode_list,
    "map": _encode_map,
    "blob": _encode_blob,
    "timestamp": _encode_timestamp,
}
