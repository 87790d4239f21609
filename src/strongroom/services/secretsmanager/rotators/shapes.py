"""A new random value of the same shape as an old one: the same length and alphabet for a plain
string (base64 stays base64 of as many bytes, hex stays hex, otherwise the same character
classes); for JSON, new values for the named fields only, each of its own shape."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_HEX_LOWER = re.compile(r"[0-9a-f]+")
_HEX_UPPER = re.compile(r"[0-9A-F]+")
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


class ShapeError(ValueError):
    """A value this rotator cannot regenerate; the message never quotes the value."""


def regenerate(old: str) -> str:
    if not old:
        raise ShapeError("the current value is empty")
    if _is_base64(old):
        return base64.b64encode(secrets.token_bytes(len(base64.b64decode(old)))).decode()
    for pattern, alphabet in ((_HEX_LOWER, "0123456789abcdef"), (_HEX_UPPER, "0123456789ABCDEF")):
        if pattern.fullmatch(old):
            return _random_text(len(old), [alphabet])
    classes = [chars for chars in _CLASSES if any(c in chars for c in old)]
    others = "".join(sorted({c for c in old if not any(c in chars for chars in _CLASSES)}))
    return _random_text(len(old), [*classes, *([others] if others else [])])


def regenerate_fields(document: str, fields: list[str]) -> str:
    """The JSON object `document` with new values for `fields` (strings, each kept in shape)."""
    try:
        value = json.loads(document)
    except json.JSONDecodeError:
        raise ShapeError("the current value is not JSON, but fields to rotate are named") from None
    if not isinstance(value, dict):
        raise ShapeError("the current value is not a JSON object")
    for name in fields:
        if not isinstance(value.get(name), str):
            raise ShapeError(f"the field {name!r} is not a string of the current value")
        value[name] = regenerate(value[name])
    return json.dumps(value)


def _is_base64(text: str) -> bool:
    """Padded base64 with a character or padding that plain text of letters and digits lacks
    (`openssl rand -base64 32` and the like)."""
    if len(text) % 4 or not _BASE64.fullmatch(text) or not any(c in text for c in "+/="):
        return False
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True


def _random_text(length: int, classes: list[str]) -> str:
    """`length` characters drawn from the union of `classes`, each class present when the
    length allows it."""
    alphabet = "".join(classes)
    while True:
        text = "".join(secrets.choice(alphabet) for _ in range(length))
        if length < len(classes) or all(any(c in chars for c in text) for chars in classes):
            return text
