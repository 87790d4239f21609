"""Every KMS operation Strongroom implements, through stock boto3 against a real server, checked
against what the AWS KMS API reference documents: results, error codes, HTTP statuses and, where
AWS's text is fixed, messages. Every rejected request must leave the visible state unchanged.

Tests share one server per backend, so each creates its own keys and uniquely named aliases and
never assumes the key or alias list is empty.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import kms as state
from tests.support import signing

DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)
INCORRECT_KEY_MESSAGE = (
    "The key ID in the request does not identify a KMS key that can perform this operation."
)
OTHER_ACCOUNT = "111122223333"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


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


def unique_alias() -> str:
    return f"alias/test-{uuid.uuid4()}"


def alias_arn(key: dict[str, Any], alias_name: str) -> str:
    return key["Arn"].rsplit(":", 1)[0] + ":" + alias_name


@contextmanager
def aws_error(code: str, status: int = 400, message: str | None = None) -> Iterator[None]:
    with pytest.raises(ClientError) as info:
        yield
    response = info.value.response
    assert response["Error"]["Code"] == code, response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response["Error"]
    if message is not None:
        assert response["Error"]["Message"] == message


@contextmanager
def unchanged(kms, *watched_keys: str) -> Iterator[None]:
    before = state.snapshot(kms, watched_keys)
    yield
    assert state.snapshot(kms, watched_keys) == before


# Keys


def test_create_key_returns_documented_metadata_and_describe_key_agrees(kms, new_key):
    before = datetime.datetime.now(datetime.UTC)
    metadata = new_key(Description="metadata check")
    after = datetime.datetime.now(datetime.UTC)

    assert UUID_RE.match(metadata["KeyId"])
    assert re.fullmatch(r"\d{12}", metadata["AWSAccountId"])
    assert metadata["Arn"] == (
        f"arn:aws:kms:us-east-1:{metadata['AWSAccountId']}:key/{metadata['KeyId']}"
    )
    assert before - datetime.timedelta(seconds=5) <= metadata["CreationDate"]
    assert metadata["CreationDate"] <= after + datetime.timedelta(seconds=5)
    expected = {
        "Enabled": True,
        "Description": "metadata check",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    assert {k: metadata[k] for k in expected} == expected
    assert kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"] == metadata
    assert metadata["KeyId"] in state.key_ids(kms)


def test_create_key_with_explicit_symmetric_spec_usage_and_policy(kms):
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
            ],
        }
    )
    metadata = kms.create_key(
        KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT", Policy=policy
    )["KeyMetadata"]
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["Description"] == ""


def test_describe_key_by_id_arn_alias_name_and_alias_arn(kms, key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for reference in (key["KeyId"], key["Arn"], alias, alias_arn(key, alias)):
        assert kms.describe_key(KeyId=reference)["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_unknown_keys_aliases_and_other_accounts_are_not_found(kms, key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    missing = str(uuid.uuid4())
    references = [
        missing,
        key["Arn"].replace(key["KeyId"], missing),
        key["Arn"].replace(key["AWSAccountId"], OTHER_ACCOUNT),
        key["Arn"].replace("us-east-1", "eu-west-1"),
        unique_alias(),
        alias_arn(key, unique_alias()),
        alias_arn(key, alias).replace(key["AWSAccountId"], OTHER_ACCOUNT),
        "not-a-key-id",
    ]
    with unchanged(kms, key["KeyId"]):
        missing_arn = key["Arn"].replace(key["KeyId"], missing)
        with aws_error("NotFoundException", message=f"Key '{missing_arn}' does not exist"):
            kms.describe_key(KeyId=missing)
        for reference in references:
            with aws_error("NotFoundException"):
                kms.describe_key(KeyId=reference)
            with aws_error("NotFoundException"):
                kms.encrypt(KeyId=reference, Plaintext=b"x")
            with aws_error("NotFoundException"):
                kms.generate_data_key(KeyId=reference, KeySpec="AES_256")
        for reference in references[:4]:
            with aws_error("NotFoundException"):
                kms.disable_key(KeyId=reference)
            with aws_error("NotFoundException"):
                kms.tag_resource(KeyId=reference, Tags=[{"TagKey": "k", "TagValue": "v"}])
            with aws_error("NotFoundException"):
                kms.update_key_description(KeyId=reference, Description="changed")


def test_create_key_with_asymmetric_spec_is_not_supported_yet(kms, raw_kms):
    with unchanged(kms):
        with aws_error("UnsupportedOperationException"):
            kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
        with aws_error("UnsupportedOperationException"):
            kms.create_key(CustomerMasterKeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
        with aws_error("ValidationException"):
            raw_kms.create_key(KeySpec="RSA_9999")


def test_create_key_with_key_usage_a_symmetric_key_cannot_have(kms):
    with unchanged(kms):
        for usage in ("SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"):
            with aws_error("ValidationException"):
                kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage=usage)


def test_asymmetric_algorithms_on_a_symmetric_key_are_invalid_key_usage(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    for algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"):
        with aws_error("InvalidKeyUsageException"):
            kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm=algorithm)
        with aws_error("InvalidKeyUsageException"):
            kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm=algorithm)


@pytest.mark.parametrize(
    "policy",
    ["not json", "[]", '"a string"', json.dumps({"Version": "2012-10-17"}), '{"Statement": ['],
)
def test_create_key_with_malformed_policy_is_rejected(kms, policy):
    with unchanged(kms), aws_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy=policy)


def test_create_key_with_reserved_or_too_many_tags_creates_nothing(kms):
    with unchanged(kms):
        with aws_error("TagException"):
            kms.create_key(Tags=[{"TagKey": "aws:owner", "TagValue": "me"}])
        with aws_error("LimitExceededException"):
            kms.create_key(Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)])


def test_update_key_description_by_id_and_arn_only(kms, raw_kms, key):
    kms.update_key_description(KeyId=key["KeyId"], Description="first")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "first"
    kms.update_key_description(KeyId=key["Arn"], Description="")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == ""

    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    with unchanged(kms, key["KeyId"]):
        # The API reference: "Specify the key ID or key ARN of the KMS key."
        with aws_error("NotFoundException"):
            kms.update_key_description(KeyId=alias, Description="via alias")
        with aws_error(
            "ValidationException",
            message="1 validation error detected: Value '"
            + "d" * 8193
            + "' at 'description' failed to satisfy constraint: "
            "Member must have length less than or equal to 8192",
        ):
            raw_kms.update_key_description(KeyId=key["KeyId"], Description="d" * 8193)


def test_disabled_key_refuses_cryptography_until_enabled(kms, key, other_key):
    plaintext = b"held while disabled"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    other_blob = kms.encrypt(KeyId=other_key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]

    kms.disable_key(KeyId=key["Arn"])
    metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Disabled", False)
    kms.disable_key(KeyId=key["KeyId"])  # disabling a disabled key is not an error

    with unchanged(kms, key["KeyId"]):
        for call in (
            lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext),
            lambda: kms.decrypt(CiphertextBlob=blob),
            lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"),
            lambda: kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128"),
            lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other_key["KeyId"]),
            lambda: kms.re_encrypt(CiphertextBlob=other_blob, DestinationKeyId=key["KeyId"]),
            # DryRun reports what the real call would do: fail.
            lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, DryRun=True),
        ):
            with aws_error("DisabledException", message=f"{key['Arn']} is disabled."):
                call()

    kms.enable_key(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["Arn"])
    metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Enabled", True)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def test_enable_and_disable_take_key_id_or_arn_not_alias(kms, key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    with unchanged(kms, key["KeyId"]):
        with aws_error("NotFoundException"):
            kms.disable_key(KeyId=alias)
        with aws_error("NotFoundException"):
            kms.enable_key(KeyId=alias_arn(key, alias))


# ListKeys


def test_list_keys_pages_cover_every_key_once(kms, new_key):
    mine = {new_key()["KeyId"] for _ in range(5)}
    everything = state.key_ids(kms)
    assert mine <= set(everything)

    seen: list[str] = []
    marker = None
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        assert len(page["Keys"]) <= 2
        for entry in page["Keys"]:
            assert entry["KeyArn"].endswith(f":key/{entry['KeyId']}")
        seen += [entry["KeyId"] for entry in page["Keys"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        assert len(page["Keys"]) == 2
        marker = page["NextMarker"]
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(everything)

    paginated = [
        entry["KeyId"]
        for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3})
        for entry in page["Keys"]
    ]
    assert sorted(paginated) == sorted(everything)


def test_list_keys_rejects_garbage_marker_and_bad_limits(kms, raw_kms, key):
    with aws_error("InvalidMarkerException"):
        kms.list_keys(Marker="garbage")
    for limit in (0, 1001):
        with aws_error("ValidationException"):
            raw_kms.list_keys(Limit=limit)


# Aliases


def test_alias_lifecycle_create_list_retarget_delete(kms, key, other_key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["Arn"])  # a key ARN is a valid target
    listed = {a["AliasName"]: a for a in state.all_pages(kms.list_aliases, "Aliases")}
    entry = listed[alias]
    assert entry["AliasArn"] == alias_arn(key, alias)
    assert entry["TargetKeyId"] == key["KeyId"]
    assert isinstance(entry["CreationDate"], datetime.datetime)
    assert kms.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == key["Arn"]

    kms.update_alias(AliasName=alias, TargetKeyId=other_key["KeyId"])
    retargeted = kms.list_aliases(KeyId=other_key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in retargeted] == [alias]
    assert retargeted[0]["LastUpdatedDate"] >= entry["LastUpdatedDate"]
    assert kms.list_aliases(KeyId=key["KeyId"])["Aliases"] == []
    assert kms.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == other_key["Arn"]
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == other_key["KeyId"]

    kms.delete_alias(AliasName=alias)
    assert alias not in dict(state.aliases(kms))
    # Deleting an alias never touches its key.
    assert kms.describe_key(KeyId=other_key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    not_found = f"Alias {alias_arn(key, alias)} is not found."
    with unchanged(kms):
        with aws_error("NotFoundException", message=not_found):
            kms.describe_key(KeyId=alias)
        with aws_error("NotFoundException", message=not_found):
            kms.delete_alias(AliasName=alias)
        with aws_error("NotFoundException", message=not_found):
            kms.update_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        with aws_error("NotFoundException"):
            kms.encrypt(KeyId=alias, Plaintext=b"x")


def test_alias_name_rules(kms, raw_kms, key, other_key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    fresh = unique_alias()
    with unchanged(kms, key["KeyId"], other_key["KeyId"]):
        for name in (f"test-{uuid.uuid4()}", "alias/"):
            with aws_error("ValidationException", message=ALIAS_PREFIX_MESSAGE):
                kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
        with aws_error("ValidationException"):
            kms.create_alias(AliasName="alias/has space", TargetKeyId=key["KeyId"])
        with aws_error("ValidationException"):
            raw_kms.create_alias(AliasName="alias/" + "a" * 251, TargetKeyId=key["KeyId"])
        with aws_error("NotAuthorizedException"):
            kms.create_alias(AliasName=f"alias/aws/{uuid.uuid4()}", TargetKeyId=key["KeyId"])
        with aws_error(
            "AlreadyExistsException",
            message=f"An alias with the name {alias_arn(key, alias)} already exists",
        ):
            kms.create_alias(AliasName=alias, TargetKeyId=other_key["KeyId"])
        for target in (alias, alias_arn(key, alias)):
            with aws_error("ValidationException"):
                kms.create_alias(AliasName=fresh, TargetKeyId=target)
            with aws_error("ValidationException"):
                kms.update_alias(AliasName=alias, TargetKeyId=target)
        with aws_error("NotFoundException"):
            kms.create_alias(AliasName=fresh, TargetKeyId=str(uuid.uuid4()))
        with aws_error("NotFoundException"):
            kms.update_alias(AliasName=alias, TargetKeyId=str(uuid.uuid4()))
        with aws_error("NotFoundException"):
            kms.create_alias(
                AliasName=fresh, TargetKeyId=key["Arn"].replace(key["AWSAccountId"], OTHER_ACCOUNT)
            )


def test_alias_at_the_longest_allowed_name(kms, key):
    alias = f"alias/{uuid.uuid4().hex}".ljust(256, "a")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key["KeyId"]
    kms.delete_alias(AliasName=alias)


def test_list_aliases_pages_and_key_filter(kms, key, other_key):
    mine = sorted(unique_alias() for _ in range(5))
    for name in mine:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    kms.create_alias(AliasName=unique_alias(), TargetKeyId=other_key["KeyId"])

    for reference in (key["KeyId"], key["Arn"]):
        filtered = state.all_pages(kms.list_aliases, "Aliases", KeyId=reference, Limit=2)
        assert [a["AliasName"] for a in filtered] == mine

    everything = state.all_pages(kms.list_aliases, "Aliases", Limit=3)
    names = [a["AliasName"] for a in everything]
    assert len(names) == len(set(names))
    assert set(mine) <= set(names)
    assert sorted(names) == [name for name, _ in state.aliases(kms)]

    first = kms.list_aliases(KeyId=key["KeyId"], Limit=4)
    assert first["Truncated"] is True
    assert len(first["Aliases"]) == 4
    rest = kms.list_aliases(KeyId=key["KeyId"], Limit=4, Marker=first["NextMarker"])
    assert rest["Truncated"] is False
    assert [a["AliasName"] for a in rest["Aliases"]] == mine[4:]

    with aws_error("InvalidMarkerException"):
        kms.list_aliases(Marker="garbage")
    with aws_error("NotFoundException"):
        kms.list_aliases(KeyId=str(uuid.uuid4()))


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
    plaintext = b"sixteen byte msg"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    # Every position: format version, key id, material version, salt, nonce, body and tag.
    for position in range(len(blob)):
        for mask in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= mask
            with aws_error("InvalidCiphertextException"):
                kms.decrypt(CiphertextBlob=bytes(tampered))
    for broken in (blob[:-1], blob + b"\0", blob[:20], b"\x01" * 80):
        with aws_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=broken)
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


# Tags


def test_tag_untag_and_list_tags(kms, new_key):
    key = new_key(Tags=[{"TagKey": "team", "TagValue": "records"}])
    assert state.tags(kms, key["KeyId"]) == {"team": "records"}

    kms.tag_resource(
        KeyId=key["Arn"],
        Tags=[{"TagKey": "team", "TagValue": "billing"}, {"TagKey": "env", "TagValue": ""}],
    )
    assert state.tags(kms, key["KeyId"]) == {"team": "billing", "env": ""}
    listed = kms.list_resource_tags(KeyId=key["KeyId"])
    assert listed["Truncated"] is False
    assert sorted(listed["Tags"], key=lambda t: t["TagKey"]) == [
        {"TagKey": "env", "TagValue": ""},
        {"TagKey": "team", "TagValue": "billing"},
    ]

    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["team", "never-set"])
    assert state.tags(kms, key["KeyId"]) == {"env": ""}
    kms.untag_resource(KeyId=key["Arn"], TagKeys=["env"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_tag_rules_change_nothing_when_broken(kms, key):
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    kms.tag_resource(
        KeyId=key["KeyId"], Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(48)]
    )
    with unchanged(kms, key["KeyId"]):
        with aws_error("TagException"):
            kms.tag_resource(
                KeyId=key["KeyId"],
                Tags=[{"TagKey": "fine", "TagValue": "v"}, {"TagKey": "aws:x", "TagValue": "v"}],
            )
        with aws_error("LimitExceededException"):
            kms.tag_resource(
                KeyId=key["KeyId"], Tags=[{"TagKey": f"n{i}", "TagValue": "v"} for i in range(3)]
            )
        # Tag operations take a key ID or key ARN, not an alias.
        with aws_error("NotFoundException"):
            kms.tag_resource(KeyId=alias, Tags=[{"TagKey": "a", "TagValue": "b"}])
        with aws_error("NotFoundException"):
            kms.untag_resource(KeyId=alias, TagKeys=["k1"])
        with aws_error("NotFoundException"):
            kms.list_resource_tags(KeyId=alias)
    # Overwriting existing keys does not count against the limit; reaching exactly 50 is fine.
    kms.tag_resource(
        KeyId=key["KeyId"],
        Tags=[
            {"TagKey": "k0", "TagValue": "w"},
            {"TagKey": "n0", "TagValue": "v"},
            {"TagKey": "n1", "TagValue": "v"},
        ],
    )
    assert len(state.tags(kms, key["KeyId"])) == 50


def test_list_resource_tags_pages(kms, key):
    expected = {f"tag-{i:02}": f"value {i}" for i in range(23)}
    kms.tag_resource(
        KeyId=key["KeyId"], Tags=[{"TagKey": k, "TagValue": v} for k, v in expected.items()]
    )
    pages = []
    marker = None
    while True:
        page = kms.list_resource_tags(
            KeyId=key["KeyId"], Limit=7, **({"Marker": marker} if marker else {})
        )
        pages.append(page["Tags"])
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert [len(p) for p in pages] == [7, 7, 7, 2]
    flat = [(t["TagKey"], t["TagValue"]) for p in pages for t in p]
    assert len(flat) == len(set(flat))
    assert dict(flat) == expected
    with aws_error("InvalidMarkerException"):
        kms.list_resource_tags(KeyId=key["KeyId"], Marker="garbage")


def test_tag_list_and_value_bounds(raw_kms, kms, key):
    with unchanged(kms, key["KeyId"]):
        for tag in (
            {"TagKey": "", "TagValue": "v"},
            {"TagKey": "k" * 129, "TagValue": "v"},
            {"TagKey": "k", "TagValue": "v" * 257},
            {"TagKey": "k"},
        ):
            with aws_error("ValidationException"):
                raw_kms.tag_resource(KeyId=key["KeyId"], Tags=[tag])
        with aws_error("ValidationException"):
            raw_kms.untag_resource(KeyId=key["KeyId"], TagKeys=[""])


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
