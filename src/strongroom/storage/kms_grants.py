"""KMS grants: rows with an integrity tag, ordered by grant id for keyset paging. (A key's
deletion removes its grants in KmsRepository.destroy_key's transaction.)"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from strongroom.services.kms.model import KmsGrant
from strongroom.storage.schema import kms_grants, kms_keys

_GRANT_COLUMNS = [*(kms_grants.c[f.name] for f in fields(KmsGrant)), kms_grants.c.row_mac]
StoredGrant = tuple[KmsGrant, bytes]


def _stored_grant(row: sa.Row[Any]) -> StoredGrant:
    values: dict[str, Any] = dict(zip([f.name for f in fields(KmsGrant)], row[:-1], strict=True))
    values["operations"] = tuple(json.loads(values["operations"]))
    values["constraints"] = json.loads(values["constraints"]) if values["constraints"] else None
    return KmsGrant(**values), row[-1]


def _grant_row(grant: KmsGrant) -> dict[str, Any]:
    row = asdict(grant)
    row["operations"] = json.dumps(list(grant.operations))
    row["constraints"] = json.dumps(grant.constraints) if grant.constraints else None
    return row


class GrantRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_grant(self, grant: KmsGrant, row_mac: bytes) -> None:
        with self._engine.begin() as connection:
            connection.execute(sa.insert(kms_grants).values(**_grant_row(grant), row_mac=row_mac))

    def grant(self, grant_id: str) -> StoredGrant | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_GRANT_COLUMNS).where(kms_grants.c.grant_id == grant_id)
            ).first()
        return _stored_grant(row) if row else None

    def grants(
        self,
        key_id: str,
        after: str,
        limit: int,
        grant_id: str | None = None,
        grantee_principal: str | None = None,
        name: str | None = None,
    ) -> list[StoredGrant]:
        """The key's grants ordered by grant id, starting after `after`; optionally only
        those with that id, grantee or name."""
        query = sa.select(*_GRANT_COLUMNS).where(
            kms_grants.c.key_id == key_id, kms_grants.c.grant_id > after
        )
        for column, wanted in (
            (kms_grants.c.grant_id, grant_id),
            (kms_grants.c.grantee_principal, grantee_principal),
            (kms_grants.c.name, name),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        with self._engine.connect() as connection:
            rows = connection.execute(query.order_by(kms_grants.c.grant_id).limit(limit))
            return [_stored_grant(row) for row in rows]

    def retirable_grants(
        self, account_id: str, region: str, retiring_principal: str, after: str, limit: int
    ) -> list[StoredGrant]:
        """Grants on the account's keys in the region that the principal may retire."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(*_GRANT_COLUMNS)
                .join(kms_keys, kms_keys.c.key_id == kms_grants.c.key_id)
                .where(
                    kms_keys.c.account_id == account_id,
                    kms_keys.c.region == region,
                    kms_grants.c.retiring_principal == retiring_principal,
                    kms_grants.c.grant_id > after,
                )
                .order_by(kms_grants.c.grant_id)
                .limit(limit)
            )
            return [_stored_grant(row) for row in rows]

    def grant_counts(self, key_id: str, grantee_principal: str) -> tuple[int, int]:
        """How many grants the key has, and how many of them name this grantee."""
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(kms_grants.c.grantee_principal == grantee_principal),
                ).where(kms_grants.c.key_id == key_id)
            ).one()
        return row[0], row[1]

    def delete_grant(self, grant_id: str) -> bool:
        with self._engine.begin() as connection:
            deleted = connection.execute(
                sa.delete(kms_grants).where(kms_grants.c.grant_id == grant_id)
            ).rowcount
        return deleted > 0
