"""KMS grants through stock boto3: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
RevokeGrant and grant tokens; grants go with their deleted key and are never served once
altered in storage.

Checked against the AWS KMS API reference and developer guide: results, error codes, and that
every rejected request leaves the visible state unchanged. Tests share one server per backend,
so each makes its own keys and principals.
"""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.kms import all_pages, aws_error, unchanged
from tests.support.server import Server, strongroom
from tests.support.storage import overwrite, storage, storage_view

DAY = 86400
GRANT_ID = re.compile(r"[0-9a-f]{64}")
ASYMMETRIC = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}
HMAC = {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
SYMMETRIC_OPERATIONS = [
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "DescribeKey",
    "CreateGrant",
]
# The administrator user of a --dev server: the only principal there is until IAM arrives.
DEV_USER = "admin"


def principal(key: dict[str, Any]) -> str:
    """A new role in the key's account."""
    return f"arn:aws:iam::{key['AWSAccountId']}:role/{uuid.uuid4()}"


def caller(key: dict[str, Any]) -> str:
    return f"arn:aws:iam::{key['AWSAccountId']}:user/{DEV_USER}"


def grants(kms: Any, key_id: str, **filters: Any) -> list[dict[str, Any]]:
    return all_pages(kms.list_grants, "Grants", KeyId=key_id, **filters)


def grant(kms: Any, key: dict[str, Any], **params: Any) -> dict[str, Any]:
    """CreateGrant for a fresh grantee, Encrypt and Decrypt unless told otherwise."""
    params.setdefault("GranteePrincipal", principal(key))
    params.setdefault("Operations", ["Encrypt", "Decrypt"])
    return kms.create_grant(KeyId=key["KeyId"], **params)


@contextmanager
def grants_unchanged(kms: Any, *key_ids: str) -> Iterator[None]:
    """Neither the keys nor their grants change."""
    before = {key_id: grants(kms, key_id) for key_id in key_ids}
    with unchanged(kms, *key_ids):
        yield
    assert {key_id: grants(kms, key_id) for key_id in key_ids} == before


# Creating and listing


def test_create_grant_and_list_every_field(kms, key):
    grantee, retiree = principal(key), principal(key)
    constraints = {"EncryptionContextSubset": {"purpose": "test"}}
    created = grant(
        kms,
        key,
        Name="every-field",
        GranteePrincipal=grantee,
        RetiringPrincipal=retiree,
        Operations=["Decrypt", "Encrypt", "GenerateDataKey"],
        Constraints=constraints,
    )
    made_at = datetime.datetime.now(datetime.UTC)
    assert GRANT_ID.fullmatch(created["GrantId"])
    assert isinstance(created["GrantToken"], str) and created["GrantToken"]

    [listed] = grants(kms, key["KeyId"])
    assert abs(listed.pop("CreationDate") - made_at) < datetime.timedelta(seconds=30)
    assert {**listed, "Operations": sorted(listed["Operations"])} == {
        "KeyId": key["Arn"],
        "GrantId": created["GrantId"],
        "Name": "every-field",
        "GranteePrincipal": grantee,
        "RetiringPrincipal": retiree,
        "IssuingAccount": f"arn:aws:iam::{key['AWSAccountId']}:root",
        "Operations": ["Decrypt", "Encrypt", "GenerateDataKey"],
        "Constraints": constraints,
    }
    # Listing by key ARN finds the same grant.
    assert [g["GrantId"] for g in grants(kms, key["Arn"])] == [created["GrantId"]]


def test_list_grants_filters_and_pages(kms, key, other_key):
    first, second = principal(key), principal(key)
    ids = {
        grantee: [grant(kms, key, GranteePrincipal=grantee)["GrantId"] for _ in range(count)]
        for grantee, count in ((first, 3), (second, 2))
    }
    grant(kms, other_key, GranteePrincipal=first)  # another key's grant is never listed
    everything = grants(kms, key["KeyId"])
    assert sorted(g["GrantId"] for g in everything) == sorted(ids[first] + ids[second])

    paged = grants(kms, key["KeyId"], Limit=2)
    assert paged == everything
    page = kms.list_grants(KeyId=key["KeyId"], Limit=2)
    assert page["Truncated"] is True and len(page["Grants"]) == 2
    for grantee, wanted in ids.items():
        listed = grants(kms, key["KeyId"], GranteePrincipal=grantee, Limit=1)
        assert sorted(g["GrantId"] for g in listed) == sorted(wanted)
    [only] = grants(kms, key["KeyId"], GrantId=ids[second][0])
    assert only["GranteePrincipal"] == second
    assert grants(kms, other_key["KeyId"], GrantId=ids[second][0]) == []

    for marker in ("garbage", page["NextMarker"].upper(), page["NextMarker"][:-1]):
        with aws_error("InvalidMarkerException"):
            kms.list_grants(KeyId=key["KeyId"], Marker=marker)


def test_a_named_grant_is_created_once_for_the_same_parameters(kms, key):
    grantee = principal(key)
    first = grant(kms, key, Name="retried", GranteePrincipal=grantee)
    again = grant(kms, key, Name="retried", GranteePrincipal=grantee)
    assert again["GrantId"] == first["GrantId"]
    assert again["GrantToken"] != first["GrantToken"]
    for token in (first["GrantToken"], again["GrantToken"]):  # interchangeable
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[token])
    assert len(grants(kms, key["KeyId"])) == 1

    other = grant(kms, key, Name="retried", GranteePrincipal=grantee, Operations=["Encrypt"])
    assert other["GrantId"] != first["GrantId"]
    listed = {g["GrantId"]: g["Name"] for g in grants(kms, key["KeyId"])}
    assert listed == {first["GrantId"]: "retried", other["GrantId"]: "retried"}


@pytest.mark.parametrize(
    ("key_params", "operations"),
    [
        ({}, SYMMETRIC_OPERATIONS),
        (ASYMMETRIC, ["Sign", "Verify", "GetPublicKey", "DescribeKey", "RetireGrant"]),
        (HMAC, ["GenerateMac", "VerifyMac", "DescribeKey", "CreateGrant"]),
    ],
    ids=["symmetric", "ECC_NIST_P256", "HMAC_256"],
)
def test_grant_operations_a_key_supports(kms, new_key, key_params, operations):
    key = new_key(**key_params)
    grant(kms, key, Operations=operations)
    [listed] = grants(kms, key["KeyId"])
    assert sorted(listed["Operations"]) == sorted(operations)


@pytest.mark.parametrize(
    ("key_params", "operations"),
    [
        ({}, ["Sign"]),
        ({}, ["Encrypt", "GenerateMac"]),
        (HMAC, ["Encrypt"]),
        (HMAC, ["Sign"]),
        (ASYMMETRIC, ["Encrypt"]),
        (ASYMMETRIC, ["GenerateDataKey"]),
    ],
    ids=[
        "symmetric-Sign",
        "symmetric-GenerateMac",
        "HMAC-Encrypt",
        "HMAC-Sign",
        "ECC-Encrypt",
        "ECC-GenerateDataKey",
    ],
)
def test_grant_operations_a_key_does_not_support_are_refused(kms, new_key, key_params, operations):
    key = new_key(**key_params)
    with grants_unchanged(kms, key["KeyId"]), aws_error("ValidationException"):
        grant(kms, key, Operations=operations)


@pytest.mark.parametrize(
    "constraints",
    [
        {"EncryptionContextSubset": {"project": "p1"}},
        {"EncryptionContextEquals": {"project": "p1", "stage": "prod"}},
    ],
)
def test_encryption_context_constraints_only_on_symmetric_keys(kms, new_key, constraints):
    symmetric = new_key()
    grant(kms, symmetric, Constraints=constraints)
    assert grants(kms, symmetric["KeyId"])[0]["Constraints"] == constraints

    signing = new_key(**ASYMMETRIC)
    with grants_unchanged(kms, signing["KeyId"]), aws_error("ValidationException"):
        grant(kms, signing, Operations=["Sign"], Constraints=constraints)


@pytest.mark.parametrize(
    ("make_unusable", "error"),
    [
        (lambda kms, key_id: kms.disable_key(KeyId=key_id), "DisabledException"),
        (lambda kms, key_id: kms.schedule_key_deletion(KeyId=key_id), "KMSInvalidStateException"),
    ],
    ids=["disabled", "pending-deletion"],
)
def test_create_grant_on_an_unusable_key_is_refused(kms, key, make_unusable, error):
    make_unusable(kms, key["KeyId"])
    with grants_unchanged(kms, key["KeyId"]), aws_error(error):
        grant(kms, key)


def grant_calls(kms: Any, key_id: str, grant_id: str, grantee: str) -> list[Callable[[], Any]]:
    """Each grant operation that names a key, naming `key_id`."""
    return [
        lambda: kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"]),
        lambda: kms.list_grants(KeyId=key_id),
        lambda: kms.retire_grant(KeyId=key_id, GrantId=grant_id),
        lambda: kms.revoke_grant(KeyId=key_id, GrantId=grant_id),
    ]


def test_grant_operations_take_no_alias(kms, key):
    """CreateGrant, ListGrants, RetireGrant and RevokeGrant name a key by key ID or key ARN
    only, as the other key management operations do."""
    alias = f"alias/grants-{key['KeyId']}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    grant_id = grant(kms, key)["GrantId"]
    for reference in (alias, key["Arn"].rsplit(":", 1)[0] + ":" + alias):
        for call in grant_calls(kms, reference, grant_id, principal(key)):
            with grants_unchanged(kms, key["KeyId"]), aws_error("NotFoundException"):
                call()


# Grant tokens


@pytest.fixture
def world(kms, new_key) -> dict[str, Any]:
    """A symmetric, an ECC signing and an HMAC key, a grant token for each, and a ciphertext,
    a signature and a MAC made with them."""
    keys = {"symmetric": new_key(), "signing": new_key(**ASYMMETRIC), "hmac": new_key(**HMAC)}
    operations = {
        "symmetric": SYMMETRIC_OPERATIONS,
        "signing": ["Sign", "Verify", "GetPublicKey"],
        "hmac": ["GenerateMac", "VerifyMac"],
    }
    made: dict[str, Any] = {kind: key["KeyId"] for kind, key in keys.items()}
    made["delegate"] = principal(keys["symmetric"])
    made["tokens"] = {}
    for kind, key in keys.items():
        created = grant(kms, key, GranteePrincipal=caller(key), Operations=operations[kind])
        made["tokens"][kind] = created["GrantToken"]
    made["blob"] = kms.encrypt(KeyId=made["symmetric"], Plaintext=b"x")["CiphertextBlob"]
    signed = kms.sign(KeyId=made["signing"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    made["signature"] = signed["Signature"]
    maced = kms.generate_mac(KeyId=made["hmac"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    made["mac"] = maced["Mac"]
    return made


# Every operation that takes GrantTokens: the kind of key its grant is on, and the call.
TokenCall = Callable[[Any, dict[str, Any], list[str]], Any]
TOKEN_CALLS: dict[str, tuple[str, TokenCall]] = {
    "Encrypt": (
        "symmetric",
        lambda kms, w, t: kms.encrypt(KeyId=w["symmetric"], Plaintext=b"x", GrantTokens=t),
    ),
    "Decrypt": (
        "symmetric",
        lambda kms, w, t: kms.decrypt(CiphertextBlob=w["blob"], GrantTokens=t),
    ),
    "ReEncrypt": (
        "symmetric",
        lambda kms, w, t: kms.re_encrypt(
            CiphertextBlob=w["blob"], DestinationKeyId=w["symmetric"], GrantTokens=t
        ),
    ),
    "GenerateDataKey": (
        "symmetric",
        lambda kms, w, t: kms.generate_data_key(
            KeyId=w["symmetric"], KeySpec="AES_256", GrantTokens=t
        ),
    ),
    "GenerateDataKeyWithoutPlaintext": (
        "symmetric",
        lambda kms, w, t: kms.generate_data_key_without_plaintext(
            KeyId=w["symmetric"], KeySpec="AES_256", GrantTokens=t
        ),
    ),
    "GenerateDataKeyPair": (
        "symmetric",
        lambda kms, w, t: kms.generate_data_key_pair(
            KeyId=w["symmetric"], KeyPairSpec="ECC_NIST_P256", GrantTokens=t
        ),
    ),
    "DescribeKey": (
        "symmetric",
        lambda kms, w, t: kms.describe_key(KeyId=w["symmetric"], GrantTokens=t),
    ),
    "CreateGrant": (
        "symmetric",
        lambda kms, w, t: kms.create_grant(
            KeyId=w["symmetric"],
            GranteePrincipal=w["delegate"],
            Operations=["Decrypt"],
            GrantTokens=t,
        ),
    ),
    "Sign": (
        "signing",
        lambda kms, w, t: kms.sign(
            KeyId=w["signing"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256", GrantTokens=t
        ),
    ),
    "Verify": (
        "signing",
        lambda kms, w, t: kms.verify(
            KeyId=w["signing"],
            Message=b"m",
            Signature=w["signature"],
            SigningAlgorithm="ECDSA_SHA_256",
            GrantTokens=t,
        ),
    ),
    "GetPublicKey": (
        "signing",
        lambda kms, w, t: kms.get_public_key(KeyId=w["signing"], GrantTokens=t),
    ),
    "GenerateMac": (
        "hmac",
        lambda kms, w, t: kms.generate_mac(
            KeyId=w["hmac"], Message=b"m", MacAlgorithm="HMAC_SHA_256", GrantTokens=t
        ),
    ),
    "VerifyMac": (
        "hmac",
        lambda kms, w, t: kms.verify_mac(
            KeyId=w["hmac"], Message=b"m", Mac=w["mac"], MacAlgorithm="HMAC_SHA_256", GrantTokens=t
        ),
    ),
}


def forgeries(token: str) -> list[list[str]]:
    """Token lists an issued token does not make valid: garbage, an altered or cut token, and
    a forged token next to a real one."""
    altered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    return [["garbage"], [altered], [token[:-8]], [token, altered]]


@pytest.mark.parametrize("operation", TOKEN_CALLS)
def test_every_operation_taking_grant_tokens_accepts_a_grant_token(kms, world, operation):
    kind, call = TOKEN_CALLS[operation]
    assert call(kms, world, [world["tokens"][kind]])["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("operation", TOKEN_CALLS)
def test_a_forged_grant_token_is_refused_and_changes_nothing(kms, world, operation):
    kind, call = TOKEN_CALLS[operation]
    key_ids = [world[kind] for kind in ("symmetric", "signing", "hmac")]
    for tokens in forgeries(world["tokens"][kind]):
        with grants_unchanged(kms, *key_ids), aws_error("InvalidGrantTokenException"):
            call(kms, world, tokens)


# Retiring and revoking


def retire_by_token(kms: Any, key: dict[str, Any], created: dict[str, Any]) -> Any:
    return kms.retire_grant(GrantToken=created["GrantToken"])


def retire_by_id(kms: Any, key: dict[str, Any], created: dict[str, Any]) -> Any:
    return kms.retire_grant(KeyId=key["Arn"], GrantId=created["GrantId"])


def revoke(kms: Any, key: dict[str, Any], created: dict[str, Any]) -> Any:
    return kms.revoke_grant(KeyId=key["KeyId"], GrantId=created["GrantId"])


ENDINGS = {
    "RetireGrant-token": retire_by_token,
    "RetireGrant-id": retire_by_id,
    "RevokeGrant": revoke,
}


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS)
def test_a_retired_or_revoked_grant_is_gone(kms, key, end):
    kept, ended = grant(kms, key), grant(kms, key, RetiringPrincipal=principal(key))
    end(kms, key, ended)
    assert [g["GrantId"] for g in grants(kms, key["KeyId"])] == [kept["GrantId"]]
    with grants_unchanged(kms, key["KeyId"]), aws_error("NotFoundException"):
        end(kms, key, ended)


def test_retire_grant_needs_a_token_or_a_key_and_grant_id(kms, key):
    created, other = grant(kms, key), grant(kms, key)
    with grants_unchanged(kms, key["KeyId"]):
        for partial in ({}, {"GrantId": created["GrantId"]}, {"KeyId": key["KeyId"]}):
            with aws_error("ValidationException"):
                kms.retire_grant(**partial)
        with aws_error("InvalidGrantIdException"):  # a token and a grant id that disagree
            kms.retire_grant(GrantToken=created["GrantToken"], GrantId=other["GrantId"])


def test_list_retirable_grants_by_retiring_principal(kms, key, other_key):
    retiree = principal(key)
    created = [grant(kms, k, RetiringPrincipal=retiree) for k in (key, other_key, key)]
    mine = {c["GrantId"] for c in created}
    grant(kms, key, RetiringPrincipal=principal(key))  # someone else's to retire
    grant(kms, key)  # nobody's

    def retirable(**params: Any) -> list[dict[str, Any]]:
        return all_pages(kms.list_retirable_grants, "Grants", RetiringPrincipal=retiree, **params)

    listed = retirable()
    assert {g["GrantId"] for g in listed} == mine
    assert all(g["RetiringPrincipal"] == retiree for g in listed)
    assert {g["KeyId"] for g in listed} == {key["Arn"], other_key["Arn"]}
    assert retirable(Limit=1) == listed
    with aws_error("InvalidMarkerException"):
        kms.list_retirable_grants(RetiringPrincipal=retiree, Marker="garbage")

    kms.retire_grant(GrantToken=created[1]["GrantToken"])
    assert {g["GrantId"] for g in retirable()} == mine - {created[1]["GrantId"]}


# Grants in storage


def grant_rows(server: Server, key_id: str) -> int:
    with storage(storage_view(server)) as engine, engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM kms_grants WHERE key_id = :key_id")
        return connection.execute(query, {"key_id": key_id}).scalar_one()


def test_a_deleted_key_takes_its_grants_with_it(own_dev_server):
    kms = own_dev_server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    retiree = principal(key)
    for _ in range(2):
        grant(kms, key, RetiringPrincipal=retiree)
    assert grant_rows(own_dev_server, key["KeyId"]) == 2

    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    strongroom("dev", "advance-clock", str(8 * DAY), "--endpoint", own_dev_server.endpoint)
    deadline = time.monotonic() + 15
    while grant_rows(own_dev_server, key["KeyId"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert grant_rows(own_dev_server, key["KeyId"]) == 0
    with aws_error("NotFoundException"):
        kms.describe_key(KeyId=key["KeyId"])
    assert kms.list_retirable_grants(RetiringPrincipal=retiree)["Grants"] == []


def test_a_grant_altered_in_storage_is_never_served(own_dev_server):
    kms = own_dev_server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    retiree = principal(key)
    healthy = grant(kms, key, RetiringPrincipal=retiree)
    altered = grant(kms, key, RetiringPrincipal=retiree, Operations=["Decrypt"])
    widened = json.dumps(SYMMETRIC_OPERATIONS)  # storage hands the grantee every operation
    overwrite(
        storage_view(own_dev_server),
        "UPDATE kms_grants SET operations = :operations WHERE grant_id = :grant_id",
        operations=widened,
        grant_id=altered["GrantId"],
    )

    assert [g["GrantId"] for g in grants(kms, key["KeyId"])] == [healthy["GrantId"]]
    assert grants(kms, key["KeyId"], GrantId=altered["GrantId"]) == []
    retirable = kms.list_retirable_grants(RetiringPrincipal=retiree)["Grants"]
    assert [g["GrantId"] for g in retirable] == [healthy["GrantId"]]
    for end in ENDINGS.values():
        with aws_error("NotFoundException"):
            end(kms, key, altered)
    assert "failed an integrity check" in own_dev_server.log_text()


# Authorisation by grant


def ungranted_key(kms: Any, account: str) -> dict[str, Any]:
    """A key whose policy lets the account manage it (and its grants) but not use it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Administration",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": [
                    "kms:Describe*",
                    "kms:Get*",
                    "kms:List*",
                    "kms:Put*",
                    "kms:CreateGrant",
                    "kms:RetireGrant",
                    "kms:RevokeGrant",
                ],
                "Resource": "*",
            }
        ],
    }
    return kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]


def test_operation_allowed_only_by_a_grant(kms, key):
    key = ungranted_key(kms, key["AWSAccountId"])
    token = grant(kms, key, GranteePrincipal=caller(key))["GrantToken"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"granted", GrantTokens=[token])
    opened = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], GrantTokens=[token])
    assert opened["Plaintext"] == b"granted"


def test_operation_allowed_only_by_a_grant_is_denied_without_it(kms, key):
    key = ungranted_key(kms, key["AWSAccountId"])
    grant(kms, key)  # the grant names another principal, not the caller
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"not granted")
