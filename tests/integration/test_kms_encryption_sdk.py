"""A real KMS client library end to end: the AWS Encryption SDK for Python encrypts and decrypts
messages with Strongroom KMS keys through its KMS master key provider, unmodified, reaching
Strongroom only through the environment `strongroom env` prints."""

from __future__ import annotations

import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy, EncryptionSDKClient
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider

PLAINTEXT = b"patient record 4711: allergy to penicillin" * 100
CONTEXT = {"purpose": "ehr-export", "tenant": "alphavox"}


@pytest.fixture
def provider_for(dev_server, monkeypatch):
    """A master key provider for some key ARNs, configured only by the environment."""
    for name, value in dev_server.env().items():
        monkeypatch.setenv(name, value)

    def make(*key_arns: str) -> StrictAwsKmsMasterKeyProvider:
        return StrictAwsKmsMasterKeyProvider(
            key_ids=list(key_arns), botocore_session=botocore.session.Session()
        )

    return make


@pytest.fixture
def sdk() -> EncryptionSDKClient:
    return EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def test_encrypt_and_decrypt_a_message(sdk, provider_for, key):
    provider = provider_for(key["Arn"])
    message, header = sdk.encrypt(
        source=PLAINTEXT, key_provider=provider, encryption_context=CONTEXT
    )
    assert PLAINTEXT not in message
    decrypted, decrypt_header = sdk.decrypt(source=message, key_provider=provider)
    assert decrypted == PLAINTEXT
    assert CONTEXT.items() <= decrypt_header.encryption_context.items()
    assert [k.key_provider.key_info.decode() for k in header.encrypted_data_keys] == [key["Arn"]]


def test_a_message_for_two_keys_decrypts_with_either(sdk, provider_for, key, other_key):
    message, _ = sdk.encrypt(
        source=PLAINTEXT, key_provider=provider_for(key["Arn"], other_key["Arn"])
    )
    for arn in (key["Arn"], other_key["Arn"]):
        decrypted, _ = sdk.decrypt(source=message, key_provider=provider_for(arn))
        assert decrypted == PLAINTEXT


def test_a_disabled_key_cannot_decrypt_its_messages(sdk, provider_for, kms, key):
    provider = provider_for(key["Arn"])
    message, _ = sdk.encrypt(source=PLAINTEXT, key_provider=provider)
    kms.disable_key(KeyId=key["KeyId"])
    try:
        with pytest.raises(AWSEncryptionSDKClientError):
            sdk.decrypt(source=message, key_provider=provider)
    finally:
        kms.enable_key(KeyId=key["KeyId"])
    assert sdk.decrypt(source=message, key_provider=provider)[0] == PLAINTEXT


def test_a_message_survives_rotation_of_its_key(sdk, provider_for, kms, key):
    provider = provider_for(key["Arn"])
    message, _ = sdk.encrypt(source=PLAINTEXT, key_provider=provider)
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert sdk.decrypt(source=message, key_provider=provider)[0] == PLAINTEXT
