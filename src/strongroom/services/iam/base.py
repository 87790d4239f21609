"""What every group of IAM operations shares: finding users, groups and roles by name, policy
documents checked against the policy grammar and IAM's quotas, tags, pages (Marker/MaxItems)
and the wire form of each entity."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam import policy as policy_language
from strongroom.services.context import RequestContext
from strongroom.services.iam import errors as e
from strongroom.services.iam.model import (
    DEFAULT_MAX_ITEMS,
    TAGS_PER_ENTITY,
    IamGroup,
    IamRole,
    IamUser,
    ManagedPolicy,
    name_key,
    reserved_tag_key,
)
from strongroom.storage.iam import IamRepository, IamTransaction

T = TypeVar("T")

NO_USER = "The user with name {} cannot be found."
NO_GROUP = "The group with name {} cannot be found."
NO_ROLE = "The role with name {} cannot be found."
DUPLICATE_TAGS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
RESERVED_TAG = "User-defined tags cannot start with aws: prefix."
TOO_MANY_TAGS = "Cannot exceed quota for TagsPer{}: 50"
INVALID_MARKER = "Invalid Marker."
_MAX_MARKER = 320


class IamBase:
    def __init__(
        self,
        repository: IamRepository,
        barrier: Barrier,
        clock: Clock,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self._iam = repository
        self._barrier = barrier
        self._clock = clock
        # One-time codes count real time, as the device in a person's hand does (a dev
        # server's clock may have been moved on).
        self._wall_time = wall_time

    def _now(self) -> float:
        return self._clock.time()

    # Finding entities

    @staticmethod
    def _user(iam: IamTransaction, ctx: RequestContext, name: str) -> IamUser:
        user = iam.user(ctx.account_id, name)
        if user is None:
            raise e.NoSuchEntityException(NO_USER.format(name))
        return user

    @staticmethod
    def _caller_or(ctx: RequestContext, name: str | None) -> str:
        """The user an operation names, or the caller's own when it names none."""
        return name if name is not None else ctx.principal.user_name

    @staticmethod
    def _group(iam: IamTransaction, ctx: RequestContext, name: str) -> IamGroup:
        group = iam.group(ctx.account_id, name)
        if group is None:
            raise e.NoSuchEntityException(NO_GROUP.format(name))
        return group

    @staticmethod
    def _role(iam: IamTransaction, ctx: RequestContext, name: str) -> IamRole:
        role = iam.role(ctx.account_id, name)
        if role is None:
            raise e.NoSuchEntityException(NO_ROLE.format(name))
        return role

    # Policy documents

    @staticmethod
    def _checked(document: str, kind: policy_language.PolicyKind) -> None:
        try:
            policy_language.parse(document, kind)
        except policy_language.MalformedPolicy as error:
            raise e.MalformedPolicyDocumentException(error.message) from None

    # Tags

    @staticmethod
    def _tags(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
        """The tags of a request, refused when two keys differ only in case or one is
        reserved for AWS."""
        given: dict[str, str] = {}
        for tag in tags or []:
            key = tag["Key"]
            if reserved_tag_key(key):
                raise e.InvalidInputException(RESERVED_TAG)
            if name_key(key) in {name_key(k) for k in given}:
                raise e.InvalidInputException(DUPLICATE_TAGS)
            given[key] = tag["Value"]
        return given

    @staticmethod
    def _tag(
        iam: IamTransaction, owner_id: str, tags: Sequence[Mapping[str, str]], kind: str
    ) -> None:
        """Add or replace tags; a key replaces the one it matches in any case."""
        given = IamBase._tags(tags)
        existing = iam.tags(owner_id)
        replaced = [k for k in existing if name_key(k) in {name_key(g) for g in given}]
        if len(existing) - len(replaced) + len(given) > TAGS_PER_ENTITY:
            raise e.LimitExceededException(TOO_MANY_TAGS.format(kind))
        iam.delete_tags(owner_id, replaced)
        iam.put_tags(owner_id, given)

    @staticmethod
    def _untag(iam: IamTransaction, owner_id: str, keys: Sequence[str]) -> None:
        wanted = {name_key(key) for key in keys}
        iam.delete_tags(owner_id, [k for k in iam.tags(owner_id) if name_key(k) in wanted])

    @staticmethod
    def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for key, value in tags.items()]

    @staticmethod
    def _tag_page(
        tags: Mapping[str, str], kind: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        """A ListUserTags/ListRoleTags answer: the tags by key, whatever its case."""
        page, more = IamBase._page(sorted(tags, key=str.lower), str.lower, kind, marker, max_items)
        return {"Tags": [{"Key": key, "Value": tags[key]} for key in page], **more}

    # Pages: items in listing order, each with a key that ascends in that order

    @staticmethod
    def _page(
        items: Sequence[T],
        key: Callable[[T], str],
        kind: str,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[list[T], dict[str, Any]]:
        """One page of a listing and its IsTruncated and Marker."""
        if marker is not None:
            after = _marker_key(kind, marker)
            items = [item for item in items if key(item) > after]
        limit = max_items or DEFAULT_MAX_ITEMS
        page = list(items[:limit])
        if len(items) <= limit:
            return page, {"IsTruncated": False}
        return page, {"IsTruncated": True, "Marker": _marker(kind, key(page[-1]))}

    # Wire forms

    @staticmethod
    def _wire_user(user: IamUser, tags: bool = False) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Path": user.path,
            "UserName": user.name,
            "UserId": user.user_id,
            "Arn": user.arn,
            "CreateDate": user.created,
        }
        if tags and user.tags:
            wire["Tags"] = IamBase._tag_list(user.tags)
        return wire

    @staticmethod
    def _wire_group(group: IamGroup) -> dict[str, Any]:
        return {
            "Path": group.path,
            "GroupName": group.name,
            "GroupId": group.group_id,
            "Arn": group.arn,
            "CreateDate": group.created,
        }

    @staticmethod
    def _wire_role(role: IamRole, full: bool = False) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Path": role.path,
            "RoleName": role.name,
            "RoleId": role.role_id,
            "Arn": role.arn,
            "CreateDate": role.created,
            "AssumeRolePolicyDocument": wire_document(role.trust_policy),
            "MaxSessionDuration": role.max_session_duration,
        }
        if role.description:
            wire["Description"] = role.description
        if full:
            if role.tags:
                wire["Tags"] = IamBase._tag_list(role.tags)
            wire["RoleLastUsed"] = {}
        return wire

    @staticmethod
    def _wire_policy(
        policy: ManagedPolicy,
        attachments: int,
        description: bool = True,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "PolicyName": policy.name,
            "PolicyId": policy.policy_id,
            "Arn": policy.arn,
            "Path": policy.path,
            "DefaultVersionId": policy.default_version,
            "AttachmentCount": attachments,
            "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True,
            "CreateDate": policy.created,
            "UpdateDate": policy.updated,
        }
        if description and policy.description:
            wire["Description"] = policy.description
        if tags:
            wire["Tags"] = IamBase._tag_list(tags)
        return wire


def wire_document(document: str) -> str:
    """IAM answers policy documents URL-encoded (RFC 3986); the SDKs decode them."""
    return quote(document, safe="*")


def _marker(kind: str, key: str) -> str:
    text = json.dumps([kind, key], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _marker_key(kind: str, marker: str) -> str:
    """The key a marker of this listing resumes after; InvalidInput for any other marker."""
    try:
        if len(marker) > _MAX_MARKER or not marker.isascii():
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise e.InvalidInputException(INVALID_MARKER) from None
    if (
        not isinstance(values, list)
        or len(values) != 2
        or values[0] != kind
        or not isinstance(values[1], str)
    ):
        raise e.InvalidInputException(INVALID_MARKER)
    return values[1]
