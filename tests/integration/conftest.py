"""Fixtures of the integration tests: a dev server of a test's own, KMS clients and fresh keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.conftest import BACKENDS
from tests.support.postgres import fresh_database
from tests.support.server import Server


@pytest.fixture(scope="module")
def kms(dev_server):
    return dev_server.client("kms")


@pytest.fixture(scope="module")
def raw_kms(dev_server):
    """A client that sends what boto3's own parameter validation would refuse to send."""
    return dev_server.client(
        "kms", config=Config(parameter_validation=False, retries={"max_attempts": 1})
    )


@pytest.fixture
def new_key(kms):
    def make(**params: Any) -> dict[str, Any]:
        params.setdefault("Description", f"test key {uuid.uuid4()}")
        return kms.create_key(**params)["KeyMetadata"]

    return make


@pytest.fixture
def key(new_key):
    return new_key()


@pytest.fixture
def other_key(new_key):
    return new_key()


@pytest.fixture(params=BACKENDS)
def own_dev_server(request, tmp_path: Path) -> Iterator[Server]:
    """A dev server of this module's own: resetting or moving the clock of the shared one
    would pull the ground from under other tests."""
    with ExitStack() as stack:
        args = ["--dev"]
        if request.param == "postgresql":
            database = fresh_database(request.getfixturevalue("pg_server_url"))
            args += ["--storage", stack.enter_context(database)]
        server = Server(args=args, log_path=tmp_path / "dev.log", dev=True).start()
        stack.callback(server.stop)
        yield server
