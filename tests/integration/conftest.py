"""Fixtures of the integration tests: a dev server of a test's own, KMS clients and fresh keys,
an SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.conftest import BACKENDS
from tests.support.notifications import Mailbox, smtp_server
from tests.support.server import Server, dev_server_for


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


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server for the module's tests: its mailbox and port."""
    with smtp_server() as box_and_port:
        yield box_and_port


@pytest.fixture(params=BACKENDS)
def own_dev_server(request, tmp_path: Path) -> Iterator[Server]:
    """A dev server of this module's own: resetting or moving the clock of the shared one
    would pull the ground from under other tests."""
    with dev_server_for(request, tmp_path / "dev.log") as server:
        yield server
