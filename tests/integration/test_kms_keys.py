"""KMS keys through stock boto3: create, describe, list, update, enable and disable, tags.

Checked against the AWS KMS API reference: results, error codes, HTTP statuses and, where AWS's
text is fixed, messages. Every rejected request must leave the visible state unchanged. Tests
share one server per backend, so each creates its own keys and uniquely named aliases.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid

import pytest

from tests.support import kms as state
from tests.support.kms import (
    OTHER_ACCOUNT,
    UUID_RE,
    alias_arn,
    aws_error,
    unchanged,
    unique_alias,
)

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


def test_create_key_with_a_spec_outside_the_supported_set_changes_nothing(kms, raw_kms):
    with unchanged(kms):
        # SM2 exists only in China Regions; ML-DSA and Ed25519 keys are not provided (yet).
        for spec in ("SM2", "ML_DSA_44", "ECC_NIST_EDWARDS25519"):
            with aws_error("UnsupportedOperationException"):
                kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")
        with aws_error("UnsupportedOperationException"):
            kms.create_key(CustomerMasterKeySpec="SM2", KeyUsage="ENCRYPT_DECRYPT")
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
