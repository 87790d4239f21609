"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL: a
column or index added to schema.py without a migration (or the other way round) fails here;
and migrations that carry data forward do so."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from strongroom.services.iam import managed_policies
from strongroom.storage import engine as engine_module
from strongroom.storage.changes import ChangeFeed
from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url
from strongroom.storage.iam import IamRepository
from strongroom.storage.schema import access_keys, accounts, metadata
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


def test_iam_migration_makes_every_key_holder_an_iam_administrator(storage_url):
    """An installation from before IAM: its bootstrap administrator (access keys only) becomes
    an IAM user with AdministratorAccess, keeping its user id."""
    engine = create_storage_engine(storage_url)
    try:
        config = Config()
        config.set_main_option(
            "script_location", str(Path(engine_module.__file__).parent / "migrations")
        )
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0007")
        with engine.begin() as connection:
            connection.execute(
                sa.insert(accounts).values(account_id="111122223333", created_at=5.0)
            )
            for key_id, created in (("AKIAOLDKEY0000000001", 10.0), ("AKIAOLDKEY0000000002", 20.0)):
                connection.execute(
                    sa.insert(access_keys).values(
                        access_key_id=key_id,
                        account_id="111122223333",
                        user_name="admin",
                        user_id="AIDAOLDADMIN000000001",
                        secret_blob=b"ciphertext",
                        status="Active",
                        created_at=created,
                    )
                )
        migrate(engine)
        iam = IamRepository(engine, ChangeFeed(engine))
        admin = iam.user("111122223333", "admin")
        assert admin is not None
        assert (admin.user_id, admin.path, admin.created) == ("AIDAOLDADMIN000000001", "/", 10.0)
        assert admin.arn == "arn:aws:iam::111122223333:user/admin"
        assert iam.identity_policies("111122223333", "user", "admin") == (
            managed_policies.document(managed_policies.ADMINISTRATOR_ACCESS),
        )
    finally:
        engine.dispose()
