"""IAM storage: users, groups, roles, managed and inline policies, attachments, tags, virtual
MFA devices, and the IAM side of access keys (whose rows the authenticator reads).

Changes go through `writing()`: one transaction that first bumps the change counter, which
both invalidates every process's caches and serialises IAM writers (a row lock on PostgreSQL,
the write lock on SQLite), so that the checks a change depends on (a name still free, a user
without keys, fewer than five versions) hold until it commits.

What policy enforcement reads on every request (`user`, `role`, `identity_policies`,
`managed_policy_documents`) is cached per process and dropped on every IAM write, here at once
and on the other workers and nodes within the change feed's polling bound.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.services.iam import managed_policies
from strongroom.services.iam.model import (
    AccessKey,
    AccessKeyUse,
    AccountCounts,
    IamGroup,
    IamRole,
    IamUser,
    ManagedPolicy,
    MfaDevice,
    PolicyVersion,
    arn,
    name_key,
)
from strongroom.storage.changes import ChangeFeed
from strongroom.storage.engine import WriterQueue
from strongroom.storage.schema import (
    IAM_TABLES,
    access_keys,
    accounts,
    iam_access_key_usage,
    iam_attachments,
    iam_group_members,
    iam_groups,
    iam_inline_policies,
    iam_mfa_devices,
    iam_policies,
    iam_policy_versions,
    iam_roles,
    iam_tags,
    iam_users,
)

__all__ = ["IamRepository", "IamRole", "IamTransaction", "IamUser", "NameTaken"]

_USER_COLUMNS = (
    iam_users.c.account_id,
    iam_users.c.name,
    iam_users.c.user_id,
    iam_users.c.path,
    iam_users.c.created,
)
_GROUP_COLUMNS = (
    iam_groups.c.account_id,
    iam_groups.c.name,
    iam_groups.c.group_id,
    iam_groups.c.path,
    iam_groups.c.created,
)
_ROLE_COLUMNS = (
    iam_roles.c.account_id,
    iam_roles.c.name,
    iam_roles.c.role_id,
    iam_roles.c.path,
    iam_roles.c.created,
    iam_roles.c.trust_policy,
    iam_roles.c.max_session_duration,
    iam_roles.c.description,
)
_POLICY_COLUMNS = (
    iam_policies.c.account_id,
    iam_policies.c.name,
    iam_policies.c.policy_id,
    iam_policies.c.arn,
    iam_policies.c.path,
    iam_policies.c.description,
    iam_policies.c.default_version,
    iam_policies.c.created,
    iam_policies.c.updated,
)
_MFA_COLUMNS = (
    iam_mfa_devices.c.serial_number,
    iam_mfa_devices.c.account_id,
    iam_mfa_devices.c.path,
    iam_mfa_devices.c.name,
    iam_mfa_devices.c.seed_blob,
    iam_mfa_devices.c.created,
    iam_mfa_devices.c.user_id,
    iam_mfa_devices.c.enabled,
)
_KEY_COLUMNS = (
    access_keys.c.access_key_id,
    access_keys.c.account_id,
    access_keys.c.user_name,
    access_keys.c.user_id,
    access_keys.c.status,
    access_keys.c.created_at,
)


class NameTaken(Exception):
    """Another entity of that kind has that name (in any case) in the account."""


def _user(row: Any, tags: dict[str, str] | None = None) -> IamUser:
    account_id, name, user_id, path, created = row
    return IamUser(
        account_id, name, user_id, arn(account_id, "user", path, name), path, created, tags or {}
    )


def _group(row: Any) -> IamGroup:
    account_id, name, group_id, path, created = row
    return IamGroup(account_id, name, group_id, arn(account_id, "group", path, name), path, created)


def _role(row: Any, tags: dict[str, str] | None = None) -> IamRole:
    account_id, name, role_id, path, created, trust, duration, description = row
    return IamRole(
        account_id,
        name,
        role_id,
        arn(account_id, "role", path, name),
        path,
        created,
        trust,
        duration,
        description,
        tags or {},
    )


def _prefixed(column: sa.ColumnElement[str], prefix: str | None) -> sa.ColumnElement[bool]:
    return column.startswith(prefix, autoescape=True) if prefix else sa.true()


class IamTransaction:
    """Reads and writes on one connection: inside `writing()` one serialised transaction."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # Users

    def user(self, account_id: str, name: str) -> IamUser | None:
        row = self._c.execute(
            sa.select(*_USER_COLUMNS).where(
                iam_users.c.account_id == account_id, iam_users.c.name_key == name_key(name)
            )
        ).first()
        return _user(row, self.tags(row.user_id)) if row else None

    def users(self, account_id: str, path_prefix: str | None = None) -> list[IamUser]:
        rows = self._c.execute(
            sa.select(*_USER_COLUMNS)
            .where(
                iam_users.c.account_id == account_id,
                _prefixed(iam_users.c.path, path_prefix),
            )
            .order_by(iam_users.c.name_key)
        )
        return [_user(row) for row in rows]

    def users_by_id(self, user_ids: Sequence[str]) -> dict[str, IamUser]:
        rows = self._c.execute(sa.select(*_USER_COLUMNS).where(iam_users.c.user_id.in_(user_ids)))
        return {row.user_id: _user(row) for row in rows}

    def insert_user(self, user: IamUser) -> None:
        self._insert_named(
            iam_users,
            user_id=user.user_id,
            account_id=user.account_id,
            name=user.name,
            name_key=name_key(user.name),
            path=user.path,
            created=user.created,
        )
        self.put_tags(user.user_id, user.tags)

    def update_user(self, user_id: str, name: str, path: str) -> None:
        try:
            self._c.execute(
                sa.update(iam_users)
                .where(iam_users.c.user_id == user_id)
                .values(name=name, name_key=name_key(name), path=path)
            )
        except sa.exc.IntegrityError:
            raise NameTaken(name) from None

    def delete_user(self, user_id: str) -> None:
        self._c.execute(sa.delete(iam_tags).where(iam_tags.c.owner_id == user_id))
        self._c.execute(sa.delete(iam_users).where(iam_users.c.user_id == user_id))

    def _insert_named(self, table: sa.Table, **values: Any) -> None:
        """Insert a named entity (NameTaken: the transaction can only be rolled back)."""
        try:
            self._c.execute(sa.insert(table).values(**values))
        except sa.exc.IntegrityError:
            raise NameTaken(values["name"]) from None

    # Groups

    def group(self, account_id: str, name: str) -> IamGroup | None:
        row = self._c.execute(
            sa.select(*_GROUP_COLUMNS).where(
                iam_groups.c.account_id == account_id, iam_groups.c.name_key == name_key(name)
            )
        ).first()
        return _group(row) if row else None

    def groups(self, account_id: str, path_prefix: str | None = None) -> list[IamGroup]:
        rows = self._c.execute(
            sa.select(*_GROUP_COLUMNS)
            .where(
                iam_groups.c.account_id == account_id,
                _prefixed(iam_groups.c.path, path_prefix),
            )
            .order_by(iam_groups.c.name_key)
        )
        return [_group(row) for row in rows]

    def insert_group(self, group: IamGroup) -> None:
        self._insert_named(
            iam_groups,
            group_id=group.group_id,
            account_id=group.account_id,
            name=group.name,
            name_key=name_key(group.name),
            path=group.path,
            created=group.created,
        )

    def delete_group(self, group_id: str) -> None:
        self._c.execute(sa.delete(iam_groups).where(iam_groups.c.group_id == group_id))

    def members(self, group_id: str) -> list[IamUser]:
        rows = self._c.execute(
            sa.select(*_USER_COLUMNS)
            .join(iam_group_members, iam_group_members.c.user_id == iam_users.c.user_id)
            .where(iam_group_members.c.group_id == group_id)
            .order_by(iam_users.c.name_key)
        )
        return [_user(row) for row in rows]

    def groups_of(self, user_id: str) -> list[IamGroup]:
        rows = self._c.execute(
            sa.select(*_GROUP_COLUMNS)
            .join(iam_group_members, iam_group_members.c.group_id == iam_groups.c.group_id)
            .where(iam_group_members.c.user_id == user_id)
            .order_by(iam_groups.c.name_key)
        )
        return [_group(row) for row in rows]

    def add_member(self, group_id: str, user_id: str, now: float) -> None:
        """Add the user to the group unless it is a member already."""
        present = self._c.scalar(
            sa.select(sa.func.count()).where(
                iam_group_members.c.group_id == group_id, iam_group_members.c.user_id == user_id
            )
        )
        if not present:
            self._c.execute(
                sa.insert(iam_group_members).values(group_id=group_id, user_id=user_id, added=now)
            )

    def remove_member(self, group_id: str, user_id: str) -> bool:
        removed = self._c.execute(
            sa.delete(iam_group_members).where(
                iam_group_members.c.group_id == group_id, iam_group_members.c.user_id == user_id
            )
        )
        return bool(removed.rowcount)

    # Roles

    def role(self, account_id: str, name: str) -> IamRole | None:
        row = self._c.execute(
            sa.select(*_ROLE_COLUMNS).where(
                iam_roles.c.account_id == account_id, iam_roles.c.name_key == name_key(name)
            )
        ).first()
        return _role(row, self.tags(row.role_id)) if row else None

    def roles(self, account_id: str, path_prefix: str | None = None) -> list[IamRole]:
        rows = self._c.execute(
            sa.select(*_ROLE_COLUMNS)
            .where(
                iam_roles.c.account_id == account_id,
                _prefixed(iam_roles.c.path, path_prefix),
            )
            .order_by(iam_roles.c.name_key)
        )
        return [_role(row) for row in rows]

    def insert_role(self, role: IamRole) -> None:
        self._insert_named(
            iam_roles,
            role_id=role.role_id,
            account_id=role.account_id,
            name=role.name,
            name_key=name_key(role.name),
            path=role.path,
            created=role.created,
            trust_policy=role.trust_policy,
            max_session_duration=role.max_session_duration,
            description=role.description,
        )
        self.put_tags(role.role_id, role.tags)

    def update_role(
        self,
        role_id: str,
        *,
        trust_policy: str | None = None,
        max_session_duration: int | None = None,
        description: str | None = None,
    ) -> None:
        values = {
            "trust_policy": trust_policy,
            "max_session_duration": max_session_duration,
            "description": description,
        }
        given = {column: value for column, value in values.items() if value is not None}
        if given:
            self._c.execute(
                sa.update(iam_roles).where(iam_roles.c.role_id == role_id).values(**given)
            )

    def delete_role(self, role_id: str) -> None:
        self._c.execute(sa.delete(iam_tags).where(iam_tags.c.owner_id == role_id))
        self._c.execute(sa.delete(iam_roles).where(iam_roles.c.role_id == role_id))

    # Tags (users, roles, managed policies by id; MFA devices by serial number)

    def tags(self, owner_id: str) -> dict[str, str]:
        rows = self._c.execute(
            sa.select(iam_tags.c.tag_key, iam_tags.c.tag_value)
            .where(iam_tags.c.owner_id == owner_id)
            .order_by(iam_tags.c.tag_key)
        )
        return {key: value for key, value in rows}

    def put_tags(self, owner_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        self.delete_tags(owner_id, list(tags))
        self._c.execute(
            sa.insert(iam_tags),
            [{"owner_id": owner_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
        )

    def delete_tags(self, owner_id: str, keys: Sequence[str]) -> None:
        self._c.execute(
            sa.delete(iam_tags).where(iam_tags.c.owner_id == owner_id, iam_tags.c.tag_key.in_(keys))
        )

    # Managed policies (customer managed; AWS managed ones come from their data module)

    def policy(self, policy_arn: str) -> ManagedPolicy | None:
        aws = managed_policies.policy(policy_arn)
        if aws is not None:
            return aws
        row = self._c.execute(sa.select(*_POLICY_COLUMNS).where(iam_policies.c.arn == policy_arn))
        found = row.first()
        return ManagedPolicy(*found) if found else None

    def policies(self, account_id: str, path_prefix: str | None = None) -> list[ManagedPolicy]:
        rows = self._c.execute(
            sa.select(*_POLICY_COLUMNS)
            .where(
                iam_policies.c.account_id == account_id,
                _prefixed(iam_policies.c.path, path_prefix),
            )
            .order_by(iam_policies.c.name_key)
        )
        return [ManagedPolicy(*row) for row in rows]

    def insert_policy(self, policy: ManagedPolicy, first: PolicyVersion) -> None:
        self._insert_named(
            iam_policies,
            policy_id=policy.policy_id,
            account_id=policy.account_id,
            name=policy.name,
            name_key=name_key(policy.name),
            path=policy.path,
            arn=policy.arn,
            description=policy.description,
            default_version=first.version_id,
            last_version=1,
            created=policy.created,
            updated=policy.updated,
        )
        self._insert_version(policy.policy_id, first, 1)

    def _insert_version(self, policy_id: str, version: PolicyVersion, number: int) -> None:
        self._c.execute(
            sa.insert(iam_policy_versions).values(
                policy_id=policy_id,
                version_id=version.version_id,
                number=number,
                document=version.document,
                created=version.created,
            )
        )

    def policy_versions(self, policy: ManagedPolicy) -> list[PolicyVersion]:
        """The versions of a policy, newest first."""
        if policy.aws_managed:
            return [managed_policies.DOCUMENTS[policy.arn]]
        rows = self._c.execute(
            sa.select(
                iam_policy_versions.c.version_id,
                iam_policy_versions.c.document,
                iam_policy_versions.c.created,
            )
            .where(iam_policy_versions.c.policy_id == policy.policy_id)
            .order_by(iam_policy_versions.c.number.desc())
        )
        return [PolicyVersion(*row) for row in rows]

    def add_policy_version(self, policy_id: str, document: str, now: float) -> PolicyVersion:
        """A new version, numbered after every version the policy ever had."""
        number = int(
            self._c.scalar(
                sa.select(iam_policies.c.last_version).where(iam_policies.c.policy_id == policy_id)
            )
            or 0
        )
        version = PolicyVersion(f"v{number + 1}", document, now)
        self._c.execute(
            sa.update(iam_policies)
            .where(iam_policies.c.policy_id == policy_id)
            .values(last_version=number + 1)
        )
        self._insert_version(policy_id, version, number + 1)
        return version

    def delete_policy_version(self, policy_id: str, version_id: str) -> None:
        self._c.execute(
            sa.delete(iam_policy_versions).where(
                iam_policy_versions.c.policy_id == policy_id,
                iam_policy_versions.c.version_id == version_id,
            )
        )

    def set_default_version(self, policy_id: str, version_id: str, now: float) -> None:
        self._c.execute(
            sa.update(iam_policies)
            .where(iam_policies.c.policy_id == policy_id)
            .values(default_version=version_id, updated=now)
        )

    def delete_policy(self, policy_id: str) -> None:
        self._c.execute(
            sa.delete(iam_policy_versions).where(iam_policy_versions.c.policy_id == policy_id)
        )
        self._c.execute(sa.delete(iam_tags).where(iam_tags.c.owner_id == policy_id))
        self._c.execute(sa.delete(iam_policies).where(iam_policies.c.policy_id == policy_id))

    def default_documents(self, arns: Sequence[str]) -> tuple[str, ...]:
        """The default versions' documents of these managed policies (those that exist)."""
        documents: list[str] = []
        local = []
        for policy_arn in dict.fromkeys(arns):  # once each, in order
            aws = managed_policies.document(policy_arn)
            if aws is not None:
                documents.append(aws)
            else:
                local.append(policy_arn)
        if local:
            rows = self._c.execute(
                sa.select(iam_policies.c.arn, iam_policy_versions.c.document)
                .join(
                    iam_policy_versions,
                    sa.and_(
                        iam_policy_versions.c.policy_id == iam_policies.c.policy_id,
                        iam_policy_versions.c.version_id == iam_policies.c.default_version,
                    ),
                )
                .where(iam_policies.c.arn.in_(local))
            )
            found = {policy_arn: document for policy_arn, document in rows}
            documents += [found[a] for a in local if a in found]
        return tuple(documents)

    # Attachments

    def attached(self, entity_id: str) -> list[str]:
        """The ARNs of the managed policies attached to a user, group or role, in order."""
        return list(
            self._c.scalars(
                sa.select(iam_attachments.c.policy_arn)
                .where(iam_attachments.c.entity_id == entity_id)
                .order_by(iam_attachments.c.attached, iam_attachments.c.policy_arn)
            )
        )

    def attach(
        self, account_id: str, kind: str, entity_id: str, policy_arn: str, now: float
    ) -> None:
        if policy_arn not in self.attached(entity_id):
            self._c.execute(
                sa.insert(iam_attachments).values(
                    entity_id=entity_id,
                    policy_arn=policy_arn,
                    account_id=account_id,
                    entity_kind=kind,
                    attached=now,
                )
            )

    def detach(self, entity_id: str, policy_arn: str) -> bool:
        detached = self._c.execute(
            sa.delete(iam_attachments).where(
                iam_attachments.c.entity_id == entity_id,
                iam_attachments.c.policy_arn == policy_arn,
            )
        )
        return bool(detached.rowcount)

    def attachment_counts(self, account_id: str) -> dict[str, int]:
        """How many users, groups and roles of the account each managed policy is attached to."""
        rows = self._c.execute(
            sa.select(iam_attachments.c.policy_arn, sa.func.count())
            .where(iam_attachments.c.account_id == account_id)
            .group_by(iam_attachments.c.policy_arn)
        )
        return {policy_arn: count for policy_arn, count in rows}

    def attachment_count(self, account_id: str, policy_arn: str) -> int:
        return int(
            self._c.scalar(
                sa.select(sa.func.count()).where(
                    iam_attachments.c.account_id == account_id,
                    iam_attachments.c.policy_arn == policy_arn,
                )
            )
            or 0
        )

    def entities_for_policy(self, account_id: str, policy_arn: str) -> list[tuple[str, str]]:
        """(kind, entity id) of every user, group and role the policy is attached to."""
        rows = self._c.execute(
            sa.select(iam_attachments.c.entity_kind, iam_attachments.c.entity_id).where(
                iam_attachments.c.account_id == account_id,
                iam_attachments.c.policy_arn == policy_arn,
            )
        )
        return [(kind, entity_id) for kind, entity_id in rows]

    def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, IamGroup]:
        rows = self._c.execute(
            sa.select(*_GROUP_COLUMNS).where(iam_groups.c.group_id.in_(group_ids))
        )
        return {row.group_id: _group(row) for row in rows}

    def roles_by_id(self, role_ids: Sequence[str]) -> dict[str, IamRole]:
        rows = self._c.execute(sa.select(*_ROLE_COLUMNS).where(iam_roles.c.role_id.in_(role_ids)))
        return {row.role_id: _role(row) for row in rows}

    # Inline policies

    def inline_policies(self, owner_id: str) -> dict[str, str]:
        """Name to document, by name."""
        rows = self._c.execute(
            sa.select(iam_inline_policies.c.policy_name, iam_inline_policies.c.document)
            .where(iam_inline_policies.c.owner_id == owner_id)
            .order_by(iam_inline_policies.c.policy_name)
        )
        return {name: document for name, document in rows}

    def put_inline(self, owner_id: str, policy_name: str, document: str) -> None:
        self.delete_inline(owner_id, policy_name)
        self._c.execute(
            sa.insert(iam_inline_policies).values(
                owner_id=owner_id, policy_name=policy_name, document=document
            )
        )

    def delete_inline(self, owner_id: str, policy_name: str) -> bool:
        deleted = self._c.execute(
            sa.delete(iam_inline_policies).where(
                iam_inline_policies.c.owner_id == owner_id,
                iam_inline_policies.c.policy_name == policy_name,
            )
        )
        return bool(deleted.rowcount)

    def insert_account(self, account_id: str, now: float) -> None:
        self._c.execute(sa.insert(accounts).values(account_id=account_id, created_at=now))

    # Access keys (the rows the authenticator reads; secrets as barrier ciphertext only)

    def access_keys(self, user_id: str) -> list[AccessKey]:
        rows = self._c.execute(
            sa.select(*_KEY_COLUMNS)
            .where(access_keys.c.user_id == user_id)
            .order_by(access_keys.c.created_at, access_keys.c.access_key_id)
        )
        return [AccessKey(*row) for row in rows]

    def access_key(self, access_key_id: str) -> tuple[AccessKey, bytes] | None:
        row = self._c.execute(
            sa.select(*_KEY_COLUMNS, access_keys.c.secret_blob).where(
                access_keys.c.access_key_id == access_key_id
            )
        ).first()
        return (AccessKey(*row[:-1]), bytes(row[-1])) if row else None

    def insert_access_key(self, key: AccessKey, secret_blob: bytes) -> None:
        self._c.execute(
            sa.insert(access_keys).values(
                access_key_id=key.access_key_id,
                account_id=key.account_id,
                user_name=key.user_name,
                user_id=key.user_id,
                secret_blob=secret_blob,
                status=key.status,
                created_at=key.created,
            )
        )

    def set_access_key_status(self, access_key_id: str, status: str) -> None:
        self._c.execute(
            sa.update(access_keys)
            .where(access_keys.c.access_key_id == access_key_id)
            .values(status=status)
        )

    def rename_access_key(self, access_key_id: str, user_name: str, secret_blob: bytes) -> None:
        """Give a key its user's new name, with its secret re-encrypted for that owner."""
        self._c.execute(
            sa.update(access_keys)
            .where(access_keys.c.access_key_id == access_key_id)
            .values(user_name=user_name, secret_blob=secret_blob)
        )

    def delete_access_key(self, access_key_id: str) -> None:
        self._c.execute(
            sa.delete(iam_access_key_usage).where(
                iam_access_key_usage.c.access_key_id == access_key_id
            )
        )
        self._c.execute(sa.delete(access_keys).where(access_keys.c.access_key_id == access_key_id))

    def access_key_use(self, access_key_id: str) -> AccessKeyUse | None:
        row = self._c.execute(
            sa.select(
                iam_access_key_usage.c.used_at,
                iam_access_key_usage.c.service,
                iam_access_key_usage.c.region,
            ).where(iam_access_key_usage.c.access_key_id == access_key_id)
        ).first()
        return AccessKeyUse(*row) if row else None

    # Virtual MFA devices

    def mfa_device(self, serial_number: str) -> MfaDevice | None:
        row = self._c.execute(
            sa.select(*_MFA_COLUMNS).where(iam_mfa_devices.c.serial_number == serial_number)
        ).first()
        return MfaDevice(*row[:4], bytes(row[4]), *row[5:]) if row else None

    def mfa_devices(
        self, account_id: str, user_id: str | None = None, assigned: bool | None = None
    ) -> list[MfaDevice]:
        query = sa.select(*_MFA_COLUMNS).where(iam_mfa_devices.c.account_id == account_id)
        if user_id is not None:
            query = query.where(iam_mfa_devices.c.user_id == user_id)
        if assigned is not None:
            column = iam_mfa_devices.c.user_id
            query = query.where(column.is_not(None) if assigned else column.is_(None))
        rows = self._c.execute(query.order_by(iam_mfa_devices.c.serial_number))
        return [MfaDevice(*row[:4], bytes(row[4]), *row[5:]) for row in rows]

    def insert_mfa_device(self, device: MfaDevice) -> None:
        try:
            self._c.execute(
                sa.insert(iam_mfa_devices).values(
                    serial_number=device.serial_number,
                    account_id=device.account_id,
                    path=device.path,
                    name=device.name,
                    seed_blob=device.seed_blob,
                    created=device.created,
                )
            )
        except sa.exc.IntegrityError:
            raise NameTaken(device.serial_number) from None

    def assign_mfa_device(
        self, serial_number: str, user_id: str | None, enabled: float | None, last_step: int | None
    ) -> None:
        """Enable the device for a user (the codes that enabled it are spent), or, with
        None, deactivate it."""
        values: dict[str, Any] = {"user_id": user_id, "enabled": enabled}
        if last_step is not None:
            values["last_step"] = last_step
        self._c.execute(
            sa.update(iam_mfa_devices)
            .where(iam_mfa_devices.c.serial_number == serial_number)
            .values(**values)
        )

    def mfa_last_step(self, serial_number: str) -> int | None:
        """The newest time step whose code the device had accepted."""
        step = self._c.scalar(
            sa.select(iam_mfa_devices.c.last_step).where(
                iam_mfa_devices.c.serial_number == serial_number
            )
        )
        return int(step) if step is not None else None

    def delete_mfa_device(self, serial_number: str) -> None:
        self._c.execute(sa.delete(iam_tags).where(iam_tags.c.owner_id == serial_number))
        self._c.execute(
            sa.delete(iam_mfa_devices).where(iam_mfa_devices.c.serial_number == serial_number)
        )

    # The account

    def counts(self, account_id: str) -> AccountCounts:
        def count(table: sa.Table, *conditions: sa.ColumnElement[bool]) -> int:
            return int(
                self._c.scalar(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.account_id == account_id, *conditions)
                )
                or 0
            )

        return AccountCounts(
            users=count(iam_users),
            groups=count(iam_groups),
            roles=count(iam_roles),
            policies=count(iam_policies),
            attachments=count(iam_attachments),
            mfa_devices=count(iam_mfa_devices),
            mfa_devices_in_use=count(iam_mfa_devices, iam_mfa_devices.c.user_id.is_not(None)),
        )


class IamRepository:
    def __init__(self, engine: Engine, changes: ChangeFeed) -> None:
        self._engine = engine
        self._changes = changes
        self._writers = WriterQueue(engine)
        self._users = changes.new_cache()
        self._roles = changes.new_cache()
        self._identity_policies = changes.new_cache()
        self._managed_documents = changes.new_cache()

    @contextmanager
    def writing(self) -> Iterator[IamTransaction]:
        """One serialised IAM transaction; every process's IAM caches are dropped by it."""
        with self._writers.turn("iam"), self._engine.begin() as connection:
            # First: the bump takes the lock that serialises IAM writers (see module doc).
            self._changes.bump(connection)
            yield IamTransaction(connection)

    @contextmanager
    def reading(self) -> Iterator[IamTransaction]:
        with self._engine.connect() as connection:
            yield IamTransaction(connection)

    def spend_mfa_step(self, serial_number: str, step: int) -> bool:
        """Take the code of time step `step` as used, unless it or a later one was already:
        one conditional update, so two workers never both accept one code. (Not cached: no
        change-counter bump.)"""
        with self._engine.begin() as connection:
            spent = connection.execute(
                sa.update(iam_mfa_devices)
                .where(
                    iam_mfa_devices.c.serial_number == serial_number,
                    iam_mfa_devices.c.user_id.is_not(None),
                    sa.or_(
                        iam_mfa_devices.c.last_step.is_(None),
                        iam_mfa_devices.c.last_step < step,
                    ),
                )
                .values(last_step=step)
            )
        return bool(spent.rowcount)

    # What policy enforcement reads on every request: cached

    def user(self, account_id: str, name: str) -> IamUser | None:
        def load() -> IamUser | None:
            with self.reading() as iam:
                return iam.user(account_id, name)

        return self._changes.cached(self._users, (account_id, name_key(name)), load)

    def role(self, account_id: str, name: str) -> IamRole | None:
        def load() -> IamRole | None:
            with self.reading() as iam:
                return iam.role(account_id, name)

        return self._changes.cached(self._roles, (account_id, name_key(name)), load)

    def identity_policies(
        self, account_id: str, kind: Literal["user", "role"], name: str
    ) -> tuple[str, ...]:
        """The JSON documents of every identity-based policy that applies to the user or role:
        its inline policies, the default versions of its attached managed policies, and for a
        user the inline and attached policies of each of its groups. Empty for an unknown
        user or role."""
        return self._changes.cached(
            self._identity_policies,
            (account_id, kind, name_key(name)),
            lambda: self._load_identity_policies(account_id, kind, name),
        )

    def _load_identity_policies(
        self, account_id: str, kind: Literal["user", "role"], name: str
    ) -> tuple[str, ...]:
        with self.reading() as iam:
            entity = iam.user(account_id, name) if kind == "user" else iam.role(account_id, name)
            if entity is None:
                return ()
            owners = [entity.user_id if isinstance(entity, IamUser) else entity.role_id]
            if isinstance(entity, IamUser):
                owners += [group.group_id for group in iam.groups_of(entity.user_id)]
            documents: list[str] = []
            attached: list[str] = []
            for owner in owners:
                documents += iam.inline_policies(owner).values()
                attached += iam.attached(owner)
            documents += iam.default_documents(attached)
        return tuple(documents)

    def managed_policy_documents(self, arns: Sequence[str]) -> tuple[str, ...]:
        """The default versions of these managed policies (those that exist), in order."""
        documents: list[str] = []
        for policy_arn in arns:
            load = functools.partial(self._load_document, policy_arn)
            documents += self._changes.cached(self._managed_documents, policy_arn, load)
        return tuple(documents)

    def _load_document(self, policy_arn: str) -> tuple[str, ...]:
        with self.reading() as iam:
            return iam.default_documents([policy_arn])

    # Accounts, bootstrap and dev reset

    def create_account(self, admin_key: AccessKey, secret_blob: bytes) -> bool:
        """A further account, in one transaction: the account, its administrator (an IAM user
        with AdministratorAccess) and the administrator's access key. False (and nothing
        written) when the account id is taken."""
        try:
            with self.writing() as iam:
                iam.insert_account(admin_key.account_id, admin_key.created)
                add_administrator(
                    iam,
                    admin_key.account_id,
                    admin_key.user_name,
                    admin_key.user_id,
                    admin_key.created,
                    admin_key.created,
                )
                iam.insert_access_key(admin_key, secret_blob)
        except sa.exc.IntegrityError:
            return False
        return True

    def reset(self, keep_access_key: str, now: float) -> None:
        """Dev reset: every IAM entity and every access key but the bootstrap administrator's
        goes; the administrator stays, with AdministratorAccess."""
        with self._writers.turn("iam"), self._engine.begin() as connection:
            self._changes.bump(connection)
            for table in IAM_TABLES:
                connection.execute(sa.delete(table))
            connection.execute(
                sa.delete(access_keys).where(access_keys.c.access_key_id != keep_access_key)
            )
            restore_administrators(connection, now)


def restore_administrators(connection: Connection, now: float) -> None:
    """Every holder of access keys without an IAM user becomes one, with AdministratorAccess:
    the bootstrap administrator at first start and after a dev reset."""
    holders = connection.execute(
        sa.select(
            access_keys.c.account_id,
            access_keys.c.user_name,
            access_keys.c.user_id,
            sa.func.min(access_keys.c.created_at),
        )
        .where(access_keys.c.user_id.not_in(sa.select(iam_users.c.user_id)))
        .group_by(access_keys.c.account_id, access_keys.c.user_name, access_keys.c.user_id)
    ).all()
    iam = IamTransaction(connection)
    for account_id, user_name, user_id, created in holders:
        if iam.user(account_id, user_name) is not None:
            continue  # the name is another user's
        add_administrator(iam, account_id, user_name, user_id, created or now, now)


def add_administrator(
    iam: IamTransaction, account_id: str, user_name: str, user_id: str, created: float, now: float
) -> None:
    """An IAM user with AdministratorAccess: an account's first administrator."""
    iam.insert_user(IamUser(account_id, user_name, user_id, "", "/", created))
    iam.attach(account_id, "user", user_id, managed_policies.ADMINISTRATOR_ACCESS, now)
