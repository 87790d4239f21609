"""Page tokens: the position of the last item a page held, so that a token stays exact while
groups, streams and events come and go, and a page costs the same wherever it starts.

Listing tokens are opaque (URL-safe base64 of the position); GetLogEvents' keep AWS's look,
`f/` or `b/` and 56 digits. A token names no account, group or stream: a request only ever
reads its own, and a token merely says where in them to start.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from strongroom.services.logs import errors as e
from strongroom.services.logs.model import Position

INVALID = "The specified nextToken is invalid."
_STREAM_TOKEN = re.compile(r"([fb])/([0-9]{20})([0-9]{36})")
_MAX_TOKEN = 4096  # no token this service issues is longer


def encode(kind: str, *values: Any) -> str:
    text = json.dumps([kind, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(kind: str, token: str, *types: type) -> list[Any]:
    """The values of a token of this kind, of these types; InvalidParameterException if the
    service never issued such a token."""
    try:
        if len(token) > _MAX_TOKEN or not token.isascii():
            raise ValueError
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise e.InvalidParameterException(INVALID) from None
    if (
        not isinstance(values, list)
        or len(values) != len(types) + 1
        or values[0] != kind
        or not all(_is(value, t) for value, t in zip(values[1:], types, strict=True))
    ):
        raise e.InvalidParameterException(INVALID)
    return values[1:]


def _is(value: Any, expected: type) -> bool:
    # bool is an int in Python, never in a token.
    return isinstance(value, expected) and not (expected is int and isinstance(value, bool))


def stream_token(direction: str, position: Position) -> str:
    """A GetLogEvents token: `f` reads the events after `position`, `b` those before it."""
    timestamp, seq = position
    # seq + 1 is written, so that -1 ("before every event of that millisecond") fits; tokens
    # derived from hand-made ones stay within the format.
    timestamp = min(max(timestamp, 0), 10**20 - 1)
    seq = min(max(seq, -1), 10**36 - 2)
    return f"{direction}/{timestamp:020d}{seq + 1:036d}"


def decode_stream_token(token: str) -> tuple[str, Position]:
    match = _STREAM_TOKEN.fullmatch(token)
    if match is None:
        raise e.InvalidParameterException(INVALID)
    return match[1], (int(match[2]), int(match[3]) - 1)
