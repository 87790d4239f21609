"""Bad IAM requests through a real server, on SQLite and PostgreSQL: malformed policy
documents get MalformedPolicyDocument with IAM's message, documents over IAM's size quotas
LimitExceeded, names and values outside the model's constraints ValidationError, values of the
wrong type the query codec's errors, unknown entities NoSuchEntity; and none of them changes
anything."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.audit import raw_call
from tests.support.kms import aws_error
from tests.support.server import Server

ACCOUNT = "123456789012"
MALFORMED = "MalformedPolicyDocument"
VALIDATION = "ValidationError"
NOT_FOUND = "NoSuchEntity"
LIMIT = "LimitExceeded"


def unique(prefix: str = "bad") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def document(*statements: dict[str, Any], **top: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements), **top})


ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
TRUST = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"}

# (document, IAM's message) for identity-based policies (managed and inline).
IDENTITY_CASES = [
    ("{", "Syntax errors in policy."),
    ("[]", "Syntax errors in policy."),
    ('{"Version": "2012-10-17", "Statement": []}', "Syntax errors in policy."),
    ('{"Version": "2012-10-17"}', "Missing required field Statement"),
    (document(ALLOW, Foo=1), "Policy document contains unknown field Foo."),
    (
        json.dumps({"Version": "2020-01-01", "Statement": [ALLOW]}),
        "The policy failed legacy parsing",
    ),
    (document({**ALLOW, "Effect": "Maybe"}), "Invalid effect: Maybe"),
    (document({k: v for k, v in ALLOW.items() if k != "Effect"}), "Missing required field Effect"),
    (
        document({**ALLOW, "Principal": "*"}),
        "Policy document should not specify a principal.",
    ),
    (
        document({**ALLOW, "Action": "GetObject"}),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (document({**ALLOW, "Sid": "a-b"}), "Statement IDs (SID) must be alpha-numeric."),
    (
        document({**ALLOW, "Condition": {"StringEqualz": {"aws:username": "x"}}}),
        "Invalid Condition type : StringEqualz",
    ),
]
TRUST_CASES = [
    ("{", "Syntax errors in policy."),
    (document({**TRUST, "Resource": "*"}), "Has prohibited field Resource"),
    (
        document({k: v for k, v in TRUST.items() if k != "Principal"}),
        "Missing required field Principal",
    ),
    (
        document({**TRUST, "Action": "s3:*"}),
        "AssumeRole policy may only specify STS AssumeRole actions.",
    ),
]


@pytest.fixture(scope="module")
def iam(dev_server):
    return dev_server.client("iam")


@pytest.fixture(scope="module")
def raw_iam(dev_server):
    """A client that sends what boto3's own parameter validation would refuse to send."""
    return dev_server.client(
        "iam", config=Config(parameter_validation=False, retries={"max_attempts": 1})
    )


@pytest.fixture(scope="module")
def world(iam) -> dict[str, str]:
    """One of each entity, for requests to name."""
    names = {kind: unique(kind) for kind in ("user", "group", "role")}
    iam.create_user(UserName=names["user"])
    iam.create_group(GroupName=names["group"])
    iam.create_role(RoleName=names["role"], AssumeRolePolicyDocument=document(TRUST))
    names["policy"] = iam.create_policy(
        PolicyName=unique("policy"), PolicyDocument=document(ALLOW)
    )["Policy"]["Arn"]
    return names


def state(iam: Any, world: dict[str, str]) -> dict[str, Any]:
    """Everything a bad request could have changed."""

    def listed(call: Callable[..., dict[str, Any]], member: str, **params: Any) -> list[Any]:
        return call(MaxItems=1000, **params)[member]

    return {
        "users": listed(iam.list_users, "Users"),
        "groups": listed(iam.list_groups, "Groups"),
        "roles": listed(iam.list_roles, "Roles"),
        "policies": listed(iam.list_policies, "Policies", Scope="Local"),
        "versions": listed(iam.list_policy_versions, "Versions", PolicyArn=world["policy"]),
        "summary": iam.get_account_summary()["SummaryMap"],
        "mfa": listed(iam.list_virtual_mfa_devices, "VirtualMFADevices"),
        **{
            f"{kind} inline": listed(
                getattr(iam, f"list_{kind}_policies"),
                "PolicyNames",
                **{f"{kind.capitalize()}Name": world[kind]},
            )
            for kind in ("user", "group", "role")
        },
        "user tags": listed(iam.list_user_tags, "Tags", UserName=world["user"]),
        "user keys": listed(iam.list_access_keys, "AccessKeyMetadata", UserName=world["user"]),
        "trust": iam.get_role(RoleName=world["role"])["Role"]["AssumeRolePolicyDocument"],
    }


@pytest.fixture
def unchanged(iam, world) -> Iterator[None]:
    before = state(iam, world)
    yield
    assert state(iam, world) == before


@contextmanager
def refused(code: str, status: int, message: str | None = None) -> Iterator[None]:
    with aws_error(code, status, message):
        yield


def identity_calls(iam: Any, world: dict[str, str]) -> dict[str, Callable[[str], Any]]:
    return {
        "CreatePolicy": lambda d: iam.create_policy(PolicyName=unique("p"), PolicyDocument=d),
        "CreatePolicyVersion": lambda d: iam.create_policy_version(
            PolicyArn=world["policy"], PolicyDocument=d
        ),
        "PutUserPolicy": lambda d: iam.put_user_policy(
            UserName=world["user"], PolicyName="p", PolicyDocument=d
        ),
        "PutGroupPolicy": lambda d: iam.put_group_policy(
            GroupName=world["group"], PolicyName="p", PolicyDocument=d
        ),
        "PutRolePolicy": lambda d: iam.put_role_policy(
            RoleName=world["role"], PolicyName="p", PolicyDocument=d
        ),
    }


def trust_calls(iam: Any, world: dict[str, str]) -> dict[str, Callable[[str], Any]]:
    return {
        "CreateRole": lambda d: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=d),
        "UpdateAssumeRolePolicy": lambda d: iam.update_assume_role_policy(
            RoleName=world["role"], PolicyDocument=d
        ),
    }


@pytest.mark.parametrize(("text", "message"), IDENTITY_CASES)
def test_malformed_identity_policies(iam, world, unchanged, text, message):
    for call in identity_calls(iam, world).values():
        with refused(MALFORMED, 400, message):
            call(text)


@pytest.mark.parametrize(("text", "message"), TRUST_CASES)
def test_malformed_trust_policies(iam, world, unchanged, text, message):
    for call in trust_calls(iam, world).values():
        with refused(MALFORMED, 400, message):
            call(text)


def padded(size: int) -> str:
    """A valid identity policy of `size` characters, white space not counted."""
    base = document({**ALLOW, "Sid": ""})
    return base.replace('"Sid": ""', '"Sid": "' + "a" * (size - len(base.replace(" ", ""))) + '"')


def test_documents_over_the_size_quotas(iam, world, unchanged):
    assert len(padded(6145).replace(" ", "")) == 6145
    calls = identity_calls(iam, world)
    for operation in ("CreatePolicy", "CreatePolicyVersion"):
        with refused(LIMIT, 409, "Cannot exceed quota for PolicySize: 6144"):
            calls[operation](padded(6145))
    for kind, quota in (("user", 2048), ("group", 5120), ("role", 10240)):
        message = f"Maximum policy size of {quota} bytes exceeded for {kind} {world[kind]}"
        with refused(LIMIT, 409, message):
            calls[f"Put{kind.capitalize()}Policy"](padded(quota + 1))
    big_trust = document({**TRUST, "Sid": "a" * 2100})
    for call in trust_calls(iam, world).values():
        with refused(LIMIT, 409, "Cannot exceed quota for ACLSizePerRole: 2048"):
            call(big_trust)
    # Beyond the model's 131,072 characters: the request itself is invalid.
    with refused(VALIDATION, 400):
        calls["CreatePolicy"](document(ALLOW) + " " * 131_072)


def test_white_space_does_not_count(iam, world):
    spacious = padded(6000).replace(",", "," + " " * 600)
    assert len(spacious) > 6144
    arn = iam.create_policy(PolicyName=unique("spacious"), PolicyDocument=spacious)["Policy"]["Arn"]
    iam.delete_policy(PolicyArn=arn)


@pytest.mark.parametrize(
    ("call", "params"),
    [
        ("create_user", {"UserName": "bad name"}),
        ("create_user", {"UserName": "a" * 65}),
        ("create_user", {"UserName": "ünïcode"}),
        ("create_user", {"UserName": "ok", "Path": "no-slashes"}),
        ("create_user", {"UserName": "ok", "Tags": [{"Key": "bad*key", "Value": "v"}]}),
        ("create_group", {"GroupName": "semi;colon"}),
        ("create_role", {"RoleName": "r" * 65, "AssumeRolePolicyDocument": document(TRUST)}),
        (
            "create_role",
            {
                "RoleName": "ok",
                "AssumeRolePolicyDocument": document(TRUST),
                "MaxSessionDuration": 3599,
            },
        ),
        (
            "create_role",
            {
                "RoleName": "ok",
                "AssumeRolePolicyDocument": document(TRUST),
                "MaxSessionDuration": 43201,
            },
        ),
        ("create_policy", {"PolicyName": "ok", "PolicyDocument": document(ALLOW), "Path": "/a b/"}),
        ("create_policy", {"PolicyName": "ok", "PolicyDocument": "\u2603" + document(ALLOW)}),
        ("list_users", {"MaxItems": 0}),
        ("list_users", {"MaxItems": 1001}),
        ("list_policies", {"Scope": "Everything"}),
        ("get_policy", {"PolicyArn": "arn:too:short"}),
        (
            "get_policy_version",
            {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/p", "VersionId": "x1"},
        ),
        ("update_access_key", {"AccessKeyId": "short", "Status": "Active"}),
        ("update_access_key", {"AccessKeyId": "A" * 20, "Status": "Sleeping"}),
        (
            "enable_mfa_device",
            {
                "UserName": "u",
                "SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/x",
                "AuthenticationCode1": "12345",
                "AuthenticationCode2": "123456",
            },
        ),
        ("create_virtual_mfa_device", {"VirtualMFADeviceName": "has space"}),
    ],
)
def test_values_outside_the_model(raw_iam, world, unchanged, call, params):
    with pytest.raises(ClientError) as error:
        getattr(raw_iam, call)(**params)
    response = error.value.response
    assert response["Error"]["Code"] == VALIDATION, response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"].startswith("1 validation error detected: Value ")


def query_call(server: Server, form: dict[str, str]) -> tuple[int, str, str]:
    """A signed awsQuery request of exactly these fields: (status, error code, message)."""
    body = urlencode(form).encode()
    reply = raw_call(
        server, None, body, signing_name="iam", content_type="application/x-www-form-urlencoded"
    )
    text = reply.body.decode()
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return reply.status, code[1] if code else "", html.unescape(message[1]) if message else ""


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"Action": "ListUsers", "MaxItems": "many"}, ("MalformedInput", "")),
        ({"Action": "ListUsers", "MaxItems": "1.5"}, ("MalformedInput", "")),
        ({"Action": "ListUsers", "MaxItems": "99999999999999999999999"}, ("MalformedInput", "")),
        (
            {
                "Action": "CreatePolicyVersion",
                "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/p",
                "PolicyDocument": document(ALLOW),
                "SetAsDefault": "maybe",
            },
            ("MalformedInput", "boolean must follow xsd1.1 definition"),
        ),
        (
            {"Action": "CreateUser", "UserName": "ok", "Tags.member.1.Key": "k"},
            (VALIDATION, None),
        ),
        (
            {"Action": "Frobnicate"},
            ("InvalidAction", "Could not find operation Frobnicate for version 2010-05-08"),
        ),
    ],
)
def test_values_of_the_wrong_type(dev_server, world, unchanged, form, expected):
    status, code, message = query_call(dev_server, {"Version": "2010-05-08", **form})
    assert (status, code) == (400, expected[0])
    if expected[1] is not None:
        assert message == expected[1]


def test_values_storage_could_not_hold(iam, world, unchanged):
    with refused(VALIDATION, 400):
        iam.create_virtual_mfa_device(VirtualMFADeviceName="d" * 227)
    with refused("InvalidInput", 400):
        iam.create_virtual_mfa_device(VirtualMFADeviceName="d" * 226, Path="/" + "p" * 100 + "/")
    with refused("InvalidInput", 400):
        iam.create_policy(
            PolicyName=unique("p"), PolicyDocument=document(ALLOW), Description="a\x00b"
        )


def test_invalid_policy_arns(iam, world, unchanged):
    for arn in (
        f"arn:aws:iam::{ACCOUNT}:user/{world['user']}",
        "arn:aws:s3:::some-bucket-name",
        f"arn:aws:iam::{ACCOUNT}:policy/",
    ):
        with refused("InvalidInput", 400, f"ARN {arn} is not valid."):
            iam.get_policy(PolicyArn=arn)
        with refused("InvalidInput", 400, f"ARN {arn} is not valid."):
            iam.attach_user_policy(UserName=world["user"], PolicyArn=arn)


def test_markers_from_elsewhere_are_refused(iam, world, unchanged):
    page = iam.list_policies(Scope="AWS", MaxItems=1)
    assert page["IsTruncated"]
    with refused("InvalidInput", 400):
        iam.list_users(Marker=page["Marker"])  # a ListPolicies marker
    with refused("InvalidInput", 400):
        iam.list_roles(Marker="%%%")


def test_unknown_entities(iam, world, unchanged):
    ghost = unique("ghost")
    policy = f"arn:aws:iam::{ACCOUNT}:policy/{ghost}"
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/{ghost}"
    cases: list[tuple[Callable[[], Any], str | None]] = [
        (lambda: iam.get_user(UserName=ghost), f"The user with name {ghost} cannot be found."),
        (lambda: iam.delete_user(UserName=ghost), f"The user with name {ghost} cannot be found."),
        (lambda: iam.get_group(GroupName=ghost), f"The group with name {ghost} cannot be found."),
        (lambda: iam.get_role(RoleName=ghost), f"The role with name {ghost} cannot be found."),
        (
            lambda: iam.add_user_to_group(GroupName=world["group"], UserName=ghost),
            f"The user with name {ghost} cannot be found.",
        ),
        (
            lambda: iam.add_user_to_group(GroupName=ghost, UserName=world["user"]),
            f"The group with name {ghost} cannot be found.",
        ),
        (lambda: iam.get_policy(PolicyArn=policy), f"Policy {policy} was not found."),
        (lambda: iam.delete_policy(PolicyArn=policy), f"Policy {policy} was not found."),
        (
            lambda: iam.attach_role_policy(RoleName=world["role"], PolicyArn=policy),
            f"Policy {policy} does not exist or is not attachable.",
        ),
        (
            lambda: iam.get_policy_version(PolicyArn=world["policy"], VersionId="v9"),
            f"Policy {world['policy']} version v9 does not exist or is not attachable.",
        ),
        (
            lambda: iam.get_user_policy(UserName=world["user"], PolicyName="none"),
            "The user policy with name none cannot be found.",
        ),
        (
            lambda: iam.put_user_policy(
                UserName=ghost, PolicyName="p", PolicyDocument=document(ALLOW)
            ),
            f"The user with name {ghost} cannot be found.",
        ),
        (
            lambda: iam.update_access_key(
                UserName=world["user"], AccessKeyId="AKIA" + "Z" * 16, Status="Inactive"
            ),
            f"The Access Key with id AKIA{'Z' * 16} cannot be found.",
        ),
        (lambda: iam.get_access_key_last_used(AccessKeyId="AKIA" + "Z" * 16), None),
        (
            lambda: iam.enable_mfa_device(
                UserName=world["user"],
                SerialNumber=serial,
                AuthenticationCode1="123456",
                AuthenticationCode2="234567",
            ),
            None,
        ),
        (lambda: iam.delete_virtual_mfa_device(SerialNumber=serial), None),
        (lambda: iam.list_attached_group_policies(GroupName=ghost), None),
        (lambda: iam.list_entities_for_policy(PolicyArn=policy), None),
    ]
    for call, message in cases:
        with refused(NOT_FOUND, 404, message):
            call()
