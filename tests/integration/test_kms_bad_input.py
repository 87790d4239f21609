"""Hostile and malformed KMS requests, built by Hypothesis from botocore's input shapes and sent
hand-signed to a real server: every one must get a 400 with the right error type, and none may
change anything.

Each example takes a request that is valid except for exactly one thing: a required member
missing, a value over or under its length or range, of the wrong JSON type, outside its enum,
breaking its pattern, bad base64 in a blob, or a body that is not a JSON object at all.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import given

from strongroom.protocol.registry import load_model
from tests.support import bad_requests, signing
from tests.support import kms as state
from tests.support.bad_requests import SERIALIZATION, VALIDATION

MODEL = load_model("kms")
OPERATIONS = [
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "UpdateKeyDescription",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "EnableKey",
    "DisableKey",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "ListKeyRotations",
    "CreateGrant",
    "ListGrants",
    "ListRetirableGrants",
    "RetireGrant",
    "RevokeGrant",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "ReplicateKey",
    "UpdatePrimaryRegion",
]
# Members the model leaves optional but the operation cannot do without.
SERVICE_REQUIRED = {
    "Decrypt": ["CiphertextBlob"],
    "ReEncrypt": ["CiphertextBlob"],
    "GenerateRandom": ["NumberOfBytes"],
}
KEY_MEMBERS = {"KeyId", "TargetKeyId", "SourceKeyId"}


@dataclass(frozen=True)
class World:
    """Resources a request may name validly, owned by this module."""

    key_id: str
    other_key_id: str
    alias_name: str
    blob: str


@pytest.fixture(scope="module")
def world(kms) -> World:
    key_id = kms.create_key(Tags=[{"TagKey": "owner", "TagValue": "bad-input"}])["KeyMetadata"][
        "KeyId"
    ]
    other_key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias_name = f"alias/bad-input-{uuid.uuid4()}"
    kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bad input")["CiphertextBlob"]
    return World(key_id, other_key_id, alias_name, base64.b64encode(blob).decode())


def top_level_value(name: str, shape: Shape, operation: str, world: World) -> Any:
    """A valid value that names the module's own resources, so a wrongly accepted request
    would show up as a change."""
    if name in KEY_MEMBERS:
        return world.key_id
    if name == "DestinationKeyId":
        return world.other_key_id
    if name == "AliasName":
        return f"alias/bad-input-{uuid.uuid4()}" if operation == "CreateAlias" else world.alias_name
    if name == "CiphertextBlob":
        return world.blob
    if name == "Description":
        return "changed by a bad request"
    if name == "Tags":
        return [{"TagKey": "owner", "TagValue": "changed"}]
    if name == "TagKeys":
        return ["owner"]
    return bad_requests.valid_value(shape)


SERVICE = bad_requests.Service(
    top_level_value,
    minimal_request={"Limit": 1},
    id_member="KeyId",
    also_required=SERVICE_REQUIRED,
)


@pytest.mark.parametrize("operation_name", OPERATIONS)
def test_bad_requests_get_400_and_change_nothing(dev_server, kms, world, operation_name):
    operation = MODEL.operation_model(operation_name)
    before = state.snapshot(kms, [world.key_id, world.other_key_id])

    @bad_requests.SETTINGS
    @given(bad=bad_requests.bad_request(operation, world, SERVICE))
    def check(bad: bad_requests.BadRequest) -> None:
        status, payload = signing.call(dev_server, operation_name, bad.body)
        assert status == 400, (status, payload)
        # Exactly the error the defect calls for (never merely some model error).
        assert payload.get("__type") in bad.expected, payload
        assert set(payload) == {"__type", "message"}, payload

    check()
    assert state.snapshot(kms, [world.key_id, world.other_key_id]) == before


@pytest.mark.parametrize(
    ("operation", "body", "expected"),
    [
        # JSON escapes of unpaired UTF-16 surrogates parse, but are no text any storage holds.
        ("CreateKey", '{"Description": "\\ud800"}', SERIALIZATION),
        ("DescribeKey", '{"KeyId": "\\udfff"}', SERIALIZATION),
        (
            "Encrypt",
            '{"KeyId": "%(key)s", "Plaintext": "YQ==", "EncryptionContext": {"\\ud83d": "x"}}',
            SERIALIZATION,
        ),
        # PostgreSQL cannot hold or even compare text with NUL in it.
        ("CreateKey", '{"Description": "a\\u0000b"}', VALIDATION),
        ("UpdateKeyDescription", '{"KeyId": "%(key)s", "Description": "\\u0000"}', VALIDATION),
        (
            "TagResource",
            '{"KeyId": "%(key)s", "Tags": [{"TagKey": "k\\u0000", "TagValue": ""}]}',
            "TagException",
        ),
        (
            "TagResource",
            '{"KeyId": "%(key)s", "Tags": [{"TagKey": "k", "TagValue": "\\u0000"}]}',
            "TagException",
        ),
        ("UntagResource", '{"KeyId": "%(key)s", "TagKeys": ["\\u0000"]}', "TagException"),
        ("DescribeKey", '{"KeyId": "alias/a\\u0000"}', "NotFoundException"),
        (
            "DescribeKey",
            '{"KeyId": "arn:aws:kms:us-east-1:%(account)s:key/\\u0000"}',
            "NotFoundException",
        ),
        (
            "DescribeKey",
            '{"KeyId": "arn:aws:kms:us-east-1:%(account)s:alias/\\u0000"}',
            "NotFoundException",
        ),
        ("Encrypt", '{"KeyId": "alias/\\u0000", "Plaintext": "YQ=="}', "NotFoundException"),
    ],
)
def test_text_no_storage_can_hold_is_refused(dev_server, kms, world, operation, body, expected):
    account = kms.describe_key(KeyId=world.key_id)["KeyMetadata"]["AWSAccountId"]
    before = state.snapshot(kms, [world.key_id])
    status, payload = signing.call(
        dev_server, operation, body % {"key": world.key_id, "account": account}
    )
    assert (status, payload.get("__type")) == (400, expected), payload
    assert state.snapshot(kms, [world.key_id]) == before


def test_surrogate_pairs_are_text(dev_server, kms, world):
    status, payload = signing.call(
        dev_server,
        "UpdateKeyDescription",
        f'{{"KeyId": "{world.key_id}", "Description": "smile \\ud83d\\ude00"}}',
    )
    assert status == 200, payload
    assert kms.describe_key(KeyId=world.key_id)["KeyMetadata"]["Description"] == "smile \U0001f600"


@pytest.mark.parametrize(
    "target",
    [
        "TrentService.NoSuchOperation",
        "TrentService.",
        "NoSuchService_20240101.Encrypt",
        "TrentServiceX.Encrypt",
        "Encrypt",
    ],
)
def test_unknown_operations_and_targets(dev_server, target):
    request = signing.signed_request(dev_server, target, {})
    status, payload = signing.send(dev_server, request)
    assert (status, payload.get("__type")) == (400, "UnknownOperationException"), payload
