"""IAM users, groups and roles: their lifecycle, tags and group membership."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.auth.authenticator import access_key_aad
from strongroom.iam.policy import PolicyKind
from strongroom.services.context import RequestContext
from strongroom.services.iam import errors as e
from strongroom.services.iam.base import NO_USER, IamBase
from strongroom.services.iam.model import (
    DEFAULT_MAX_SESSION_DURATION,
    DEFAULT_PATH,
    GROUP_ID_PREFIX,
    GROUP_RESOURCE,
    GROUPS_PER_USER,
    GROUPS_QUOTA,
    ROLE_ID_PREFIX,
    ROLE_RESOURCE,
    ROLES_QUOTA,
    TRUST_POLICY_SIZE,
    USER_ID_PREFIX,
    USER_RESOURCE,
    USERS_QUOTA,
    IamGroup,
    IamRole,
    IamUser,
    arn,
    new_id,
    policy_size,
)
from strongroom.storage.iam import IamTransaction, NameTaken

USER_EXISTS = "User with name {} already exists."
GROUP_EXISTS = "Group with name {} already exists."
ROLE_EXISTS = "Role with name {} already exists."
MUST_DELETE_KEYS = "Cannot delete entity, must delete access keys first."
MUST_DELETE_MFA = "Cannot delete entity, must delete MFA device first."
MUST_DELETE_POLICIES = "Cannot delete entity, must delete policies first."
MUST_DETACH_POLICIES = "Cannot delete entity, must detach all policies first."
MUST_LEAVE_GROUPS = "Cannot delete entity, must remove user from all groups first."
MUST_REMOVE_MEMBERS = "Cannot delete entity, must remove users from group first."
QUOTA = "Cannot exceed quota for {}: {}"
TRUST_POLICY_TOO_LARGE = f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}"
NOT_A_MEMBER = "User {} is not in group {}."


class Identities(IamBase):
    # Users

    def create_user(
        self,
        ctx: RequestContext,
        UserName: str,
        Path: str = DEFAULT_PATH,
        Tags: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        tags = self._tags(Tags)
        user = IamUser(
            account_id=ctx.account_id,
            name=UserName,
            user_id=new_id(USER_ID_PREFIX),
            arn=arn(ctx.account_id, "user", Path, UserName),
            path=Path,
            created=self._now(),
            tags=tags,
        )
        with self._iam.writing() as iam:
            if iam.user(ctx.account_id, UserName) is not None:
                raise e.EntityAlreadyExistsException(USER_EXISTS.format(UserName))
            if iam.counts(ctx.account_id).users >= USERS_QUOTA:
                raise e.LimitExceededException(QUOTA.format("UsersPerAccount", USERS_QUOTA))
            try:
                iam.insert_user(user)
            except NameTaken:
                raise e.EntityAlreadyExistsException(USER_EXISTS.format(UserName)) from None
        ctx.note_resource(USER_RESOURCE, user.arn)
        return {"User": self._wire_user(user, tags=True)}

    def get_user(self, ctx: RequestContext, UserName: str | None = None) -> dict[str, Any]:
        with self._iam.reading() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
        return {"User": self._wire_user(user, tags=True)}

    def list_users(
        self,
        ctx: RequestContext,
        PathPrefix: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            users = iam.users(ctx.account_id, PathPrefix)
        page, more = self._page(users, lambda u: u.name.lower(), "users", Marker, MaxItems)
        return {"Users": [self._wire_user(user) for user in page], **more}

    def update_user(
        self,
        ctx: RequestContext,
        UserName: str,
        NewPath: str | None = None,
        NewUserName: str | None = None,
    ) -> None:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, UserName)
            name = NewUserName if NewUserName is not None else user.name
            other = iam.user(ctx.account_id, name)
            if other is not None and other.user_id != user.user_id:
                raise e.EntityAlreadyExistsException(USER_EXISTS.format(name))
            try:
                iam.update_user(user.user_id, name, NewPath or user.path)
            except NameTaken:
                raise e.EntityAlreadyExistsException(USER_EXISTS.format(name)) from None
            if name != user.name:
                self._rename_keys(iam, user, name)
        ctx.note_resource(USER_RESOURCE, user.arn)

    def _rename_keys(self, iam: IamTransaction, user: IamUser, name: str) -> None:
        """Access keys name their owner, bound into their secret's ciphertext: re-encrypted
        for the new name, in the same transaction."""
        for key in iam.access_keys(user.user_id):
            found = iam.access_key(key.access_key_id)
            assert found is not None
            old_aad = access_key_aad(key.access_key_id, key.account_id, key.user_name, key.user_id)
            new_aad = access_key_aad(key.access_key_id, key.account_id, name, key.user_id)
            secret = self._barrier.decrypt(found[1], old_aad)
            iam.rename_access_key(key.access_key_id, name, self._barrier.encrypt(secret, new_aad))

    def delete_user(self, ctx: RequestContext, UserName: str) -> None:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, UserName)
            if iam.access_keys(user.user_id):
                raise e.DeleteConflictException(MUST_DELETE_KEYS)
            if iam.mfa_devices(ctx.account_id, user_id=user.user_id):
                raise e.DeleteConflictException(MUST_DELETE_MFA)
            if iam.inline_policies(user.user_id):
                raise e.DeleteConflictException(MUST_DELETE_POLICIES)
            if iam.attached(user.user_id):
                raise e.DeleteConflictException(MUST_DETACH_POLICIES)
            if iam.groups_of(user.user_id):
                raise e.DeleteConflictException(MUST_LEAVE_GROUPS)
            iam.delete_user(user.user_id)
        ctx.note_resource(USER_RESOURCE, user.arn)

    def tag_user(
        self, ctx: RequestContext, UserName: str, Tags: Sequence[Mapping[str, str]]
    ) -> None:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, UserName)
            self._tag(iam, user.user_id, Tags, "User")
        ctx.note_resource(USER_RESOURCE, user.arn)

    def untag_user(self, ctx: RequestContext, UserName: str, TagKeys: Sequence[str]) -> None:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, UserName)
            self._untag(iam, user.user_id, TagKeys)
        ctx.note_resource(USER_RESOURCE, user.arn)

    def list_user_tags(
        self,
        ctx: RequestContext,
        UserName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            user = self._user(iam, ctx, UserName)
        return self._tag_page(user.tags, "user-tags", Marker, MaxItems)

    # Groups

    def create_group(
        self, ctx: RequestContext, GroupName: str, Path: str = DEFAULT_PATH
    ) -> dict[str, Any]:
        group = IamGroup(
            account_id=ctx.account_id,
            name=GroupName,
            group_id=new_id(GROUP_ID_PREFIX),
            arn=arn(ctx.account_id, "group", Path, GroupName),
            path=Path,
            created=self._now(),
        )
        with self._iam.writing() as iam:
            if iam.group(ctx.account_id, GroupName) is not None:
                raise e.EntityAlreadyExistsException(GROUP_EXISTS.format(GroupName))
            if iam.counts(ctx.account_id).groups >= GROUPS_QUOTA:
                raise e.LimitExceededException(QUOTA.format("GroupsPerAccount", GROUPS_QUOTA))
            try:
                iam.insert_group(group)
            except NameTaken:
                raise e.EntityAlreadyExistsException(GROUP_EXISTS.format(GroupName)) from None
        ctx.note_resource(GROUP_RESOURCE, group.arn)
        return {"Group": self._wire_group(group)}

    def get_group(
        self,
        ctx: RequestContext,
        GroupName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            group = self._group(iam, ctx, GroupName)
            members = iam.members(group.group_id)
        page, more = self._page(members, lambda u: u.name.lower(), "members", Marker, MaxItems)
        return {
            "Group": self._wire_group(group),
            "Users": [self._wire_user(user) for user in page],
            **more,
        }

    def list_groups(
        self,
        ctx: RequestContext,
        PathPrefix: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            groups = iam.groups(ctx.account_id, PathPrefix)
        page, more = self._page(groups, lambda g: g.name.lower(), "groups", Marker, MaxItems)
        return {"Groups": [self._wire_group(group) for group in page], **more}

    def delete_group(self, ctx: RequestContext, GroupName: str) -> None:
        with self._iam.writing() as iam:
            group = self._group(iam, ctx, GroupName)
            if iam.members(group.group_id):
                raise e.DeleteConflictException(MUST_REMOVE_MEMBERS)
            if iam.inline_policies(group.group_id):
                raise e.DeleteConflictException(MUST_DELETE_POLICIES)
            if iam.attached(group.group_id):
                raise e.DeleteConflictException(MUST_DETACH_POLICIES)
            iam.delete_group(group.group_id)
        ctx.note_resource(GROUP_RESOURCE, group.arn)

    def add_user_to_group(self, ctx: RequestContext, GroupName: str, UserName: str) -> None:
        with self._iam.writing() as iam:
            group = self._group(iam, ctx, GroupName)
            user = self._user(iam, ctx, UserName)
            groups = {g.group_id for g in iam.groups_of(user.user_id)}
            if group.group_id not in groups and len(groups) >= GROUPS_PER_USER:
                raise e.LimitExceededException(QUOTA.format("GroupsPerUser", GROUPS_PER_USER))
            iam.add_member(group.group_id, user.user_id, self._now())
        ctx.note_resource(GROUP_RESOURCE, group.arn)

    def remove_user_from_group(self, ctx: RequestContext, GroupName: str, UserName: str) -> None:
        with self._iam.writing() as iam:
            group = self._group(iam, ctx, GroupName)
            user = self._user(iam, ctx, UserName)
            if not iam.remove_member(group.group_id, user.user_id):
                raise e.NoSuchEntityException(NO_USER.format(UserName))
        ctx.note_resource(GROUP_RESOURCE, group.arn)

    def list_groups_for_user(
        self,
        ctx: RequestContext,
        UserName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            user = self._user(iam, ctx, UserName)
            groups = iam.groups_of(user.user_id)
        page, more = self._page(groups, lambda g: g.name.lower(), "user-groups", Marker, MaxItems)
        return {"Groups": [self._wire_group(group) for group in page], **more}

    # Roles

    def create_role(
        self,
        ctx: RequestContext,
        RoleName: str,
        AssumeRolePolicyDocument: str,
        Path: str = DEFAULT_PATH,
        Description: str = "",
        MaxSessionDuration: int = DEFAULT_MAX_SESSION_DURATION,
        Tags: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        self._check_trust_policy(AssumeRolePolicyDocument)
        tags = self._tags(Tags)
        role = IamRole(
            account_id=ctx.account_id,
            name=RoleName,
            role_id=new_id(ROLE_ID_PREFIX),
            arn=arn(ctx.account_id, "role", Path, RoleName),
            path=Path,
            created=self._now(),
            trust_policy=AssumeRolePolicyDocument,
            max_session_duration=MaxSessionDuration,
            description=Description,
            tags=tags,
        )
        with self._iam.writing() as iam:
            if iam.role(ctx.account_id, RoleName) is not None:
                raise e.EntityAlreadyExistsException(ROLE_EXISTS.format(RoleName))
            if iam.counts(ctx.account_id).roles >= ROLES_QUOTA:
                raise e.LimitExceededException(QUOTA.format("RolesPerAccount", ROLES_QUOTA))
            try:
                iam.insert_role(role)
            except NameTaken:
                raise e.EntityAlreadyExistsException(ROLE_EXISTS.format(RoleName)) from None
        ctx.note_resource(ROLE_RESOURCE, role.arn)
        wire = self._wire_role(role)
        if tags:
            wire["Tags"] = self._tag_list(tags)
        return {"Role": wire}

    def _check_trust_policy(self, document: str) -> None:
        self._checked(document, PolicyKind.TRUST)
        if policy_size(document) > TRUST_POLICY_SIZE:
            raise e.LimitExceededException(TRUST_POLICY_TOO_LARGE)

    def get_role(self, ctx: RequestContext, RoleName: str) -> dict[str, Any]:
        with self._iam.reading() as iam:
            role = self._role(iam, ctx, RoleName)
        return {"Role": self._wire_role(role, full=True)}

    def list_roles(
        self,
        ctx: RequestContext,
        PathPrefix: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            roles = iam.roles(ctx.account_id, PathPrefix)
        page, more = self._page(roles, lambda r: r.name.lower(), "roles", Marker, MaxItems)
        return {"Roles": [self._wire_role(role) for role in page], **more}

    def update_role(
        self,
        ctx: RequestContext,
        RoleName: str,
        Description: str | None = None,
        MaxSessionDuration: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.writing() as iam:
            role = self._role(iam, ctx, RoleName)
            iam.update_role(
                role.role_id, description=Description, max_session_duration=MaxSessionDuration
            )
        ctx.note_resource(ROLE_RESOURCE, role.arn)
        return {}

    def update_assume_role_policy(
        self, ctx: RequestContext, RoleName: str, PolicyDocument: str
    ) -> None:
        self._check_trust_policy(PolicyDocument)
        with self._iam.writing() as iam:
            role = self._role(iam, ctx, RoleName)
            iam.update_role(role.role_id, trust_policy=PolicyDocument)
        ctx.note_resource(ROLE_RESOURCE, role.arn)

    def delete_role(self, ctx: RequestContext, RoleName: str) -> None:
        with self._iam.writing() as iam:
            role = self._role(iam, ctx, RoleName)
            if iam.inline_policies(role.role_id):
                raise e.DeleteConflictException(MUST_DELETE_POLICIES)
            if iam.attached(role.role_id):
                raise e.DeleteConflictException(MUST_DETACH_POLICIES)
            iam.delete_role(role.role_id)
        ctx.note_resource(ROLE_RESOURCE, role.arn)

    def tag_role(
        self, ctx: RequestContext, RoleName: str, Tags: Sequence[Mapping[str, str]]
    ) -> None:
        with self._iam.writing() as iam:
            role = self._role(iam, ctx, RoleName)
            self._tag(iam, role.role_id, Tags, "Role")
        ctx.note_resource(ROLE_RESOURCE, role.arn)

    def untag_role(self, ctx: RequestContext, RoleName: str, TagKeys: Sequence[str]) -> None:
        with self._iam.writing() as iam:
            role = self._role(iam, ctx, RoleName)
            self._untag(iam, role.role_id, TagKeys)
        ctx.note_resource(ROLE_RESOURCE, role.arn)

    def list_role_tags(
        self,
        ctx: RequestContext,
        RoleName: str,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            role = self._role(iam, ctx, RoleName)
        return self._tag_page(role.tags, "role-tags", Marker, MaxItems)
