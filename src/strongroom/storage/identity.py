"""Accounts and access keys. Secret access keys are stored only as barrier ciphertext."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from strongroom.storage.changes import ChangeFeed
from strongroom.storage.coalescing import CoalescingWriter
from strongroom.storage.engine import StorageUnavailable
from strongroom.storage.schema import access_keys, iam_access_key_usage

log = logging.getLogger("strongroom.auth")
# Key uses gather this long before they are stored: one transaction a second, whatever the load.
_USE_WRITE_DELAY = 1.0


@dataclass(frozen=True)
class AccessKeyRecord:
    access_key_id: str
    account_id: str
    user_name: str
    user_id: str
    secret_blob: bytes
    status: str


class IdentityRepository:
    def __init__(self, engine: Engine, changes: ChangeFeed) -> None:
        self._engine = engine
        self._changes = changes
        # Read on every request; cached like KMS keys (writes arrive with the IAM service).
        self._access_keys = changes.new_cache()
        self._uses = CoalescingWriter("access-key-use", self._store_uses, delay=_USE_WRITE_DELAY)

    def access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        return self._changes.cached(
            self._access_keys, access_key_id, lambda: self._load_access_key(access_key_id)
        )

    def _load_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(
                    access_keys.c.access_key_id,
                    access_keys.c.account_id,
                    access_keys.c.user_name,
                    access_keys.c.user_id,
                    access_keys.c.secret_blob,
                    access_keys.c.status,
                ).where(access_keys.c.access_key_id == access_key_id)
            ).first()
        return AccessKeyRecord(*row) if row else None

    def note_use(self, access_key_id: str, at: float, service: str, region: str) -> None:
        """Record that a key signed a request (GetAccessKeyLastUsed), stored within about a
        second together with the other uses noted meanwhile, off the request path."""
        self._uses.note(access_key_id, (at, service, region))

    def flush(self) -> None:
        """Store the key uses noted but not stored yet (on shutdown)."""
        self._uses.flush()

    def _store_uses(self, pending: dict[str, tuple[float, str, str]]) -> None:
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        table = iam_access_key_usage
        try:
            with self._engine.begin() as connection:
                for access_key_id, (at, service, region) in pending.items():
                    upsert = dialect.insert(table).values(
                        access_key_id=access_key_id, used_at=at, service=service, region=region
                    )
                    connection.execute(
                        upsert.on_conflict_do_update(
                            index_elements=[table.c.access_key_id],
                            set_={
                                "used_at": upsert.excluded.used_at,
                                "service": upsert.excluded.service,
                                "region": upsert.excluded.region,
                            },
                            where=table.c.used_at < upsert.excluded.used_at,
                        )
                    )
        except StorageUnavailable as outage:
            log.warning("last use of %d access keys not stored: %s", len(pending), outage)
