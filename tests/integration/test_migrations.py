"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL: a
column or index added to schema.py without a migration (or the other way round) fails here."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url
from strongroom.storage.schema import metadata
from tests.support.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "strongroom.db")
    else:
        with fresh_database(request.getfixturevalue("pg_server_url")) as url:
            yield url


def test_migrated_schema_matches_the_declared_schema(storage_url):
    engine = create_storage_engine(storage_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []
