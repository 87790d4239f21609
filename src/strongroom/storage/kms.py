"""KMS keys, their key material (barrier ciphertext only), aliases and tags."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.services.kms.model import (
    ENABLED,
    PENDING_REPLICA_DELETION,
    KeyMaterial,
    KmsAlias,
    KmsKey,
    public_key_id,
)
from strongroom.storage.changes import ChangeFeed
from strongroom.storage.coalescing import CoalescingWriter
from strongroom.storage.engine import StorageUnavailable
from strongroom.storage.schema import (
    kms_aliases,
    kms_grants,
    kms_key_materials,
    kms_key_usage,
    kms_keys,
    kms_tags,
)

log = logging.getLogger("strongroom.kms")
# Key uses gather this long before they are stored: one transaction a second, whatever the load.
_USAGE_WRITE_DELAY = 1.0

# A stored key is the key and the barrier's integrity tag over it (verified by the service).
_KEY_COLUMNS = [*(kms_keys.c[f.name] for f in fields(KmsKey)), kms_keys.c.row_mac]
StoredKey = tuple[KmsKey, bytes]


def _stored_key(row: sa.Row[Any]) -> StoredKey:
    key = KmsKey(*row[:-1])
    return replace(key, key_id=public_key_id(key.key_id)), row[-1]


def _key_row(key: KmsKey) -> dict[str, Any]:
    return asdict(key) | {"key_id": key.storage_id}


_ALIAS_COLUMNS = [kms_aliases.c[f.name] for f in fields(KmsAlias)]


class AliasExists(Exception):
    """An alias of that name exists in that account and region."""


class KeyExists(Exception):
    """A key with that id exists in that Region (a multi-Region key's replica)."""


class RotationConflict(Exception):
    """Another rotation of the key committed first."""


@dataclass(frozen=True)
class KeyUsage:
    tracking_start: float
    operation: str | None
    used_at: float | None
    request_id: str | None


class KmsRepository:
    """Keys, key material rows and aliases are read on every cryptographic call, so they are
    cached per process (see ChangeFeed); every write to them bumps the change counter."""

    def __init__(self, engine: Engine, changes: ChangeFeed) -> None:
        self._engine = engine
        self._changes = changes
        self._keys = changes.new_cache()
        self._keys_with_material = changes.new_cache()
        self._aliases = changes.new_cache()
        self._tags = changes.new_cache()
        self._usage_writer = CoalescingWriter(
            "kms-last-usage", self._store_usage, delay=_USAGE_WRITE_DELAY
        )

    # Keys and key material

    def create_key(
        self,
        key: KmsKey,
        row_mac: bytes,
        material_blob: bytes | None,
        tags: Mapping[str, str],
        alias: KmsAlias | None = None,
    ) -> None:
        """Store a new key (with no material yet if it is to be imported), with its first alias
        in the same transaction (AliasExists: none)."""
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(kms_keys).values(**_key_row(key), row_mac=row_mac))
                if material_blob is not None:
                    self._insert_material(connection, key, material_blob, key.creation_date)
                connection.execute(
                    sa.insert(kms_key_usage).values(
                        key_id=key.storage_id, tracking_start=key.creation_date
                    )
                )
                self._insert_tags(connection, key.storage_id, tags)
                if alias is not None:
                    connection.execute(sa.insert(kms_aliases).values(**asdict(alias)))
                self._changes.bump(connection)
        except sa.exc.IntegrityError:
            if alias is None:
                raise
            raise AliasExists(alias.alias_name) from None

    def key(self, key_id: str) -> StoredKey | None:
        return self._changes.cached(self._keys, key_id, lambda: self._load_key(key_id))

    def _load_key(self, key_id: str) -> StoredKey | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_KEY_COLUMNS).where(kms_keys.c.key_id == key_id)
            ).first()
        return _stored_key(row) if row else None

    def replace_key(self, key: KmsKey, row_mac: bytes) -> None:
        """Write the whole row: concurrent changes then leave one consistent, tagged version."""
        with self._engine.begin() as connection:
            # Keys are cached: the change-counter bump keeps a disabled key from encrypting.
            self._write_key(connection, key, row_mac)

    def due_for_deletion(self, now: float) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.select(kms_keys.c.key_id).where(kms_keys.c.deletion_date <= now)
                )
            )

    def due_for_rotation(self, now: float) -> list[str]:
        """Enabled keys whose automatic rotation date has come (a disabled key waits)."""
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.select(kms_keys.c.key_id).where(
                        kms_keys.c.next_rotation_date <= now, kms_keys.c.key_state == ENABLED
                    )
                )
            )

    def rotate(
        self, rotated: list[tuple[KmsKey, bytes, bytes]], rotation_type: str, now: float
    ) -> None:
        """Store each (key, row MAC, new material blob): the keys, whose current material
        version is the new one, are a key and its multi-Region replicas. RotationConflict when
        another rotation made that version first."""
        try:
            with self._engine.begin() as connection:
                for key, row_mac, material_blob in rotated:
                    self._insert_material(connection, key, material_blob, now, rotation_type)
                    self._write_key(connection, key, row_mac)
        except sa.exc.IntegrityError:
            raise RotationConflict(rotated[0][0].key_id) from None

    @staticmethod
    def _insert_material(
        connection: Connection,
        key: KmsKey,
        material_blob: bytes,
        now: float,
        rotation_type: str | None = None,
    ) -> None:
        connection.execute(
            sa.insert(kms_key_materials).values(
                key_id=key.storage_id,
                version=key.current_material_version,
                material_blob=material_blob,
                created_at=now,
                rotation_type=rotation_type,
            )
        )

    def import_material(
        self, key: KmsKey, row_mac: bytes, material_blob: bytes, now: float
    ) -> None:
        """Store imported material as the key's current material (replacing an earlier import
        of the same material), with the key row that records the import."""
        with self._engine.begin() as connection:
            self._delete_materials(connection, key.storage_id)
            self._insert_material(connection, key, material_blob, now)
            self._write_key(connection, key, row_mac)

    def remove_material(self, key: KmsKey, row_mac: bytes, expired_by: float | None = None) -> bool:
        """Delete a key's imported material and store `key` (now PendingImport); with
        `expired_by`, only if the material's ValidTo has come. True when it was deleted."""
        with self._engine.begin() as connection:
            if expired_by is not None:
                claim = (
                    sa.update(kms_keys)
                    .where(kms_keys.c.key_id == key.storage_id, kms_keys.c.valid_to <= expired_by)
                    .values(key_id=key.storage_id)
                )
                if connection.execute(claim).rowcount == 0:
                    return False
            self._delete_materials(connection, key.storage_id)
            self._write_key(connection, key, row_mac)
        return True

    def expired_imports(self, now: float) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.scalars(sa.select(kms_keys.c.key_id).where(kms_keys.c.valid_to <= now))
            )

    @staticmethod
    def _delete_materials(connection: Connection, key_id: str) -> None:
        connection.execute(sa.delete(kms_key_materials).where(kms_key_materials.c.key_id == key_id))

    def _write_key(self, connection: Connection, key: KmsKey, row_mac: bytes) -> None:
        connection.execute(
            sa.update(kms_keys)
            .where(kms_keys.c.key_id == key.storage_id)
            .values(**_key_row(key), row_mac=row_mac)
        )
        self._changes.bump(connection)

    # Last usage

    def note_usage(self, key_id: str, operation: str, at: float, request_id: str) -> None:
        """Record a successful cryptographic use of a key, stored within about a second."""
        self._usage_writer.note(key_id, (operation, at, request_id))

    def flush(self) -> None:
        """Store the key uses noted but not stored yet (on shutdown)."""
        self._usage_writer.flush()

    def _store_usage(self, pending: dict[str, tuple[str, float, str]]) -> None:
        try:
            with self._engine.begin() as connection:
                for key_id, (operation, at, request_id) in pending.items():
                    connection.execute(
                        sa.update(kms_key_usage)
                        .where(
                            kms_key_usage.c.key_id == key_id,
                            sa.or_(kms_key_usage.c.used_at.is_(None), kms_key_usage.c.used_at < at),
                        )
                        .values(operation=operation, used_at=at, request_id=request_id)
                    )
        except StorageUnavailable as outage:
            log.warning("last usage of %d KMS keys not stored: %s", len(pending), outage)

    def usage(self, key_id: str) -> KeyUsage | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(
                    kms_key_usage.c.tracking_start,
                    kms_key_usage.c.operation,
                    kms_key_usage.c.used_at,
                    kms_key_usage.c.request_id,
                ).where(kms_key_usage.c.key_id == key_id)
            ).first()
        return KeyUsage(*row) if row else None

    def materials(self, key_id: str) -> list[KeyMaterial]:
        """The key's materials, oldest first (a key has a few dozen at most)."""
        return [material for material, _ in self.material_blobs(key_id)]

    def material_blobs(self, key_id: str) -> list[tuple[KeyMaterial, bytes]]:
        """Every material of a key with its stored (barrier-encrypted) blob, oldest first."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    kms_key_materials.c.version,
                    kms_key_materials.c.created_at,
                    kms_key_materials.c.rotation_type,
                    kms_key_materials.c.material_blob,
                )
                .where(kms_key_materials.c.key_id == key_id)
                .order_by(kms_key_materials.c.version)
            )
            return [(KeyMaterial(*row[:3]), row[3]) for row in rows]

    # Multi-Region keys

    def regions_of(self, key_id: str) -> list[str]:
        """The Regions where a multi-Region key has a primary or replica key."""
        with self._engine.connect() as connection:
            return sorted(
                connection.scalars(
                    sa.select(kms_keys.c.region).where(kms_keys.c.key_id.startswith(key_id + ":"))
                )
            )

    def create_replica(
        self,
        replica: KmsKey,
        row_mac: bytes,
        materials: list[tuple[KeyMaterial, bytes]],
        tags: Mapping[str, str],
    ) -> None:
        """Store a replica key with copies of its primary's materials (re-encrypted for the
        replica); KeyExists when the Region has one already."""
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(kms_keys).values(**_key_row(replica), row_mac=row_mac))
                for material, blob in materials:
                    connection.execute(
                        sa.insert(kms_key_materials).values(
                            key_id=replica.storage_id,
                            version=material.version,
                            material_blob=blob,
                            created_at=material.created_at,
                            rotation_type=material.rotation_type,
                        )
                    )
                connection.execute(
                    sa.insert(kms_key_usage).values(
                        key_id=replica.storage_id, tracking_start=replica.creation_date
                    )
                )
                self._insert_tags(connection, replica.storage_id, tags)
                self._changes.bump(connection)
        except sa.exc.IntegrityError:
            raise KeyExists(replica.storage_id) from None

    def save_keys(self, keys: list[tuple[KmsKey, bytes]]) -> None:
        """Write several key rows (a multi-Region key set) in one transaction."""
        with self._engine.begin() as connection:
            for key, row_mac in keys:
                self._write_key(connection, key, row_mac)

    def pending_replica_deletions(self) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.select(kms_keys.c.key_id).where(
                        kms_keys.c.key_state == PENDING_REPLICA_DELETION
                    )
                )
            )

    def destroy_key(self, key_id: str, due_by: float) -> bool:
        """Delete the key with its material, aliases and tags if its deletion date has come.
        True when it was deleted."""
        with self._engine.begin() as connection:
            # Writing the row first locks it and tells whether it still qualifies.
            claim = (
                sa.update(kms_keys)
                .where(kms_keys.c.key_id == key_id, kms_keys.c.deletion_date <= due_by)
                .values(key_id=key_id)
            )
            if connection.execute(claim).rowcount == 0:
                return False
            for table in (kms_tags, kms_grants, kms_key_usage, kms_key_materials):
                connection.execute(sa.delete(table).where(table.c.key_id == key_id))
            connection.execute(sa.delete(kms_aliases).where(kms_aliases.c.target_key_id == key_id))
            connection.execute(sa.delete(kms_keys).where(kms_keys.c.key_id == key_id))
            self._changes.bump(connection)
        return True

    def keys(self, account_id: str, region: str, after: str, limit: int) -> list[StoredKey]:
        """Keys ordered by id, starting after the id `after` ('' for the first page)."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(*_KEY_COLUMNS)
                .where(
                    kms_keys.c.account_id == account_id,
                    kms_keys.c.region == region,
                    kms_keys.c.key_id > after,
                )
                .order_by(kms_keys.c.key_id)
                .limit(limit)
            )
            return [_stored_key(row) for row in rows]

    def key_with_material(
        self, key_id: str, version: int | None = None
    ) -> tuple[StoredKey | None, bytes | None]:
        """The key and its stored material of `version` (default: current), in one query."""
        return self._changes.cached(
            self._keys_with_material,
            (key_id, version),
            lambda: self._load_key_with_material(key_id, version),
        )

    def _load_key_with_material(
        self, key_id: str, version: int | None
    ) -> tuple[StoredKey | None, bytes | None]:
        wanted = kms_keys.c.current_material_version if version is None else sa.literal(version)
        query = (
            sa.select(*_KEY_COLUMNS, kms_key_materials.c.material_blob)
            .outerjoin(
                kms_key_materials,
                sa.and_(
                    kms_key_materials.c.key_id == kms_keys.c.key_id,
                    kms_key_materials.c.version == wanted,
                ),
            )
            .where(kms_keys.c.key_id == key_id)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None, None
        return _stored_key(row[:-1]), row[-1]

    # Aliases

    def alias(
        self, account_id: str, region: str, alias_name: str, fresh: bool = False
    ) -> KmsAlias | None:
        """The alias; `fresh` reads storage, not this process's cache (which may remember an
        alias as missing for a moment after another process created it)."""
        if fresh:
            return self._load_alias(account_id, region, alias_name)
        return self._changes.cached(
            self._aliases,
            (account_id, region, alias_name),
            lambda: self._load_alias(account_id, region, alias_name),
        )

    def _load_alias(self, account_id: str, region: str, alias_name: str) -> KmsAlias | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_ALIAS_COLUMNS).where(
                    kms_aliases.c.account_id == account_id,
                    kms_aliases.c.region == region,
                    kms_aliases.c.alias_name == alias_name,
                )
            ).first()
        return KmsAlias(*row) if row else None

    def create_alias(self, alias: KmsAlias) -> None:
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(kms_aliases).values(**asdict(alias)))
                self._changes.bump(connection)
        except sa.exc.IntegrityError:
            raise AliasExists(alias.alias_name) from None

    def retarget_alias(self, alias: KmsAlias, target_key_id: str, now: float) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(kms_aliases)
                .where(*self._alias_identity(alias))
                .values(target_key_id=target_key_id, last_updated_date=now)
            )
            self._changes.bump(connection)

    def delete_alias(self, alias: KmsAlias) -> None:
        with self._engine.begin() as connection:
            connection.execute(sa.delete(kms_aliases).where(*self._alias_identity(alias)))
            self._changes.bump(connection)

    def aliases(
        self, account_id: str, region: str, after: str, limit: int, key_id: str | None = None
    ) -> list[KmsAlias]:
        query = sa.select(*_ALIAS_COLUMNS).where(
            kms_aliases.c.account_id == account_id,
            kms_aliases.c.region == region,
            kms_aliases.c.alias_name > after,
        )
        if key_id is not None:
            query = query.where(kms_aliases.c.target_key_id == key_id)
        with self._engine.connect() as connection:
            rows = connection.execute(query.order_by(kms_aliases.c.alias_name).limit(limit))
            return [KmsAlias(*row) for row in rows]

    def alias_count(self, key_id: str) -> int:
        with self._engine.connect() as connection:
            return (
                connection.scalar(
                    sa.select(sa.func.count()).where(kms_aliases.c.target_key_id == key_id)
                )
                or 0
            )

    @staticmethod
    def _alias_identity(alias: KmsAlias) -> list[sa.ColumnElement[bool]]:
        return [
            kms_aliases.c.account_id == alias.account_id,
            kms_aliases.c.region == alias.region,
            kms_aliases.c.alias_name == alias.alias_name,
        ]

    # Tags

    def tags(self, key_id: str) -> dict[str, str]:
        """Read by every decision on the key (its aws:ResourceTag keys), so cached."""

        def load() -> dict[str, str]:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    sa.select(kms_tags.c.tag_key, kms_tags.c.tag_value)
                    .where(kms_tags.c.key_id == key_id)
                    .order_by(kms_tags.c.tag_key)
                )
                # Not dict(rows): a Result has .keys() (its column names), so dict() misreads it.
                return {tag_key: tag_value for tag_key, tag_value in rows}

        return dict(self._changes.cached(self._tags, key_id, load))  # a copy: the cache stays

    def put_tags(self, key_id: str, tags: Mapping[str, str]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.delete(kms_tags).where(kms_tags.c.key_id == key_id, kms_tags.c.tag_key.in_(tags))
            )
            self._insert_tags(connection, key_id, tags)
            self._changes.bump(connection)

    def delete_tags(self, key_id: str, tag_keys: list[str]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.delete(kms_tags).where(
                    kms_tags.c.key_id == key_id, kms_tags.c.tag_key.in_(tag_keys)
                )
            )
            self._changes.bump(connection)

    @staticmethod
    def _insert_tags(connection: Connection, key_id: str, tags: Mapping[str, str]) -> None:
        if tags:
            connection.execute(
                sa.insert(kms_tags),
                [{"key_id": key_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
            )
