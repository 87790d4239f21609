"""KMS test helpers: read the whole KMS state a test can see (to prove that a rejected request
changed nothing), expect AWS errors, and AWS's fixed message texts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError


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
    """Keys, aliases, and of the watched keys their metadata, tags, policy, grants and
    key materials (rotations)."""
    return {
        "keys": sorted(key_ids(kms)),
        "aliases": aliases(kms),
        "watched": {key_id: watched(kms, key_id) for key_id in watched_keys},
    }


def watched(kms: Any, key_id: str) -> dict[str, Any]:
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    state = {
        "metadata": metadata,
        "tags": tags(kms, key_id),
        "policy": kms.get_key_policy(KeyId=key_id)["Policy"],
        "grants": all_pages(kms.list_grants, "Grants", KeyId=key_id, Limit=100),
    }
    rotatable = metadata["KeySpec"] == "SYMMETRIC_DEFAULT" and metadata["Origin"] == "AWS_KMS"
    if rotatable and metadata["KeyState"] in ("Enabled", "Disabled"):
        state["rotations"] = kms.list_key_rotations(KeyId=key_id, Limit=1000)["Rotations"]
        state["rotation"] = {
            k: v
            for k, v in kms.get_key_rotation_status(KeyId=key_id).items()
            if k != "ResponseMetadata"
        }
    return state


DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)
INCORRECT_KEY_MESSAGE = (
    "The key ID in the request does not identify a KMS key that can perform this operation."
)
# AWS's Decrypt answer (AccessDeniedException) when a ciphertext's key is gone or not the
# caller's: deleted, in another Region or account.
MISSING_KEY_MESSAGE = (
    "The ciphertext refers to a customer master key that does not exist, does not exist in this "
    "region, or you are not allowed to access."
)
OTHER_ACCOUNT = "111122223333"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def unique_alias() -> str:
    return f"alias/test-{uuid.uuid4()}"


def alias_arn(key: dict[str, Any], alias_name: str) -> str:
    return key["Arn"].rsplit(":", 1)[0] + ":" + alias_name


@contextmanager
def aws_error(code: str, status: int = 400, message: str | None = None) -> Iterator[None]:
    with pytest.raises(ClientError) as info:
        yield
    response = info.value.response
    assert response["Error"]["Code"] == code, response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response["Error"]
    if message is not None:
        assert response["Error"]["Message"] == message


@contextmanager
def unchanged(kms: Any, *watched_keys: str) -> Iterator[None]:
    before = snapshot(kms, watched_keys)
    yield
    assert snapshot(kms, watched_keys) == before
