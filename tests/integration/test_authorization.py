"""Every call is decided by AWS's policy evaluation: the resources' own policies (secret
resource policies, KMS key policies, grants) take effect even against the administrator, whose
identity policy is AdministratorAccess; condition keys come from the request. Through stock
boto3 against a real server on both storage backends; denials are audited."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.audit import record_of, request_id
from tests.support.kms import aws_error

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"  # the --dev server's administrator
VIA_SECRETS_MANAGER = "secretsmanager.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def kms(dev_server):
    return dev_server.client("kms")


def secret_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny(action: str, **condition: Any) -> dict[str, Any]:
    statement = {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": "*"}
    return statement | ({"Condition": condition} if condition else {})


def new_secret(sm: Any, **extra: Any) -> str:
    name = f"authz/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="patient-data-key", **extra)
    return name


def denied(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response
    assert error["Error"]["Code"] == "AccessDeniedException", error["Error"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error


def test_an_explicit_deny_in_a_secret_policy_denies_the_administrator(dev_server, sm):
    name = new_secret(sm)
    arn = sm.describe_secret(SecretId=name)["ARN"]
    sm.put_resource_policy(
        SecretId=name, ResourcePolicy=secret_policy(deny("secretsmanager:GetSecretValue"))
    )
    error = denied(sm.get_secret_value, SecretId=name)
    assert error["Error"]["Message"] == (
        f"User: {ADMIN} is not authorized to perform: secretsmanager:GetSecretValue on "
        f"resource: {arn} with an explicit deny in a resource-based policy"
    )
    # What the policy does not deny stays allowed, and the denial is in the audit trail.
    assert sm.describe_secret(SecretId=name)["Name"] == name
    record = record_of(dev_server, request_id(error))
    assert record["errorCode"] == "AccessDeniedException"
    assert record["eventName"] == "GetSecretValue"
    assert "patient-data-key" not in json.dumps(record)
    sm.delete_resource_policy(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "patient-data-key"


@pytest.mark.parametrize(
    ("condition", "applies"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, True),  # the --dev server speaks HTTP
        ({"Bool": {"aws:SecureTransport": "true"}}, False),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, True),  # tests call from 127.0.0.1
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, False),
        ({"StringEquals": {"aws:PrincipalArn": ADMIN}}, True),
        ({"StringNotEquals": {"aws:username": "admin"}}, False),
        ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, True),
        ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, False),
        ({"StringLike": {"secretsmanager:SecretId": "*:secret:authz/*"}}, True),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else str(value),
)
def test_conditions_read_the_request(sm, condition, applies):
    name = new_secret(sm)
    statement = deny("secretsmanager:GetSecretValue")
    statement["Condition"] = condition
    sm.put_resource_policy(SecretId=name, ResourcePolicy=secret_policy(statement))
    if applies:
        denied(sm.get_secret_value, SecretId=name)
    else:
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "patient-data-key"


def test_block_public_policy_is_a_condition_key(sm):
    name = new_secret(sm)
    must_block = deny("secretsmanager:PutResourcePolicy")
    must_block["Condition"] = {"Bool": {"secretsmanager:BlockPublicPolicy": "false"}}
    sm.put_resource_policy(SecretId=name, ResourcePolicy=secret_policy(must_block))
    # Without BlockPublicPolicy the policy cannot be changed; with it, it can.
    denied(sm.put_resource_policy, SecretId=name, ResourcePolicy=secret_policy(must_block))
    sm.put_resource_policy(
        SecretId=name, ResourcePolicy=secret_policy(must_block), BlockPublicPolicy=True
    )


def untrusting_key(kms: Any) -> str:
    """A key whose policy names another principal only: the account's IAM policies (the
    administrator's AdministratorAccess among them) do not apply to it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    created = kms.create_key(Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True)
    return str(created["KeyMetadata"]["Arn"])


def test_a_key_policy_that_does_not_trust_iam_blocks_an_iam_allow(kms):
    key = untrusting_key(kms)
    error = denied(kms.encrypt, KeyId=key, Plaintext=b"x")
    assert error["Error"]["Message"] == (
        f"User: {ADMIN} is not authorized to perform: kms:Encrypt on resource: {key} "
        "because no resource-based policy allows the kms:Encrypt action"
    )
    denied(kms.describe_key, KeyId=key)
    with aws_error("AccessDeniedException"):
        kms.put_key_policy(KeyId=key, Policy=json.dumps({"Statement": []}), PolicyName="default")


def test_a_secret_under_a_key_that_refuses_the_caller_cannot_be_read(kms, sm):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    name = new_secret(sm, KmsKeyId=key)
    kms.put_key_policy(
        KeyId=key,
        PolicyName="default",
        BypassPolicyLockoutSafetyCheck=True,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {
                                "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"
                            }
                        },
                    },
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                ],
            }
        ),
    )
    error = denied(sm.get_secret_value, SecretId=name)
    assert error["Error"]["Message"] == "Access to KMS is not allowed"
    # Directly, outside Secrets Manager, the key still decrypts for the caller.
    blob = kms.encrypt(KeyId=key, Plaintext=b"direct")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"direct"


def test_the_aws_managed_key_serves_only_through_secrets_manager(kms, sm):
    name = new_secret(sm)  # under aws/secretsmanager
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "patient-data-key"
    # Its policy lets the account use it through Secrets Manager (kms:ViaService) only.
    error = denied(kms.encrypt, KeyId="alias/aws/secretsmanager", Plaintext=b"x")
    assert (
        "because no resource-based policy allows the kms:Encrypt action"
        in (error["Error"]["Message"])
    )


def key_policy(*statements: dict[str, Any]) -> str:
    trust_iam = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [trust_iam, *statements]})


def test_key_policy_conditions_read_the_encryption_context_and_algorithm(kms):
    only_phi = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:EncryptionContext:purpose": "phi"}},
    }
    key = kms.create_key(Policy=key_policy(only_phi))["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "phi"})
    assert (
        kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"purpose": "phi"})[
            "Plaintext"
        ]
        == b"x"
    )
    denied(kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "billing"})
    denied(kms.encrypt, KeyId=key, Plaintext=b"x")

    no_sha1 = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:Sign",
        "Resource": "*",
        "Condition": {"StringLike": {"kms:SigningAlgorithm": "*SHA_256"}},
    }
    signing = kms.create_key(
        KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Policy=key_policy(no_sha1)
    )["KeyMetadata"]["Arn"]
    kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_384")
    denied(kms.sign, KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")


def test_a_grant_with_constraints_allows_only_the_context_it_names(kms):
    # The key policy lets the account's IAM policies manage grants, not encrypt: only a grant
    # to the caller lets it encrypt, and only with the context the grant names.
    manage_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["kms:CreateGrant", "kms:PutKeyPolicy", "kms:DescribeKey"],
                "Resource": "*",
            }
        ],
    }
    key = kms.create_key(Policy=json.dumps(manage_only))["KeyMetadata"]["Arn"]
    denied(kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "phi"})
    kms.create_grant(
        KeyId=key,
        GranteePrincipal=ADMIN,
        Operations=["Encrypt"],
        Constraints={"EncryptionContextSubset": {"purpose": "phi"}},
    )
    kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "phi", "id": "7"})
    denied(kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "billing"})
    denied(kms.encrypt, KeyId=key, Plaintext=b"x")
    kms.create_grant(
        KeyId=key,
        GranteePrincipal=ADMIN,
        Operations=["Encrypt"],
        Constraints={"EncryptionContextEquals": {"purpose": "billing"}},
    )
    kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "billing"})
    denied(
        kms.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "billing", "a": "b"}
    )


def test_create_grant_condition_keys(kms):
    no_decrypt_grants = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"kms:GrantOperations": "Decrypt"}},
    }
    key = kms.create_key(Policy=key_policy(no_decrypt_grants))["KeyMetadata"]["Arn"]
    grantee = f"arn:aws:iam::{ACCOUNT}:role/reader"
    kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Encrypt"])
    denied(kms.create_grant, KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"])


def test_version_stage_is_a_condition_key(sm):
    name = new_secret(sm)
    sm.put_secret_value(SecretId=name, SecretString="newer")
    no_previous = deny("secretsmanager:GetSecretValue")
    no_previous["Condition"] = {"StringEquals": {"secretsmanager:VersionStage": "AWSPREVIOUS"}}
    sm.put_resource_policy(SecretId=name, ResourcePolicy=secret_policy(no_previous))
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "newer"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"] == "newer"
    denied(sm.get_secret_value, SecretId=name, VersionStage="AWSPREVIOUS")


def test_the_key_spec_of_an_existing_key_is_a_condition_key(kms):
    no_rsa_key_use = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {"StringLike": {"kms:KeySpec": "RSA_*"}},
    }
    symmetric = kms.create_key(Policy=key_policy(no_rsa_key_use))["KeyMetadata"]["Arn"]
    kms.encrypt(KeyId=symmetric, Plaintext=b"x")
    rsa = kms.create_key(
        KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT", Policy=key_policy(no_rsa_key_use)
    )["KeyMetadata"]["Arn"]
    denied(kms.encrypt, KeyId=rsa, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_a_keys_tags_are_its_resource_tag_condition_keys(kms):
    only_team_alpha = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:ResourceTag/team": "alpha"}},
    }
    key = kms.create_key(
        Policy=key_policy(only_team_alpha), Tags=[{"TagKey": "team", "TagValue": "alpha"}]
    )["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    # A retag takes effect on the next call (the tags are cached, and invalidated by writes).
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "beta"}])
    denied(kms.encrypt, KeyId=key, Plaintext=b"x")
    denied(kms.decrypt, CiphertextBlob=blob)
    kms.untag_resource(KeyId=key, TagKeys=["team"])
    denied(kms.encrypt, KeyId=key, Plaintext=b"x")
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "alpha"}])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
