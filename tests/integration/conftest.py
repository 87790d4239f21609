"""Fixtures for the KMS tests: clients of the shared dev server and fresh keys."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.config import Config


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
