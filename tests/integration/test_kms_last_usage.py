"""GetKeyLastUsage through stock boto3: a new key has none; each successful cryptographic
operation is recorded under its own name with its time and request id (AWS's valid values of
KeyLastUsageData.Operation), both keys of a ReEncrypt included; reads of a Secrets Manager
secret count as Decrypt of its key; describing a key, reading its public key and failed or
dry-run operations do not count; the record survives a restart.

Uses are stored within about a second of the request (off the request path), so tests poll."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import BACKENDS
from tests.support.kms import aws_error

STORE_WITHIN = 5.0  # seconds; the server stores uses about once a second
SETTLE = 2.5  # long enough for any use that would be stored to have been
SIGNING = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}
MAC = {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
AGREEMENT = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}


def last_usage(kms: Any, key_id: str) -> dict[str, Any] | None:
    return kms.get_key_last_usage(KeyId=key_id).get("KeyLastUsage")


def wait_for_operations(kms: Any, expected: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Poll until each key's last usage is the expected operation; the usages."""
    deadline = time.monotonic() + STORE_WITHIN
    while True:
        usages = {key_id: last_usage(kms, key_id) or {} for key_id in expected}
        operations = {key_id: usage.get("Operation") for key_id, usage in usages.items()}
        if operations == expected or time.monotonic() > deadline:
            assert operations == expected
            return usages
        time.sleep(0.1)


def request_id(response: dict[str, Any]) -> str:
    return response["ResponseMetadata"]["RequestId"]


def assert_recent(timestamp: datetime) -> None:
    assert abs(datetime.now(UTC) - timestamp) < timedelta(seconds=30)


# What each operation needs done first; each returns the response of the recorded request.


def _decrypt(kms: Any, key_id: str) -> dict[str, Any]:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
    return kms.decrypt(CiphertextBlob=blob)


def _verify(kms: Any, key_id: str) -> dict[str, Any]:
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    return kms.verify(
        KeyId=key_id,
        Message=b"m",
        Signature=signature["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )


def _verify_mac(kms: Any, key_id: str) -> dict[str, Any]:
    mac = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    return kms.verify_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)


def peer_public_key() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


USES: dict[str, tuple[dict[str, str], Callable[[Any, str], dict[str, Any]]]] = {
    "Encrypt": ({}, lambda kms, key_id: kms.encrypt(KeyId=key_id, Plaintext=b"data")),
    "Decrypt": ({}, _decrypt),
    "GenerateDataKey": (
        {},
        lambda kms, key_id: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
    ),
    "GenerateDataKeyWithoutPlaintext": (
        {},
        lambda kms, key_id: kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16),
    ),
    "GenerateDataKeyPair": (
        {},
        lambda kms, key_id: kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256"),
    ),
    "GenerateDataKeyPairWithoutPlaintext": (
        {},
        lambda kms, key_id: kms.generate_data_key_pair_without_plaintext(
            KeyId=key_id, KeyPairSpec="ECC_NIST_P256"
        ),
    ),
    "Sign": (
        SIGNING,
        lambda kms, key_id: kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"),
    ),
    "Verify": (SIGNING, _verify),
    "GenerateMac": (
        MAC,
        lambda kms, key_id: kms.generate_mac(
            KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256"
        ),
    ),
    "VerifyMac": (MAC, _verify_mac),
    "DeriveSharedSecret": (
        AGREEMENT,
        lambda kms, key_id: kms.derive_shared_secret(
            KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_public_key()
        ),
    ),
}


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.mark.parametrize("params", [{}, SIGNING, MAC, {"Origin": "EXTERNAL"}])
def test_a_new_key_has_no_last_usage(kms, new_key, params):
    key = new_key(**params)
    usage = kms.get_key_last_usage(KeyId=key["Arn"])
    assert usage["KeyId"] in (key["KeyId"], key["Arn"])
    assert usage["TrackingStartDate"] == usage["KeyCreationDate"] == key["CreationDate"]
    assert "KeyLastUsage" not in usage


def test_decrypt_after_encrypt_is_the_last_usage(kms, key):
    before = datetime.now(UTC) - timedelta(seconds=1)
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"data")
    decrypted = _decrypt(kms, key["KeyId"])
    after = datetime.now(UTC) + timedelta(seconds=1)
    usage = wait_for_operations(kms, {key["KeyId"]: "Decrypt"})[key["KeyId"]]
    assert before <= usage["Timestamp"] <= after
    assert usage["KmsRequestId"] == request_id(decrypted)
    whole = kms.get_key_last_usage(KeyId=key["KeyId"])
    assert whole["TrackingStartDate"] == whole["KeyCreationDate"] == key["CreationDate"]


def test_each_operation_is_recorded_under_its_own_name(kms, new_key):
    expected: dict[str, str] = {}
    request_ids: dict[str, str] = {}
    for operation, (params, use) in USES.items():
        key_id = new_key(**params)["KeyId"]
        expected[key_id] = operation
        request_ids[key_id] = request_id(use(kms, key_id))
    # ReEncrypt uses two keys: both record it.
    source, destination = new_key()["KeyId"], new_key()["KeyId"]
    blob = kms.encrypt(KeyId=source, Plaintext=b"data")["CiphertextBlob"]
    re_encrypted = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    for key_id in (source, destination):
        expected[key_id] = "ReEncrypt"
        request_ids[key_id] = request_id(re_encrypted)

    usages = wait_for_operations(kms, expected)
    assert {k: u["KmsRequestId"] for k, u in usages.items()} == request_ids
    for usage in usages.values():
        assert_recent(usage["Timestamp"])


def test_failed_and_non_cryptographic_calls_do_not_count(kms, new_key):
    symmetric, signing = new_key()["KeyId"], new_key(**SIGNING)["KeyId"]
    mac_key = new_key(**MAC)["KeyId"]
    blob = kms.encrypt(KeyId=symmetric, Plaintext=b"data", EncryptionContext={"a": "b"})[
        "CiphertextBlob"
    ]
    signature = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    kms.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    recorded = wait_for_operations(
        kms, {symmetric: "Encrypt", signing: "Sign", mac_key: "GenerateMac"}
    )

    for key_id in recorded:
        kms.describe_key(KeyId=key_id)
    kms.get_public_key(KeyId=signing)
    refusals: list[tuple[str, Callable[[], Any]]] = [  # (AWS answers a dry run with 412)
        ("InvalidCiphertextException", lambda: kms.decrypt(CiphertextBlob=blob)),
        (
            "InvalidCiphertextException",
            lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "c"}),
        ),
        (
            "KMSInvalidSignatureException",
            lambda: kms.verify(
                KeyId=signing,
                Message=b"another message",
                Signature=signature["Signature"],
                SigningAlgorithm="ECDSA_SHA_256",
            ),
        ),
        (
            "KMSInvalidMacException",
            lambda: kms.verify_mac(
                KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=bytes(32)
            ),
        ),
        (
            "DryRunOperationException",
            lambda: kms.encrypt(KeyId=symmetric, Plaintext=b"data", DryRun=True),
        ),
        (
            "DryRunOperationException",
            lambda: kms.sign(
                KeyId=signing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True
            ),
        ),
    ]
    for code, refused in refusals:
        with aws_error(code, status=412 if code == "DryRunOperationException" else 400):
            refused()
    time.sleep(SETTLE)
    assert {key_id: last_usage(kms, key_id) for key_id in recorded} == recorded


def test_secrets_manager_reads_are_decrypts_of_the_secret_key(kms, sm, key):
    name = f"last-usage/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="value", KmsKeyId=key["KeyId"])
    wait_for_operations(kms, {key["KeyId"]: "GenerateDataKey"})
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "value"
    usage = wait_for_operations(kms, {key["KeyId"]: "Decrypt"})[key["KeyId"]]
    assert usage["KmsRequestId"]
    assert_recent(usage["Timestamp"])
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_last_usage_survives_a_restart(make_server, backend):
    server = make_server(backend)
    kms = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    decrypted = _decrypt(kms, key_id)
    before = wait_for_operations(kms, {key_id: "Decrypt"})
    assert before[key_id]["KmsRequestId"] == request_id(decrypted)
    server.restart()
    assert {key_id: last_usage(kms, key_id)} == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_use_just_before_a_graceful_stop_is_not_lost(make_server, backend):
    """A server stopped with SIGTERM (a restart, an upgrade) still stores the uses it has
    answered: otherwise GetKeyLastUsage says a key in use was never used."""
    server = make_server(backend)
    kms = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    decrypted = _decrypt(kms, key_id)
    server.restart()  # at once: the server has not stored the Decrypt on its own yet
    usage = wait_for_operations(kms, {key_id: "Decrypt"})[key_id]
    assert usage["KmsRequestId"] == request_id(decrypted)


def test_an_unknown_key_is_not_found(kms, key):
    for key_id in (str(uuid.uuid4()), key["Arn"].replace(key["KeyId"], str(uuid.uuid4()))):
        with aws_error("NotFoundException"):
            kms.get_key_last_usage(KeyId=key_id)
