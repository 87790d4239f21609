"""Secrets, versions (ciphertext only), staging labels and tags.

Changes to one secret go through `locked(arn)`: a transaction that first writes the secret's
row, which serialises writers on both backends (a row lock on PostgreSQL, the write lock on
SQLite), so staging-label moves of concurrent calls never interleave.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.services.secretsmanager.model import (
    AWSCURRENT,
    IN_PROGRESS,
    IN_SYNC,
    ReplicaStatus,
    Rotation,
    Secret,
    SecretVersion,
)
from strongroom.storage.changes import MAX_ENTRIES, ChangeFeed
from strongroom.storage.coalescing import CoalescingWriter
from strongroom.storage.engine import StorageUnavailable, WriterQueue
from strongroom.storage.schema import (
    sm_replicas,
    sm_rotations,
    sm_secrets,
    sm_stages,
    sm_tags,
    sm_versions,
)

log = logging.getLogger("strongroom.secretsmanager")
_SECRET_COLUMNS = [sm_secrets.c[f.name] for f in fields(Secret)]
_VERSION_COLUMNS = [sm_versions.c[f.name] for f in fields(SecretVersion)]
_REPLICA_COLUMNS = [sm_replicas.c[f.name] for f in fields(ReplicaStatus)]
_ROTATION_COLUMNS = [sm_rotations.c[f.name] for f in fields(Rotation)]


class SecretExists(Exception):
    """A secret of that name exists in that account and region."""


class SecretTransaction:
    """One secret, locked for the life of the transaction."""

    def __init__(self, connection: Connection, arn: str) -> None:
        self._connection = connection
        self.arn = arn

    def secret(self) -> Secret:
        row = self._connection.execute(
            sa.select(*_SECRET_COLUMNS).where(sm_secrets.c.arn == self.arn)
        ).one()
        return Secret(*row)

    def versions(self) -> list[SecretVersion]:
        rows = self._connection.execute(
            sa.select(*_VERSION_COLUMNS).where(sm_versions.c.arn == self.arn)
        )
        return [SecretVersion(*row) for row in rows]

    def version(self, version_id: str) -> SecretVersion | None:
        row = self._connection.execute(
            sa.select(*_VERSION_COLUMNS).where(
                sm_versions.c.arn == self.arn, sm_versions.c.version_id == version_id
            )
        ).first()
        return SecretVersion(*row) if row else None

    def stages(self) -> dict[str, str]:
        rows = self._connection.execute(
            sa.select(sm_stages.c.stage, sm_stages.c.version_id).where(sm_stages.c.arn == self.arn)
        )
        return {key: value for key, value in rows}

    def add_version(self, version: SecretVersion) -> None:
        self._connection.execute(sa.insert(sm_versions).values(arn=self.arn, **asdict(version)))

    def replace_version(self, version: SecretVersion) -> None:
        """Store a version re-encrypted under another key (same id and value)."""
        self._connection.execute(
            sa.update(sm_versions)
            .where(sm_versions.c.arn == self.arn, sm_versions.c.version_id == version.version_id)
            .values(kms_key_arn=version.kms_key_arn, value_blob=version.value_blob)
        )

    def set_stage(self, stage: str, version_id: str) -> None:
        self.remove_stage(stage)
        self._connection.execute(
            sa.insert(sm_stages).values(arn=self.arn, stage=stage, version_id=version_id)
        )

    def remove_stage(self, stage: str) -> None:
        self._connection.execute(
            sa.delete(sm_stages).where(sm_stages.c.arn == self.arn, sm_stages.c.stage == stage)
        )

    def version_count(self) -> int:
        count = self._connection.scalar(
            sa.select(sa.func.count()).where(sm_versions.c.arn == self.arn)
        )
        return int(count or 0)

    def oldest_versions(self, created_by: float, excluding: set[str], limit: int) -> list[str]:
        """Ids of up to `limit` versions created by `created_by`, oldest first."""
        return list(
            self._connection.scalars(
                sa.select(sm_versions.c.version_id)
                .where(
                    sm_versions.c.arn == self.arn,
                    sm_versions.c.created_date <= created_by,
                    sm_versions.c.version_id.not_in(excluding),
                )
                .order_by(sm_versions.c.created_date)
                .limit(limit)
            )
        )

    def delete_versions(self, version_ids: list[str]) -> None:
        self._connection.execute(
            sa.delete(sm_versions).where(
                sm_versions.c.arn == self.arn, sm_versions.c.version_id.in_(version_ids)
            )
        )

    def update(self, **values: object) -> None:
        self._connection.execute(
            sa.update(sm_secrets).where(sm_secrets.c.arn == self.arn).values(**values)
        )

    def tags(self) -> dict[str, str]:
        rows = self._connection.execute(
            sa.select(sm_tags.c.tag_key, sm_tags.c.tag_value)
            .where(sm_tags.c.arn == self.arn)
            .order_by(sm_tags.c.tag_key)
        )
        return {key: value for key, value in rows}

    def put_tags(self, tags: Mapping[str, str]) -> None:
        self.delete_tags(list(tags))
        if tags:
            self._connection.execute(
                sa.insert(sm_tags),
                [{"arn": self.arn, "tag_key": k, "tag_value": v} for k, v in tags.items()],
            )

    def delete_tags(self, tag_keys: list[str]) -> None:
        self._connection.execute(
            sa.delete(sm_tags).where(sm_tags.c.arn == self.arn, sm_tags.c.tag_key.in_(tag_keys))
        )

    def rotation(self) -> Rotation | None:
        row = self._connection.execute(
            sa.select(*_ROTATION_COLUMNS).where(sm_rotations.c.arn == self.arn)
        ).first()
        return Rotation(*row) if row else None

    def start_rotation(self, rotation: Rotation) -> None:
        self.end_rotation()
        self._connection.execute(sa.insert(sm_rotations).values(arn=self.arn, **asdict(rotation)))

    def end_rotation(self) -> None:
        self._connection.execute(sa.delete(sm_rotations).where(sm_rotations.c.arn == self.arn))


class SecretsRepository:
    """Secret rows, labels and versions are read on every GetSecretValue, so each process
    caches them (see ChangeFeed); every write here bumps the change counter."""

    def __init__(self, engine: Engine, changes: ChangeFeed) -> None:
        self._engine = engine
        self._changes = changes
        self._by_name = changes.new_cache()
        self._by_arn = changes.new_cache()
        self._stages = changes.new_cache()
        self._versions = changes.new_cache()
        self._tags = changes.new_cache()  # read by every authorization (ResourceTag keys)
        self._writers = WriterQueue(engine)
        self._accessed: dict[str, float] = {}  # secret ARN: the day this process noted
        self._access_writer = CoalescingWriter("sm-last-accessed", self._store_access)

    def create(self, secret: Secret, tags: Mapping[str, str], first: SecretVersion | None) -> None:
        """Store a new secret with its tags and first version (AWSCURRENT), all or nothing."""
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(sm_secrets).values(**asdict(secret)))
                created = SecretTransaction(connection, secret.arn)
                created.put_tags(tags)
                if first is not None:
                    created.add_version(first)
                    created.set_stage(AWSCURRENT, first.version_id)
                self._changes.bump(connection)
        except sa.exc.IntegrityError:
            raise SecretExists(secret.name) from None

    @contextmanager
    def locked(self, arn: str, now: float) -> Iterator[SecretTransaction]:
        """A transaction on one secret; the secret's LastChangedDate becomes `now`, and its
        replicas are marked out of date in the same commit, so that a crash before they are
        brought up to date leaves them marked for the background job."""
        with self._writers.turn(arn), self._engine.begin() as connection:
            connection.execute(
                sa.update(sm_secrets).where(sm_secrets.c.arn == arn).values(last_changed_date=now)
            )
            connection.execute(
                sa.update(sm_replicas)
                .where(sm_replicas.c.primary_arn == arn, sm_replicas.c.status == IN_SYNC)
                .values(status=IN_PROGRESS, status_message=None)
            )
            yield SecretTransaction(connection, arn)
            self._changes.bump(connection)

    @contextmanager
    def syncing(
        self, primary_arn: str, replica_arn: str, now: float
    ) -> Iterator[tuple[SecretTransaction, SecretTransaction]]:
        """One transaction holding a primary (unchanged, but locked so that nothing changes it
        meanwhile) and its replica (changed `now`), locked in that order."""
        with self._engine.begin() as connection:
            for arn, values in (
                (primary_arn, {"arn": primary_arn}),
                (replica_arn, {"last_changed_date": now}),
            ):
                connection.execute(
                    sa.update(sm_secrets).where(sm_secrets.c.arn == arn).values(**values)
                )
            yield (
                SecretTransaction(connection, primary_arn),
                SecretTransaction(connection, replica_arn),
            )
            self._changes.bump(connection)

    def by_arn(self, arn: str) -> Secret | None:
        return self._changes.cached(self._by_arn, arn, lambda: self._one(sm_secrets.c.arn == arn))

    def by_name(self, account_id: str, region: str, name: str) -> Secret | None:
        return self._changes.cached(
            self._by_name,
            (account_id, region, name),
            lambda: self._one(
                sm_secrets.c.account_id == account_id,
                sm_secrets.c.region == region,
                sm_secrets.c.name == name,
            ),
        )

    def _one(self, *conditions: sa.ColumnElement[bool]) -> Secret | None:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(*_SECRET_COLUMNS).where(*conditions)).first()
        return Secret(*row) if row else None

    def listing_batch(
        self,
        account_id: str,
        region: str,
        include_deleted: bool,
        field: str,
        descending: bool,
        after: tuple[Any, str] | None,
        limit: int,
        name_prefixes: list[str] | None = None,
    ) -> list[tuple[Secret, dict[str, str], dict[str, str]]]:
        """Up to `limit` secrets of an account and region, ordered by `field` then ARN, from
        beyond the position `after`, each with its tags and staging labels. With
        `name_prefixes`, at least those whose name starts with one of them (SQLite's LIKE
        ignores ASCII case: callers match exactly)."""
        column = sm_secrets.c[field]
        if field == "last_accessed_date":
            column = sa.func.coalesce(column, 0.0)  # never read sorts first, as 0
        query = sa.select(*_SECRET_COLUMNS).where(
            sm_secrets.c.account_id == account_id, sm_secrets.c.region == region
        )
        if not include_deleted:
            query = query.where(sm_secrets.c.deleted_date.is_(None))
        if name_prefixes is not None:
            query = query.where(sa.or_(*(self._name_starts(p) for p in name_prefixes)))
        if after is not None:
            value, arn = after
            if descending:
                beyond = sa.or_(column < value, sa.and_(column == value, sm_secrets.c.arn < arn))
            else:
                beyond = sa.or_(column > value, sa.and_(column == value, sm_secrets.c.arn > arn))
            query = query.where(beyond)
        order = (
            (column.desc(), sm_secrets.c.arn.desc()) if descending else (column, sm_secrets.c.arn)
        )
        with self._engine.connect() as connection:
            secrets = [
                Secret(*row) for row in connection.execute(query.order_by(*order).limit(limit))
            ]
            arns = [secret.arn for secret in secrets]
            tags: dict[str, dict[str, str]] = {}
            for arn, key, tag_value in connection.execute(
                sa.select(sm_tags.c.arn, sm_tags.c.tag_key, sm_tags.c.tag_value).where(
                    sm_tags.c.arn.in_(arns)
                )
            ):
                tags.setdefault(arn, {})[key] = tag_value
            stages: dict[str, dict[str, str]] = {}
            for arn, stage, version_id in connection.execute(
                sa.select(sm_stages.c.arn, sm_stages.c.stage, sm_stages.c.version_id).where(
                    sm_stages.c.arn.in_(arns)
                )
            ):
                stages.setdefault(arn, {})[stage] = version_id
        return [(s, tags.get(s.arn, {}), stages.get(s.arn, {})) for s in secrets]

    def _name_starts(self, prefix: str) -> sa.ColumnElement[bool]:
        like = sm_secrets.c.name.startswith(prefix, autoescape=True)
        if self._engine.dialect.name != "sqlite":
            return like
        # SQLite compares names bytewise, so a range on the name index finds the prefix
        # without scanning every secret of the account (its LIKE cannot use the index).
        return sa.and_(like, sm_secrets.c.name >= prefix, sm_secrets.c.name < prefix + "\U0010ffff")

    def versions(self, arn: str) -> list[SecretVersion]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(*_VERSION_COLUMNS)
                .where(sm_versions.c.arn == arn)
                .order_by(sm_versions.c.created_date.desc())
            )
            return [SecretVersion(*row) for row in rows]

    def version(self, arn: str, version_id: str) -> SecretVersion | None:
        def load() -> SecretVersion | None:
            with self._engine.connect() as connection:
                return SecretTransaction(connection, arn).version(version_id)

        return self._changes.cached(self._versions, (arn, version_id), load)

    def stages(self, arn: str) -> dict[str, str]:
        def load() -> dict[str, str]:
            with self._engine.connect() as connection:
                return SecretTransaction(connection, arn).stages()

        return dict(self._changes.cached(self._stages, arn, load))  # a copy: the cache stays

    def tags(self, arn: str) -> dict[str, str]:
        def load() -> dict[str, str]:
            with self._engine.connect() as connection:
                return SecretTransaction(connection, arn).tags()

        return dict(self._changes.cached(self._tags, arn, load))  # a copy: the cache stays

    def note_access(self, arn: str, day: float) -> None:
        """Record that a secret was read on `day` (LastAccessedDate has day granularity), off
        the request path: the reads noted meanwhile are stored in one transaction with one
        change-counter bump, so a burst of first reads (every secret's, each midnight) neither
        stalls requests nor empties every cache once per secret."""
        if self._accessed.get(arn) == day:
            return
        if len(self._accessed) >= MAX_ENTRIES:
            self._accessed.clear()
        self._accessed[arn] = day
        self._access_writer.note(arn, day)

    def flush(self) -> None:
        """Store the reads noted but not stored yet (on shutdown)."""
        self._access_writer.flush()

    def _store_access(self, pending: dict[str, float]) -> None:
        try:
            with self._engine.begin() as connection:
                for arn, day in pending.items():
                    connection.execute(
                        sa.update(sm_secrets)
                        .where(
                            sm_secrets.c.arn == arn,
                            sa.or_(
                                sm_secrets.c.last_accessed_date.is_(None),
                                sm_secrets.c.last_accessed_date < day,
                            ),
                        )
                        .values(last_accessed_date=day)
                    )
                self._changes.bump(connection)
        except StorageUnavailable as outage:
            for arn in pending:
                self._accessed.pop(arn, None)  # the next read notes it again
            log.warning("LastAccessedDate of %d secrets not stored: %s", len(pending), outage)

    def destroy(self, arn: str, due_by: float | None = None) -> bool:
        """Delete the secret with every version, label and tag; with `due_by`, only if its
        deletion date has come (a concurrent RestoreSecret wins). True when it was deleted."""
        with self._engine.begin() as connection:
            claim = sa.update(sm_secrets).where(sm_secrets.c.arn == arn)
            if due_by is not None:
                claim = claim.where(sm_secrets.c.deleted_date <= due_by)
            # Writing the row first locks it (see `locked`) and tells whether it qualifies.
            if connection.execute(claim.values(arn=arn)).rowcount == 0:
                return False
            for table in (sm_rotations, sm_tags, sm_stages, sm_versions):
                connection.execute(sa.delete(table).where(table.c.arn == arn))
            connection.execute(sa.delete(sm_replicas).where(sm_replicas.c.primary_arn == arn))
            connection.execute(sa.delete(sm_secrets).where(sm_secrets.c.arn == arn))
            self._changes.bump(connection)
        return True

    def due_for_deletion(self, now: float) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.select(sm_secrets.c.arn).where(sm_secrets.c.deleted_date <= now)
                )
            )

    def counts(self) -> dict[tuple[str, str], int]:
        """The secrets of each account and Region (replicas in theirs), those scheduled for
        deletion included."""
        s = sm_secrets.c
        query = sa.select(s.account_id, s.region, sa.func.count()).group_by(s.account_id, s.region)
        with self._engine.connect() as connection:
            return {(account, region): int(n) for account, region, n in connection.execute(query)}

    # Rotation

    def rotations_due(self, now: float, limit: int) -> list[str]:
        """Secrets whose rotation under way is due for an attempt and held by no runner."""
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.select(sm_rotations.c.arn)
                    .where(
                        sm_rotations.c.next_attempt <= now,
                        sa.or_(
                            sm_rotations.c.lease_until.is_(None),
                            sm_rotations.c.lease_until < now,
                        ),
                    )
                    .order_by(sm_rotations.c.next_attempt)
                    .limit(limit)
                )
            )

    def windows_open(self, now: float, limit: int) -> list[str]:
        """Secrets whose next rotation window has opened and that rotate nothing yet."""
        under_way = sa.select(sm_rotations.c.arn).where(sm_rotations.c.arn == sm_secrets.c.arn)
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.select(sm_secrets.c.arn)
                    .where(
                        sm_secrets.c.next_rotation_date <= now,
                        sm_secrets.c.rotation_enabled.is_(True),
                        sm_secrets.c.deleted_date.is_(None),
                        ~sa.exists(under_way),
                    )
                    .order_by(sm_secrets.c.next_rotation_date)
                    .limit(limit)
                )
            )

    def claim_rotation(self, arn: str, now: float, lease_until: float) -> Rotation | None:
        """Take the secret's rotation for one attempt, unless another runner holds it: exactly
        one of any number of racing runners gets it."""
        with self._engine.begin() as connection:
            claimed = connection.execute(
                sa.update(sm_rotations)
                .where(
                    sm_rotations.c.arn == arn,
                    sm_rotations.c.next_attempt <= now,
                    sa.or_(sm_rotations.c.lease_until.is_(None), sm_rotations.c.lease_until < now),
                )
                .values(lease_until=lease_until)
            )
            if claimed.rowcount != 1:
                return None
            row = connection.execute(
                sa.select(*_ROTATION_COLUMNS).where(sm_rotations.c.arn == arn)
            ).one()
        return Rotation(*row)

    def rotation_failed(self, arn: str, version_id: str, next_attempt: float) -> None:
        """Count a failed attempt and release the rotation until `next_attempt`."""
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(sm_rotations)
                .where(sm_rotations.c.arn == arn, sm_rotations.c.version_id == version_id)
                .values(
                    attempts=sm_rotations.c.attempts + 1,
                    next_attempt=next_attempt,
                    lease_until=None,
                )
            )

    # Replication

    def replicas(self, primary_arn: str) -> list[ReplicaStatus]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(*_REPLICA_COLUMNS)
                .where(sm_replicas.c.primary_arn == primary_arn)
                .order_by(sm_replicas.c.region)
            )
            return [ReplicaStatus(*row) for row in rows]

    def replicas_of(self, primary_arns: list[str]) -> dict[str, list[ReplicaStatus]]:
        """The replicas of each of several primaries, in one query (for listings)."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(sm_replicas.c.primary_arn, *_REPLICA_COLUMNS)
                .where(sm_replicas.c.primary_arn.in_(primary_arns))
                .order_by(sm_replicas.c.region)
            )
            found: dict[str, list[ReplicaStatus]] = {}
            for primary_arn, *status in rows:
                found.setdefault(primary_arn, []).append(ReplicaStatus(*status))
            return found

    def set_replica(self, primary_arn: str, replica: ReplicaStatus) -> None:
        with self._engine.begin() as connection:
            self._delete_replica(connection, primary_arn, replica.region)
            connection.execute(
                sa.insert(sm_replicas).values(primary_arn=primary_arn, **asdict(replica))
            )

    def remove_replica(self, primary_arn: str, region: str) -> None:
        with self._engine.begin() as connection:
            self._delete_replica(connection, primary_arn, region)

    @staticmethod
    def _delete_replica(connection: Connection, primary_arn: str, region: str) -> None:
        connection.execute(
            sa.delete(sm_replicas).where(
                sm_replicas.c.primary_arn == primary_arn, sm_replicas.c.region == region
            )
        )

    def replicas_out_of_date(self) -> list[tuple[str, str]]:
        """(primary ARN, region) of every replica a change has not reached yet."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(sm_replicas.c.primary_arn, sm_replicas.c.region).where(
                    sm_replicas.c.status == IN_PROGRESS
                )
            )
            return [(primary_arn, region) for primary_arn, region in rows]
