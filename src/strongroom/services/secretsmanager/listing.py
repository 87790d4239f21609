"""ListSecrets filters, sorting and page tokens, as the Secrets Manager API reference documents
them: prefix matches (case-sensitive but for description and `all`), `!` negation, values of one
filter ORed, filters ANDed, and tokens that stay valid while secrets come and go."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager.model import Secret, parse_arn

# A secret as listing sees it: the secret, its tags and its staging labels.
Listed = tuple[Secret, dict[str, str], dict[str, str]]

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SORT_FIELDS: dict[str, Callable[[Secret], Any]] = {
    "created-date": lambda s: s.created_date,
    "last-accessed-date": lambda s: s.last_accessed_date or 0.0,
    "last-changed-date": lambda s: s.last_changed_date,
    "name": lambda s: s.name,
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


def matches(filters: list[dict[str, Any]], listed: Listed) -> bool:
    for search in filters:
        key, values = search.get("Key"), search.get("Values")
        if key is None or not values:
            raise e.InvalidParameterException("Each filter needs a Key and at least one Value.")
        if not any(_value_matches(key, value, listed) for value in values):
            return False
    return True


def sort_key(sort_by: str | None) -> Callable[[Listed], tuple[Any, str]]:
    field = _SORT_FIELDS[sort_by or "created-date"]
    return lambda listed: (field(listed[0]), listed[0].arn)


def page(
    items: list[Listed],
    key: Callable[[Listed], tuple[Any, str]],
    descending: bool,
    token: str | None,
    size: int,
) -> tuple[list[Listed], str | None]:
    """One page after the position `token` names; the next token names this page's last item."""
    ordered = sorted(items, key=key, reverse=descending)
    if token is not None:
        after = _decode(token)
        try:
            ordered = [i for i in ordered if _beyond(list(key(i)), after, descending)]
        except TypeError:  # a token from a listing sorted by another field
            raise e.InvalidNextTokenException("The NextToken value is invalid.") from None
    chosen = ordered[:size]
    return chosen, _encode(list(key(chosen[-1]))) if len(ordered) > size else None


def _beyond(position: list[Any], after: list[Any], descending: bool) -> bool:
    return position < after if descending else position > after


def _encode(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode(token: str) -> list[Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise e.InvalidNextTokenException("The NextToken value is invalid.") from None
    if not isinstance(position, list) or len(position) != 2:
        raise e.InvalidNextTokenException("The NextToken value is invalid.")
    return position
