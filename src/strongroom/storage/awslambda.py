"""Lambda functions: one row each, changed by compare-and-set on the revision id so that
concurrent updates never lose one another (Lambda's RevisionId is the same idea on the wire).
Code and environment variables arrive and leave as barrier ciphertext."""

from __future__ import annotations

import json
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from strongroom.services.awslambda.model import Configuration, LambdaFunction
from strongroom.storage.schema import lambda_functions

_t = lambda_functions.c
_COLUMNS = [
    _t.function_id,
    _t.account_id,
    _t.region,
    _t.name,
    _t.revision_id,
    _t.configuration,
    _t.environment_blob,
    _t.policy,
    _t.tags,
]


class FunctionExists(Exception):
    """A function of that name exists in that account and Region."""


def _function(row: sa.Row[tuple[object, ...]]) -> LambdaFunction:
    (function_id, account_id, region, name, revision_id, configuration, env, policy, tags) = row
    return LambdaFunction(
        str(function_id),
        str(account_id),
        str(region),
        str(name),
        str(revision_id),
        Configuration.from_json(str(configuration)),
        bytes(env),  # type: ignore[call-overload]
        None if policy is None else str(policy),
        json.loads(str(tags)),
    )


def _values(function: LambdaFunction) -> dict[str, object]:
    return {
        "revision_id": function.revision_id,
        "configuration": function.configuration.to_json(),
        "environment_blob": function.environment_blob,
        "policy": function.policy,
        "tags": json.dumps(function.tags, sort_keys=True),
    }


class LambdaRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, function: LambdaFunction, code_blob: bytes) -> None:
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    sa.insert(lambda_functions).values(
                        function_id=function.function_id,
                        account_id=function.account_id,
                        region=function.region,
                        name=function.name,
                        code_blob=code_blob,
                        **_values(function),
                    )
                )
        except sa.exc.IntegrityError:
            raise FunctionExists(function.name) from None

    def function(self, account_id: str, region: str, name: str) -> LambdaFunction | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_COLUMNS).where(
                    _t.account_id == account_id, _t.region == region, _t.name == name
                )
            ).first()
        return _function(row) if row else None

    def code(self, function_id: str, revision_id: str) -> bytes | None:
        """The code blob of that revision of the function, or None when it changed since."""
        with self._engine.connect() as connection:
            blob = connection.scalar(
                sa.select(_t.code_blob).where(
                    _t.function_id == function_id, _t.revision_id == revision_id
                )
            )
        return None if blob is None else bytes(blob)

    def functions(
        self, account_id: str, region: str, after: str | None, limit: int
    ) -> list[LambdaFunction]:
        """Up to `limit` functions in name order after the name `after`."""
        conditions = [_t.account_id == account_id, _t.region == region]
        if after is not None:
            conditions.append(_t.name > after)
        query = sa.select(*_COLUMNS).where(*conditions).order_by(_t.name).limit(limit)
        with self._engine.connect() as connection:
            return [_function(row) for row in connection.execute(query)]

    def replace(
        self, expected_revision: str, function: LambdaFunction, code_blob: bytes | None = None
    ) -> bool:
        """Store the function's new state if it is still at `expected_revision`."""
        values: Mapping[str, object] = _values(function)
        if code_blob is not None:
            values = {**values, "code_blob": code_blob}
        with self._engine.begin() as connection:
            changed = connection.execute(
                sa.update(lambda_functions)
                .where(_t.function_id == function.function_id, _t.revision_id == expected_revision)
                .values(**values)
            ).rowcount
        return bool(changed)

    def delete(self, function_id: str) -> bool:
        with self._engine.begin() as connection:
            deleted = connection.execute(
                sa.delete(lambda_functions).where(_t.function_id == function_id)
            ).rowcount
        return bool(deleted)
