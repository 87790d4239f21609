"""KMS cryptography through stock boto3: Encrypt, Decrypt, ReEncrypt, data keys,
GenerateRandom, DryRun, and the raw wire format.

Checked against the AWS KMS API reference: results, error codes, HTTP statuses and, where AWS's
text is fixed, messages. Every rejected request must leave the visible state unchanged. Tests
share one server per backend, so each creates its own keys and uniquely named aliases.
"""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.support import signing
from tests.support.kms import (
    DRY_RUN_MESSAGE,
    INCORRECT_KEY_MESSAGE,
    MISSING_KEY_MESSAGE,
    alias_arn,
    aws_error,
    unchanged,
    unique_alias,
)

# Encrypt, Decrypt, ReEncrypt


def test_encrypt_and_decrypt_by_every_key_reference(kms, key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    references = (key["KeyId"], key["Arn"], alias, alias_arn(key, alias))
    for reference in references:
        plaintext = f"via {reference}".encode()
        encrypted = kms.encrypt(KeyId=reference, Plaintext=plaintext)
        assert encrypted["KeyId"] == key["Arn"]
        assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        assert plaintext not in encrypted["CiphertextBlob"]
        decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
        assert decrypted == {
            **decrypted,
            "Plaintext": plaintext,
            "KeyId": key["Arn"],
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }
        for decrypt_reference in references:
            again = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], KeyId=decrypt_reference)
            assert again["Plaintext"] == plaintext


def test_same_plaintext_encrypts_differently(kms, key):
    blobs = {kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"] for _ in range(3)}
    assert len(blobs) == 3


def test_decrypt_with_the_wrong_key_id_is_incorrect_key(kms, key, other_key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"mine")["CiphertextBlob"]
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=other_key["KeyId"])
    for reference in (other_key["KeyId"], other_key["Arn"], alias):
        with aws_error("IncorrectKeyException", message=INCORRECT_KEY_MESSAGE):
            kms.decrypt(CiphertextBlob=blob, KeyId=reference)
    with aws_error("NotFoundException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=str(uuid.uuid4()))


def test_any_flipped_byte_is_invalid_ciphertext_never_wrong_plaintext(kms, key):
    """A changed key id names a key the caller does not have (AWS's AccessDeniedException);
    any other change is InvalidCiphertextException."""
    plaintext = b"sixteen byte msg"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    key_id_bytes = range(1, 17)
    # Every position: format version, key id, material version, salt, nonce, body and tag.
    for position in range(len(blob)):
        for mask in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= mask
            names_other_key = position in key_id_bytes
            with aws_error(
                "AccessDeniedException" if names_other_key else "InvalidCiphertextException"
            ):
                kms.decrypt(CiphertextBlob=bytes(tampered))
    for broken in (blob[:-1], blob + b"\0", blob[:20]):
        with aws_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=broken)
    with aws_error("AccessDeniedException", message=MISSING_KEY_MESSAGE):
        kms.decrypt(CiphertextBlob=b"\x01" * 80)  # a well-formed blob naming no key
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def test_encryption_context_must_match_exactly(kms, key):
    context = {"purpose": "phi", "record": "4711"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    reordered = dict(reversed(list(context.items())))
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"ctx"
    wrong_contexts = (
        None,
        {},
        {"purpose": "phi"},
        {**context, "extra": "x"},
        {**context, "record": "1"},
    )
    for wrong in wrong_contexts:
        with aws_error("InvalidCiphertextException"):
            if wrong is None:
                kms.decrypt(CiphertextBlob=blob)
            else:
                kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
    plain_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"no ctx")["CiphertextBlob"]
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=plain_blob, EncryptionContext=context)


def test_re_encrypt_moves_ciphertext_to_another_key_and_context(kms, key, other_key):
    source_context = {"stage": "source"}
    destination_context = {"stage": "destination"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"moving", EncryptionContext=source_context)[
        "CiphertextBlob"
    ]
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=other_key["KeyId"])
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=source_context,
        SourceKeyId=key["KeyId"],
        DestinationKeyId=alias,
        DestinationEncryptionContext=destination_context,
    )
    assert moved["SourceKeyId"] == key["Arn"]
    assert moved["KeyId"] == other_key["Arn"]
    assert moved["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert moved["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"

    decrypted = kms.decrypt(
        CiphertextBlob=moved["CiphertextBlob"], EncryptionContext=destination_context
    )
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"moving", other_key["Arn"])
    with aws_error("IncorrectKeyException"):
        kms.decrypt(
            CiphertextBlob=moved["CiphertextBlob"],
            EncryptionContext=destination_context,
            KeyId=key["KeyId"],
        )
    with aws_error("InvalidCiphertextException"):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other_key["KeyId"])
    with aws_error("IncorrectKeyException"):
        kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext=source_context,
            SourceKeyId=other_key["KeyId"],
            DestinationKeyId=other_key["KeyId"],
        )
    with aws_error("NotFoundException"):
        kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext=source_context,
            DestinationKeyId=str(uuid.uuid4()),
        )


def test_decrypt_and_re_encrypt_without_ciphertext_are_validation_errors(dev_server, key):
    # Newer models mark CiphertextBlob optional (DryRunModifiers), but the call still needs it.
    for operation, body in (
        ("Decrypt", {}),
        ("ReEncrypt", {"DestinationKeyId": key["KeyId"]}),
    ):
        status, payload = signing.call(dev_server, operation, body)
        assert (status, payload["__type"]) == (400, "ValidationException"), payload


def test_plaintext_size_limits(kms, raw_kms, key):
    largest = bytes(range(256)) * 16
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=largest)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == largest
    with aws_error(
        "ValidationException",
        message="1 validation error detected: Value at 'plaintext' failed to satisfy "
        "constraint: Member must have length less than or equal to 4096",
    ):
        raw_kms.encrypt(KeyId=key["KeyId"], Plaintext=largest + b"!")
    with aws_error("ValidationException"):
        raw_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"")


# Data keys and randomness


@pytest.mark.parametrize(
    ("params", "length"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 64}, 64),
        ({"NumberOfBytes": 1024}, 1024),
    ],
)
def test_generate_data_key_sizes_and_round_trip(kms, key, params, length):
    context = {"file": "scan.dcm"}
    data_key = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=context, **params)
    assert len(data_key["Plaintext"]) == length
    assert data_key["KeyId"] == key["Arn"]
    decrypted = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
    assert decrypted["Plaintext"] == data_key["Plaintext"]
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])

    blind = kms.generate_data_key_without_plaintext(KeyId=key["Arn"], **params)
    assert "Plaintext" not in blind
    assert blind["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=blind["CiphertextBlob"])["Plaintext"]) == length


def test_generate_data_key_needs_exactly_one_of_key_spec_and_number_of_bytes(raw_kms, key):
    for operation in (raw_kms.generate_data_key, raw_kms.generate_data_key_without_plaintext):
        for params in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
            with aws_error("ValidationException"):
                operation(KeyId=key["KeyId"], **params)
        for params in ({"NumberOfBytes": 0}, {"NumberOfBytes": 1025}, {"KeySpec": "AES_512"}):
            with aws_error("ValidationException"):
                operation(KeyId=key["KeyId"], **params)


def test_generate_random_lengths(kms, raw_kms):
    for length in (1, 16, 32, 1024):
        assert len(kms.generate_random(NumberOfBytes=length)["Plaintext"]) == length
    assert kms.generate_random(NumberOfBytes=32) != kms.generate_random(NumberOfBytes=32)
    for params in ({"NumberOfBytes": 0}, {"NumberOfBytes": 1025}, {}):
        with aws_error("ValidationException"):
            raw_kms.generate_random(**params)


# DryRun


def test_dry_run_reports_success_without_doing_anything(kms, key, other_key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"dry")["CiphertextBlob"]
    with unchanged(kms, key["KeyId"]):
        for call in (
            lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"dry", DryRun=True),
            lambda: kms.decrypt(CiphertextBlob=blob, DryRun=True),
            lambda: kms.re_encrypt(
                CiphertextBlob=blob, DestinationKeyId=other_key["KeyId"], DryRun=True
            ),
            lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", DryRun=True),
            lambda: kms.generate_data_key_without_plaintext(
                KeyId=key["KeyId"], NumberOfBytes=8, DryRun=True
            ),
        ):
            with aws_error("DryRunOperationException", status=412, message=DRY_RUN_MESSAGE):
                call()
        # A dry run of a request that would fail reports that failure instead.
        with aws_error("NotFoundException"):
            kms.encrypt(KeyId=str(uuid.uuid4()), Plaintext=b"dry", DryRun=True)
        with aws_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1]), DryRun=True)


# The raw wire


def test_raw_json_request_encodes_blobs_as_base64(dev_server, key):
    status, body = signing.call(
        dev_server,
        "Encrypt",
        {"KeyId": key["KeyId"], "Plaintext": base64.b64encode(b"raw").decode()},
    )
    assert status == 200
    status, body = signing.call(dev_server, "Decrypt", {"CiphertextBlob": body["CiphertextBlob"]})
    assert status == 200
    assert base64.b64decode(body["Plaintext"]) == b"raw"
