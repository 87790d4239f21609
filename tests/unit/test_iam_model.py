"""IAM's pure parts: TOTP against RFC 6238's test vectors, trust policies in the policy grammar,
policy ARNs, and sizes as IAM counts them."""

from __future__ import annotations

import base64
import json

import pytest

from strongroom.iam.policy import MalformedPolicy, PolicyKind, parse
from strongroom.services.iam import totp
from strongroom.services.iam.model import arn, parse_policy_arn, policy_size

# RFC 6238 appendix B, SHA-1: (time, 8-digit TOTP); 6-digit codes are its last six digits.
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
RFC_SEED = b"12345678901234567890"


@pytest.mark.parametrize(("moment", "expected"), RFC_6238_SHA1)
def test_totp_matches_rfc_6238(moment, expected):
    step = totp.step(moment)
    assert totp.code(RFC_SEED, step) == expected[-6:]
    assert totp.matches(RFC_SEED, step, expected[-6:])
    assert not totp.matches(RFC_SEED, step + 1, expected[-6:])


def test_seeds_and_provisioning():
    seed = totp.new_seed()
    assert len(seed) == 40 and seed != totp.new_seed()
    text = totp.base32(seed)
    assert len(text) == 64 and base64.b32decode(text) == seed
    uri = totp.provisioning_uri("phone", "123456789012", seed)
    assert uri == f"otpauth://totp/phone@123456789012?secret={text}"
    assert totp.qr_code_png(uri).startswith(b"\x89PNG\r\n\x1a\n")


def trust(statement: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ASSUME = {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({**ASSUME, "Resource": "*"}, "Has prohibited field Resource"),
        ({k: v for k, v in ASSUME.items() if k != "Principal"}, "Missing required field Principal"),
        (
            {**ASSUME, "Action": "s3:GetObject"},
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
    ],
)
def test_trust_policies_are_refused_as_iam_refuses_them(statement, message):
    with pytest.raises(MalformedPolicy) as refused:
        parse(trust(statement), PolicyKind.TRUST)
    assert refused.value.message == message


def test_trust_policies_name_principals_and_sts_actions_only():
    parsed = parse(
        trust({**ASSUME, "Action": ["sts:AssumeRole", "sts:TagSession"]}), PolicyKind.TRUST
    )
    assert parsed.statements[0].resource is None
    service = {**ASSUME, "Principal": {"Service": "lambda.amazonaws.com"}}
    assert parse(trust(service), PolicyKind.TRUST).statements[0].principal


def test_policy_arns():
    assert parse_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess") == (
        "aws",
        "/",
        "AdministratorAccess",
    )
    assert parse_policy_arn("arn:aws:iam::123456789012:policy/a/b/p-1") == (
        "123456789012",
        "/a/b/",
        "p-1",
    )
    for bad in (
        "arn:aws:iam::123:policy/p",
        "arn:aws:s3:::b",
        "policy/p",
        "arn:aws:iam::aws:role/r",
    ):
        assert parse_policy_arn(bad) is None
    assert arn("123456789012", "user", "/", "alice") == "arn:aws:iam::123456789012:user/alice"
    assert arn("123456789012", "role", "/x/", "r") == "arn:aws:iam::123456789012:role/x/r"


def test_policy_size_leaves_white_space_out():
    compact = '{"Version":"2012-10-17"}'
    assert policy_size(compact) == len(compact)
    assert policy_size(json.dumps(json.loads(compact), indent=8)) == len(compact)
