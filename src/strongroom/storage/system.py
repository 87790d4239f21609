"""Server-wide state: barrier blobs, seal configuration and the dev clock offset."""

from __future__ import annotations

from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from strongroom.storage.changes import SEAL, ChangeFeed
from strongroom.storage.iam import restore_administrators
from strongroom.storage.identity import AccessKeyRecord
from strongroom.storage.schema import SERVICE_TABLES, access_keys, accounts, system_state

KEYRING = "barrier.keyring"
SEAL_CONFIG = "barrier.seal"
CLOCK_OFFSET = "dev.clock_offset"
# The access key of the bootstrap administrator: the one principal allowed to seal the server
# until IAM policies decide that.
BOOTSTRAP_ACCESS_KEY = "bootstrap.access_key_id"


class SystemStateRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, name: str) -> bytes | None:
        with self._engine.connect() as connection:
            return connection.scalar(
                sa.select(system_state.c.value).where(system_state.c.name == name)
            )

    def put(self, name: str, value: bytes) -> None:
        with self._engine.begin() as connection:
            connection.execute(sa.delete(system_state).where(system_state.c.name == name))
            connection.execute(sa.insert(system_state).values(name=name, value=value))

    def initialize(
        self, values: dict[str, bytes], account_id: str, admin_key: AccessKeyRecord, now: float
    ) -> bool:
        """First start, in one transaction: barrier state, the account, its administrator (an
        IAM user with AdministratorAccess) and the administrator's access key. False (and
        nothing written) when another node got there first."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    sa.insert(system_state), [{"name": n, "value": v} for n, v in values.items()]
                )
                connection.execute(
                    sa.insert(accounts).values(account_id=account_id, created_at=now)
                )
                connection.execute(
                    sa.insert(access_keys).values(**asdict(admin_key), created_at=now)
                )
                # The administrator is an IAM user, with AdministratorAccess.
                restore_administrators(connection, now)
        except sa.exc.IntegrityError:
            return False
        return True

    def accounts(self) -> list[str]:
        with self._engine.connect() as connection:
            return list(connection.scalars(sa.select(accounts.c.account_id)))

    def wipe_service_data(self, changes: ChangeFeed) -> None:
        """Delete every service resource (dev reset); accounts, keys and barrier stay."""
        with self._engine.begin() as connection:
            for table in SERVICE_TABLES:
                connection.execute(sa.delete(table))
            changes.bump(connection)

    def record_seal(self, changes: ChangeFeed) -> None:
        """Tell every other process that the server was sealed (they seal on their next poll)."""
        with self._engine.begin() as connection:
            changes.bump(connection, SEAL)

    def backend_name(self) -> str:
        return self._engine.dialect.name
