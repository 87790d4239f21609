"""Tests for strongroom.iam.evaluation, strongroom.iam.conditions and strongroom.iam.patterns.

One table of scenarios (policies + request -> decision), each named for what it checks: statement
matching, every condition operator both ways, IfExists, set qualifiers on missing and empty
keys, policy variables, resource policies in and across accounts, sessions, KMS key policies and
grants, and policies from the AWS documentation (IAM User Guide examples, Secrets Manager and KMS
guides). Hypothesis then checks properties that must hold for any policies: a matching Deny
never lets anything through, adding an Allow never takes access away, and the order of
statements and policies does not matter.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.iam.conditions import ContextValue, compile_condition, request_context
from strongroom.iam.evaluation import (
    ALLOWED,
    AwsPrincipal,
    Caller,
    CompiledPolicy,
    Decision,
    DenyReason,
    Request,
    ServicePrincipal,
    access_denied_message,
    compile_document,
    compile_policy,
    evaluate,
    reason_phrase,
)
from strongroom.iam.patterns import glob_pieces, resource_alternation, resource_regex
from strongroom.iam.policy import MalformedPolicy, PolicyKind, parse

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BOB_ARN = f"arn:aws:iam::{ACCOUNT}:user/bob"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/App"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/App/worker-1"
EVE_ARN = f"arn:aws:iam::{OTHER}:user/eve"
OTHER_ROLE_ARN = f"arn:aws:iam::{OTHER}:role/Reader"
OTHER_SESSION_ARN = f"arn:aws:sts::{OTHER}:assumed-role/Reader/job"

BOB = AwsPrincipal(ACCOUNT, BOB_ARN)
SESSION = AwsPrincipal(ACCOUNT, SESSION_ARN, session_issuer_arn=ROLE_ARN)
FEDERATED = AwsPrincipal(
    ACCOUNT, f"arn:aws:sts::{ACCOUNT}:federated-user/carol", session_issuer_arn=BOB_ARN
)
EVE = AwsPrincipal(OTHER, EVE_ARN)
OTHER_SESSION = AwsPrincipal(OTHER, OTHER_SESSION_ARN, session_issuer_arn=OTHER_ROLE_ARN)
ROOT_USER = AwsPrincipal(ACCOUNT, ROOT)
LAMBDA = ServicePrincipal("lambda.amazonaws.com")

SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf"
OTHER_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:dev/db-GhIjKl"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GET = "secretsmanager:GetSecretValue"
DECRYPT = "kms:Decrypt"

ALLOW: DenyReason | None = None
NO_IDENTITY = DenyReason.NO_IDENTITY_ALLOW
NO_RESOURCE = DenyReason.NO_RESOURCE_ALLOW
NO_SESSION = DenyReason.NO_SESSION_ALLOW
DENY_IDENTITY = DenyReason.EXPLICIT_DENY_IDENTITY
DENY_RESOURCE = DenyReason.EXPLICIT_DENY_RESOURCE
DENY_SESSION = DenyReason.EXPLICIT_DENY_SESSION

Stmt = dict[str, Any]
PolicySpec = Sequence[Stmt] | str  # a list of statements, or a whole document


def allow(action: str | list[str] = GET, resource: str | list[str] = "*", **fields: Any) -> Stmt:
    return _statement("Allow", action, resource, fields)


def deny(action: str | list[str] = GET, resource: str | list[str] = "*", **fields: Any) -> Stmt:
    return _statement("Deny", action, resource, fields)


def _statement(effect: str, action: Any, resource: Any, fields: dict[str, Any]) -> Stmt:
    raw: Stmt = {"Effect": effect}
    if "NotAction" not in fields:
        raw["Action"] = action
    if "NotResource" not in fields:
        raw["Resource"] = resource
    raw.update(fields)
    return raw


def to(principal: Any, statement: Stmt) -> Stmt:
    """The statement as a resource-policy statement naming `principal`."""
    return {"Principal": principal, **statement}


def document(spec: PolicySpec, version: str = "2012-10-17") -> str:
    if isinstance(spec, str):
        return spec
    return json.dumps({"Version": version, "Statement": list(spec)})


@dataclass(frozen=True)
class Scenario:
    expected: DenyReason | None
    identity: Sequence[PolicySpec] = ()
    session: Sequence[PolicySpec] | None = None
    resource_policy: PolicySpec | None = None
    key_policy: PolicySpec | None = None
    caller: Caller = BOB
    action: str = GET
    resource: str = SECRET
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_account: str | None = None
    grant: bool = False

    def decide(self) -> Decision:
        identity = [compile_document(document(p), PolicyKind.IDENTITY) for p in self.identity]
        session = None
        if self.session is not None:
            session = [compile_document(document(p), PolicyKind.IDENTITY) for p in self.session]

        def resource_side(spec: PolicySpec | None) -> CompiledPolicy | None:
            return None if spec is None else compile_document(document(spec), PolicyKind.RESOURCE)

        return evaluate(
            Request(self.caller, self.action, self.resource, request_context(self.context)),
            identity,
            session_policies=session,
            resource_policy=resource_side(self.resource_policy),
            key_policy=resource_side(self.key_policy),
            resource_account=self.resource_account,
            grant=self.grant,
        )


def case(case_id: str, expected: DenyReason | None, **fields: Any) -> Any:
    return pytest.param(Scenario(expected, **fields), id=case_id)


def cond(case_id: str, holds: bool, condition: dict[str, Any], context: dict[str, Any]) -> Any:
    """A condition checked through an identity policy allowing GET only under it."""
    return case(
        case_id,
        ALLOW if holds else NO_IDENTITY,
        identity=[[allow(Condition=condition)]],
        context=context,
    )


TAG = "aws:PrincipalTag/team"
SECURE = "aws:SecureTransport"
TIME = "aws:CurrentTime"
SOURCE_ARN = "aws:SourceArn"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rotate"

STATEMENT_MATCHING = [
    case("no-policies-implicit-deny", NO_IDENTITY),
    case("allow-exact-action", ALLOW, identity=[[allow()]]),
    case("action-case-insensitive", ALLOW, identity=[[allow("SecretsManager:getSECRETvalue")]]),
    case("action-prefix-wildcard", ALLOW, identity=[[allow("secretsmanager:Get*")]]),
    case("action-service-wildcard", ALLOW, identity=[[allow("secretsmanager:*")]]),
    case("action-star", ALLOW, identity=[[allow("*")]]),
    case("action-question-mark", ALLOW, identity=[[allow("secretsmanager:GetSecretValu?")]]),
    case(
        "action-question-mark-is-one-char", NO_IDENTITY, identity=[[allow("secretsmanager:Get?")]]
    ),
    case("action-other-action", NO_IDENTITY, identity=[[allow("secretsmanager:DescribeSecret")]]),
    case("action-other-service", NO_IDENTITY, identity=[[allow("kms:*")]]),
    case("action-list", ALLOW, identity=[[allow(["kms:Decrypt", GET])]]),
    case("action-wildcard-not-prefix-of-service", NO_IDENTITY, identity=[[allow("secrets:*")]]),
    case("explicit-deny-beats-allow", DENY_IDENTITY, identity=[[allow(), deny()]]),
    case(
        "explicit-deny-in-another-policy",
        DENY_IDENTITY,
        identity=[[allow("*")], [deny("secretsmanager:*")]],
    ),
    case(
        "deny-of-other-action-is-irrelevant",
        ALLOW,
        identity=[[allow(), deny("secretsmanager:DeleteSecret")]],
    ),
    case("not-action-allow", ALLOW, identity=[[allow(NotAction="iam:*")]]),
    case("not-action-excludes", NO_IDENTITY, identity=[[allow(NotAction="secretsmanager:*")]]),
    case(
        "not-action-deny",
        DENY_IDENTITY,
        identity=[[allow("*"), deny(NotAction="secretsmanager:Describe*")]],
    ),
    case(
        "not-action-deny-spares-listed",
        ALLOW,
        identity=[[allow("*"), deny(NotAction=["secretsmanager:Get*", "kms:*"])]],
    ),
    case("resource-exact", ALLOW, identity=[[allow(resource=SECRET)]]),
    case("resource-other", NO_IDENTITY, identity=[[allow(resource=OTHER_SECRET)]]),
    case(
        "resource-wildcard",
        ALLOW,
        identity=[[allow(resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:prod/*")]],
    ),
    case(
        "resource-case-sensitive",
        NO_IDENTITY,
        identity=[[allow(resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:PROD/*")]],
    ),
    case("resource-list", ALLOW, identity=[[allow(resource=[OTHER_SECRET, SECRET])]]),
    case(
        "resource-question-mark",
        ALLOW,
        identity=[[allow(resource=SECRET[:-6] + "??????")]],
    ),
    case(
        "resource-star-ending-segment-crosses-colons",
        ALLOW,
        identity=[[allow(resource="arn:aws:secretsmanager:*:secret:prod/db-AbCdEf")]],
    ),
    case(
        "resource-star-inside-segment-stays-inside",
        NO_IDENTITY,
        identity=[[allow(resource="arn:aws:secretsmanager:u*3:secret:prod/db-AbCdEf")]],
    ),
    case(
        "resource-star-inside-segment-matches-within",
        ALLOW,
        identity=[[allow(resource=f"arn:aws:secretsmanager:us-*-1:{ACCOUNT}:secret:prod/*")]],
    ),
    case("not-resource-other", ALLOW, identity=[[allow(NotResource=OTHER_SECRET)]]),
    case("not-resource-this", NO_IDENTITY, identity=[[allow(NotResource=[OTHER_SECRET, SECRET])]]),
    case(
        "deny-not-resource",
        DENY_IDENTITY,
        identity=[[allow(), deny(NotResource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:dev/*")]],
    ),
    case(
        "resourceless-action-needs-star",
        ALLOW,
        identity=[[allow("secretsmanager:ListSecrets")]],
        action="secretsmanager:ListSecrets",
        resource="*",
    ),
    case(
        "resourceless-action-not-matched-by-arn-pattern",
        NO_IDENTITY,
        identity=[[allow("secretsmanager:ListSecrets", "arn:aws:secretsmanager:*")]],
        action="secretsmanager:ListSecrets",
        resource="*",
    ),
    case(
        "deny-with-unmet-condition-does-not-deny",
        ALLOW,
        identity=[[allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})]],
        context={"aws:SecureTransport": True},
    ),
    case(
        "one-of-several-statements-allows",
        ALLOW,
        identity=[[allow(resource=OTHER_SECRET), allow("secretsmanager:Get*", SECRET)]],
    ),
    case(
        "statements-across-ten-policies",
        ALLOW,
        identity=[[allow("kms:Decrypt")]] * 9 + [[allow(resource=SECRET)]],
    ),
    case(
        "first-resource-match-fails-condition-a-later-one-allows",
        ALLOW,
        identity=[
            [
                allow(resource=OTHER_SECRET),
                allow(resource=SECRET, Condition={"Bool": {SECURE: "false"}}),
                allow(resource=OTHER_SECRET),
                allow(resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:prod/*"),
            ]
        ],
        context={SECURE: True},
    ),
    case(
        "similar-resource-patterns-in-one-policy",
        ALLOW,
        identity=[
            [
                allow(resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:prod/d{n}*")
                for n in range(8)
            ]
            + [allow(resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:prod/d*")]
        ],
    ),
    case(
        "similar-resource-patterns-none-matches",
        NO_IDENTITY,
        identity=[
            [
                allow(resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:prod/db{n}*")
                for n in range(8)
            ]
        ],
    ),
]

STRING_CONDITIONS = [
    cond("StringEquals-match", True, {"StringEquals": {TAG: "blue"}}, {TAG: "blue"}),
    cond("StringEquals-case-sensitive", False, {"StringEquals": {TAG: "Blue"}}, {TAG: "blue"}),
    cond("StringEquals-missing-key", False, {"StringEquals": {TAG: "blue"}}, {}),
    cond(
        "StringEquals-key-name-case-insensitive",
        True,
        {"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "blue"}},
        {"aws:principaltag/Team": "blue"},
    ),
    cond("StringEquals-values-or", True, {"StringEquals": {TAG: ["red", "blue"]}}, {TAG: "blue"}),
    cond("StringEquals-no-wildcards", False, {"StringEquals": {TAG: "bl*"}}, {TAG: "blue"}),
    cond("StringNotEquals-differs", True, {"StringNotEquals": {TAG: "red"}}, {TAG: "blue"}),
    cond("StringNotEquals-equal", False, {"StringNotEquals": {TAG: "blue"}}, {TAG: "blue"}),
    cond("StringNotEquals-missing-key-holds", True, {"StringNotEquals": {TAG: "blue"}}, {}),
    cond(
        "StringNotEquals-values-nor-one-equal",
        False,
        {"StringNotEquals": {TAG: ["red", "blue"]}},
        {TAG: "blue"},
    ),
    cond(
        "StringNotEquals-values-nor-none-equal",
        True,
        {"StringNotEquals": {TAG: ["red", "blue"]}},
        {TAG: "green"},
    ),
    cond(
        "StringEqualsIgnoreCase-match",
        True,
        {"StringEqualsIgnoreCase": {TAG: "BLUE"}},
        {TAG: "blue"},
    ),
    cond(
        "StringEqualsIgnoreCase-differs",
        False,
        {"StringEqualsIgnoreCase": {TAG: "red"}},
        {TAG: "blue"},
    ),
    cond(
        "StringNotEqualsIgnoreCase-equal",
        False,
        {"StringNotEqualsIgnoreCase": {TAG: "BLUE"}},
        {TAG: "blue"},
    ),
    cond(
        "StringNotEqualsIgnoreCase-differs",
        True,
        {"StringNotEqualsIgnoreCase": {TAG: "BLUE"}},
        {TAG: "red"},
    ),
    cond(
        "StringNotEqualsIgnoreCase-missing-key-holds",
        True,
        {"StringNotEqualsIgnoreCase": {TAG: "BLUE"}},
        {},
    ),
    cond("StringLike-star", True, {"StringLike": {TAG: "prod/*"}}, {TAG: "prod/db/x"}),
    cond("StringLike-star-no-match", False, {"StringLike": {TAG: "prod/*"}}, {TAG: "dev/db"}),
    cond("StringLike-question-mark", True, {"StringLike": {TAG: "a?c"}}, {TAG: "abc"}),
    cond("StringLike-question-mark-one-char", False, {"StringLike": {TAG: "a?c"}}, {TAG: "abbc"}),
    cond("StringLike-case-sensitive", False, {"StringLike": {TAG: "Prod/*"}}, {TAG: "prod/x"}),
    cond("StringLike-missing-key", False, {"StringLike": {TAG: "*"}}, {}),
    cond("StringLike-regex-chars-literal", False, {"StringLike": {TAG: "a.c"}}, {TAG: "abc"}),
    cond("StringNotLike-no-match", True, {"StringNotLike": {TAG: "prod/*"}}, {TAG: "dev/x"}),
    cond("StringNotLike-match", False, {"StringNotLike": {TAG: "prod/*"}}, {TAG: "prod/x"}),
    cond("StringNotLike-missing-key-holds", True, {"StringNotLike": {TAG: "prod/*"}}, {}),
]

AGE = "aws:MultiFactorAuthAge"
NUMERIC_CONDITIONS = [
    cond("NumericEquals-match", True, {"NumericEquals": {AGE: "10"}}, {AGE: 10}),
    cond("NumericEquals-decimal-form", True, {"NumericEquals": {AGE: "10"}}, {AGE: "10.0"}),
    cond("NumericEquals-differs", False, {"NumericEquals": {AGE: "10"}}, {AGE: "11"}),
    cond("NumericNotEquals-differs", True, {"NumericNotEquals": {AGE: "10"}}, {AGE: "11"}),
    cond("NumericNotEquals-equal", False, {"NumericNotEquals": {AGE: "10"}}, {AGE: "10"}),
    cond("NumericNotEquals-missing-key-holds", True, {"NumericNotEquals": {AGE: "10"}}, {}),
    cond("NumericLessThan-below", True, {"NumericLessThan": {AGE: "3600"}}, {AGE: "100"}),
    cond("NumericLessThan-equal", False, {"NumericLessThan": {AGE: "3600"}}, {AGE: "3600"}),
    cond("NumericLessThan-negative", True, {"NumericLessThan": {AGE: "0"}}, {AGE: "-1"}),
    cond(
        "NumericLessThanEquals-equal", True, {"NumericLessThanEquals": {AGE: "3600"}}, {AGE: 3600}
    ),
    cond(
        "NumericLessThanEquals-above", False, {"NumericLessThanEquals": {AGE: "3600"}}, {AGE: 3601}
    ),
    cond("NumericGreaterThan-above", True, {"NumericGreaterThan": {AGE: "5"}}, {AGE: "6"}),
    cond("NumericGreaterThan-equal", False, {"NumericGreaterThan": {AGE: "5"}}, {AGE: "5"}),
    cond(
        "NumericGreaterThanEquals-equal", True, {"NumericGreaterThanEquals": {AGE: "5"}}, {AGE: 5}
    ),
    cond(
        "NumericGreaterThanEquals-below",
        False,
        {"NumericGreaterThanEquals": {AGE: 5}},
        {AGE: "4.9"},
    ),
    cond("Numeric-unparseable-request-value", False, {"NumericLessThan": {AGE: "5"}}, {AGE: "ten"}),
    cond(
        "NumericNotEquals-unparseable-request-value",
        False,
        {"NumericNotEquals": {AGE: "5"}},
        {AGE: "ten"},
    ),
    cond(
        "NumericNotEquals-unparseable-policy-value",
        False,
        {"NumericNotEquals": {AGE: "x"}},
        {AGE: 5},
    ),
    cond("Numeric-missing-key", False, {"NumericGreaterThan": {AGE: "5"}}, {}),
]

JAN1 = "2024-01-01T00:00:00Z"
DATE_CONDITIONS = [
    cond("DateEquals-match", True, {"DateEquals": {TIME: JAN1}}, {TIME: JAN1}),
    cond("DateEquals-epoch-request", True, {"DateEquals": {TIME: JAN1}}, {TIME: "1704067200"}),
    cond("DateEquals-epoch-policy", True, {"DateEquals": {TIME: 1704067200}}, {TIME: JAN1}),
    cond(
        "DateEquals-zone-offset",
        True,
        {"DateEquals": {TIME: "2024-01-01T01:00:00+01:00"}},
        {TIME: JAN1},
    ),
    cond(
        "DateEquals-fractional-seconds",
        True,
        {"DateEquals": {TIME: "2024-01-01T00:00:00.000Z"}},
        {TIME: JAN1},
    ),
    cond(
        "DateEquals-datetime-context-value",
        True,
        {"DateEquals": {TIME: JAN1}},
        {TIME: datetime(2024, 1, 1, tzinfo=UTC)},
    ),
    cond("DateEquals-differs", False, {"DateEquals": {TIME: JAN1}}, {TIME: "2024-01-01T00:00:01Z"}),
    cond("DateNotEquals-equal", False, {"DateNotEquals": {TIME: JAN1}}, {TIME: JAN1}),
    cond("DateNotEquals-differs", True, {"DateNotEquals": {TIME: JAN1}}, {TIME: "2024-02-01"}),
    cond("DateNotEquals-missing-key-holds", True, {"DateNotEquals": {TIME: JAN1}}, {}),
    cond(
        "DateLessThan-before",
        True,
        {"DateLessThan": {TIME: "2030-01-01T00:00:00Z"}},
        {TIME: "2024-06-01T12:00:00Z"},
    ),
    cond(
        "DateLessThan-after",
        False,
        {"DateLessThan": {TIME: "2030-01-01T00:00:00Z"}},
        {TIME: "2031-01-01T00:00:00Z"},
    ),
    cond("DateLessThanEquals-equal", True, {"DateLessThanEquals": {TIME: JAN1}}, {TIME: JAN1}),
    cond(
        "DateLessThanEquals-after",
        False,
        {"DateLessThanEquals": {TIME: JAN1}},
        {TIME: "2024-01-01T00:00:01Z"},
    ),
    cond(
        "DateGreaterThan-date-only-policy",
        True,
        {"DateGreaterThan": {TIME: "2020-01-01"}},
        {TIME: JAN1},
    ),
    cond(
        "DateGreaterThan-before",
        False,
        {"DateGreaterThan": {TIME: "2020-01-01"}},
        {TIME: "2019-12-31T23:59:59Z"},
    ),
    cond(
        "DateGreaterThanEquals-equal", True, {"DateGreaterThanEquals": {TIME: JAN1}}, {TIME: JAN1}
    ),
    cond(
        "DateGreaterThanEquals-before",
        False,
        {"DateGreaterThanEquals": {TIME: JAN1}},
        {TIME: "2023-12-31T23:59:59Z"},
    ),
    cond("Date-unparseable-request", False, {"DateLessThan": {TIME: JAN1}}, {TIME: "yesterday"}),
    cond("Date-unparseable-policy", False, {"DateNotEquals": {TIME: "soon"}}, {TIME: JAN1}),
]

BLOB = "custom:blob"
IP = "aws:SourceIp"
OTHER_CONDITIONS = [
    cond("Bool-true", True, {"Bool": {SECURE: "true"}}, {SECURE: True}),
    cond("Bool-false-request", False, {"Bool": {SECURE: "true"}}, {SECURE: False}),
    cond("Bool-json-boolean-policy-value", True, {"Bool": {SECURE: True}}, {SECURE: "true"}),
    cond("Bool-case-insensitive-value", True, {"Bool": {SECURE: "True"}}, {SECURE: "TRUE"}),
    cond("Bool-missing-key", False, {"Bool": {SECURE: "false"}}, {}),
    cond("Bool-unparseable-request", False, {"Bool": {SECURE: "true"}}, {SECURE: "yes"}),
    cond(
        "BinaryEquals-match",
        True,
        {"BinaryEquals": {BLOB: "QmluYXJ5VmFsdWU="}},
        {BLOB: b"BinaryValue"},
    ),
    cond("BinaryEquals-differs", False, {"BinaryEquals": {BLOB: "QmluYXJ5VmFsdWU="}}, {BLOB: b"x"}),
    cond(
        "BinaryEquals-invalid-base64-policy", False, {"BinaryEquals": {BLOB: "@@@"}}, {BLOB: b"x"}
    ),
    cond("BinaryEquals-missing-key", False, {"BinaryEquals": {BLOB: "eA=="}}, {}),
    cond("IpAddress-in-cidr", True, {"IpAddress": {IP: "203.0.113.0/24"}}, {IP: "203.0.113.7"}),
    cond("IpAddress-outside", False, {"IpAddress": {IP: "203.0.113.0/24"}}, {IP: "198.51.100.1"}),
    cond("IpAddress-bare-address", True, {"IpAddress": {IP: "203.0.113.7"}}, {IP: "203.0.113.7"}),
    cond(
        "IpAddress-ipv6",
        True,
        {"IpAddress": {IP: "2001:DB8:1234:5678::/64"}},
        {IP: "2001:db8:1234:5678::1"},
    ),
    cond(
        "IpAddress-ipv6-policy-ipv4-request",
        False,
        {"IpAddress": {IP: "2001:DB8:1234:5678::/64"}},
        {IP: "203.0.113.7"},
    ),
    cond(
        "IpAddress-list-or",
        True,
        {"IpAddress": {IP: ["192.0.2.0/24", "203.0.113.0/24"]}},
        {IP: "203.0.113.9"},
    ),
    cond("IpAddress-unparseable-request", False, {"IpAddress": {IP: "0.0.0.0/0"}}, {IP: "host"}),
    cond(
        "NotIpAddress-outside", True, {"NotIpAddress": {IP: "203.0.113.0/24"}}, {IP: "198.51.100.1"}
    ),
    cond(
        "NotIpAddress-inside", False, {"NotIpAddress": {IP: "203.0.113.0/24"}}, {IP: "203.0.113.1"}
    ),
    cond("NotIpAddress-missing-key-holds", True, {"NotIpAddress": {IP: "203.0.113.0/24"}}, {}),
    cond(
        "NotIpAddress-unparseable-request", False, {"NotIpAddress": {IP: "10.0.0.0/8"}}, {IP: "?"}
    ),
    cond("ArnEquals-match", True, {"ArnEquals": {SOURCE_ARN: FUNCTION}}, {SOURCE_ARN: FUNCTION}),
    cond(
        "ArnEquals-case-sensitive",
        False,
        {"ArnEquals": {SOURCE_ARN: FUNCTION.replace("rotate", "Rotate")}},
        {SOURCE_ARN: FUNCTION},
    ),
    cond(
        "ArnEquals-takes-wildcards",
        True,
        {"ArnEquals": {SOURCE_ARN: f"arn:aws:lambda:*:{ACCOUNT}:function:*"}},
        {SOURCE_ARN: FUNCTION},
    ),
    cond(
        "ArnLike-wildcards",
        True,
        {"ArnLike": {SOURCE_ARN: f"arn:aws:lambda:*:{ACCOUNT}:function:rot*"}},
        {SOURCE_ARN: f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:rotator"},
    ),
    cond(
        "ArnLike-star-stays-in-its-component",
        False,
        {"ArnLike": {SOURCE_ARN: "arn:aws:lambda:us-east-1:*:function:x"}},
        {SOURCE_ARN: f"arn:aws:lambda:us-east-1:{ACCOUNT}:extra:function:x"},
    ),
    cond(
        "ArnLike-last-component-holds-colons",
        True,
        {"ArnLike": {SOURCE_ARN: f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}},
        {SOURCE_ARN: f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app:log-stream:x"},
    ),
    cond(
        "ArnLike-question-mark",
        True,
        {"ArnLike": {SOURCE_ARN: f"arn:aws:lambda:us-east-?:{ACCOUNT}:function:rotate"}},
        {SOURCE_ARN: FUNCTION},
    ),
    cond(
        "ArnLike-not-an-arn",
        False,
        {"ArnLike": {SOURCE_ARN: "arn:aws:lambda:*:*:*:*"}},
        {SOURCE_ARN: "not-an-arn"},
    ),
    cond(
        "ArnLike-policy-value-too-short",
        False,
        {"ArnLike": {SOURCE_ARN: "arn:aws:*"}},
        {SOURCE_ARN: FUNCTION},
    ),
    cond("ArnNotEquals-differs", True, {"ArnNotEquals": {SOURCE_ARN: FUNCTION}}, {SOURCE_ARN: KEY}),
    cond(
        "ArnNotEquals-equal",
        False,
        {"ArnNotEquals": {SOURCE_ARN: FUNCTION}},
        {SOURCE_ARN: FUNCTION},
    ),
    cond("ArnNotEquals-missing-key-holds", True, {"ArnNotEquals": {SOURCE_ARN: FUNCTION}}, {}),
    cond(
        "ArnNotLike-match",
        False,
        {"ArnNotLike": {SOURCE_ARN: "arn:aws:lambda:*:*:function:*"}},
        {SOURCE_ARN: FUNCTION},
    ),
    cond(
        "ArnNotLike-no-match",
        True,
        {"ArnNotLike": {SOURCE_ARN: "arn:aws:lambda:*:*:function:*"}},
        {SOURCE_ARN: KEY},
    ),
    cond(
        "ArnNotLike-not-an-arn-request",
        False,
        {"ArnNotLike": {SOURCE_ARN: "arn:aws:lambda:*:*:function:*"}},
        {SOURCE_ARN: "nope"},
    ),
    cond("Null-true-key-absent", True, {"Null": {"aws:TokenIssueTime": "true"}}, {}),
    cond(
        "Null-true-key-present",
        False,
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"aws:TokenIssueTime": JAN1},
    ),
    cond(
        "Null-false-key-present",
        True,
        {"Null": {"aws:TokenIssueTime": "false"}},
        {"aws:TokenIssueTime": JAN1},
    ),
    cond("Null-false-key-absent", False, {"Null": {"aws:TokenIssueTime": "false"}}, {}),
    cond(
        "Null-true-empty-list-is-absent", True, {"Null": {"aws:TagKeys": True}}, {"aws:TagKeys": []}
    ),
]

KEYS = "aws:TagKeys"
QUALIFIED_CONDITIONS = [
    cond("StringEqualsIfExists-absent", True, {"StringEqualsIfExists": {TAG: "blue"}}, {}),
    cond(
        "StringEqualsIfExists-match", True, {"StringEqualsIfExists": {TAG: "blue"}}, {TAG: "blue"}
    ),
    cond(
        "StringEqualsIfExists-differs", False, {"StringEqualsIfExists": {TAG: "blue"}}, {TAG: "red"}
    ),
    cond(
        "StringNotEqualsIfExists-equal", False, {"StringNotEqualsIfExists": {TAG: "x"}}, {TAG: "x"}
    ),
    cond("NumericLessThanIfExists-absent", True, {"NumericLessThanIfExists": {AGE: "60"}}, {}),
    cond(
        "NumericLessThanIfExists-above", False, {"NumericLessThanIfExists": {AGE: "60"}}, {AGE: 61}
    ),
    cond("DateGreaterThanIfExists-absent", True, {"DateGreaterThanIfExists": {TIME: JAN1}}, {}),
    cond("IpAddressIfExists-absent", True, {"IpAddressIfExists": {IP: "10.0.0.0/8"}}, {}),
    cond("ArnLikeIfExists-absent", True, {"ArnLikeIfExists": {SOURCE_ARN: FUNCTION}}, {}),
    cond(
        "ForAllValues-subset",
        True,
        {"ForAllValues:StringEquals": {KEYS: ["env", "team"]}},
        {KEYS: ["env"]},
    ),
    cond(
        "ForAllValues-one-outside",
        False,
        {"ForAllValues:StringEquals": {KEYS: ["env", "team"]}},
        {KEYS: ["env", "owner"]},
    ),
    cond("ForAllValues-missing-key-holds", True, {"ForAllValues:StringEquals": {KEYS: "env"}}, {}),
    cond(
        "ForAllValues-empty-list-holds",
        True,
        {"ForAllValues:StringEquals": {KEYS: "env"}},
        {KEYS: []},
    ),
    cond(
        "ForAnyValue-one-inside",
        True,
        {"ForAnyValue:StringEquals": {KEYS: ["env", "team"]}},
        {KEYS: ["owner", "env"]},
    ),
    cond(
        "ForAnyValue-none-inside",
        False,
        {"ForAnyValue:StringEquals": {KEYS: ["env", "team"]}},
        {KEYS: ["owner"]},
    ),
    cond("ForAnyValue-missing-key-fails", False, {"ForAnyValue:StringEquals": {KEYS: "env"}}, {}),
    cond(
        "ForAnyValue-empty-list-fails",
        False,
        {"ForAnyValue:StringEquals": {KEYS: "env"}},
        {KEYS: []},
    ),
    cond(
        "ForAnyValue-negated-missing-key-fails",
        False,
        {"ForAnyValue:StringNotEquals": {KEYS: "env"}},
        {},
    ),
    cond(
        "ForAnyValue-StringLike",
        True,
        {"ForAnyValue:StringLike": {KEYS: "cost-*"}},
        {KEYS: ["env", "cost-center"]},
    ),
    cond(
        "ForAllValues-StringLike-one-outside",
        False,
        {"ForAllValues:StringLike": {KEYS: "cost-*"}},
        {KEYS: ["cost-center", "env"]},
    ),
    cond(
        "ForAllValues-StringNotEquals-none-forbidden",
        True,
        {"ForAllValues:StringNotEquals": {KEYS: "secret"}},
        {KEYS: ["a", "b"]},
    ),
    cond(
        "ForAllValues-StringNotEquals-one-forbidden",
        False,
        {"ForAllValues:StringNotEquals": {KEYS: "secret"}},
        {KEYS: ["a", "secret"]},
    ),
    cond(
        "ForAnyValue-StringNotEquals-one-other",
        True,
        {"ForAnyValue:StringNotEquals": {KEYS: "secret"}},
        {KEYS: ["secret", "a"]},
    ),
    cond(
        "ForAnyValue-StringNotEquals-all-forbidden",
        False,
        {"ForAnyValue:StringNotEquals": {KEYS: "secret"}},
        {KEYS: ["secret"]},
    ),
    cond(
        "ForAnyValue-IfExists-missing-key-holds",
        True,
        {"ForAnyValue:StringEqualsIfExists": {KEYS: "env"}},
        {},
    ),
    cond(
        "plain-operator-multivalued-key-any",
        True,
        {"StringEquals": {KEYS: "b"}},
        {KEYS: ["a", "b"]},
    ),
    cond(
        "plain-negated-multivalued-key-none",
        False,
        {"StringNotEquals": {KEYS: "b"}},
        {KEYS: ["a", "b"]},
    ),
    cond(
        "two-keys-and-one-fails",
        False,
        {"StringEquals": {TAG: "blue", "aws:PrincipalTag/dept": "it"}},
        {TAG: "blue", "aws:PrincipalTag/dept": "hr"},
    ),
    cond(
        "two-keys-and-both-hold",
        True,
        {"StringEquals": {TAG: "blue", "aws:PrincipalTag/dept": "it"}},
        {TAG: "blue", "aws:PrincipalTag/dept": "it"},
    ),
    cond(
        "two-operators-and-one-fails",
        False,
        {"StringEquals": {TAG: "blue"}, "Bool": {SECURE: "true"}},
        {TAG: "blue", SECURE: False},
    ),
    cond(
        "two-operators-and-both-hold",
        True,
        {"StringEquals": {TAG: "blue"}, "Bool": {SECURE: "true"}},
        {TAG: "blue", SECURE: True},
    ),
]

HOME = f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:${{aws:username}}/*"
BOB_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:bob/api-AbCdEf"
ALICE_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:alice/api-AbCdEf"
SHARED_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:shared/api-AbCdEf"
NAME = "custom:name"
RTAG = "secretsmanager:ResourceTag/team"
VARIABLES = [
    case(
        "variable-username-in-resource",
        ALLOW,
        identity=[[allow(resource=HOME)]],
        resource=BOB_SECRET,
        context={"aws:username": "bob"},
    ),
    case(
        "variable-username-other-home",
        NO_IDENTITY,
        identity=[[allow(resource=HOME)]],
        resource=ALICE_SECRET,
        context={"aws:username": "bob"},
    ),
    case(
        "variable-missing-key-matches-nothing",
        NO_IDENTITY,
        identity=[[allow(resource=HOME)]],
        caller=SESSION,
        resource=BOB_SECRET,
    ),
    case(
        "variable-missing-key-other-resources-still-match",
        ALLOW,
        identity=[[allow(resource=[HOME, BOB_SECRET])]],
        caller=SESSION,
        resource=BOB_SECRET,
    ),
    case(
        "variable-default-used-when-missing",
        ALLOW,
        identity=[[allow(resource=HOME.replace("aws:username", "aws:username, 'shared'"))]],
        caller=SESSION,
        resource=SHARED_SECRET,
    ),
    case(
        "variable-default-unused-when-present",
        NO_IDENTITY,
        identity=[[allow(resource=HOME.replace("aws:username", "aws:username, 'shared'"))]],
        resource=SHARED_SECRET,
        context={"aws:username": "bob"},
    ),
    case(
        "variable-key-name-case-insensitive",
        ALLOW,
        identity=[[allow(resource=HOME.replace("aws:username", "AWS:UserName"))]],
        resource=BOB_SECRET,
        context={"aws:username": "bob"},
    ),
    case(
        "variable-in-condition-abac-match",
        ALLOW,
        identity=[[allow(Condition={"StringEquals": {RTAG: "${aws:PrincipalTag/team}"}})]],
        context={TAG: "blue", RTAG: "blue"},
    ),
    case(
        "variable-in-condition-abac-mismatch",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringEquals": {RTAG: "${aws:PrincipalTag/team}"}})]],
        context={TAG: "blue", RTAG: "red"},
    ),
    case(
        "variable-in-condition-missing-key",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringEquals": {RTAG: "${aws:PrincipalTag/team}"}})]],
        context={RTAG: "blue"},
    ),
    # Unsure: AWS says an unresolved variable "might" invalidate the statement; here the
    # condition is false whatever its operator, so this Deny does not apply.
    case(
        "variable-unresolved-in-negated-condition-is-false",
        ALLOW,
        identity=[
            [allow(), deny(Condition={"StringNotEquals": {RTAG: "${aws:PrincipalTag/team}"}})]
        ],
        context={RTAG: "blue"},
    ),
    case(
        "variable-escaped-star-is-literal",
        ALLOW,
        identity=[[allow(Condition={"StringLike": {NAME: "a${*}b"}})]],
        context={NAME: "a*b"},
    ),
    case(
        "variable-escaped-star-is-no-wildcard",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringLike": {NAME: "a${*}b"}})]],
        context={NAME: "axb"},
    ),
    case(
        "variable-escaped-question-mark",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringLike": {NAME: "a${?}"}})]],
        context={NAME: "ab"},
    ),
    case(
        "variable-escaped-dollar",
        ALLOW,
        identity=[[allow(Condition={"StringEquals": {NAME: "${$}{aws:username}"}})]],
        context={NAME: "${aws:username}", "aws:username": "bob"},
    ),
    case(
        "variable-value-is-literal-in-StringLike",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringLike": {NAME: "${aws:PrincipalTag/p}"}})]],
        context={NAME: "abc", "aws:PrincipalTag/p": "a*"},
    ),
    case(
        "variable-value-literal-star-matches-itself",
        ALLOW,
        identity=[[allow(Condition={"StringLike": {NAME: "${aws:PrincipalTag/p}x*"}})]],
        context={NAME: "a*xyz", "aws:PrincipalTag/p": "a*"},
    ),
    case(
        "variable-default-with-quote",
        ALLOW,
        identity=[[allow(Condition={"StringEquals": {NAME: "${aws:username, 'it''s'}"}})]],
        context={NAME: "it's"},
    ),
    case(
        "variable-multivalued-key-does-not-resolve",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringEquals": {NAME: "${aws:TagKeys}"}})]],
        context={NAME: "a", KEYS: ["a", "b"]},
    ),
    case(
        "variable-userid",
        ALLOW,
        identity=[[allow(Condition={"StringEquals": {NAME: "${aws:userid}:x"}})]],
        context={NAME: "AIDAEXAMPLE:x", "aws:userid": "AIDAEXAMPLE"},
    ),
    case(
        "variable-any-context-key",
        ALLOW,
        identity=[[allow(resource="arn:aws:secretsmanager:${aws:RequestedRegion}:*")]],
        context={"aws:RequestedRegion": "us-east-1"},
    ),
    case(
        "variable-version-2008-is-literal-text",
        ALLOW,
        identity=[
            document([allow(Condition={"StringEquals": {NAME: "${aws:username}"}})], "2008-10-17")
        ],
        context={NAME: "${aws:username}", "aws:username": "bob"},
    ),
    case(
        "variable-version-2012-is-substituted",
        NO_IDENTITY,
        identity=[[allow(Condition={"StringEquals": {NAME: "${aws:username}"}})]],
        context={NAME: "${aws:username}", "aws:username": "bob"},
    ),
    case(
        "variable-version-2008-resource-is-literal",
        NO_IDENTITY,
        identity=[document([allow(resource=HOME)], "2008-10-17")],
        resource=BOB_SECRET,
        context={"aws:username": "bob"},
    ),
    case(
        "variable-in-arn-condition",
        ALLOW,
        identity=[
            [
                allow(
                    Condition={
                        "ArnLike": {SOURCE_ARN: "arn:aws:lambda:*:${aws:PrincipalAccount}:*:*"}
                    }
                )
            ]
        ],
        context={SOURCE_ARN: FUNCTION, "aws:PrincipalAccount": ACCOUNT},
    ),
    # Unsure, as above: NotResource with an unresolved variable makes the statement not apply.
    case(
        "variable-unresolved-not-resource-statement-does-not-apply",
        ALLOW,
        identity=[[allow(), deny(NotResource=HOME)]],
        caller=SESSION,
    ),
]

BOB_GET = allow()
RESOURCE_POLICIES = [
    case(
        "resource-policy-only-same-account", ALLOW, resource_policy=[to({"AWS": BOB_ARN}, BOB_GET)]
    ),
    case(
        "resource-policy-account-root-same-account-needs-identity",
        NO_IDENTITY,
        resource_policy=[to({"AWS": ROOT}, BOB_GET)],
    ),
    case(
        "resource-policy-account-id-same-account-needs-identity",
        NO_IDENTITY,
        resource_policy=[to({"AWS": ACCOUNT}, BOB_GET)],
    ),
    case(
        "resource-policy-account-root-plus-identity",
        ALLOW,
        identity=[[allow()]],
        resource_policy=[to({"AWS": ROOT}, BOB_GET)],
    ),
    case("resource-policy-star-principal", ALLOW, resource_policy=[to("*", BOB_GET)]),
    case(
        "resource-policy-other-user",
        NO_IDENTITY,
        resource_policy=[to({"AWS": ALICE_ARN}, BOB_GET)],
    ),
    case(
        "resource-policy-other-action",
        NO_IDENTITY,
        resource_policy=[to({"AWS": BOB_ARN}, allow("secretsmanager:PutSecretValue"))],
    ),
    case(
        "identity-allow-without-resource-policy-grant",
        ALLOW,
        identity=[[allow()]],
        resource_policy=[to({"AWS": ALICE_ARN}, BOB_GET)],
    ),
    case(
        "resource-deny-naming-user-beats-identity-allow",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=[to({"AWS": BOB_ARN}, deny())],
    ),
    case(
        "resource-deny-naming-account-covers-users",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=[to({"AWS": ACCOUNT}, deny())],
    ),
    case(
        "resource-deny-naming-other-user",
        ALLOW,
        identity=[[allow()]],
        resource_policy=[to({"AWS": ALICE_ARN}, deny())],
    ),
    case(
        "identity-deny-beats-resource-allow",
        DENY_IDENTITY,
        identity=[[deny()]],
        resource_policy=[to({"AWS": BOB_ARN}, BOB_GET)],
    ),
    case(
        "resource-policy-statement-resource-star",
        ALLOW,
        resource_policy=[to({"AWS": BOB_ARN}, allow(resource=SECRET))],
    ),
    case(
        "resource-policy-names-role-session-via-role",
        ALLOW,
        caller=SESSION,
        resource_policy=[to({"AWS": ROLE_ARN}, BOB_GET)],
    ),
    case(
        "resource-policy-names-session-arn",
        ALLOW,
        caller=SESSION,
        resource_policy=[to({"AWS": SESSION_ARN}, BOB_GET)],
    ),
    case(
        "resource-policy-names-other-session",
        NO_IDENTITY,
        caller=SESSION,
        resource_policy=[to({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/App/other"}, BOB_GET)],
    ),
    case(
        "resource-deny-naming-role-covers-its-sessions",
        DENY_RESOURCE,
        caller=SESSION,
        identity=[[allow()]],
        resource_policy=[to({"AWS": ROLE_ARN}, deny())],
    ),
    case(
        "resource-policy-federated-user-via-issuing-user",
        ALLOW,
        caller=FEDERATED,
        resource_policy=[to({"AWS": BOB_ARN}, BOB_GET)],
    ),
    case(
        "not-principal-deny-excludes-user-and-account",
        ALLOW,
        identity=[[allow()]],
        resource_policy=[{"NotPrincipal": {"AWS": [BOB_ARN, ROOT]}, **deny()}],
    ),
    case(
        "not-principal-deny-user-without-account-still-denies",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=[{"NotPrincipal": {"AWS": BOB_ARN}, **deny()}],
    ),
    case(
        "not-principal-deny-other-user-denies",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=[{"NotPrincipal": {"AWS": [ALICE_ARN, ROOT]}, **deny()}],
    ),
    case(
        "not-principal-deny-session-needs-session-role-and-account",
        ALLOW,
        caller=SESSION,
        identity=[[allow()]],
        resource_policy=[{"NotPrincipal": {"AWS": [SESSION_ARN, ROLE_ARN, ROOT]}, **deny()}],
    ),
    case(
        "not-principal-deny-session-without-role-denies",
        DENY_RESOURCE,
        caller=SESSION,
        identity=[[allow()]],
        resource_policy=[{"NotPrincipal": {"AWS": [SESSION_ARN, ROOT]}, **deny()}],
    ),
    case(
        "not-principal-allow-grants-nothing",
        NO_IDENTITY,
        resource_policy=[{"NotPrincipal": {"AWS": ALICE_ARN}, **allow()}],
    ),
    case(
        "federated-principal-never-matches",
        NO_IDENTITY,
        resource_policy=[to({"Federated": "cognito-identity.amazonaws.com"}, BOB_GET)],
    ),
    case(
        "service-principal-named",
        ALLOW,
        caller=LAMBDA,
        resource_policy=[to({"Service": "lambda.amazonaws.com"}, BOB_GET)],
    ),
    case(
        "service-principal-not-named",
        NO_RESOURCE,
        caller=LAMBDA,
        resource_policy=[to({"Service": "events.amazonaws.com"}, BOB_GET)],
    ),
    case(
        "service-principal-ignores-identity-policies",
        NO_RESOURCE,
        caller=LAMBDA,
        identity=[[allow()]],
    ),
    case(
        "service-principal-star",
        ALLOW,
        caller=LAMBDA,
        resource_policy=[to("*", BOB_GET)],
    ),
    case(
        "service-principal-explicit-deny",
        DENY_RESOURCE,
        caller=LAMBDA,
        resource_policy=[to("*", BOB_GET), to({"Service": "lambda.amazonaws.com"}, deny())],
    ),
    case(
        "aws-principal-does-not-match-service-name",
        NO_IDENTITY,
        resource_policy=[to({"Service": "lambda.amazonaws.com"}, BOB_GET)],
    ),
    case("root-user-allowed-in-own-account", ALLOW, caller=ROOT_USER),
    case(
        "root-user-resource-deny",
        DENY_RESOURCE,
        caller=ROOT_USER,
        resource_policy=[to({"AWS": ACCOUNT}, deny())],
    ),
    case(
        "root-user-cross-account-needs-resource-policy",
        NO_RESOURCE,
        caller=ROOT_USER,
        resource_account=OTHER,
    ),
]

CROSS_ACCOUNT = [
    case(
        "cross-account-identity-only",
        NO_RESOURCE,
        caller=EVE,
        identity=[[allow()]],
        resource_policy=[to({"AWS": BOB_ARN}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-no-resource-policy",
        NO_RESOURCE,
        caller=EVE,
        identity=[[allow()]],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-resource-only",
        NO_IDENTITY,
        caller=EVE,
        resource_policy=[to({"AWS": EVE_ARN}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-both-sides",
        ALLOW,
        caller=EVE,
        identity=[[allow()]],
        resource_policy=[to({"AWS": EVE_ARN}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-resource-names-account-root",
        ALLOW,
        caller=EVE,
        identity=[[allow()]],
        resource_policy=[to({"AWS": f"arn:aws:iam::{OTHER}:root"}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-resource-names-account-id",
        ALLOW,
        caller=EVE,
        identity=[[allow()]],
        resource_policy=[to({"AWS": OTHER}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-account-named-identity-missing",
        NO_IDENTITY,
        caller=EVE,
        resource_policy=[to({"AWS": OTHER}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-resource-names-star",
        ALLOW,
        caller=EVE,
        identity=[[allow()]],
        resource_policy=[to("*", BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-session-via-role",
        ALLOW,
        caller=OTHER_SESSION,
        identity=[[allow()]],
        resource_policy=[to({"AWS": OTHER_ROLE_ARN}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-identity-deny",
        DENY_IDENTITY,
        caller=EVE,
        identity=[[allow(), deny()]],
        resource_policy=[to({"AWS": EVE_ARN}, BOB_GET)],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-resource-deny-on-account",
        DENY_RESOURCE,
        caller=EVE,
        identity=[[allow()]],
        resource_policy=[to("*", BOB_GET), to({"AWS": OTHER}, deny())],
        resource_account=ACCOUNT,
    ),
    case(
        "cross-account-caller-own-account-is-same-account",
        ALLOW,
        caller=EVE,
        identity=[[allow()]],
        resource_account=OTHER,
    ),
]

SESSION_POLICY = [allow("secretsmanager:Get*")]
SESSIONS = [
    case(
        "session-identity-and-session-allow",
        ALLOW,
        caller=SESSION,
        identity=[[allow("*")]],
        session=[SESSION_POLICY],
    ),
    case(
        "session-policy-does-not-cover",
        NO_SESSION,
        caller=SESSION,
        identity=[[allow("*")]],
        session=[[allow("kms:*")]],
    ),
    case(
        "session-policy-cannot-add-permissions",
        NO_IDENTITY,
        caller=SESSION,
        identity=[[allow("kms:*")]],
        session=[SESSION_POLICY],
    ),
    case(
        "session-policy-explicit-deny",
        DENY_SESSION,
        caller=SESSION,
        identity=[[allow("*")]],
        session=[[allow("*"), deny()]],
    ),
    case(
        "session-policy-any-of-several",
        ALLOW,
        caller=SESSION,
        identity=[[allow("*")]],
        session=[[allow("kms:*")], SESSION_POLICY],
    ),
    case(
        "session-with-empty-session-policy-set",
        NO_SESSION,
        caller=SESSION,
        identity=[[allow("*")]],
        session=[],
    ),
    case(
        "session-resource-policy-names-role-limited-by-session-policy",
        NO_SESSION,
        caller=SESSION,
        session=[[allow("kms:*")]],
        resource_policy=[to({"AWS": ROLE_ARN}, BOB_GET)],
    ),
    case(
        "session-resource-policy-names-role-within-session-policy",
        ALLOW,
        caller=SESSION,
        session=[SESSION_POLICY],
        resource_policy=[to({"AWS": ROLE_ARN}, BOB_GET)],
    ),
    case(
        "session-resource-policy-names-session-not-limited",
        ALLOW,
        caller=SESSION,
        session=[[allow("kms:*")]],
        resource_policy=[to({"AWS": SESSION_ARN}, BOB_GET)],
    ),
    case(
        "session-policy-deny-beats-resource-allow-naming-session",
        DENY_SESSION,
        caller=SESSION,
        session=[[deny()]],
        resource_policy=[to({"AWS": SESSION_ARN}, BOB_GET)],
    ),
    case(
        "session-policy-with-conditions",
        NO_SESSION,
        caller=SESSION,
        identity=[[allow("*")]],
        session=[[allow(Condition={"IpAddress": {IP: "10.0.0.0/8"}})]],
        context={IP: "192.0.2.1"},
    ),
    case(
        "federated-user-session-policy-limits-user-policies",
        NO_SESSION,
        caller=FEDERATED,
        identity=[[allow("*")]],
        session=[[allow("secretsmanager:List*")]],
    ),
]

DEFAULT_KEY_POLICY = [
    {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:*",
        "Resource": "*",
    }
]
# The shape of AWS managed keys' policies (aws/secretsmanager): any caller of the account,
# through the service only.
MANAGED_KEY_POLICY = [
    {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:CallerAccount": ACCOUNT,
                "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
            }
        },
    }
]
VIA_SM = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
KMS_ALLOW = allow("kms:Decrypt")
KMS = [
    case(
        "kms-default-key-policy-delegates-to-iam",
        ALLOW,
        action=DECRYPT,
        resource=KEY,
        identity=[[KMS_ALLOW]],
        key_policy=DEFAULT_KEY_POLICY,
    ),
    case(
        "kms-default-key-policy-without-iam-allow",
        NO_IDENTITY,
        action=DECRYPT,
        resource=KEY,
        key_policy=DEFAULT_KEY_POLICY,
    ),
    case(
        "kms-iam-allow-is-not-enough-without-delegation",
        NO_RESOURCE,
        action=DECRYPT,
        resource=KEY,
        identity=[[allow("kms:*")]],
        key_policy=[to({"AWS": ALICE_ARN}, allow("kms:*"))],
    ),
    case(
        "kms-key-policy-names-user-directly",
        ALLOW,
        action=DECRYPT,
        resource=KEY,
        key_policy=[to({"AWS": BOB_ARN}, KMS_ALLOW)],
    ),
    case(
        "kms-key-policy-names-role-for-session",
        ALLOW,
        caller=SESSION,
        action=DECRYPT,
        resource=KEY,
        key_policy=[to({"AWS": ROLE_ARN}, KMS_ALLOW)],
    ),
    case(
        "kms-key-policy-names-role-session-policy-limits",
        NO_SESSION,
        caller=SESSION,
        session=[SESSION_POLICY],
        action=DECRYPT,
        resource=KEY,
        key_policy=[to({"AWS": ROLE_ARN}, KMS_ALLOW)],
    ),
    case(
        "kms-managed-key-via-service",
        ALLOW,
        action=DECRYPT,
        resource=KEY,
        key_policy=MANAGED_KEY_POLICY,
        context=VIA_SM,
    ),
    case(
        "kms-managed-key-called-directly",
        NO_RESOURCE,
        action=DECRYPT,
        resource=KEY,
        identity=[[allow("kms:*")]],
        key_policy=MANAGED_KEY_POLICY,
        context={"kms:CallerAccount": ACCOUNT},
    ),
    case(
        "kms-key-policy-deny-beats-everything",
        DENY_RESOURCE,
        action=DECRYPT,
        resource=KEY,
        identity=[[KMS_ALLOW]],
        key_policy=[*DEFAULT_KEY_POLICY, to({"AWS": BOB_ARN}, deny("kms:Decrypt"))],
        grant=True,
    ),
    case(
        "kms-iam-deny-beats-key-policy-allow",
        DENY_IDENTITY,
        action=DECRYPT,
        resource=KEY,
        identity=[[deny("kms:*")]],
        key_policy=[to({"AWS": BOB_ARN}, KMS_ALLOW)],
    ),
    case(
        "kms-iam-deny-without-delegation",
        DENY_IDENTITY,
        action=DECRYPT,
        resource=KEY,
        identity=[[deny("kms:*")]],
        key_policy=[to({"AWS": ALICE_ARN}, KMS_ALLOW)],
    ),
    case(
        "kms-grant-alone-allows",
        ALLOW,
        action=DECRYPT,
        resource=KEY,
        key_policy=[to({"AWS": ALICE_ARN}, KMS_ALLOW)],
        grant=True,
    ),
    case(
        "kms-grant-with-iam-deny",
        DENY_IDENTITY,
        action=DECRYPT,
        resource=KEY,
        identity=[[deny("kms:Decrypt")]],
        key_policy=DEFAULT_KEY_POLICY,
        grant=True,
    ),
    case(
        "kms-grant-limited-by-session-policy",
        NO_SESSION,
        caller=SESSION,
        session=[SESSION_POLICY],
        action=DECRYPT,
        resource=KEY,
        key_policy=DEFAULT_KEY_POLICY,
        grant=True,
    ),
    case(
        "kms-grant-ignored-for-ordinary-resource-policies",
        NO_IDENTITY,
        resource_policy=[to({"AWS": ALICE_ARN}, BOB_GET)],
        grant=True,
    ),
    case(
        "kms-cross-account-key-policy-names-account-and-iam-allows",
        ALLOW,
        caller=EVE,
        action=DECRYPT,
        resource=KEY,
        identity=[[KMS_ALLOW]],
        key_policy=[*DEFAULT_KEY_POLICY, to({"AWS": f"arn:aws:iam::{OTHER}:root"}, KMS_ALLOW)],
        resource_account=ACCOUNT,
    ),
    case(
        "kms-cross-account-without-external-iam",
        NO_IDENTITY,
        caller=EVE,
        action=DECRYPT,
        resource=KEY,
        key_policy=[to({"AWS": EVE_ARN}, KMS_ALLOW)],
        resource_account=ACCOUNT,
    ),
    case(
        "kms-cross-account-key-policy-silent",
        NO_RESOURCE,
        caller=EVE,
        action=DECRYPT,
        resource=KEY,
        identity=[[KMS_ALLOW]],
        key_policy=DEFAULT_KEY_POLICY,
        resource_account=ACCOUNT,
    ),
    case(
        "kms-cross-account-grant",
        ALLOW,
        caller=EVE,
        action=DECRYPT,
        resource=KEY,
        key_policy=DEFAULT_KEY_POLICY,
        resource_account=ACCOUNT,
        grant=True,
    ),
    case(
        "kms-root-needs-key-policy",
        NO_RESOURCE,
        caller=ROOT_USER,
        action=DECRYPT,
        resource=KEY,
        key_policy=[to({"AWS": ALICE_ARN}, KMS_ALLOW)],
    ),
    case(
        "kms-root-allowed-by-default-key-policy",
        ALLOW,
        caller=ROOT_USER,
        action=DECRYPT,
        resource=KEY,
        key_policy=DEFAULT_KEY_POLICY,
    ),
    case(
        "kms-encryption-context-condition",
        ALLOW,
        action=DECRYPT,
        resource=KEY,
        key_policy=[
            to(
                {"AWS": BOB_ARN},
                allow(
                    "kms:Decrypt", Condition={"StringEquals": {"kms:EncryptionContext:Dept": "IT"}}
                ),
            )
        ],
        context={"kms:EncryptionContext:Dept": "IT"},
    ),
    case(
        "kms-encryption-context-mismatch",
        NO_RESOURCE,
        action=DECRYPT,
        resource=KEY,
        key_policy=[
            to(
                {"AWS": BOB_ARN},
                allow(
                    "kms:Decrypt", Condition={"StringEquals": {"kms:EncryptionContext:Dept": "IT"}}
                ),
            )
        ],
        context={"kms:EncryptionContext:Dept": "HR"},
    ),
    case(
        "kms-encryption-context-keys-for-all-values",
        NO_IDENTITY,
        action=DECRYPT,
        resource=KEY,
        identity=[
            [
                allow(
                    "kms:Decrypt",
                    Condition={
                        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Dept", "App"]}
                    },
                )
            ]
        ],
        key_policy=DEFAULT_KEY_POLICY,
        context={"kms:EncryptionContextKeys": ["Dept", "Owner"]},
    ),
]

# IAM User Guide: "Allows essential actions to manage MFA devices ... only when MFA-authenticated"
MFA_POLICY = [
    allow("*"),
    deny(
        NotAction=["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ListMFADevices"],
        Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    ),
]
# IAM User Guide: "Denies access to AWS based on the source IP"
SOURCE_IP_POLICY = [
    allow("*"),
    deny(
        "*",
        Condition={
            "NotIpAddress": {IP: ["192.0.2.0/24", "203.0.113.0/24"]},
            "Bool": {"aws:ViaAWSService": "false"},
        },
    ),
]
# IAM User Guide: "Allows access within specific dates"
DATE_RANGE_POLICY = [
    allow(
        Condition={
            "DateGreaterThan": {TIME: "2020-04-01T00:00:00Z"},
            "DateLessThan": {TIME: "2020-06-30T23:59:59Z"},
        }
    )
]
# Secrets Manager guide: deny unless the request comes through a VPC endpoint.
VPCE_RESOURCE_POLICY = [
    to(
        "*",
        deny(
            "secretsmanager:GetSecretValue",
            Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1234a5678b9012c"}},
        ),
    )
]
# Secrets Manager guide: ABAC on the secret's tag and the caller's tag.
ABAC_POLICY = [
    allow(
        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Condition={
            "StringEquals": {
                "secretsmanager:ResourceTag/AccessProject": "${aws:PrincipalTag/AccessProject}"
            }
        },
    )
]
AWS_EXAMPLES = [
    case(
        "doc-mfa-deny-without-mfa",
        DENY_IDENTITY,
        identity=[MFA_POLICY],
        context={"aws:MultiFactorAuthPresent": False},
    ),
    case("doc-mfa-deny-long-term-keys-key-absent", DENY_IDENTITY, identity=[MFA_POLICY]),
    case(
        "doc-mfa-allow-with-mfa",
        ALLOW,
        identity=[MFA_POLICY],
        context={"aws:MultiFactorAuthPresent": True},
    ),
    case(
        "doc-mfa-manage-own-device-without-mfa",
        ALLOW,
        identity=[MFA_POLICY],
        action="iam:ListMFADevices",
        resource=f"arn:aws:iam::{ACCOUNT}:user/bob",
    ),
    case(
        "doc-mfa-age-recent",
        ALLOW,
        identity=[[allow(Condition={"NumericLessThan": {AGE: "3600"}})]],
        context={AGE: 300},
    ),
    case(
        "doc-mfa-age-stale",
        NO_IDENTITY,
        identity=[[allow(Condition={"NumericLessThan": {AGE: "3600"}})]],
        context={AGE: 7200},
    ),
    case(
        "doc-source-ip-inside",
        ALLOW,
        identity=[SOURCE_IP_POLICY],
        context={IP: "192.0.2.5", "aws:ViaAWSService": False},
    ),
    case(
        "doc-source-ip-outside",
        DENY_IDENTITY,
        identity=[SOURCE_IP_POLICY],
        context={IP: "198.51.100.1", "aws:ViaAWSService": False},
    ),
    case(
        "doc-source-ip-via-service",
        ALLOW,
        identity=[SOURCE_IP_POLICY],
        context={IP: "198.51.100.1", "aws:ViaAWSService": True},
    ),
    case(
        "doc-date-range-inside",
        ALLOW,
        identity=[DATE_RANGE_POLICY],
        context={TIME: "2020-05-15T10:00:00Z"},
    ),
    case(
        "doc-date-range-after",
        NO_IDENTITY,
        identity=[DATE_RANGE_POLICY],
        context={TIME: "2020-07-01T00:00:00Z"},
    ),
    case(
        "doc-secretsmanager-vpce-required-denies-outside",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=VPCE_RESOURCE_POLICY,
        context={"aws:SourceVpce": "vpce-0000"},
    ),
    case(
        "doc-secretsmanager-vpce-required-denies-without-endpoint",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=VPCE_RESOURCE_POLICY,
    ),
    case(
        "doc-secretsmanager-vpce-required-allows-through-endpoint",
        ALLOW,
        identity=[[allow()]],
        resource_policy=VPCE_RESOURCE_POLICY,
        context={"aws:SourceVpce": "vpce-1234a5678b9012c"},
    ),
    case(
        "doc-secretsmanager-abac-same-project",
        ALLOW,
        identity=[ABAC_POLICY],
        context={
            "secretsmanager:ResourceTag/AccessProject": "alpha",
            "aws:PrincipalTag/AccessProject": "alpha",
        },
    ),
    case(
        "doc-secretsmanager-abac-other-project",
        NO_IDENTITY,
        identity=[ABAC_POLICY],
        context={
            "secretsmanager:ResourceTag/AccessProject": "beta",
            "aws:PrincipalTag/AccessProject": "alpha",
        },
    ),
    case(
        "doc-secretsmanager-version-stage",
        NO_IDENTITY,
        identity=[
            [allow(Condition={"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}})]
        ],
        context={"secretsmanager:VersionStage": "AWSPREVIOUS"},
    ),
    case(
        "doc-require-tags-on-create",
        ALLOW,
        identity=[
            [
                allow(
                    "secretsmanager:CreateSecret",
                    Condition={
                        "StringEquals": {"aws:RequestTag/env": ["dev", "prod"]},
                        "ForAllValues:StringEquals": {KEYS: ["env", "team"]},
                    },
                )
            ]
        ],
        action="secretsmanager:CreateSecret",
        context={"aws:RequestTag/env": "dev", KEYS: ["env"]},
    ),
    case(
        "doc-require-tags-on-create-missing-tag",
        NO_IDENTITY,
        identity=[
            [
                allow(
                    "secretsmanager:CreateSecret",
                    Condition={"StringEquals": {"aws:RequestTag/env": ["dev", "prod"]}},
                )
            ]
        ],
        action="secretsmanager:CreateSecret",
    ),
    case(
        "doc-deny-insecure-transport-resource-policy",
        DENY_RESOURCE,
        identity=[[allow()]],
        resource_policy=[to("*", deny("*", Condition={"Bool": {SECURE: "false"}}))],
        context={SECURE: False},
    ),
    case(
        "doc-rotation-lambda-source-arn",
        ALLOW,
        caller=LAMBDA,
        resource_policy=[
            to(
                {"Service": "lambda.amazonaws.com"},
                allow(
                    Condition={"ArnLike": {SOURCE_ARN: f"arn:aws:lambda:*:{ACCOUNT}:function:*"}}
                ),
            )
        ],
        context={SOURCE_ARN: FUNCTION},
    ),
    case(
        "doc-kms-via-service-in-identity-policy",
        ALLOW,
        action=DECRYPT,
        resource=KEY,
        identity=[
            [
                allow(
                    "kms:Decrypt",
                    KEY,
                    Condition={"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
                )
            ]
        ],
        key_policy=DEFAULT_KEY_POLICY,
        context=VIA_SM,
    ),
]

ALL_CASES = (
    STATEMENT_MATCHING
    + STRING_CONDITIONS
    + NUMERIC_CONDITIONS
    + DATE_CONDITIONS
    + OTHER_CONDITIONS
    + QUALIFIED_CONDITIONS
    + VARIABLES
    + RESOURCE_POLICIES
    + CROSS_ACCOUNT
    + SESSIONS
    + KMS
    + AWS_EXAMPLES
)


def test_the_table_is_large_and_ids_are_unique() -> None:
    ids = [param.id for param in ALL_CASES]
    assert len(ids) >= 150
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("scenario", ALL_CASES)
def test_evaluation(scenario: Scenario) -> None:
    decision = scenario.decide()
    expected = ALLOWED if scenario.expected is None else Decision(False, scenario.expected)
    assert decision == expected


# --------------------------------------------------------------------------------------------
# API details
# --------------------------------------------------------------------------------------------


def test_reason_phrases_and_message() -> None:
    assert reason_phrase(NO_IDENTITY, GET) == (
        "because no identity-based policy allows the secretsmanager:GetSecretValue action"
    )
    assert reason_phrase(DENY_RESOURCE, GET) == "with an explicit deny in a resource-based policy"
    assert access_denied_message(BOB_ARN, GET, SECRET, NO_IDENTITY) == (
        f"User: {BOB_ARN} is not authorized to perform: {GET} on resource: {SECRET} "
        f"because no identity-based policy allows the {GET} action"
    )
    assert access_denied_message(BOB_ARN, "secretsmanager:ListSecrets", "*", DENY_IDENTITY) == (
        f"User: {BOB_ARN} is not authorized to perform: secretsmanager:ListSecrets "
        "with an explicit deny in an identity-based policy"
    )
    assert {reason.explicit for reason in DenyReason} == {True, False}
    assert DENY_SESSION.explicit and not NO_SESSION.explicit


def test_request_context_normalises_keys_and_values() -> None:
    context = request_context(
        {
            "AWS:SecureTransport": True,
            "aws:MultiFactorAuthAge": 30,
            "aws:CurrentTime": datetime(2024, 1, 1, 12, 30, tzinfo=UTC),
            "aws:TagKeys": ["a", "b"],
            "custom:blob": b"\x00\x01",
            "aws:username": "Bob",
        }
    )
    assert context == {
        "aws:securetransport": ("true",),
        "aws:multifactorauthage": ("30",),
        "aws:currenttime": ("2024-01-01T12:30:00Z",),
        "aws:tagkeys": ("a", "b"),
        "custom:blob": ("AAE=",),
        "aws:username": ("Bob",),
    }


def test_compile_document_is_cached_and_validates() -> None:
    text = document([allow()])
    assert compile_document(text, PolicyKind.IDENTITY) is compile_document(
        text, PolicyKind.IDENTITY
    )
    with pytest.raises(MalformedPolicy):
        compile_document("{", PolicyKind.IDENTITY)
    with pytest.raises(MalformedPolicy):
        compile_document(text, PolicyKind.RESOURCE)  # a resource policy must name a principal


def test_compile_policy_takes_a_parsed_policy() -> None:
    policy = compile_policy(parse(document([allow()]), PolicyKind.IDENTITY))
    assert evaluate(Request(BOB, GET, SECRET), [policy]) == ALLOWED


def test_resource_and_key_policy_are_exclusive() -> None:
    policy = compile_document(document([to("*", allow())]), PolicyKind.RESOURCE)
    with pytest.raises(ValueError, match="not both"):
        evaluate(Request(BOB, GET, SECRET), resource_policy=policy, key_policy=policy)


def test_principal_root_arn_follows_partition() -> None:
    principal = AwsPrincipal("123456789012", "arn:aws-cn:iam::123456789012:user/x")
    assert principal.root_arn == "arn:aws-cn:iam::123456789012:root"
    assert not principal.is_root
    assert AwsPrincipal(ACCOUNT, ROOT).is_root


def test_unknown_condition_operator_is_refused_at_compile_time() -> None:
    with pytest.raises(ValueError, match="unknown condition operator"):
        compile_condition("StringSortOf", "k", ("v",), variables=True)


def test_many_distinct_resources_stay_correct_past_the_memo() -> None:
    prefix = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
    policy = compile_document(
        document([allow(resource=f"{prefix}even{n}-*") for n in range(0, 400, 2)]),
        PolicyKind.IDENTITY,
    )
    for _ in range(2):
        for n in range(400):
            decision = evaluate(Request(BOB, GET, f"{prefix}even{n}-AbCdEf"), [policy])
            assert decision.allowed == (n % 2 == 0)


def test_many_distinct_actions_stay_correct_past_the_memo() -> None:
    policy = compile_document(document([allow("svc:Do*")]), PolicyKind.IDENTITY)
    for index in range(1100):
        decision = evaluate(Request(BOB, f"svc:Do{index}", "*"), [policy])
        assert decision == ALLOWED
    assert evaluate(Request(BOB, "svc:Undo", "*"), [policy]).reason is NO_IDENTITY


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ACTIONS = [GET, "secretsmanager:*", "secretsmanager:Get*", "kms:Decrypt", "*", "s3:*"]
RESOURCES = [SECRET, OTHER_SECRET, "*", f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:prod/*", HOME]
CONDITIONS: list[dict[str, Any]] = [
    {},
    {"Bool": {SECURE: "true"}},
    {"Bool": {SECURE: "false"}},
    {"StringEquals": {TAG: "blue"}},
    {"StringNotEquals": {TAG: "blue"}},
    {"IpAddress": {IP: "10.0.0.0/8"}},
    {"NotIpAddress": {IP: "10.0.0.0/8"}},
    {"ForAnyValue:StringEquals": {KEYS: "env"}},
    {"ForAllValues:StringEquals": {KEYS: "env"}},
    {"NumericLessThanIfExists": {AGE: "100"}},
    {"Null": {"aws:TokenIssueTime": "true"}},
    {"StringEquals": {RTAG: "${aws:PrincipalTag/team}"}},
]
PRINCIPALS: list[Any] = ["*", {"AWS": BOB_ARN}, {"AWS": ROOT}, {"AWS": ROLE_ARN}, {"AWS": OTHER}]
CONTEXTS: list[dict[str, ContextValue]] = [
    {},
    {SECURE: True, TAG: "blue", IP: "10.1.1.1", "aws:username": "bob"},
    {SECURE: False, TAG: "red", IP: "192.0.2.1", KEYS: ["env", "x"], AGE: 50},
    {RTAG: "blue", TAG: "blue", KEYS: [], "aws:TokenIssueTime": JAN1},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None, principal: bool = False) -> Stmt:
    raw: Stmt = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    raw["NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action"] = draw(
        st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2)
    )
    raw["NotResource" if draw(st.integers(0, 5)) == 0 else "Resource"] = draw(
        st.sampled_from(RESOURCES)
    )
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        raw["Condition"] = condition
    if principal:
        raw["Principal"] = draw(st.sampled_from(PRINCIPALS))
    return raw


@dataclass(frozen=True)
class World:
    identity: list[list[Stmt]]
    session: list[list[Stmt]] | None
    resource_policy: list[Stmt] | None
    kms: bool
    caller: Caller
    resource_account: str | None
    grant: bool
    context: dict[str, ContextValue]

    def decide(self, action: str = GET) -> Decision:
        return Scenario(
            None,
            identity=self.identity,
            session=self.session,
            resource_policy=None if self.kms else self.resource_policy,
            key_policy=self.resource_policy if self.kms else None,
            caller=self.caller,
            action=action,
            resource=SECRET,
            context=self.context,
            resource_account=self.resource_account,
            grant=self.grant,
        ).decide()


CALLERS: list[Caller] = [BOB, SESSION, EVE, ROOT_USER, LAMBDA]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    policies = st.lists(st.lists(statements(), min_size=1, max_size=4), max_size=3)
    return World(
        identity=draw(policies),
        session=draw(st.none() | policies),
        resource_policy=draw(
            st.none() | st.lists(statements(principal=True), min_size=1, max_size=4)
        ),
        kms=draw(st.booleans()),
        caller=draw(st.sampled_from(CALLERS)),
        resource_account=draw(st.sampled_from([None, ACCOUNT, OTHER])),
        grant=draw(st.booleans()),
        context=draw(st.sampled_from(CONTEXTS)),
    )


@PROPERTY_SETTINGS
@given(worlds(), st.data())
def test_a_matching_deny_never_lets_anything_through(world: World, data: st.DataObject) -> None:
    denying = deny("*", "*")
    where = data.draw(st.sampled_from(["identity", "session", "resource"]))
    if where == "identity" and (world.caller is LAMBDA or world.caller == ROOT_USER):
        where = "resource"  # no identity-based policies apply to these callers
    if where == "session" and world.caller is LAMBDA:
        where = "resource"
    if where == "identity":
        changed = replace(world, identity=[*world.identity, [denying]])
        expected = DENY_IDENTITY
    elif where == "session":
        changed = replace(world, session=[*(world.session or []), [denying]])
        expected = DENY_SESSION
    else:
        resource_policy = [*(world.resource_policy or []), to("*", denying)]
        changed = replace(world, resource_policy=resource_policy)
        expected = DENY_RESOURCE
    decision = changed.decide()
    assert not decision.allowed
    assert decision.reason is not None and decision.reason.explicit
    original = world.decide()
    if original.reason is None or not original.reason.explicit:
        assert decision.reason is expected


@PROPERTY_SETTINGS
@given(worlds(), statements(effect="Deny"))
def test_adding_any_deny_never_turns_deny_into_allow(world: World, extra: Stmt) -> None:
    before = world.decide()
    after = replace(world, identity=[*world.identity, [extra]]).decide()
    assert before.allowed or not after.allowed


@PROPERTY_SETTINGS
@given(worlds(), statements(effect="Allow"))
def test_adding_an_allow_never_takes_access_away(world: World, extra: Stmt) -> None:
    before = world.decide()
    after = replace(world, identity=[*world.identity, [extra]]).decide()
    assert not before.allowed or after.allowed


@PROPERTY_SETTINGS
@given(worlds(), st.randoms(use_true_random=False))
def test_order_of_statements_and_policies_does_not_matter(
    world: World, shuffler: random.Random
) -> None:
    def shuffled(items: list[Any]) -> list[Any]:
        copy = list(items)
        shuffler.shuffle(copy)
        return copy

    reordered = replace(
        world,
        identity=shuffled([shuffled(p) for p in world.identity]),
        session=None if world.session is None else shuffled([shuffled(p) for p in world.session]),
        resource_policy=None if world.resource_policy is None else shuffled(world.resource_policy),
    )
    for action in (GET, "kms:Decrypt", "s3:GetObject"):
        assert reordered.decide(action) == world.decide(action)


ARN_TEXT = st.text(alphabet="ab:/", max_size=8)
PATTERN = st.lists(st.sampled_from(["a", "b", ":", "/", "*", "?", "ab", ":a"]), max_size=6)


@PROPERTY_SETTINGS
@given(
    st.lists(st.lists(PATTERN.map("".join), min_size=1, max_size=3), min_size=1, max_size=5),
    ARN_TEXT,
)
def test_resource_alternation_names_the_first_matching_statement(
    statements_patterns: list[list[str]], resource: str
) -> None:
    groups = [[glob_pieces(p) for p in patterns] for patterns in statements_patterns]
    expected = next(
        (
            index
            for index, group in enumerate(groups)
            if any(re.fullmatch(resource_regex(p), resource, re.DOTALL) for p in group)
        ),
        None,
    )
    found = re.fullmatch(resource_alternation(groups), resource, re.DOTALL)
    assert (None if found is None else (found.lastindex or 1) - 1) == expected


NEGATIONS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
    ("NumericEquals", "NumericNotEquals"),
    ("DateEquals", "DateNotEquals"),
    ("IpAddress", "NotIpAddress"),
    ("ArnLike", "ArnNotLike"),
    ("ArnEquals", "ArnNotEquals"),
]
VALUES = st.sampled_from(
    ["a", "A", "a*", "1", "1.0", "2", JAN1, "1704067200", "10.0.0.0/8", "10.1.2.3", FUNCTION, KEY]
)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(NEGATIONS),
    st.lists(VALUES, min_size=1, max_size=3),
    st.lists(VALUES, max_size=3),
    st.booleans(),
)
def test_negated_operators_are_the_complement_when_values_parse(
    pair: tuple[str, str], policy_values: list[str], request_values: list[str], present: bool
) -> None:
    positive, negative = (
        compile_condition(op, "K", tuple(policy_values), variables=True) for op in pair
    )
    context = request_context({"k": request_values} if present else {})
    both = (positive.holds(context), negative.holds(context))
    # Either exactly one holds, or something did not parse and neither does.
    assert both in ((True, False), (False, True), (False, False))
    if not present or not request_values:
        assert both == (False, True)


@PROPERTY_SETTINGS
@given(st.sampled_from([p for pair in NEGATIONS for p in pair]), VALUES, VALUES)
def test_if_exists_is_the_plain_operator_when_the_key_is_present(
    operator_text: str, policy_value: str, request_value: str
) -> None:
    context = request_context({"k": request_value})
    plain = compile_condition(operator_text, "k", (policy_value,), variables=True)
    if_exists = compile_condition(operator_text + "IfExists", "k", (policy_value,), variables=True)
    assert plain.holds(context) == if_exists.holds(context)
    assert if_exists.holds({})
