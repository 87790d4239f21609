"""ListSecrets filters, sorting and page tokens, as the Secrets Manager API reference documents
them: prefix matches (case-sensitive but for description and `all`), `!` negation, values of one
filter ORed, filters ANDed. A page token is the position (sort value, ARN) of the page's last
item, so it stays valid while secrets come and go and costs the same at any listing size."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager.model import Secret, parse_arn

# A secret as listing sees it: the secret, its tags and its staging labels.
Listed = tuple[Secret, dict[str, str], dict[str, str]]
# Where an item stands in a listing: its sort value, then its ARN.
Position = tuple[Any, str]

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SORT_FIELDS = {
    "created-date": "created_date",
    "last-accessed-date": "last_accessed_date",
    "last-changed-date": "last_changed_date",
    "name": "name",
}


def _words(text: str) -> list[str]:
    # AWS splits search text at case changes, letter/digit changes and punctuation.
    return [word.lower() for word in _WORDS.findall(text)]


def _candidates(key: str, listed: Listed) -> list[str]:
    secret, tags, _ = listed
    if key == "name":
        return [secret.name]
    if key == "description":
        return [(secret.description or "").lower()]
    if key == "tag-key":
        return list(tags)
    if key == "tag-value":
        return list(tags.values())
    if key == "primary-region":
        return [parse_arn(secret.primary_arn)[0] if secret.primary_arn else secret.region]
    if key == "owning-service":
        return []
    texts = [secret.name, secret.description or "", *tags, *tags.values()]
    return [word for text in texts for word in _words(text)]


def _value_matches(key: str, value: str, listed: Listed) -> bool:
    negated = value.startswith("!")
    wanted = value[1:] if negated else value
    candidates = _candidates(key, listed)
    if key == "all":
        found = any(c.startswith(w) for w in _words(wanted) for c in candidates)
    else:
        prefix = wanted.lower() if key == "description" else wanted
        found = any(c.startswith(prefix) for c in candidates)
    return found != negated


def check(filters: list[dict[str, Any]]) -> None:
    for search in filters:
        if search.get("Key") is None or not search.get("Values"):
            raise e.InvalidParameterException("Each filter needs a Key and at least one Value.")
        if any("\0" in value for value in search["Values"]):  # PostgreSQL cannot compare it
            raise e.InvalidParameterException("Filter values must not contain NUL characters.")


def matches(filters: list[dict[str, Any]], listed: Listed) -> bool:
    return all(
        any(_value_matches(search["Key"], value, listed) for value in search["Values"])
        for search in filters
    )


def name_prefixes(filters: list[dict[str, Any]]) -> list[str] | None:
    """Prefixes one of which every match's name has (for storage to narrow a listing by), or
    None when the filters do not say."""
    for search in filters:
        if search["Key"] == "name" and not any(v.startswith("!") for v in search["Values"]):
            return list(search["Values"])
    return None


def sort_field(sort_by: str | None) -> str:
    """The stored field a listing is ordered by (then by ARN, so that order is total)."""
    return _SORT_FIELDS[sort_by or "created-date"]


def position(field: str, listed: Listed) -> Position:
    """Where an item stands in a listing ordered by `field`."""
    value = getattr(listed[0], field)
    return (0.0 if value is None else value), listed[0].arn


def encode_token(field: str, after: Position) -> str:
    return base64.urlsafe_b64encode(json.dumps([field, *after]).encode()).decode()


def decode_token(field: str, token: str) -> Position:
    """The position a token names; a token of a listing ordered otherwise is invalid."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = None
    value_type = str if field == "name" else (int, float)
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or decoded[0] != field
        or isinstance(decoded[1], bool)
        or not isinstance(decoded[1], value_type)
        or not isinstance(decoded[2], str)
    ):
        raise e.InvalidNextTokenException("The NextToken value is invalid.")
    return decoded[1], decoded[2]
