"""Read the whole KMS state a test can see, to prove that a rejected request changed nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def all_pages(call: Callable[..., dict[str, Any]], member: str, **params: Any) -> list[Any]:
    """Every item of a Limit/Marker/Truncated listing, following NextMarker to the end."""
    items: list[Any] = []
    marker: str | None = None
    while True:
        page = call(**params, **({"Marker": marker} if marker else {}))
        items.extend(page[member])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            return items
        marker = page["NextMarker"]


def key_ids(kms: Any) -> list[str]:
    return [k["KeyId"] for k in all_pages(kms.list_keys, "Keys", Limit=1000)]


def aliases(kms: Any) -> list[tuple[str, str | None]]:
    return sorted(
        (a["AliasName"], a.get("TargetKeyId"))
        for a in all_pages(kms.list_aliases, "Aliases", Limit=1000)
    )


def tags(kms: Any, key_id: str) -> dict[str, str]:
    listed = all_pages(kms.list_resource_tags, "Tags", KeyId=key_id, Limit=1000)
    return {t["TagKey"]: t["TagValue"] for t in listed}


def snapshot(kms: Any, watched_keys: Iterable[str] = ()) -> dict[str, Any]:
    """Keys, aliases, and the metadata and tags of the watched keys."""
    return {
        "keys": sorted(key_ids(kms)),
        "aliases": aliases(kms),
        "watched": {
            key_id: (kms.describe_key(KeyId=key_id)["KeyMetadata"], tags(kms, key_id))
            for key_id in watched_keys
        },
    }
