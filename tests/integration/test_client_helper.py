"""`strongroom.client.SecretsClient` against a real server: values in the shape an application
wants, and typed errors instead of printed ones."""

from __future__ import annotations

import uuid

import pytest

from strongroom.client import (
    SecretDecryptionError,
    SecretNotFoundError,
    SecretsClient,
    SecretsError,
    SecretUnavailableError,
)


@pytest.fixture(scope="module")
def helper(dev_server):
    return SecretsClient(client=dev_server.client("secretsmanager"))


def test_values_come_back_in_the_shape_they_were_stored(dev_server, helper):
    sm = dev_server.client("secretsmanager")
    prefix = f"client/{uuid.uuid4()}"
    sm.create_secret(Name=f"{prefix}/json", SecretString='{"username": "admin"}')
    sm.create_secret(Name=f"{prefix}/jwt", SecretString="dXdjklE/c1blazNJSLxpB3XcP9QYsA2x=")
    sm.create_secret(Name=f"{prefix}/number", SecretString="12345")
    sm.create_secret(Name=f"{prefix}/binary", SecretBinary=b"\x00\xffkey")
    assert helper.get(f"{prefix}/json") == {"username": "admin"}
    assert helper.get(f"{prefix}/jwt") == "dXdjklE/c1blazNJSLxpB3XcP9QYsA2x="
    assert helper.get(f"{prefix}/number") == "12345"  # valid JSON, but not an object
    assert helper.get(f"{prefix}/binary") == b"\x00\xffkey"
    sm.put_secret_value(SecretId=f"{prefix}/jwt", SecretString="next")
    assert helper.get(f"{prefix}/jwt", version_stage="AWSPREVIOUS").startswith("dXdj")


def test_failures_are_typed_and_carry_no_secret(dev_server, helper):
    sm = dev_server.client("secretsmanager")
    name = f"client/{uuid.uuid4()}"
    with pytest.raises(SecretNotFoundError) as missing:
        helper.get(name)
    assert missing.value.code == "ResourceNotFoundException"
    key_id = dev_server.client("kms").create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name=name, SecretString="do-not-echo-me", KmsKeyId=key_id)
    dev_server.client("kms").disable_key(KeyId=key_id)
    with pytest.raises(SecretDecryptionError) as undecryptable:
        helper.get(name)
    assert "do-not-echo-me" not in str(undecryptable.value)
    dev_server.client("kms").enable_key(KeyId=key_id)
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(SecretUnavailableError):
        helper.get(name)
    with pytest.raises(SecretsError):
        helper.rotate(name)
