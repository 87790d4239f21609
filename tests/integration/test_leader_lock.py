"""Exactly one leader for background jobs, on SQLite (file lock) and PostgreSQL (advisory lock);
when the leader goes, another process can take over."""

from __future__ import annotations

import pytest

from strongroom.jobs.leader import LeaderLock
from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url
from tests.conftest import BACKENDS
from tests.support.postgres import fresh_database


@pytest.fixture(params=BACKENDS)
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "strongroom.db")
    else:
        with fresh_database(request.getfixturevalue("pg_server_url")) as url:
            yield url


def test_one_leader_at_a_time(storage_url, tmp_path):
    engines = [create_storage_engine(storage_url) for _ in range(2)]
    migrate(engines[0])
    first, second = (LeaderLock(engine, tmp_path) for engine in engines)
    assert first.acquire() is True
    assert first.acquire() is True  # holding it is cheap to confirm
    assert second.acquire() is False
    first.release()
    assert second.acquire() is True
    assert first.acquire() is False
    second.release()
    for engine in engines:
        engine.dispose()
