"""Managed policies (customer managed, and AWS managed ones to attach), their versions,
attachments to users, groups and roles, and inline policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.iam.policy import PolicyKind
from strongroom.services.context import RequestContext
from strongroom.services.iam import errors as e
from strongroom.services.iam import managed_policies
from strongroom.services.iam.base import IamBase, wire_document
from strongroom.services.iam.model import (
    ATTACHED_POLICIES_PER_ENTITY,
    DEFAULT_PATH,
    GROUP_INLINE_SIZE,
    GROUP_RESOURCE,
    MANAGED_POLICY_SIZE,
    POLICIES_QUOTA,
    POLICY_ID_PREFIX,
    POLICY_RESOURCE,
    ROLE_INLINE_SIZE,
    ROLE_RESOURCE,
    USER_INLINE_SIZE,
    USER_RESOURCE,
    VERSIONS_PER_POLICY,
    ManagedPolicy,
    PolicyVersion,
    arn,
    new_id,
    parse_policy_arn,
    policy_size,
)
from strongroom.storage.iam import IamTransaction, NameTaken

POLICY_EXISTS = "A policy called {} already exists. Duplicate names are not allowed."
INVALID_ARN = "ARN {} is not valid."
NO_POLICY = "Policy {} was not found."
NOT_ATTACHABLE = "Policy {} does not exist or is not attachable."
NO_VERSION = "Policy {} version {} does not exist or is not attachable."
ATTACHED_ELSEWHERE = "Cannot delete a policy attached to entities."
HAS_VERSIONS = (
    "This policy has more than one version. Before you delete a policy, you must delete the "
    "policy's versions. The default version is deleted with the policy."
)
DEFAULT_VERSION = "Cannot delete the default version of a policy."
TOO_MANY_VERSIONS = (
    f"A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create a new "
    "version, you must delete an existing version."
)
POLICY_TOO_LARGE = f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}"
INLINE_TOO_LARGE = "Maximum policy size of {} bytes exceeded for {} {}"
TOO_MANY_ATTACHED = f"Cannot exceed quota for PoliciesPer{{}}: {ATTACHED_POLICIES_PER_ENTITY}"
TOO_MANY_POLICIES = f"Cannot exceed quota for PoliciesPerAccount: {POLICIES_QUOTA}"
NO_INLINE = "The {} policy with name {} cannot be found."
NUL_IN_DESCRIPTION = "Description must not contain the NUL character."
AWS_MANAGED = "User: {} is not authorized to perform: iam:{} on resource: policy {}"
# Per kind of entity: its resource type, and its inline policies' size quota.
_KINDS = {
    "user": (USER_RESOURCE, USER_INLINE_SIZE),
    "group": (GROUP_RESOURCE, GROUP_INLINE_SIZE),
    "role": (ROLE_RESOURCE, ROLE_INLINE_SIZE),
}


class Policies(IamBase):
    # Managed policies

    def create_policy(
        self,
        ctx: RequestContext,
        PolicyName: str,
        PolicyDocument: str,
        Path: str = DEFAULT_PATH,
        Description: str = "",
        Tags: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        self._check_managed(PolicyDocument)
        if "\x00" in Description:  # the one member whose model pattern does not exclude it
            raise e.InvalidInputException(NUL_IN_DESCRIPTION)
        tags = self._tags(Tags)
        now = self._now()
        policy = ManagedPolicy(
            account_id=ctx.account_id,
            name=PolicyName,
            policy_id=new_id(POLICY_ID_PREFIX),
            arn=arn(ctx.account_id, "policy", Path, PolicyName),
            path=Path,
            description=Description,
            default_version="v1",
            created=now,
            updated=now,
        )
        exists = e.EntityAlreadyExistsException(POLICY_EXISTS.format(PolicyName))
        with self._iam.writing() as iam:
            if any(p.name.lower() == PolicyName.lower() for p in iam.policies(ctx.account_id)):
                raise exists
            if iam.counts(ctx.account_id).policies >= POLICIES_QUOTA:
                raise e.LimitExceededException(TOO_MANY_POLICIES)
            try:
                iam.insert_policy(policy, PolicyVersion("v1", PolicyDocument, now))
            except NameTaken:
                raise exists from None
            iam.put_tags(policy.policy_id, tags)
        ctx.note_resource(POLICY_RESOURCE, policy.arn)
        return {"Policy": self._wire_policy(policy, 0, tags=tags)}

    def _check_managed(self, document: str) -> None:
        self._checked(document, PolicyKind.IDENTITY)
        if policy_size(document) > MANAGED_POLICY_SIZE:
            raise e.LimitExceededException(POLICY_TOO_LARGE)

    def _policy(self, iam: IamTransaction, ctx: RequestContext, policy_arn: str) -> ManagedPolicy:
        """A policy the caller may name: its account's own, or AWS's."""
        parsed = parse_policy_arn(policy_arn)
        if parsed is None:
            raise e.InvalidInputException(INVALID_ARN.format(policy_arn))
        policy = iam.policy(policy_arn)
        if policy is None or policy.account_id not in (ctx.account_id, "aws"):
            raise e.NoSuchEntityException(NO_POLICY.format(policy_arn))
        return policy

    def _own_policy(
        self, iam: IamTransaction, ctx: RequestContext, policy_arn: str
    ) -> ManagedPolicy:
        """A policy the caller may change: AWS's belong to AWS's account."""
        policy = self._policy(iam, ctx, policy_arn)
        if policy.aws_managed:
            raise e.AccessDenied(AWS_MANAGED.format(ctx.principal.arn, ctx.operation, policy_arn))
        return policy

    def get_policy(self, ctx: RequestContext, PolicyArn: str) -> dict[str, Any]:
        with self._iam.reading() as iam:
            policy = self._policy(iam, ctx, PolicyArn)
            count = iam.attachment_count(ctx.account_id, policy.arn)
            tags = iam.tags(policy.policy_id) if not policy.aws_managed else {}
        return {"Policy": self._wire_policy(policy, count, tags=tags)}

    def list_policies(
        self,
        ctx: RequestContext,
        Scope: str = "All",
        OnlyAttached: bool = False,
        PathPrefix: str | None = None,
        PolicyUsageFilter: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            local = iam.policies(ctx.account_id, PathPrefix) if Scope != "AWS" else []
            counts = iam.attachment_counts(ctx.account_id)
        aws = (
            [p for p in managed_policies.POLICIES.values() if p.path.startswith(PathPrefix or "/")]
            if Scope != "Local"
            else []
        )
        policies = [*local, *aws]
        if PolicyUsageFilter == "PermissionsBoundary":
            policies = []  # no policy here is used as a permissions boundary
        elif OnlyAttached:
            policies = [p for p in policies if counts.get(p.arn, 0)]
        policies.sort(key=_policy_key)
        page, more = self._page(policies, _policy_key, "policies", Marker, MaxItems)
        wire = [self._wire_policy(p, counts.get(p.arn, 0), description=False) for p in page]
        return {"Policies": wire, **more}

    def delete_policy(self, ctx: RequestContext, PolicyArn: str) -> None:
        with self._iam.writing() as iam:
            policy = self._own_policy(iam, ctx, PolicyArn)
            if iam.attachment_count(ctx.account_id, policy.arn):
                raise e.DeleteConflictException(ATTACHED_ELSEWHERE)
            if len(iam.policy_versions(policy)) > 1:
                raise e.DeleteConflictException(HAS_VERSIONS)
            iam.delete_policy(policy.policy_id)
        ctx.note_resource(POLICY_RESOURCE, policy.arn)

    # Versions

    def create_policy_version(
        self,
        ctx: RequestContext,
        PolicyArn: str,
        PolicyDocument: str,
        SetAsDefault: bool = False,
    ) -> dict[str, Any]:
        with self._iam.writing() as iam:
            policy = self._own_policy(iam, ctx, PolicyArn)
            self._check_managed(PolicyDocument)
            if len(iam.policy_versions(policy)) >= VERSIONS_PER_POLICY:
                raise e.LimitExceededException(TOO_MANY_VERSIONS)
            version = iam.add_policy_version(policy.policy_id, PolicyDocument, self._now())
            if SetAsDefault:
                iam.set_default_version(policy.policy_id, version.version_id, version.created)
        ctx.note_resource(POLICY_RESOURCE, policy.arn)
        return {"PolicyVersion": self._wire_version(version, SetAsDefault, document=False)}

    @staticmethod
    def _wire_version(
        version: PolicyVersion, default: bool, document: bool = True
    ) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "VersionId": version.version_id,
            "IsDefaultVersion": default,
            "CreateDate": version.created,
        }
        if document:
            wire["Document"] = wire_document(version.document)
        return wire

    def _version(
        self, iam: IamTransaction, policy: ManagedPolicy, version_id: str
    ) -> PolicyVersion:
        for version in iam.policy_versions(policy):
            if version.version_id == version_id:
                return version
        raise e.NoSuchEntityException(NO_VERSION.format(policy.arn, version_id))

    def get_policy_version(
        self, ctx: RequestContext, PolicyArn: str, VersionId: str
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            policy = self._policy(iam, ctx, PolicyArn)
            version = self._version(iam, policy, VersionId)
        default = version.version_id == policy.default_version
        return {"PolicyVersion": self._wire_version(version, default)}

    def list_policy_versions(
        self,
        ctx: RequestContext,
        PolicyArn: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            policy = self._policy(iam, ctx, PolicyArn)
            versions = iam.policy_versions(policy)  # newest first

        def newest_first(version: PolicyVersion) -> str:
            number = int(version.version_id[1:].partition(".")[0])
            return f"{10**9 - number:010d}"

        page, more = self._page(versions, newest_first, "versions", Marker, MaxItems)
        wire = [
            self._wire_version(v, v.version_id == policy.default_version, document=False)
            for v in page
        ]
        return {"Versions": wire, **more}

    def delete_policy_version(self, ctx: RequestContext, PolicyArn: str, VersionId: str) -> None:
        with self._iam.writing() as iam:
            policy = self._own_policy(iam, ctx, PolicyArn)
            version = self._version(iam, policy, VersionId)
            if version.version_id == policy.default_version:
                raise e.DeleteConflictException(DEFAULT_VERSION)
            iam.delete_policy_version(policy.policy_id, version.version_id)
        ctx.note_resource(POLICY_RESOURCE, policy.arn)

    def set_default_policy_version(
        self, ctx: RequestContext, PolicyArn: str, VersionId: str
    ) -> None:
        with self._iam.writing() as iam:
            policy = self._own_policy(iam, ctx, PolicyArn)
            version = self._version(iam, policy, VersionId)
            iam.set_default_version(policy.policy_id, version.version_id, self._now())
        ctx.note_resource(POLICY_RESOURCE, policy.arn)

    # Attachments

    def _entity(self, iam: IamTransaction, ctx: RequestContext, kind: str, name: str) -> str:
        """The id of the user, group or role, and the audit record names it."""
        if kind == "user":
            user = self._user(iam, ctx, name)
            ctx.note_resource(USER_RESOURCE, user.arn)
            return user.user_id
        if kind == "group":
            group = self._group(iam, ctx, name)
            ctx.note_resource(GROUP_RESOURCE, group.arn)
            return group.group_id
        role = self._role(iam, ctx, name)
        ctx.note_resource(ROLE_RESOURCE, role.arn)
        return role.role_id

    def _attach(self, ctx: RequestContext, kind: str, name: str, policy_arn: str) -> None:
        with self._iam.writing() as iam:
            entity_id = self._entity(iam, ctx, kind, name)
            if parse_policy_arn(policy_arn) is None:
                raise e.InvalidInputException(INVALID_ARN.format(policy_arn))
            policy = iam.policy(policy_arn)
            if policy is None or policy.account_id not in (ctx.account_id, "aws"):
                raise e.NoSuchEntityException(NOT_ATTACHABLE.format(policy_arn))
            attached = iam.attached(entity_id)
            if policy_arn not in attached and len(attached) >= ATTACHED_POLICIES_PER_ENTITY:
                raise e.LimitExceededException(TOO_MANY_ATTACHED.format(kind.capitalize()))
            iam.attach(ctx.account_id, kind, entity_id, policy_arn, self._now())
        ctx.note_resource(POLICY_RESOURCE, policy_arn)

    def _detach(self, ctx: RequestContext, kind: str, name: str, policy_arn: str) -> None:
        with self._iam.writing() as iam:
            entity_id = self._entity(iam, ctx, kind, name)
            if parse_policy_arn(policy_arn) is None:
                raise e.InvalidInputException(INVALID_ARN.format(policy_arn))
            if not iam.detach(entity_id, policy_arn):
                raise e.NoSuchEntityException(NO_POLICY.format(policy_arn))
        ctx.note_resource(POLICY_RESOURCE, policy_arn)

    def _attached(
        self,
        ctx: RequestContext,
        kind: str,
        name: str,
        path_prefix: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            entity_id = self._entity(iam, ctx, kind, name)
            policies = [iam.policy(policy_arn) for policy_arn in iam.attached(entity_id)]
        found = sorted(
            (p for p in policies if p is not None and p.path.startswith(path_prefix or "/")),
            key=_policy_key,
        )
        page, more = self._page(found, _policy_key, f"attached-{kind}", marker, max_items)
        wire = [{"PolicyName": p.name, "PolicyArn": p.arn} for p in page]
        return {"AttachedPolicies": wire, **more}

    def attach_user_policy(self, ctx: RequestContext, UserName: str, PolicyArn: str) -> None:
        self._attach(ctx, "user", UserName, PolicyArn)

    def attach_group_policy(self, ctx: RequestContext, GroupName: str, PolicyArn: str) -> None:
        self._attach(ctx, "group", GroupName, PolicyArn)

    def attach_role_policy(self, ctx: RequestContext, RoleName: str, PolicyArn: str) -> None:
        self._attach(ctx, "role", RoleName, PolicyArn)

    def detach_user_policy(self, ctx: RequestContext, UserName: str, PolicyArn: str) -> None:
        self._detach(ctx, "user", UserName, PolicyArn)

    def detach_group_policy(self, ctx: RequestContext, GroupName: str, PolicyArn: str) -> None:
        self._detach(ctx, "group", GroupName, PolicyArn)

    def detach_role_policy(self, ctx: RequestContext, RoleName: str, PolicyArn: str) -> None:
        self._detach(ctx, "role", RoleName, PolicyArn)

    def list_attached_user_policies(
        self,
        ctx: RequestContext,
        UserName: str,
        PathPrefix: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        return self._attached(ctx, "user", UserName, PathPrefix, Marker, MaxItems)

    def list_attached_group_policies(
        self,
        ctx: RequestContext,
        GroupName: str,
        PathPrefix: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        return self._attached(ctx, "group", GroupName, PathPrefix, Marker, MaxItems)

    def list_attached_role_policies(
        self,
        ctx: RequestContext,
        RoleName: str,
        PathPrefix: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        return self._attached(ctx, "role", RoleName, PathPrefix, Marker, MaxItems)

    def list_entities_for_policy(
        self,
        ctx: RequestContext,
        PolicyArn: str,
        EntityFilter: str | None = None,
        PathPrefix: str | None = None,
        PolicyUsageFilter: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            policy = self._policy(iam, ctx, PolicyArn)
            attached = iam.entities_for_policy(ctx.account_id, policy.arn)
            ids = {kind: [i for k, i in attached if k == kind] for kind in _KINDS}
            users = iam.users_by_id(ids["user"]).values()
            groups = iam.groups_by_id(ids["group"]).values()
            roles = iam.roles_by_id(ids["role"]).values()
        wanted = {"User": "user", "Group": "group", "Role": "role"}.get(EntityFilter or "")
        entities = [
            (kind, entity.name, entity_id, entity.path)
            for kind, found in (("user", users), ("group", groups), ("role", roles))
            for entity in found
            for entity_id in [getattr(entity, f"{kind}_id")]
            if (wanted in (None, kind))
            and PolicyUsageFilter != "PermissionsBoundary"
            and EntityFilter not in ("LocalManagedPolicy", "AWSManagedPolicy")
            and entity.path.startswith(PathPrefix or "/")
        ]

        def by_kind_and_name(entity: tuple[str, str, str, str]) -> str:
            return f"{entity[0]}:{entity[1].lower()}"

        entities.sort(key=by_kind_and_name)
        page, more = self._page(entities, by_kind_and_name, "entities", Marker, MaxItems)
        return {
            "PolicyGroups": [{"GroupName": n, "GroupId": i} for k, n, i, _ in page if k == "group"],
            "PolicyUsers": [{"UserName": n, "UserId": i} for k, n, i, _ in page if k == "user"],
            "PolicyRoles": [{"RoleName": n, "RoleId": i} for k, n, i, _ in page if k == "role"],
            **more,
        }

    # Inline policies

    def _put_inline(
        self, ctx: RequestContext, kind: str, name: str, policy_name: str, document: str
    ) -> None:
        self._checked(document, PolicyKind.IDENTITY)
        quota = _KINDS[kind][1]
        with self._iam.writing() as iam:
            owner_id = self._entity(iam, ctx, kind, name)
            others = iam.inline_policies(owner_id)
            others.pop(policy_name, None)
            total = sum(policy_size(d) for d in others.values()) + policy_size(document)
            if total > quota:
                raise e.LimitExceededException(INLINE_TOO_LARGE.format(quota, kind, name))
            iam.put_inline(owner_id, policy_name, document)

    def _inline(
        self, ctx: RequestContext, kind: str, name: str, policy_name: str
    ) -> tuple[str, str]:
        """(the entity's name as stored, the policy's document)."""
        with self._iam.reading() as iam:
            owner_id = self._entity(iam, ctx, kind, name)
            document = iam.inline_policies(owner_id).get(policy_name)
        if document is None:
            raise e.NoSuchEntityException(NO_INLINE.format(kind, policy_name))
        return name, wire_document(document)

    def _delete_inline(self, ctx: RequestContext, kind: str, name: str, policy_name: str) -> None:
        with self._iam.writing() as iam:
            owner_id = self._entity(iam, ctx, kind, name)
            if not iam.delete_inline(owner_id, policy_name):
                raise e.NoSuchEntityException(NO_INLINE.format(kind, policy_name))

    def _list_inline(
        self, ctx: RequestContext, kind: str, name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            names = list(iam.inline_policies(self._entity(iam, ctx, kind, name)))
        page, more = self._page(names, str, f"inline-{kind}", marker, max_items)
        return {"PolicyNames": page, **more}

    def put_user_policy(
        self, ctx: RequestContext, UserName: str, PolicyName: str, PolicyDocument: str
    ) -> None:
        self._put_inline(ctx, "user", UserName, PolicyName, PolicyDocument)

    def put_group_policy(
        self, ctx: RequestContext, GroupName: str, PolicyName: str, PolicyDocument: str
    ) -> None:
        self._put_inline(ctx, "group", GroupName, PolicyName, PolicyDocument)

    def put_role_policy(
        self, ctx: RequestContext, RoleName: str, PolicyName: str, PolicyDocument: str
    ) -> None:
        self._put_inline(ctx, "role", RoleName, PolicyName, PolicyDocument)

    def get_user_policy(
        self, ctx: RequestContext, UserName: str, PolicyName: str
    ) -> dict[str, Any]:
        name, document = self._inline(ctx, "user", UserName, PolicyName)
        return {"UserName": name, "PolicyName": PolicyName, "PolicyDocument": document}

    def get_group_policy(
        self, ctx: RequestContext, GroupName: str, PolicyName: str
    ) -> dict[str, Any]:
        name, document = self._inline(ctx, "group", GroupName, PolicyName)
        return {"GroupName": name, "PolicyName": PolicyName, "PolicyDocument": document}

    def get_role_policy(
        self, ctx: RequestContext, RoleName: str, PolicyName: str
    ) -> dict[str, Any]:
        name, document = self._inline(ctx, "role", RoleName, PolicyName)
        return {"RoleName": name, "PolicyName": PolicyName, "PolicyDocument": document}

    def delete_user_policy(self, ctx: RequestContext, UserName: str, PolicyName: str) -> None:
        self._delete_inline(ctx, "user", UserName, PolicyName)

    def delete_group_policy(self, ctx: RequestContext, GroupName: str, PolicyName: str) -> None:
        self._delete_inline(ctx, "group", GroupName, PolicyName)

    def delete_role_policy(self, ctx: RequestContext, RoleName: str, PolicyName: str) -> None:
        self._delete_inline(ctx, "role", RoleName, PolicyName)

    def list_user_policies(
        self,
        ctx: RequestContext,
        UserName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        return self._list_inline(ctx, "user", UserName, Marker, MaxItems)

    def list_group_policies(
        self,
        ctx: RequestContext,
        GroupName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        return self._list_inline(ctx, "group", GroupName, Marker, MaxItems)

    def list_role_policies(
        self,
        ctx: RequestContext,
        RoleName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        return self._list_inline(ctx, "role", RoleName, Marker, MaxItems)


def _policy_key(policy: ManagedPolicy) -> str:
    return f"{policy.name.lower()}\0{policy.account_id}"
