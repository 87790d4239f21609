"""Accounts and access keys. Secret access keys are stored only as barrier ciphertext."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from strongroom.storage.changes import ChangeFeed
from strongroom.storage.schema import access_keys


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
