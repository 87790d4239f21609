"""KMS aliases through stock boto3: create, list, retarget, delete and the naming rules.

Checked against the AWS KMS API reference: results, error codes, HTTP statuses and, where AWS's
text is fixed, messages. Every rejected request must leave the visible state unchanged. Tests
share one server per backend, so each creates its own keys and uniquely named aliases.
"""

from __future__ import annotations

import datetime
import uuid

from tests.support import kms as state
from tests.support.kms import (
    ALIAS_PREFIX_MESSAGE,
    OTHER_ACCOUNT,
    alias_arn,
    aws_error,
    unchanged,
    unique_alias,
)

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
