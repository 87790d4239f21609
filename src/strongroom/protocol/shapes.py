"""Decode, validate and encode AWS JSON-protocol payloads using botocore service models.

Input handling mirrors what AWS's Coral frameworks do: a type-decoding pass that fails fast
with a ``SerializationException``, then a constraint pass that collects every violation into
one ``ValidationException`` message in Coral's exact wording (SDKs and tests match on it).
Values of sensitive members are never echoed back in error messages.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, ClassVar

from botocore.model import ListShape, MapShape, Shape, StructureShape

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


def _decode_float(shape: Shape, value: object, path: str) -> float:
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
        compiled = _compiled_pattern(pattern_text)
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
# Java regex -> Python re translation
# --------------------------------------------------------------------------------------------

# Java's POSIX classes are US-ASCII only (without UNICODE_CHARACTER_CLASS).
_POSIX_CLASSES: dict[str, str] = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": r"\x00-\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": r"\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e",
    "Graph": r"\x21-\x7e",
    "Print": r"\x20-\x7e",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0b\f\r",
}
_BINARY_PROPERTY_CATEGORIES = {"Letter": "L", "Digit": "Nd", "Punctuation": "P", "Control": "Cc"}
_GENERAL_CATEGORIES = frozenset(
    {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No"}
    | {"P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So"}
    | {"Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cs", "Cn"}
)
# Escapes whose Java meaning differs from (or is missing in) Python, as class bodies.
_CLASS_ESCAPES: dict[str, str] = {
    "h": r" \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000",
    "v": r"\n\x0b\f\r\x85\u2028\u2029",
}
_LINE_TERMINATORS = r"\n\r\x85\u2028\u2029"
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


class _Untranslatable(Exception):
    """A Java regex construct with no faithful Python equivalent."""


@cache
def _compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a model (Java) pattern once; ``None`` means the check is skipped."""
    try:
        translated = _JavaRegexTranslator(pattern).translate()
        with warnings.catch_warnings():
            # FutureWarnings about possible future set syntax are irrelevant here.
            warnings.simplefilter("ignore")
            # re.ASCII: Java's \w, \d, \s, \b and case folding are ASCII-only by default.
            return re.compile(translated, re.ASCII)
    except (_Untranslatable, re.error, OverflowError, RecursionError):
        return None


@lru_cache(maxsize=1)
def _category_runs() -> tuple[tuple[int, int, str], ...]:
    """All code points as (start, end, general category) runs; built once, lazily."""
    runs: list[tuple[int, int, str]] = []
    start, current = 0, unicodedata.category("\0")
    for cp in range(1, 0x110000):
        category = unicodedata.category(chr(cp))
        if category != current:
            runs.append((start, cp - 1, current))
            start, current = cp, category
    runs.append((start, 0x10FFFF, current))
    return tuple(runs)


@cache
def _category_class_body(category: str) -> str:
    parts: list[str] = []
    for start, end, run_category in _category_runs():
        if run_category.startswith(category):
            parts.append(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}")
    return "".join(parts)


def _property_class_body(name: str) -> str:
    """Class body (no brackets) for a Java ``\\p{name}``."""
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    for prefix in ("general_category=", "gc=", "Is"):
        if name.startswith(prefix) and name[len(prefix) :] in _GENERAL_CATEGORIES:
            name = name[len(prefix) :]
    name = _BINARY_PROPERTY_CATEGORIES.get(name.removeprefix("Is"), name)
    if name in _GENERAL_CATEGORIES:
        return _category_class_body(name)
    raise _Untranslatable(name)  # Scripts, blocks, java* properties, ...


class _JavaRegexTranslator:
    """Single left-to-right scan rewriting the Java-only parts of a pattern."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        self.in_class = False
        self.class_start = 0  # Output index just past "[" or "[^".

    def translate(self) -> str:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "\\":
                self._escape()
            elif self.in_class:
                self._class_char(char)
            else:
                self._plain_char(char)
        if self.in_class:
            raise _Untranslatable("unterminated character class")
        return "".join(self.out)

    def _plain_char(self, char: str) -> None:
        self.pos += 1
        if char == "[":
            self.in_class = True
            if self.src.startswith("^", self.pos):
                self.pos += 1
                char = "[^"
            self.out.append(char)
            self.class_start = len(self.out)
        elif char == ".":
            self.out.append(f"[^{_LINE_TERMINATORS}]")  # Java's "." excludes all terminators.
        elif char == "(" and self.src.startswith("?<", self.pos) and self._named_group_follows():
            self.out.append("(?P<")
            self.pos += 2
        else:
            self.out.append(char)

    def _named_group_follows(self) -> bool:
        nxt = self.src[self.pos + 2 : self.pos + 3]
        return nxt not in ("=", "!", "")

    def _class_char(self, char: str) -> None:
        if char == "[" or (char == "&" and self.src.startswith("&&", self.pos)):
            raise _Untranslatable("class union/intersection")  # No Python equivalent.
        if char == "]" and len(self.out) > self.class_start:
            self.in_class = False
        self.out.append(char)
        self.pos += 1

    def _escape(self) -> None:
        if self.pos + 1 >= len(self.src):
            raise _Untranslatable("trailing backslash")
        letter = self.src[self.pos + 1]
        self.pos += 2
        handler = self._ESCAPE_HANDLERS.get(letter)
        if handler is not None:
            handler(self, letter)
        else:
            self.out.append("\\" + letter)  # Python agrees with Java on the rest.

    def _emit_class_body(self, body: str, negated: bool) -> None:
        if not self.in_class:
            self.out.append(f"[^{body}]" if negated else f"[{body}]")
        elif negated:
            raise _Untranslatable("negated property inside a class")
        else:
            self.out.append(body)

    def _emit_literal(self, text: str) -> None:
        self.out.append("".join(f"\\U{ord(c):08x}" for c in text))

    def _property(self, letter: str) -> None:
        if self.src.startswith("{", self.pos):
            end = self.src.find("}", self.pos)
            if end < 0:
                raise _Untranslatable("unterminated property")
            name, self.pos = self.src[self.pos + 1 : end], end + 1
        else:
            name, self.pos = self.src[self.pos : self.pos + 1], self.pos + 1
        self._emit_class_body(_property_class_body(name), negated=letter == "P")

    def _class_escape(self, letter: str) -> None:
        self._emit_class_body(_CLASS_ESCAPES[letter.lower()], negated=letter.isupper())

    def _quote(self, letter: str) -> None:
        end = self.src.find("\\E", self.pos)
        end = len(self.src) if end < 0 else end
        self._emit_literal(self.src[self.pos : end])
        self.pos = end + 2

    def _unicode(self, letter: str) -> None:
        code = self._hex4(self.pos)
        self.pos += 4
        # Java allows a supplementary character as an escaped UTF-16 surrogate pair.
        if 0xD800 <= code <= 0xDBFF and self.src.startswith("\\u", self.pos):
            low = self._hex4(self.pos + 2)
            if 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                self.pos += 6
        self.out.append(f"\\U{code:08x}")

    def _hex4(self, at: int) -> int:
        digits = self.src[at : at + 4]
        if not _HEX4.fullmatch(digits):
            raise _Untranslatable("bad \\u escape")
        return int(digits, 16)

    def _hex(self, letter: str) -> None:
        if not self.src.startswith("{", self.pos):
            self.out.append("\\x")  # Plain \xhh means the same in Python.
            return
        end = self.src.find("}", self.pos)
        try:
            self._emit_literal(chr(int(self.src[self.pos + 1 : end], 16)))
        except ValueError:
            raise _Untranslatable("bad \\x{} escape") from None
        self.pos = end + 1

    def _end_of_input(self, letter: str) -> None:
        if self.in_class:
            raise _Untranslatable("\\z or \\Z inside a class")
        # Java \z is Python \Z; Java \Z also allows one final line terminator.
        self.out.append(r"\Z" if letter == "z" else rf"(?=(?:\r\n|[{_LINE_TERMINATORS}])?\Z)")

    def _named_backref(self, letter: str) -> None:
        end = self.src.find(">", self.pos)
        if not self.src.startswith("<", self.pos) or end < 0:
            raise _Untranslatable("bad \\k escape")
        self.out.append(f"(?P={self.src[self.pos + 1 : end]})")
        self.pos = end + 1

    def _escape_char(self, letter: str) -> None:
        self.out.append(r"\x1b")

    def _unsupported(self, letter: str) -> None:
        raise _Untranslatable("\\" + letter)

    _ESCAPE_HANDLERS: ClassVar[dict[str, Callable[[_JavaRegexTranslator, str], None]]] = {
        "p": _property,
        "P": _property,
        "h": _class_escape,
        "H": _class_escape,
        "v": _class_escape,
        "V": _class_escape,
        "Q": _quote,
        "u": _unicode,
        "x": _hex,
        "z": _end_of_input,
        "Z": _end_of_input,
        "k": _named_backref,
        "e": _escape_char,
        "c": _unsupported,
        "G": _unsupported,
        "R": _unsupported,
        "X": _unsupported,
    }


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
