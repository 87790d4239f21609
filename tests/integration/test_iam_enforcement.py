"""IAM users, roles and STS sessions get exactly what their policies allow, end to end through
stock boto3 against a real server on both storage backends: a read-only user on alphavox/*,
a role assumed with an ExternalId, an MFA-only policy satisfied by GetSessionToken with a real
TOTP code, a key policy that does not trust IAM, session policies and expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.operator import post

ACCOUNT = "123456789012"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **condition: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


def denied(call: Any, code: str = "AccessDeniedException", **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    assert info.value.response["Error"]["Code"] == code, info.value.response["Error"]
    return str(info.value.response["Error"]["Message"])


def client_as(server: Any, service: str, credentials: dict[str, str]) -> Any:
    return server.client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def new_user(iam: Any, *statements: dict[str, Any]) -> tuple[str, dict[str, str]]:
    name = f"user-{uuid.uuid4().hex[:12]}"
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def totp(seed_base32: bytes, at: float, step: int = 30) -> str:
    """RFC 6238 (SHA-1, 6 digits), computed here independently of the server."""
    key = base64.b32decode(seed_base32)
    digest = hmac.new(key, struct.pack(">Q", int(at // step)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@pytest.fixture(scope="module")
def iam(dev_server):
    return dev_server.client("iam")


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def secrets(sm):
    """A secret under alphavox/ and one elsewhere."""
    tag = uuid.uuid4().hex[:8]
    names = {"alphavox": f"alphavox/db-{tag}", "other": f"billing/db-{tag}"}
    for name in names.values():
        sm.create_secret(Name=name, SecretString=f"value of {name}")
    return names


ALPHAVOX = "arn:aws:secretsmanager:*:*:secret:alphavox/*"


def test_a_read_only_user_reads_its_secrets_and_nothing_else(dev_server, iam, secrets):
    name, key = new_user(
        iam, allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], ALPHAVOX)
    )
    reader = client_as(dev_server, "secretsmanager", key)
    assert reader.get_secret_value(SecretId=secrets["alphavox"])["SecretString"] == (
        f"value of {secrets['alphavox']}"
    )
    message = denied(reader.get_secret_value, SecretId=secrets["other"])
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:"
    )
    assert message.endswith(
        "because no identity-based policy allows the secretsmanager:GetSecretValue action"
    )
    denied(reader.put_secret_value, SecretId=secrets["alphavox"], SecretString="overwritten")
    denied(reader.list_secrets)
    denied(reader.create_secret, Name="alphavox/new", SecretString="x")
    # A secret it may not read does not tell it whether the secret exists.
    denied(reader.get_secret_value, SecretId=f"billing/missing-{uuid.uuid4()}")
    assert reader.get_secret_value(SecretId=secrets["alphavox"])["SecretString"] != "overwritten"


def test_a_role_assumed_with_an_external_id_gets_exactly_its_policy(dev_server, iam, secrets):
    role = f"alphavox-reader-{uuid.uuid4().hex[:8]}"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "alphavox-2026"}},
        }
    )
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="read",
        PolicyDocument=policy(allow("secretsmanager:GetSecretValue", ALPHAVOX)),
    )
    _, key = new_user(iam, allow("sts:AssumeRole", role_arn))
    sts = client_as(dev_server, "sts", key)
    for external_id in (None, "wrong"):
        params = {"RoleArn": role_arn, "RoleSessionName": "s1"}
        params |= {"ExternalId": external_id} if external_id else {}
        denied(sts.assume_role, "AccessDenied", **params)
    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", ExternalId="alphavox-2026")
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    identity = client_as(dev_server, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1"
    assert identity["Arn"] == assumed["AssumedRoleUser"]["Arn"]
    session = client_as(dev_server, "secretsmanager", credentials)
    assert session.get_secret_value(SecretId=secrets["alphavox"])["SecretString"]
    message = denied(session.get_secret_value, SecretId=secrets["other"])
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1" in message
    denied(session.delete_secret, SecretId=secrets["alphavox"])
    # The role's policy is read at each call: taking it away takes the access away at once.
    iam.delete_role_policy(RoleName=role, PolicyName="read")
    denied(session.get_secret_value, SecretId=secrets["alphavox"])


def test_a_session_policy_narrows_the_role(dev_server, iam, secrets):
    role = f"narrowed-{uuid.uuid4().hex[:8]}"
    trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "*"}
    )
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role, PolicyName="all", PolicyDocument=policy(allow("secretsmanager:*"))
    )
    credentials = dev_server.client("sts").assume_role(
        RoleArn=role_arn,
        RoleSessionName="narrow",
        Policy=policy(allow("secretsmanager:DescribeSecret")),
    )["Credentials"]
    session = client_as(dev_server, "secretsmanager", credentials)
    assert session.describe_secret(SecretId=secrets["other"])["Name"] == secrets["other"]
    message = denied(session.get_secret_value, SecretId=secrets["other"])
    assert message.endswith(
        "because no session policy allows the secretsmanager:GetSecretValue action"
    )


def test_an_mfa_policy_denies_until_get_session_token_with_a_valid_code(dev_server, iam, secrets):
    name, key = new_user(
        iam,
        allow(
            "secretsmanager:GetSecretValue",
            ALPHAVOX,
            Bool={"aws:MultiFactorAuthPresent": "true"},
        ),
    )
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{name}-mfa")["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"]
    now = time.time()
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, now - 30),
        AuthenticationCode2=totp(seed, now),
    )
    long_term = client_as(dev_server, "secretsmanager", key)
    denied(long_term.get_secret_value, SecretId=secrets["alphavox"])
    sts = client_as(dev_server, "sts", key)
    denied(
        sts.get_session_token,
        "AccessDenied",
        SerialNumber=serial,
        TokenCode=f"{(int(totp(seed, time.time() + 90)) + 1) % 1_000_000:06d}",
    )
    without_mfa = sts.get_session_token()["Credentials"]
    denied(
        client_as(dev_server, "secretsmanager", without_mfa).get_secret_value,
        SecretId=secrets["alphavox"],
    )
    time.sleep(max(0.0, 30 - time.time() % 30) + 0.5)  # a code the device has not used yet
    with_mfa = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, time.time()))
    session = client_as(dev_server, "secretsmanager", with_mfa["Credentials"])
    assert session.get_secret_value(SecretId=secrets["alphavox"])["SecretString"]
    denied(session.get_secret_value, SecretId=secrets["other"])


def test_a_key_policy_that_does_not_trust_iam_blocks_an_iam_allow(dev_server, iam):
    kms = dev_server.client("kms")
    _, key = new_user(iam, allow(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]))
    user_kms = client_as(dev_server, "kms", key)
    trusting = kms.create_key()["KeyMetadata"]["Arn"]  # the default policy delegates to IAM
    blob = user_kms.encrypt(KeyId=trusting, Plaintext=b"phi")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"phi"
    admin_only = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    untrusting = kms.create_key(Policy=admin_only)["KeyMetadata"]["Arn"]
    message = denied(user_kms.encrypt, KeyId=untrusting, Plaintext=b"phi")
    assert message.endswith("because no resource-based policy allows the kms:Encrypt action")
    assert kms.encrypt(KeyId=untrusting, Plaintext=b"phi")["KeyId"] == untrusting


def test_expired_session_credentials_are_refused(own_dev_server):
    sts = own_dev_server.client("sts")
    credentials = sts.get_session_token(DurationSeconds=900)["Credentials"]
    session = client_as(own_dev_server, "secretsmanager", credentials)
    session.list_secrets()
    assert post(own_dev_server, "/_strongroom/dev/clock", {"advance_seconds": 901})[0] == 200
    message = denied(session.list_secrets, "ExpiredTokenException")
    assert message == "The security token included in the request is expired"
    denied(client_as(own_dev_server, "iam", credentials).list_users, "ExpiredToken")


def test_a_forged_or_altered_session_token_is_refused(dev_server):
    credentials = dev_server.client("sts").get_session_token()["Credentials"]
    token = credentials["SessionToken"]
    altered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    for bad in ({"SessionToken": altered}, {"AccessKeyId": "ASIA" + "A" * 16}):
        forged = client_as(dev_server, "secretsmanager", credentials | bad)
        denied(forged.list_secrets, "UnrecognizedClientException")


def team_tag(team: str) -> dict[str, str]:
    return {"Key": "team", "Value": team}


def test_attribute_based_access_matches_principal_and_resource_tags(dev_server, iam, sm):
    """AWS's ABAC example: a user reads the secrets tagged with its own team."""
    same_team = allow(
        "secretsmanager:GetSecretValue",
        StringEquals={"secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}"},
    )
    name, key = new_user(iam, same_team)
    iam.tag_user(UserName=name, Tags=[team_tag("cardiology")])
    tag = uuid.uuid4().hex[:8]
    ours, theirs = f"abac/ours-{tag}", f"abac/theirs-{tag}"
    sm.create_secret(Name=ours, SecretString="ours", Tags=[{"Key": "team", "Value": "cardiology"}])
    sm.create_secret(
        Name=theirs, SecretString="theirs", Tags=[{"Key": "team", "Value": "oncology"}]
    )
    reader = client_as(dev_server, "secretsmanager", key)
    assert reader.get_secret_value(SecretId=ours)["SecretString"] == "ours"
    denied(reader.get_secret_value, SecretId=theirs)
    # Tags are read at every call: moving the secret to the team opens it at once.
    sm.tag_resource(SecretId=theirs, Tags=[team_tag("cardiology")])
    assert reader.get_secret_value(SecretId=theirs)["SecretString"] == "theirs"
    iam.tag_user(UserName=name, Tags=[team_tag("oncology")])
    denied(reader.get_secret_value, SecretId=ours)
