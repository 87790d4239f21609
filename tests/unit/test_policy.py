"""Tests for strongroom.iam.policy (the IAM JSON policy grammar) and strongroom.iam.public.

Valid documents are taken from the AWS documentation (Secrets Manager resource policies, the
KMS default key policy, identity policies from the IAM policy reference); each grammar fault has
its own case; Hypothesis checks that `parse` only ever fails with `MalformedPolicy` and that any
policy built from the grammar parses back to exactly what it was built from.
"""

from __future__ import annotations

import json
import string
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.iam.policy import (
    PRINCIPAL_TYPES,
    VERSIONS,
    MalformedPolicy,
    Policy,
    PolicyKind,
    Principals,
    Statement,
    operator_name,
    parse,
)
from strongroom.iam.public import RESTRICTING_KEYS, grants_public_access

IDENTITY = PolicyKind.IDENTITY
RESOURCE = PolicyKind.RESOURCE

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/MyRole"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:MySecret-a1b2c3"

# Every base operator of the IAM condition operator reference, by family.
STRING_OPERATORS = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
)
NUMERIC_OPERATORS = (
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
)
DATE_OPERATORS = (
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
)
ARN_OPERATORS = ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")
OTHER_OPERATORS = ("Bool", "BinaryEquals", "IpAddress", "NotIpAddress")
BASE_OPERATORS = (
    STRING_OPERATORS + NUMERIC_OPERATORS + DATE_OPERATORS + ARN_OPERATORS + OTHER_OPERATORS
)
ALL_BASE_OPERATORS = (*BASE_OPERATORS, "Null")


_DROP = object()


def statement(**fields: Any) -> dict[str, Any]:
    """A minimal valid identity statement, with fields overridden (or dropped with `_DROP`)."""
    raw: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    raw.update(fields)
    return {key: value for key, value in raw.items() if value is not _DROP}


def resource_statement(**fields: Any) -> dict[str, Any]:
    return statement(**{"Principal": {"AWS": ROLE}, **fields})


def document(*statements: dict[str, Any], **top: Any) -> str:
    tree: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements)}
    tree.update(top)
    return json.dumps({key: value for key, value in tree.items() if value is not _DROP})


def malformed(doc: str, kind: PolicyKind) -> str:
    with pytest.raises(MalformedPolicy) as info:
        parse(doc, kind)
    assert str(info.value) == info.value.message
    assert isinstance(info.value, ValueError)
    return info.value.message


def only_statement(doc: str, kind: PolicyKind) -> Statement:
    policy = parse(doc, kind)
    assert len(policy.statements) == 1
    return policy.statements[0]


def conditions_of(condition: dict[str, Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    return only_statement(document(statement(Condition=condition)), IDENTITY).condition


# --------------------------------------------------------------------------------------------
# Valid documents from the AWS documentation
# --------------------------------------------------------------------------------------------


def test_secretsmanager_resource_policy_for_a_role() -> None:
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:role/MyRole"},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                }
            ],
        }
    )
    assert parse(doc, RESOURCE) == Policy(
        version="2012-10-17",
        id=None,
        statements=(
            Statement(
                sid=None,
                effect="Allow",
                principal={"AWS": ("arn:aws:iam::123456789012:role/MyRole",)},
                not_principal=None,
                action=("secretsmanager:GetSecretValue",),
                not_action=None,
                resource=("*",),
                not_resource=None,
                condition={},
            ),
        ),
    )


def test_secretsmanager_deny_outside_vpc_endpoint() -> None:
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "RestrictGetSecretValueoperation",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1234a5678b9012c"}},
                }
            ],
        }
    )
    policy = parse(doc, RESOURCE)
    (stmt,) = policy.statements
    assert stmt.sid == "RestrictGetSecretValueoperation"
    assert stmt.effect == "Deny"
    assert stmt.principal == {"AWS": ("*",)}
    assert stmt.condition == {"StringNotEquals": {"aws:sourceVpce": ("vpce-1234a5678b9012c",)}}
    assert not grants_public_access(policy)


def test_secretsmanager_cross_account_and_service_examples() -> None:
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OrgAccess",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]},
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:Describe*"],
                    "Resource": SECRET_ARN,
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}},
                },
                {
                    "Sid": "ServiceAccess",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": "111122223333"},
                        "ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"},
                    },
                },
                {
                    "Sid": "DenyUnlessTagged",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "secretsmanager:*",
                    "Resource": "*",
                    "Condition": {
                        "StringNotEquals": {"secretsmanager:ResourceTag/Environment": "prod"}
                    },
                },
            ],
        }
    )
    first, second, third = parse(doc, RESOURCE).statements
    assert first.principal == {"AWS": ("arn:aws:iam::111122223333:root", "444455556666")}
    assert first.action == ("secretsmanager:GetSecretValue", "secretsmanager:Describe*")
    assert first.resource == (SECRET_ARN,)
    assert second.principal == {"Service": ("cloudtrail.amazonaws.com",)}
    assert second.condition == {
        "StringEquals": {"aws:SourceAccount": ("111122223333",)},
        "ArnLike": {"aws:SourceArn": ("arn:aws:cloudtrail:*:111122223333:trail/*",)},
    }
    assert third.principal == {"AWS": ("*",)}


KMS_DEFAULT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Id": "key-default-1",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}

KMS_CONSOLE_KEY_POLICY = {
    "Id": "key-consolepolicy-3",
    "Version": "2012-10-17",
    "Statement": [
        *KMS_DEFAULT_KEY_POLICY["Statement"],
        {
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/KMSAdminRole"},
            "Action": [
                "kms:Create*",
                "kms:Describe*",
                "kms:Enable*",
                "kms:List*",
                "kms:Put*",
                "kms:Update*",
                "kms:Revoke*",
                "kms:Disable*",
                "kms:Get*",
                "kms:Delete*",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CancelKeyDeletion",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleRole"},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Allow attachment of persistent resources",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleRole"},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
        },
    ],
}


def test_kms_default_key_policy() -> None:
    policy = parse(json.dumps(KMS_DEFAULT_KEY_POLICY), RESOURCE)
    assert policy.version == "2012-10-17"
    assert policy.id == "key-default-1"
    (stmt,) = policy.statements
    assert stmt.sid == "Enable IAM User Permissions"  # KMS Sids contain spaces
    assert stmt.principal == {"AWS": ("arn:aws:iam::111122223333:root",)}
    assert stmt.action == ("kms:*",)
    assert stmt.resource == ("*",)
    assert stmt.condition == {}
    assert not grants_public_access(policy)


def test_kms_console_key_policy_with_json_boolean_condition() -> None:
    policy = parse(json.dumps(KMS_CONSOLE_KEY_POLICY), RESOURCE)
    assert policy.id == "key-consolepolicy-3"
    assert [s.sid for s in policy.statements] == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
        "Allow use of the key",
        "Allow attachment of persistent resources",
    ]
    assert len(policy.statements[1].action or ()) == 14
    assert policy.statements[3].condition == {"Bool": {"kms:GrantIsForAWSResource": ("true",)}}
    assert not grants_public_access(policy)


def test_identity_policy_with_not_action() -> None:
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "sts:*"],
                    "Resource": "*",
                    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                },
            ],
        }
    )
    allow, deny = parse(doc, IDENTITY).statements
    assert allow.action is None
    assert allow.not_action == ("iam:*",)
    assert allow.principal is None and allow.not_principal is None
    assert deny.not_action == ("iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "sts:*")
    assert deny.condition == {"BoolIfExists": {"aws:MultiFactorAuthPresent": ("false",)}}


def test_identity_policy_with_not_resource() -> None:
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "Action": "s3:*",
                "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
            },
        }
    )
    stmt = only_statement(doc, IDENTITY)
    assert stmt.resource is None
    assert stmt.not_resource == ("arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*")


def test_statement_may_be_a_single_object() -> None:
    single = json.dumps({"Version": "2012-10-17", "Statement": statement(Sid="One")})
    listed = json.dumps({"Version": "2012-10-17", "Statement": [statement(Sid="One")]})
    assert parse(single, IDENTITY) == parse(listed, IDENTITY)


def test_single_strings_and_lists_both_become_tuples() -> None:
    single = only_statement(document(statement(Action="s3:GetObject", Resource="*")), IDENTITY)
    listed = only_statement(document(statement(Action=["s3:GetObject"], Resource=["*"])), IDENTITY)
    assert single == listed
    assert single.action == ("s3:GetObject",)
    assert single.resource == ("*",)


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_wildcard_principal_normalises_to_aws_star(principal: object) -> None:
    stmt = only_statement(document(statement(Principal=principal)), RESOURCE)
    assert stmt.principal == {"AWS": ("*",)}
    assert stmt.not_principal is None


def test_not_principal_is_normalised_too() -> None:
    stmt = only_statement(document(statement(NotPrincipal="*")), RESOURCE)
    assert stmt.principal is None
    assert stmt.not_principal == {"AWS": ("*",)}
    stmt = only_statement(
        document(statement(NotPrincipal={"AWS": [ROLE, ACCOUNT]}, Effect="Deny")), RESOURCE
    )
    assert stmt.not_principal == {"AWS": (ROLE, ACCOUNT)}


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ({"AWS": ACCOUNT}, {"AWS": (ACCOUNT,)}),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"AWS": (f"arn:aws:iam::{ACCOUNT}:root",)}),
        (
            {"AWS": f"arn:aws:iam::{ACCOUNT}:user/Bob"},
            {"AWS": (f"arn:aws:iam::{ACCOUNT}:user/Bob",)},
        ),
        (
            {"AWS": f"arn:aws:iam::{ACCOUNT}:role/path/to/Role"},
            {"AWS": (f"arn:aws:iam::{ACCOUNT}:role/path/to/Role",)},
        ),
        (
            {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/Role/session"},
            {"AWS": (f"arn:aws:sts::{ACCOUNT}:assumed-role/Role/session",)},
        ),
        (
            {"AWS": f"arn:aws:sts::{ACCOUNT}:federated-user/Bob"},
            {"AWS": (f"arn:aws:sts::{ACCOUNT}:federated-user/Bob",)},
        ),
        (
            {"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"},
            {"AWS": (f"arn:aws-cn:iam::{ACCOUNT}:root",)},
        ),
        (
            {"AWS": f"arn:aws-us-gov:iam::{ACCOUNT}:root"},
            {"AWS": (f"arn:aws-us-gov:iam::{ACCOUNT}:root",)},
        ),
        ({"Service": "kms.amazonaws.com"}, {"Service": ("kms.amazonaws.com",)}),
        (
            {"Service": "logs.us-east-1.amazonaws.com"},
            {"Service": ("logs.us-east-1.amazonaws.com",)},
        ),
        ({"Service": "ec2.amazonaws.com.cn"}, {"Service": ("ec2.amazonaws.com.cn",)}),
        (
            {"Federated": "cognito-identity.amazonaws.com"},
            {"Federated": ("cognito-identity.amazonaws.com",)},
        ),
        (
            {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/ExampleProvider"},
            {"Federated": (f"arn:aws:iam::{ACCOUNT}:saml-provider/ExampleProvider",)},
        ),
        ({"CanonicalUser": "79a5" * 16}, {"CanonicalUser": ("79a5" * 16,)}),
        (
            {"AWS": [ACCOUNT, ROLE], "Service": ["kms.amazonaws.com", "s3.amazonaws.com"]},
            {"AWS": (ACCOUNT, ROLE), "Service": ("kms.amazonaws.com", "s3.amazonaws.com")},
        ),
    ],
)
def test_principal_forms(principal: dict[str, Any], expected: Principals) -> None:
    assert only_statement(document(statement(Principal=principal)), RESOURCE).principal == expected


def test_condition_operators_of_every_family() -> None:
    condition = {
        "StringEquals": {"aws:PrincipalTag/team": "red"},
        "StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
        "StringEqualsIgnoreCase": {"aws:PrincipalTag/dept": "HR"},
        "StringNotEqualsIgnoreCase": {"aws:PrincipalTag/dept": "it"},
        "StringLike": {"s3:prefix": ["home/", "home/${aws:username}/*"]},
        "StringNotLike": {"aws:userid": "AROA*:bob"},
        "NumericEquals": {"s3:max-keys": 10},
        "NumericNotEquals": {"s3:max-keys": "11"},
        "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
        "NumericLessThanEquals": {"s3:max-keys": "10"},
        "NumericGreaterThan": {"secretsmanager:RecoveryWindowInDays": 7},
        "NumericGreaterThanEquals": {"kms:ExpirationModel": 1.5},
        "DateEquals": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
        "DateNotEquals": {"aws:TokenIssueTime": "2020-01-01"},
        "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
        "DateLessThanEquals": {"aws:EpochTime": 1593561599},
        "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
        "DateGreaterThanEquals": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"},
        "Bool": {"aws:SecureTransport": False},
        "BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        "IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]},
        "NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"},
        "ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"},
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket/*"},
        "ArnNotEquals": {"aws:PrincipalArn": ROLE},
        "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin*"},
        "Null": {"aws:TokenIssueTime": "true"},
    }
    assert set(condition) == set(ALL_BASE_OPERATORS)
    parsed = conditions_of(condition)
    assert parsed["StringNotEquals"] == {"aws:RequestedRegion": ("us-east-1", "eu-west-1")}
    assert parsed["StringLike"] == {"s3:prefix": ("home/", "home/${aws:username}/*")}
    assert parsed["NumericEquals"] == {"s3:max-keys": ("10",)}
    assert parsed["NumericNotEquals"] == {"s3:max-keys": ("11",)}
    assert parsed["NumericGreaterThanEquals"] == {"kms:ExpirationModel": ("1.5",)}
    assert parsed["DateLessThanEquals"] == {"aws:EpochTime": ("1593561599",)}
    assert parsed["Bool"] == {"aws:SecureTransport": ("false",)}
    assert parsed["Null"] == {"aws:TokenIssueTime": ("true",)}
    assert parsed["IpAddress"] == {"aws:SourceIp": ("192.0.2.0/24", "2001:DB8:1234:5678::/64")}
    for block in parsed.values():
        for values in block.values():
            assert isinstance(values, tuple)
            assert all(isinstance(value, str) for value in values)


@pytest.mark.parametrize("base", BASE_OPERATORS)
def test_every_operator_takes_if_exists(base: str) -> None:
    assert conditions_of({f"{base}IfExists": {"aws:Key": "v"}}) == {
        f"{base}IfExists": {"aws:Key": ("v",)}
    }


@pytest.mark.parametrize("qualifier", ["ForAnyValue:", "ForAllValues:"])
@pytest.mark.parametrize("base", ["StringEquals", "StringLike", "StringNotEqualsIgnoreCase"])
@pytest.mark.parametrize("suffix", ["", "IfExists"])
def test_set_operators(qualifier: str, base: str, suffix: str) -> None:
    operator = f"{qualifier}{base}{suffix}"
    parsed = conditions_of({operator: {"aws:TagKeys": ["environment", "cost-center"]}})
    assert parsed == {operator: {"aws:TagKeys": ("environment", "cost-center")}}


def test_conditions_keep_operator_spelling_and_all_keys() -> None:
    condition = {
        "ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]},
        "StringEquals": {"aws:RequestTag/env": "prod", "aws:ResourceTag/env": "prod"},
    }
    assert conditions_of(condition) == {
        "ForAllValues:StringEquals": {"aws:TagKeys": ("a", "b")},
        "StringEquals": {"aws:RequestTag/env": ("prod",), "aws:ResourceTag/env": ("prod",)},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, ("true",)),
        (False, ("false",)),
        ([True, "false"], ("true", "false")),
        (0, ("0",)),
        (-7, ("-7",)),
        (2.5, ("2.5",)),
        ("text", ("text",)),
        ([1, "2", True], ("1", "2", "true")),
    ],
)
def test_condition_values_become_strings(value: object, expected: tuple[str, ...]) -> None:
    assert conditions_of({"Bool": {"aws:Key": value}}) == {"Bool": {"aws:Key": expected}}


@pytest.mark.parametrize(
    ("operator", "base"),
    [
        ("StringEquals", "StringEquals"),
        ("StringEqualsIfExists", "StringEquals"),
        ("ForAnyValue:StringLike", "StringLike"),
        ("ForAllValues:StringLikeIfExists", "StringLike"),
        ("ForAnyValue:ArnNotLikeIfExists", "ArnNotLike"),
        ("Null", "Null"),
        ("BoolIfExists", "Bool"),
        ("Bogus", "Bogus"),
    ],
)
def test_operator_name(operator: str, base: str) -> None:
    assert operator_name(operator) == base


def test_version_is_optional_and_defaults_to_2008() -> None:
    policy = parse(document(statement(), Version=_DROP), IDENTITY)
    assert policy.version == "2008-10-17"


@pytest.mark.parametrize("version", VERSIONS)
def test_both_versions_are_accepted(version: str) -> None:
    assert parse(document(statement(), Version=version), IDENTITY).version == version


def test_id_sid_and_effect_are_kept() -> None:
    policy = parse(
        document(
            statement(Sid="AllowRead", Effect="Allow"),
            statement(Sid="Deny Write 2", Effect="Deny", Action="s3:Put*"),
            statement(Effect="Deny"),
            statement(Effect="Deny"),
            Id="MyPolicy-1",
        ),
        IDENTITY,
    )
    assert policy.id == "MyPolicy-1"
    assert [(s.sid, s.effect) for s in policy.statements] == [
        ("AllowRead", "Allow"),
        ("Deny Write 2", "Deny"),
        (None, "Deny"),
        (None, "Deny"),
    ]


@pytest.mark.parametrize(
    "action",
    ["*", "s3:*", "s3:Get*", "kms:ReEncrypt*", "iam:?etUser", "execute-api:Invoke", "S3:GetObject"],
)
def test_action_forms(action: str) -> None:
    assert only_statement(document(statement(Action=action)), IDENTITY).action == (action,)


def test_empty_condition_block_and_statements_without_sid() -> None:
    stmt = only_statement(document(statement(Condition={})), IDENTITY)
    assert stmt.condition == {}
    assert stmt.sid is None


# --------------------------------------------------------------------------------------------
# Grammar faults
# --------------------------------------------------------------------------------------------

SYNTAX = "Syntax errors in policy."
VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."

GRAMMAR_FAULTS = [
    # The document as a whole.
    pytest.param("", IDENTITY, SYNTAX, id="empty-text"),
    pytest.param("{", IDENTITY, SYNTAX, id="truncated-json"),
    pytest.param("{'Version': '2012-10-17'}", IDENTITY, SYNTAX, id="single-quotes"),
    pytest.param("not json", IDENTITY, SYNTAX, id="not-json"),
    pytest.param("[]", IDENTITY, SYNTAX, id="array"),
    pytest.param('"policy"', IDENTITY, SYNTAX, id="string"),
    pytest.param("null", IDENTITY, SYNTAX, id="null"),
    pytest.param("42", IDENTITY, SYNTAX, id="number"),
    pytest.param(
        document(statement(), Extra="x"),
        IDENTITY,
        "Policy document contains unknown field Extra.",
        id="unknown-top-level-field",
    ),
    pytest.param(
        json.dumps({"Version": "2012-10-17", "statement": [statement()]}),
        IDENTITY,
        "Policy document contains unknown field statement.",
        id="top-level-fields-are-case-sensitive",
    ),
    pytest.param(
        document(statement(), Version="2012-10-18"),
        IDENTITY,
        "The policy failed legacy parsing",
        id="bad-version",
    ),
    pytest.param(
        document(statement(), Version=20121017),
        IDENTITY,
        "The policy failed legacy parsing",
        id="numeric-version",
    ),
    pytest.param(
        document(statement(), Version=["2012-10-17"]),
        IDENTITY,
        "The policy failed legacy parsing",
        id="list-version",
    ),
    pytest.param(document(statement(), Id=7), IDENTITY, SYNTAX, id="non-string-id"),
    pytest.param(
        json.dumps({"Version": "2012-10-17"}),
        IDENTITY,
        "Missing required field Statement",
        id="missing-statement",
    ),
    pytest.param(
        json.dumps({"Version": "2012-10-17", "Statement": None}),
        IDENTITY,
        "Missing required field Statement",
        id="null-statement",
    ),
    pytest.param(document(), IDENTITY, SYNTAX, id="empty-statement-list"),
    pytest.param(
        json.dumps({"Version": "2012-10-17", "Statement": "Allow"}),
        IDENTITY,
        SYNTAX,
        id="string-statement",
    ),
    pytest.param(
        json.dumps({"Version": "2012-10-17", "Statement": [statement(), "Allow"]}),
        IDENTITY,
        SYNTAX,
        id="non-object-statement-entry",
    ),
    # Statement fields.
    pytest.param(
        document(statement(Resources="*")),
        IDENTITY,
        "Policy statement contains unknown field Resources.",
        id="unknown-statement-field",
    ),
    pytest.param(
        document(statement(effect="Allow")),
        IDENTITY,
        "Policy statement contains unknown field effect.",
        id="statement-fields-are-case-sensitive",
    ),
    pytest.param(
        document(statement(Effect=_DROP)),
        IDENTITY,
        "Missing required field Effect",
        id="missing-effect",
    ),
    pytest.param(
        document(statement(Effect="Permit")), IDENTITY, "Invalid effect: Permit", id="bad-effect"
    ),
    pytest.param(
        document(statement(Effect="allow")),
        IDENTITY,
        "Invalid effect: allow",
        id="effect-is-case-sensitive",
    ),
    pytest.param(
        document(statement(Action="s3:GetObject", NotAction="s3:PutObject")),
        IDENTITY,
        "Policy statement must not contain both Action and NotAction.",
        id="action-and-not-action",
    ),
    pytest.param(
        document(statement(NotResource="arn:aws:s3:::b")),
        IDENTITY,
        "Policy statement must not contain both Resource and NotResource.",
        id="resource-and-not-resource",
    ),
    pytest.param(
        document(statement(Principal="*", NotPrincipal={"AWS": ACCOUNT})),
        RESOURCE,
        "Policy statement must not contain both Principal and NotPrincipal.",
        id="principal-and-not-principal",
    ),
    pytest.param(
        document(statement(Action=_DROP)),
        IDENTITY,
        "Policy statement must contain actions.",
        id="no-actions",
    ),
    pytest.param(document(statement(Action=[])), IDENTITY, SYNTAX, id="empty-action-list"),
    pytest.param(
        document(statement(Resource=_DROP)),
        IDENTITY,
        "Policy statement must contain resources.",
        id="no-resources",
    ),
    pytest.param(
        document(resource_statement(Resource=_DROP)),
        RESOURCE,
        "Policy statement must contain resources.",
        id="no-resources-in-resource-policy",
    ),
    pytest.param(document(statement(Resource=[])), IDENTITY, SYNTAX, id="empty-resource-list"),
    pytest.param(
        document(statement(Principal="*")),
        IDENTITY,
        "Policy document should not specify a principal.",
        id="principal-in-identity-policy",
    ),
    pytest.param(
        document(statement(NotPrincipal={"AWS": ACCOUNT})),
        IDENTITY,
        "Policy document should not specify a principal.",
        id="not-principal-in-identity-policy",
    ),
    pytest.param(
        document(statement()),
        RESOURCE,
        "Policy statement must contain a principal.",
        id="missing-principal-in-resource-policy",
    ),
    pytest.param(
        document(resource_statement(), statement()),
        RESOURCE,
        "Policy statement must contain a principal.",
        id="second-statement-missing-principal",
    ),
    # Principals.
    pytest.param(
        document(statement(Principal=ROLE)),
        RESOURCE,
        f'Invalid principal in policy: "{ROLE}"',
        id="bare-string-principal",
    ),
    pytest.param(
        document(statement(Principal=["*"])),
        RESOURCE,
        'Invalid principal in policy: ["*"]',
        id="list-principal",
    ),
    pytest.param(
        document(statement(Principal={})),
        RESOURCE,
        "Invalid principal in policy: {}",
        id="empty-principal-object",
    ),
    pytest.param(
        document(statement(Principal=None)),
        RESOURCE,
        "Invalid principal in policy: null",
        id="null-principal",
    ),
    pytest.param(
        document(statement(Principal={"User": ROLE})),
        RESOURCE,
        'Invalid principal in policy: "User"',
        id="unknown-principal-type",
    ),
    pytest.param(
        document(statement(Principal={"aws": ACCOUNT})),
        RESOURCE,
        'Invalid principal in policy: "aws"',
        id="principal-type-is-case-sensitive",
    ),
    pytest.param(
        document(statement(Principal={"AWS": "12345678901"})),
        RESOURCE,
        'Invalid principal in policy: "AWS":"12345678901"',
        id="eleven-digit-account",
    ),
    pytest.param(
        document(statement(Principal={"AWS": "1234-5678-9012"})),
        RESOURCE,
        'Invalid principal in policy: "AWS":"1234-5678-9012"',
        id="hyphenated-account",
    ),
    pytest.param(
        document(statement(Principal={"AWS": ["*", "bob"]})),
        RESOURCE,
        'Invalid principal in policy: "AWS":"bob"',
        id="bad-aws-name-in-list",
    ),
    pytest.param(
        document(statement(Principal={"AWS": f"arn:aws:s3:::{ACCOUNT}"})),
        RESOURCE,
        f'Invalid principal in policy: "AWS":"arn:aws:s3:::{ACCOUNT}"',
        id="non-iam-arn",
    ),
    pytest.param(
        document(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:policy/P"})),
        RESOURCE,
        f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:policy/P"',
        id="iam-policy-arn",
    ),
    pytest.param(
        document(statement(Principal={"AWS": "arn:aws:iam::*:root"})),
        RESOURCE,
        'Invalid principal in policy: "AWS":"arn:aws:iam::*:root"',
        id="wildcard-account-in-arn",
    ),
    pytest.param(
        document(statement(Principal={"Service": "kms"})),
        RESOURCE,
        'Invalid principal in policy: "Service":"kms"',
        id="service-without-domain",
    ),
    pytest.param(
        document(statement(Principal={"Service": "KMS.amazonaws.com"})),
        RESOURCE,
        'Invalid principal in policy: "Service":"KMS.amazonaws.com"',
        id="service-upper-case",
    ),
    pytest.param(
        document(statement(Principal={"AWS": []})), RESOURCE, SYNTAX, id="empty-principal-list"
    ),
    pytest.param(
        document(statement(Principal={"AWS": 123456789012})),
        RESOURCE,
        SYNTAX,
        id="numeric-account",
    ),
    pytest.param(
        document(statement(Principal={"AWS": [""]})), RESOURCE, SYNTAX, id="empty-principal-name"
    ),
    # Conditions.
    pytest.param(
        document(statement(Condition={"StringEqualz": {"aws:Key": "v"}})),
        IDENTITY,
        "Invalid Condition type : StringEqualz",
        id="unknown-operator",
    ),
    pytest.param(
        document(statement(Condition={"stringequals": {"aws:Key": "v"}})),
        IDENTITY,
        "Invalid Condition type : stringequals",
        id="operators-are-case-sensitive",
    ),
    pytest.param(
        document(statement(Condition={"ForSomeValues:StringEquals": {"aws:Key": "v"}})),
        IDENTITY,
        "Invalid Condition type : ForSomeValues:StringEquals",
        id="unknown-set-qualifier",
    ),
    pytest.param(
        document(statement(Condition={"StringEqualsIfExistsIfExists": {"aws:Key": "v"}})),
        IDENTITY,
        "Invalid Condition type : StringEqualsIfExistsIfExists",
        id="doubled-if-exists",
    ),
    pytest.param(
        document(statement(Condition={"IfExists": {"aws:Key": "v"}})),
        IDENTITY,
        "Invalid Condition type : IfExists",
        id="bare-if-exists",
    ),
    pytest.param(
        document(statement(Condition=[{"StringEquals": {"aws:Key": "v"}}])),
        IDENTITY,
        SYNTAX,
        id="condition-list",
    ),
    pytest.param(document(statement(Condition=None)), IDENTITY, SYNTAX, id="condition-null"),
    pytest.param(
        document(statement(Condition="aws:SecureTransport")),
        IDENTITY,
        SYNTAX,
        id="condition-string",
    ),
    pytest.param(
        document(statement(Condition={"StringEquals": "aws:Key"})),
        IDENTITY,
        SYNTAX,
        id="non-object-condition-block",
    ),
    pytest.param(
        document(statement(Condition={"StringEquals": [{"aws:Key": "v"}]})),
        IDENTITY,
        SYNTAX,
        id="list-condition-block",
    ),
    pytest.param(
        document(statement(Condition={"StringEquals": {}})),
        IDENTITY,
        SYNTAX,
        id="empty-condition-block",
    ),
    pytest.param(
        document(statement(Condition={"StringEquals": {"aws:Key": None}})),
        IDENTITY,
        SYNTAX,
        id="null-condition-value",
    ),
    pytest.param(
        document(statement(Condition={"StringEquals": {"aws:Key": {"v": 1}}})),
        IDENTITY,
        SYNTAX,
        id="object-condition-value",
    ),
    pytest.param(
        document(statement(Condition={"StringEquals": {"aws:Key": ["a", ["b"]]}})),
        IDENTITY,
        SYNTAX,
        id="nested-list-condition-value",
    ),
    # Non-string values.
    pytest.param(document(statement(Action=5)), IDENTITY, SYNTAX, id="numeric-action"),
    pytest.param(document(statement(Action=None)), IDENTITY, SYNTAX, id="null-action"),
    pytest.param(
        document(statement(Action=["s3:GetObject", True])),
        IDENTITY,
        SYNTAX,
        id="boolean-in-action-list",
    ),
    pytest.param(
        document(statement(NotAction={"s3": "GetObject"}, Action=_DROP)),
        IDENTITY,
        SYNTAX,
        id="object-not-action",
    ),
    pytest.param(document(statement(Resource=7)), IDENTITY, SYNTAX, id="numeric-resource"),
    pytest.param(document(statement(Resource="")), IDENTITY, SYNTAX, id="empty-resource"),
    pytest.param(document(statement(Resource=["*", None])), IDENTITY, SYNTAX, id="null-resource"),
    pytest.param(
        document(statement(Resource=[["*"]])), IDENTITY, SYNTAX, id="nested-resource-list"
    ),
    pytest.param(
        document(statement(Resource=_DROP, NotResource=1)),
        IDENTITY,
        SYNTAX,
        id="numeric-not-resource",
    ),
    # Sids.
    pytest.param(
        document(statement(Sid="A"), statement(Sid="A")),
        IDENTITY,
        "Statement IDs (SID) in a single policy must be unique.",
        id="duplicate-sids",
    ),
    pytest.param(
        document(statement(Sid="A"), statement(Sid="B"), statement(Sid="A")),
        IDENTITY,
        "Statement IDs (SID) in a single policy must be unique.",
        id="duplicate-sids-not-adjacent",
    ),
    pytest.param(
        document(statement(Sid="my-sid")),
        IDENTITY,
        "Statement IDs (SID) must be alpha-numeric.",
        id="sid-with-hyphen",
    ),
    pytest.param(
        document(statement(Sid="sid_1")),
        IDENTITY,
        "Statement IDs (SID) must be alpha-numeric.",
        id="sid-with-underscore",
    ),
    pytest.param(
        document(statement(Sid="Über")),
        IDENTITY,
        "Statement IDs (SID) must be alpha-numeric.",
        id="sid-non-ascii-letter",
    ),
    pytest.param(
        document(statement(Sid=1)),
        IDENTITY,
        "Statement IDs (SID) must be alpha-numeric.",
        id="numeric-sid",
    ),
    # Actions.
    pytest.param(document(statement(Action="GetObject")), IDENTITY, VENDOR, id="no-vendor"),
    pytest.param(document(statement(Action="s3:")), IDENTITY, VENDOR, id="empty-action-name"),
    pytest.param(document(statement(Action=":GetObject")), IDENTITY, VENDOR, id="empty-vendor"),
    pytest.param(
        document(statement(Action="s3 GetObject")), IDENTITY, VENDOR, id="space-not-colon"
    ),
    pytest.param(document(statement(Action="s3:Get:Object")), IDENTITY, VENDOR, id="two-colons"),
    pytest.param(
        document(statement(Action=["s3:GetObject", "PutObject"])),
        IDENTITY,
        VENDOR,
        id="no-vendor-in-list",
    ),
    pytest.param(
        document(statement(NotAction="**", Action=_DROP)),
        IDENTITY,
        VENDOR,
        id="not-action-without-vendor",
    ),
]


@pytest.mark.parametrize(("doc", "kind", "message"), GRAMMAR_FAULTS)
def test_grammar_faults(doc: str, kind: PolicyKind, message: str) -> None:
    assert malformed(doc, kind) == message


def test_first_fault_wins() -> None:
    doc = document(statement(Effect="Maybe", Action="nope"), statement(Sid="bad-sid"))
    assert malformed(doc, IDENTITY) == "Invalid effect: Maybe"


def test_malformed_policy_is_a_value_error_carrying_the_message() -> None:
    error = MalformedPolicy("Syntax errors in policy.")
    assert isinstance(error, ValueError)
    assert error.message == str(error) == "Syntax errors in policy."


# --------------------------------------------------------------------------------------------
# Edges of the grammar (each once a bug)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        pytest.param(document(statement(Sid="Admin\n")), IDENTITY, id="sid"),
        pytest.param(document(statement(Action="s3:GetObject\n")), IDENTITY, id="action"),
        pytest.param(
            document(statement(Principal={"AWS": ACCOUNT + "\n"})), RESOURCE, id="account"
        ),
        pytest.param(
            document(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root\n"})),
            RESOURCE,
            id="principal-arn",
        ),
        pytest.param(
            document(statement(Principal={"Service": "kms.amazonaws.com\n"})),
            RESOURCE,
            id="service",
        ),
    ],
)
def test_trailing_newline_is_rejected(doc: str, kind: PolicyKind) -> None:
    malformed(doc, kind)


@pytest.mark.parametrize(
    "name",
    ["١٢٣٤٥٦٧٨٩٠١٢", "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:root"],
    ids=["account", "arn"],
)
def test_account_ids_are_ascii_digits(name: str) -> None:
    assert malformed(document(statement(Principal={"AWS": name})), RESOURCE).startswith(
        "Invalid principal in policy"
    )


def test_null_if_exists_is_not_an_operator() -> None:
    doc = document(statement(Condition={"NullIfExists": {"aws:TokenIssueTime": "true"}}))
    assert malformed(doc, IDENTITY) == "Invalid Condition type : NullIfExists"


def test_set_qualifiers_do_not_stack() -> None:
    operator = "ForAnyValue:ForAllValues:StringEquals"
    doc = document(statement(Condition={operator: {"aws:TagKeys": "a"}}))
    assert malformed(doc, IDENTITY) == f"Invalid Condition type : {operator}"


def test_set_qualifiers_do_not_stack_in_the_other_order() -> None:
    operator = "ForAllValues:ForAnyValue:StringEquals"
    doc = document(statement(Condition={operator: {"aws:TagKeys": "a"}}))
    assert malformed(doc, IDENTITY) == f"Invalid Condition type : {operator}"


@pytest.mark.parametrize("text", ["[" * 100_000, '{"Statement":' * 50_000], ids=["array", "object"])
def test_deeply_nested_input_is_malformed(text: str) -> None:
    assert malformed(text, IDENTITY) == SYNTAX


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_literals_are_syntax_errors(literal: str) -> None:
    doc = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", '
        f'"Resource": "*", "Condition": {{"NumericEquals": {{"aws:Key": {literal}}}}}}}}}'
    )
    assert malformed(doc, IDENTITY) == SYNTAX


@pytest.mark.parametrize(
    "name",
    [f"arn:aws:iam::{ACCOUNT}:user/*", f"arn:aws:iam::{ACCOUNT}:role/Admin*"],
    ids=["user-star", "role-prefix"],
)
def test_partial_wildcard_principal_is_invalid(name: str) -> None:
    assert malformed(document(statement(Principal={"AWS": name})), RESOURCE).startswith(
        "Invalid principal in policy"
    )


# --------------------------------------------------------------------------------------------
# Properties of parse
# --------------------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
ACCOUNTS = st.text(string.digits, min_size=12, max_size=12)
NAMES = st.text(ALNUM + "+=,.@_-", min_size=1, max_size=10)
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)
PARTITIONS = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])

AWS_PRINCIPALS = (
    st.just("*")
    | ACCOUNTS
    | st.builds(
        "arn:{}:iam::{}:{}".format,
        PARTITIONS,
        ACCOUNTS,
        st.just("root")
        | PATHS.map("user/{}".format)
        | PATHS.map("role/{}".format)
        | PATHS.map("group/{}".format)
        | NAMES.map("federated-user/{}".format),
    )
    | st.builds(
        "arn:{}:sts::{}:{}".format,
        PARTITIONS,
        ACCOUNTS,
        PATHS.map("assumed-role/{}".format) | NAMES.map("federated-user/{}".format),
    )
)
SERVICE_PRINCIPALS = st.sampled_from(
    [
        "secretsmanager.amazonaws.com",
        "kms.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "delivery.logs.amazonaws.com",
        "logs.eu-west-1.amazonaws.com",
        "ec2.amazonaws.com.cn",
    ]
) | st.text(string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=10).map(
    "{}.amazonaws.com".format
)
FEDERATED_PRINCIPALS = st.sampled_from(
    [
        "cognito-identity.amazonaws.com",
        "accounts.google.com",
        "www.amazon.com",
        f"arn:aws:iam::{ACCOUNT}:saml-provider/ExampleProvider",
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
    ]
)
CANONICAL_USERS = st.text("0123456789abcdef", min_size=64, max_size=64)
PRINCIPAL_NAMES = {
    "AWS": AWS_PRINCIPALS,
    "Service": SERVICE_PRINCIPALS,
    "Federated": FEDERATED_PRINCIPALS,
    "CanonicalUser": CANONICAL_USERS,
}
assert set(PRINCIPAL_NAMES) == set(PRINCIPAL_TYPES)

ACTIONS = st.just("*") | st.builds(
    "{}:{}".format,
    st.text(ALNUM + "-", min_size=1, max_size=8),
    st.text(ALNUM + "*?", min_size=1, max_size=12),
)
RESOURCES = st.just("*") | st.text(min_size=1, max_size=16)
CONDITION_KEYS = st.sampled_from(
    [
        "aws:SourceIp",
        "aws:PrincipalTag/team",
        "aws:TagKeys",
        "kms:ViaService",
        "kms:EncryptionContext:purpose",
        "secretsmanager:ResourceTag/env",
        "s3:max-keys",
    ]
) | st.text(min_size=1, max_size=10)
CONDITION_VALUES = (
    st.text(max_size=10).map(lambda s: (s, s))
    | st.booleans().map(lambda b: (b, "true" if b else "false"))
    | st.integers(-(10**12), 10**12).map(lambda n: (n, str(n)))
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda f: (f, str(f)))
)


def one_or_many(values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, tuple[Any, ...]]]:
    """(JSON value, parsed tuple): a bare value or a non-empty list of them."""
    return values.map(lambda v: (v, (v,))) | st.lists(values, min_size=1, max_size=4).map(
        lambda vs: (vs, tuple(vs))
    )


@st.composite
def operators(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(ALL_BASE_OPERATORS))
    qualifier = draw(st.sampled_from(["", "ForAnyValue:", "ForAllValues:"]))
    suffix = "" if base == "Null" else draw(st.sampled_from(["", "IfExists"]))
    return f"{qualifier}{base}{suffix}"


@st.composite
def conditions(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, dict[str, tuple[str, ...]]]]:
    raw: dict[str, Any] = {}
    parsed: dict[str, dict[str, tuple[str, ...]]] = {}
    for operator in draw(st.lists(operators(), max_size=3, unique=True)):
        keys = draw(st.lists(CONDITION_KEYS, min_size=1, max_size=3, unique=True))
        raw[operator], parsed[operator] = {}, {}
        for key in keys:
            pairs = draw(st.lists(CONDITION_VALUES, min_size=1, max_size=3))
            if len(pairs) == 1 and draw(st.booleans()):
                raw[operator][key] = pairs[0][0]
            else:
                raw[operator][key] = [value for value, _ in pairs]
            parsed[operator][key] = tuple(text for _, text in pairs)
    return raw, parsed


@st.composite
def principals(draw: st.DrawFn) -> tuple[object, Principals]:
    if draw(st.integers(0, 4)) == 0:
        return "*", {"AWS": ("*",)}
    types = draw(st.lists(st.sampled_from(PRINCIPAL_TYPES), min_size=1, max_size=3, unique=True))
    raw: dict[str, object] = {}
    parsed: Principals = {}
    for principal_type in types:
        raw[principal_type], parsed[principal_type] = draw(
            one_or_many(PRINCIPAL_NAMES[principal_type])
        )
    return raw, parsed


@st.composite
def statements(draw: st.DrawFn, kind: PolicyKind, sid: str | None) -> tuple[dict, Statement]:
    raw: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if sid is not None:
        raw["Sid"] = sid
    fields: dict[str, Any] = {
        "principal": None,
        "not_principal": None,
        "action": None,
        "not_action": None,
        "resource": None,
        "not_resource": None,
    }
    if kind is PolicyKind.RESOURCE:
        name = draw(st.sampled_from(["Principal", "NotPrincipal"]))
        raw[name], fields["principal" if name == "Principal" else "not_principal"] = draw(
            principals()
        )
    name = draw(st.sampled_from(["Action", "NotAction"]))
    raw[name], fields["action" if name == "Action" else "not_action"] = draw(one_or_many(ACTIONS))
    name = draw(st.sampled_from(["Resource", "NotResource"]))
    raw[name], fields["resource" if name == "Resource" else "not_resource"] = draw(
        one_or_many(RESOURCES)
    )
    condition: dict[str, dict[str, tuple[str, ...]]] = {}
    if draw(st.booleans()):
        raw["Condition"], condition = draw(conditions())
    parsed = Statement(sid=sid, effect=raw["Effect"], condition=condition, **fields)
    return raw, parsed


@st.composite
def policies(draw: st.DrawFn, kind: PolicyKind) -> tuple[dict[str, Any], Policy]:
    count = draw(st.integers(1, 4))
    sids = draw(
        st.lists(
            st.none() | st.text(ALNUM + " ", min_size=1, max_size=12),
            min_size=count,
            max_size=count,
        ).filter(lambda names: len({n for n in names if n}) == len([n for n in names if n]))
    )
    pairs = [draw(statements(kind, sid)) for sid in sids]
    tree: dict[str, Any] = {}
    version = draw(st.none() | st.sampled_from(VERSIONS))
    if version is not None:
        tree["Version"] = version
    policy_id = draw(st.none() | st.text(max_size=12))
    if policy_id is not None:
        tree["Id"] = policy_id
    raws = [raw for raw, _ in pairs]
    tree["Statement"] = raws[0] if count == 1 and draw(st.booleans()) else raws
    expected = Policy(
        version=version or "2008-10-17",
        id=policy_id,
        statements=tuple(parsed for _, parsed in pairs),
    )
    return tree, expected


# The kinds `policies` builds valid documents of (trust policies: tests/unit/test_iam_model.py).
KINDS = st.sampled_from([IDENTITY, RESOURCE])


@settings(PROPERTY_SETTINGS, max_examples=150)
@given(data=st.data())
def test_valid_policies_parse_to_what_they_were_built_from(data: st.DataObject) -> None:
    kind = data.draw(KINDS, label="kind")
    tree, expected = data.draw(policies(kind), label="policy")
    policy = parse(json.dumps(tree), kind)
    assert policy == expected
    for stmt, raw in zip(policy.statements, _raw_statements(tree), strict=True):
        for field, key in (
            ("action", "Action"),
            ("not_action", "NotAction"),
            ("resource", "Resource"),
            ("not_resource", "NotResource"),
        ):
            if key in raw:
                value = raw[key]
                assert getattr(stmt, field) == tuple(value if isinstance(value, list) else [value])


def _raw_statements(tree: dict[str, Any]) -> list[dict[str, Any]]:
    raw = tree["Statement"]
    return raw if isinstance(raw, list) else [raw]


@PROPERTY_SETTINGS
@given(data=st.data())
def test_principals_belong_to_resource_policies_only(data: st.DataObject) -> None:
    tree, _ = data.draw(policies(RESOURCE), label="resource policy")
    assert malformed(json.dumps(tree), IDENTITY) == (
        "Policy document should not specify a principal."
    )
    tree, _ = data.draw(policies(IDENTITY), label="identity policy")
    assert malformed(json.dumps(tree), RESOURCE) == "Policy statement must contain a principal."


@PROPERTY_SETTINGS
@given(data=st.data())
def test_duplicate_sids_are_always_refused(data: st.DataObject) -> None:
    kind = data.draw(KINDS, label="kind")
    tree, _ = data.draw(policies(kind), label="policy")
    raws = _raw_statements(tree)
    sid = data.draw(st.text(ALNUM + " ", min_size=1, max_size=8), label="sid")
    copy = {**data.draw(st.sampled_from(raws), label="copied"), "Sid": sid}
    first = {**raws[0], "Sid": sid}
    tree["Statement"] = [first, *raws[1:], copy]
    assert malformed(json.dumps(tree), kind) == (
        "Statement IDs (SID) in a single policy must be unique."
    )


def assert_well_formed(policy: Policy) -> None:
    """The invariants every parsed policy holds, whatever went in."""
    assert policy.version in VERSIONS
    assert policy.id is None or isinstance(policy.id, str)
    assert isinstance(policy.statements, tuple) and policy.statements
    for stmt in policy.statements:
        assert stmt.effect in ("Allow", "Deny")
        assert (stmt.action is None) != (stmt.not_action is None)
        assert (stmt.resource is None) != (stmt.not_resource is None)
        assert stmt.principal is None or stmt.not_principal is None
        for values in (stmt.action, stmt.not_action, stmt.resource, stmt.not_resource):
            if values is not None:
                assert isinstance(values, tuple) and values
                assert all(isinstance(v, str) and v for v in values)
        for principal in (stmt.principal, stmt.not_principal):
            if principal is not None:
                assert principal and set(principal) <= set(PRINCIPAL_TYPES)
                assert all(isinstance(names, tuple) and names for names in principal.values())
        for operator, block in stmt.condition.items():
            assert operator_name(operator) in ALL_BASE_OPERATORS
            for values in block.values():
                assert isinstance(values, tuple)
                assert all(isinstance(v, str) for v in values)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
PLAUSIBLE = st.sampled_from(
    [
        "*",
        "",
        "Allow",
        "Deny",
        "s3:GetObject",
        "kms:*",
        "GetObject",
        ACCOUNT,
        ROLE,
        "kms.amazonaws.com",
        "2012-10-17",
        "Sid 1",
        "sid-1",
        "true",
    ]
)


def loose(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return JSON_VALUES | values | st.lists(values | JSON_VALUES, max_size=3)


FUZZ_PRINCIPALS = loose(PLAUSIBLE) | st.dictionaries(
    st.sampled_from([*PRINCIPAL_TYPES, "User", ""]), loose(PLAUSIBLE), max_size=3
)
FUZZ_OPERATORS = operators() | st.sampled_from(
    ["Nope", "ForAnyValue:", "IfExists", "NullIfExists", "ForAnyValue:ForAllValues:Bool"]
)
FUZZ_CONDITIONS = JSON_VALUES | st.dictionaries(
    FUZZ_OPERATORS,
    JSON_VALUES | st.dictionaries(CONDITION_KEYS, loose(PLAUSIBLE), max_size=3),
    max_size=3,
)
_FUZZ_FIELDS = {
    "Sid": loose(PLAUSIBLE | st.text(ALNUM + " ", max_size=6)),
    "Principal": FUZZ_PRINCIPALS,
    "NotPrincipal": FUZZ_PRINCIPALS,
    "Action": loose(PLAUSIBLE | ACTIONS),
    "NotAction": loose(PLAUSIBLE | ACTIONS),
    "Resource": loose(PLAUSIBLE),
    "NotResource": loose(PLAUSIBLE),
    "Condition": FUZZ_CONDITIONS,
}
# Mostly statement-shaped (so that deep faults are reached), sometimes anything at all.
FUZZ_STATEMENTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {
            "Effect": st.sampled_from(["Allow", "Deny"]),
            "Action": ACTIONS | st.lists(ACTIONS, max_size=2) | loose(PLAUSIBLE),
            "Resource": RESOURCES | loose(PLAUSIBLE),
        },
        optional={
            key: value
            for key, value in _FUZZ_FIELDS.items()
            if key not in ("Action", "Resource", "NotPrincipal")
        },
    ),
    st.fixed_dictionaries(
        {}, optional={**_FUZZ_FIELDS, "Effect": loose(PLAUSIBLE), "Extra": JSON_VALUES}
    ),
)
FUZZ_DOCUMENTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"Statement": FUZZ_STATEMENTS | st.lists(FUZZ_STATEMENTS, max_size=3)},
        optional={"Version": st.sampled_from(VERSIONS), "Id": st.text(max_size=8)},
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "Version": loose(st.sampled_from(VERSIONS)),
            "Id": JSON_VALUES,
            "Statement": FUZZ_STATEMENTS | st.lists(FUZZ_STATEMENTS, max_size=3),
            "Other": JSON_VALUES,
        },
    ),
)


def parse_or_refuse(text: str, kind: PolicyKind) -> Policy | None:
    try:
        policy = parse(text, kind)
    except MalformedPolicy as error:
        assert error.message
        assert str(error) == error.message
        return None
    assert_well_formed(policy)
    return policy


@settings(PROPERTY_SETTINGS, max_examples=250)
@given(tree=FUZZ_DOCUMENTS, kind=st.sampled_from(list(PolicyKind)))
def test_arbitrary_json_only_raises_malformed_policy(tree: object, kind: PolicyKind) -> None:
    parse_or_refuse(json.dumps(tree), kind)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=200) | st.text('{}[]",: 0123456789.eEtrufalsn-\\', max_size=60))
def test_arbitrary_text_only_raises_malformed_policy(text: str) -> None:
    for kind in PolicyKind:
        parse_or_refuse(text, kind)


@settings(PROPERTY_SETTINGS, max_examples=150)
@given(data=st.data())
def test_mutated_valid_policies_only_raise_malformed_policy(data: st.DataObject) -> None:
    kind = data.draw(KINDS, label="kind")
    tree, _ = data.draw(policies(kind), label="policy")
    raws = _raw_statements(tree)
    target = data.draw(st.sampled_from(raws), label="statement")
    key = data.draw(
        st.sampled_from(
            [
                "Sid",
                "Effect",
                "Principal",
                "NotPrincipal",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ]
        ),
        label="key",
    )
    if data.draw(st.booleans(), label="delete"):
        target.pop(key, None)
    else:
        target[key] = data.draw(JSON_VALUES | loose(PLAUSIBLE), label="value")
    parse_or_refuse(json.dumps(tree), kind)


# --------------------------------------------------------------------------------------------
# public.py
# --------------------------------------------------------------------------------------------


def public(*statements: dict[str, Any]) -> bool:
    return grants_public_access(parse(document(*statements), RESOURCE))


def open_statement(**fields: Any) -> dict[str, Any]:
    return statement(**{"Principal": "*", "Action": "secretsmanager:GetSecretValue", **fields})


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"Principal": "*"}, id="star"),
        pytest.param({"Principal": {"AWS": "*"}}, id="aws-star"),
        pytest.param({"Principal": {"AWS": ["*"]}}, id="aws-star-list"),
        pytest.param({"Principal": {"AWS": [ACCOUNT, "*"]}}, id="star-among-accounts"),
        pytest.param({"Principal": _DROP, "NotPrincipal": {"AWS": ROLE}}, id="not-principal"),
        pytest.param({"Principal": _DROP, "NotPrincipal": "*"}, id="not-principal-star"),
        pytest.param({"NotAction": "secretsmanager:Delete*", "Action": _DROP}, id="not-action"),
        pytest.param({"Resource": SECRET_ARN}, id="specific-resource"),
    ],
)
def test_allow_to_everyone_is_public(fields: dict[str, Any]) -> None:
    assert public(open_statement(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"Principal": "*"}, id="star"),
        pytest.param({"Principal": {"AWS": "*"}}, id="aws-star"),
        pytest.param({"Principal": _DROP, "NotPrincipal": {"AWS": ROLE}}, id="not-principal"),
    ],
)
def test_deny_is_never_public(fields: dict[str, Any]) -> None:
    assert not public(open_statement(Effect="Deny", **fields))


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": ACCOUNT},
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"AWS": [ROLE, f"arn:aws:iam::{ACCOUNT}:user/Bob"]},
        {"Service": "cloudtrail.amazonaws.com"},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"CanonicalUser": "79a5" * 16},
    ],
)
def test_named_principals_are_not_public(principal: dict[str, Any]) -> None:
    assert not public(open_statement(Principal=principal))


def test_one_public_statement_makes_the_policy_public() -> None:
    pinned = open_statement(Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    named = open_statement(Principal={"AWS": ROLE})
    assert not public(pinned, named, open_statement(Effect="Deny"))
    assert public(pinned, named, open_statement(Sid="Open"))


PINNING_CONDITIONS = [
    ("StringEquals", "aws:SourceAccount", ACCOUNT),
    ("StringEquals", "aws:SourceOwner", ACCOUNT),
    ("ArnEquals", "aws:SourceArn", "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"),
    ("ArnLike", "aws:SourceArn", "arn:aws:s3:::my-bucket/*"),
    ("StringEquals", "aws:PrincipalAccount", ACCOUNT),
    ("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/*"),
    ("StringEquals", "aws:PrincipalOrgID", "o-exampleorgid"),
    ("StringLike", "aws:PrincipalOrgPaths", "o-a1b2c3d4e5/r-ab12/ou-ab12-*"),
    ("StringEquals", "aws:SourceVpc", "vpc-111bbb22"),
    ("StringEquals", "aws:SourceVpce", "vpce-1a2b3c4d"),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24"),
    ("StringLike", "aws:userid", "AROAEXAMPLEID:*"),
    ("StringEqualsIgnoreCase", "aws:username", "bob"),
    ("StringEquals", "kms:CallerAccount", ACCOUNT),
]


@pytest.mark.parametrize(("operator", "key", "value"), PINNING_CONDITIONS)
def test_restricting_conditions_pin_the_principal(operator: str, key: str, value: str) -> None:
    assert not public(open_statement(Condition={operator: {key: value}}))
    assert not public(open_statement(Condition={operator: {key: [value, "other"]}}))
    assert not public(
        open_statement(
            Principal=_DROP, NotPrincipal={"AWS": ROLE}, Condition={operator: {key: value}}
        )
    )


def test_every_restricting_key_is_covered_above() -> None:
    assert {key.lower() for _, key, _ in PINNING_CONDITIONS} == RESTRICTING_KEYS


def test_a_pinning_condition_among_others_still_pins() -> None:
    condition = {
        "StringEquals": {"aws:RequestedRegion": "us-east-1", "aws:SourceAccount": ACCOUNT},
        "Bool": {"aws:SecureTransport": "true"},
    }
    assert not public(open_statement(Condition=condition))


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, id="if-exists"),
        pytest.param({"ArnLikeIfExists": {"aws:SourceArn": SECRET_ARN}}, id="arn-if-exists"),
        pytest.param({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}, id="ip-if-exists"),
        pytest.param(
            {"ForAllValues:StringEquals": {"aws:SourceAccount": ACCOUNT}}, id="for-all-values"
        ),
        pytest.param(
            {"ForAnyValue:StringLikeIfExists": {"aws:PrincipalOrgPaths": "o-a/r-b/*"}},
            id="for-any-value-if-exists",
        ),
        pytest.param({"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}, id="string-not-equals"),
        pytest.param({"StringNotLike": {"aws:PrincipalArn": ROLE}}, id="string-not-like"),
        pytest.param(
            {"StringNotEqualsIgnoreCase": {"aws:username": "bob"}}, id="not-equals-ignore-case"
        ),
        pytest.param({"ArnNotEquals": {"aws:SourceArn": SECRET_ARN}}, id="arn-not-equals"),
        pytest.param({"ArnNotLike": {"aws:PrincipalArn": ROLE}}, id="arn-not-like"),
        pytest.param({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, id="not-ip-address"),
        pytest.param({"Null": {"aws:SourceAccount": "false"}}, id="null"),
        pytest.param({"Bool": {"aws:SecureTransport": True}}, id="bool"),
        pytest.param({"StringEquals": {"aws:SourceAccount": "*"}}, id="star-value"),
        pytest.param({"StringLike": {"aws:PrincipalArn": "*"}}, id="string-like-star"),
        pytest.param({"ArnLike": {"aws:SourceArn": "*"}}, id="arn-like-star"),
        pytest.param({"StringLike": {"aws:SourceAccount": "????????????"}}, id="question-marks"),
        pytest.param({"StringLike": {"aws:PrincipalOrgID": "*?*"}}, id="mixed-wildcards"),
        pytest.param({"StringLike": {"aws:SourceAccount": [ACCOUNT, "*"]}}, id="star-among-values"),
        pytest.param(
            {"StringEquals": {"secretsmanager:ResourceTag/env": "prod"}}, id="unrelated-tag"
        ),
        pytest.param({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, id="region"),
        pytest.param({"StringEquals": {"kms:ViaService": "s3.amazonaws.com"}}, id="via-service"),
        pytest.param({"StringEquals": {"aws:SourceAccountX": ACCOUNT}}, id="near-miss-key"),
        pytest.param({"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}, id="date"),
        pytest.param({"NumericEquals": {"aws:SourceAccount": ACCOUNT}}, id="numeric-operator"),
    ],
)
def test_conditions_that_do_not_pin(condition: dict[str, Any]) -> None:
    assert public(open_statement(Condition=condition))


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(
            {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-*"}},
            id="org-paths",
        ),
        pytest.param(
            {"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}, id="org-id"
        ),
    ],
)
def test_for_any_value_on_a_restricting_key_pins(condition: dict[str, Any]) -> None:
    assert not public(open_statement(Condition=condition))


@pytest.mark.parametrize(
    "key",
    ["AWS:SOURCEACCOUNT", "aws:sourceaccount", "Aws:SourceAccount", "aws:sOURCEaCCOUNT"],
)
def test_condition_keys_are_case_insensitive(key: str) -> None:
    assert not public(open_statement(Condition={"StringEquals": {key: ACCOUNT}}))


def test_operators_are_matched_exactly() -> None:
    # "stringequals" is no IAM operator at all, so the policy never gets this far.
    with pytest.raises(MalformedPolicy):
        public(open_statement(Condition={"stringequals": {"aws:SourceAccount": ACCOUNT}}))


@PROPERTY_SETTINGS
@given(
    key=st.sampled_from(sorted(RESTRICTING_KEYS)),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
    operator=st.sampled_from(["StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnLike"]),
    value=st.text(min_size=1, max_size=12).filter(lambda v: not set(v) <= set("*?")),
)
def test_any_case_of_a_restricting_key_pins(
    key: str, flips: list[bool], operator: str, value: str
) -> None:
    cased = "".join(c.upper() if flip else c for c, flip in zip(key, flips, strict=False))
    assert not public(open_statement(Condition={operator: {cased: value}}))


@PROPERTY_SETTINGS
@given(
    key=st.sampled_from(sorted(RESTRICTING_KEYS)),
    operator=st.sampled_from(
        ["StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"]
    ),
    wildcards=st.lists(st.text("*?", min_size=1, max_size=6), min_size=1, max_size=3),
)
def test_wildcard_only_values_never_pin(key: str, operator: str, wildcards: list[str]) -> None:
    assert public(open_statement(Condition={operator: {key: wildcards}}))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_public_verdict_properties(data: st.DataObject) -> None:
    tree, policy = data.draw(policies(RESOURCE), label="policy")
    verdict = grants_public_access(policy)
    assert verdict == any(
        grants_public_access(replace(policy, statements=(s,))) for s in policy.statements
    )

    # Deny statements never make a policy public.
    denied = replace(policy, statements=tuple(replace(s, effect="Deny") for s in policy.statements))
    assert not grants_public_access(denied)

    # Only wildcard principals or NotPrincipal can be public.
    for stmt in policy.statements:
        if grants_public_access(replace(policy, statements=(stmt,))):
            assert stmt.effect == "Allow"
            assert stmt.not_principal is not None or any(
                "*" in names for names in (stmt.principal or {}).values()
            )

    # A fixed aws:SourceAccount on every statement pins the whole policy.
    for raw in _raw_statements(tree):
        condition = raw.setdefault("Condition", {})
        condition["StringEquals"] = {
            **condition.get("StringEquals", {}),
            "aws:SourceAccount": ACCOUNT,
        }
    assert not grants_public_access(parse(json.dumps(tree), RESOURCE))

    # And an open Allow statement makes any policy public.
    opened = replace(
        policy, statements=(*policy.statements, replace(policy.statements[0], **_OPEN_FIELDS))
    )
    assert grants_public_access(opened)


_OPEN_FIELDS: dict[str, Any] = {
    "sid": None,
    "effect": "Allow",
    "principal": {"AWS": ("*",)},
    "not_principal": None,
    "condition": {},
}


@PROPERTY_SETTINGS
@given(data=st.data())
def test_identity_policies_are_never_public(data: st.DataObject) -> None:
    _, policy = data.draw(policies(IDENTITY), label="policy")
    assert not grants_public_access(policy)


def test_kms_and_secretsmanager_examples_are_not_public() -> None:
    assert not grants_public_access(parse(json.dumps(KMS_CONSOLE_KEY_POLICY), RESOURCE))
    assert not public(
        resource_statement(Action="secretsmanager:GetSecretValue"),
        open_statement(
            Effect="Deny",
            Condition={"StringNotEquals": {"aws:sourceVpce": "vpce-1234a5678b9012c"}},
        ),
        open_statement(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}),
    )
