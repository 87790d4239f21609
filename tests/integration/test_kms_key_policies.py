"""KMS key policies through stock boto3: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies and
CreateKey's Policy: the default policy, the IAM policy grammar, the 32 KB quota and the lockout
safety check.

Checked against the AWS KMS API reference and developer guide: a key has one policy, named
"default"; a document IAM would refuse is MalformedPolicyDocumentException; a policy that would
no longer let the caller change it is refused unless BypassPolicyLockoutSafetyCheck is set.
Every rejected request leaves the visible state unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.kms import aws_error, unchanged

ACCOUNT = "123456789012"  # the --dev server's account
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
DEV_USER = f"arn:aws:iam::{ACCOUNT}:user/admin"  # the --dev server's administrator: the caller
SOMEONE_ELSE = f"arn:aws:iam::{ACCOUNT}:user/someone-else"
MAX_POLICY_BYTES = 32 * 1024
LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."


def statement(
    principal: Any = None, action: Any = "kms:*", effect: str = "Allow", **extra: Any
) -> dict[str, Any]:
    """A key policy statement: by default, the account may do everything with the key. A
    member given as None (e.g. Principal=None) is left out."""
    principal = {"AWS": ROOT} if principal is None else principal
    members = {"Effect": effect, "Principal": principal, "Action": action, "Resource": "*"}
    return {name: value for name, value in (members | extra).items() if value is not None}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements or [statement()])})


def current_policy(kms: Any, key_id: str) -> str:
    return kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]


@contextmanager
def policy_unchanged(kms: Any, key_id: str) -> Iterator[None]:
    before = current_policy(kms, key_id)
    with unchanged(kms, key_id):
        yield
    assert current_policy(kms, key_id) == before


def padded(document: str, size: int) -> str:
    """The document grown to `size` bytes with insignificant whitespace."""
    return document[:-1] + " " * (size - len(document.encode())) + document[-1]


# Reading


def test_a_new_key_has_the_default_policy(kms, key):
    got = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    assert got["PolicyName"] == "default"
    assert json.loads(got["Policy"]) == {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{key['AWSAccountId']}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    assert kms.get_key_policy(KeyId=key["Arn"])["Policy"] == got["Policy"]  # name optional
    listed = kms.list_key_policies(KeyId=key["KeyId"])
    assert listed["PolicyNames"] == ["default"] and listed["Truncated"] is False


@pytest.mark.parametrize("name", ["custom", "Default", "default2"])
def test_a_policy_name_other_than_default_is_not_found(kms, key, name):
    with policy_unchanged(kms, key["KeyId"]):
        with aws_error("NotFoundException"):
            kms.get_key_policy(KeyId=key["KeyId"], PolicyName=name)
        with aws_error("NotFoundException"):
            kms.put_key_policy(KeyId=key["KeyId"], PolicyName=name, Policy=policy())


def test_key_policy_operations_take_no_alias(kms, key):
    alias = f"alias/policy-{key['KeyId']}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for reference in (alias, key["Arn"].rsplit(":", 1)[0] + ":" + alias):
        with policy_unchanged(kms, key["KeyId"]):
            with aws_error("NotFoundException"):
                kms.get_key_policy(KeyId=reference)
            with aws_error("NotFoundException"):
                kms.list_key_policies(KeyId=reference)
            with aws_error("NotFoundException"):
                kms.put_key_policy(KeyId=reference, Policy=policy())


# Writing


def test_put_key_policy_round_trip(kms, key):
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "custom-policy",
            "Statement": [
                statement(Sid="Admins"),
                statement({"AWS": SOMEONE_ELSE}, ["kms:Encrypt", "kms:Decrypt"], Sid="Users"),
            ],
        },
        indent=4,
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=document)
    assert current_policy(kms, key["KeyId"]) == document  # byte for byte, layout and all
    kms.put_key_policy(KeyId=key["Arn"], Policy=policy())  # by ARN, name left out
    assert current_policy(kms, key["KeyId"]) == policy()


def test_create_key_with_a_policy(kms):
    document = policy(statement(Sid="Everything"), statement({"AWS": DEV_USER}, "kms:Encrypt"))
    key_id = kms.create_key(Policy=document)["KeyMetadata"]["KeyId"]
    assert current_policy(kms, key_id) == document


MALFORMED = {
    "not JSON": "{not json",
    "a JSON list": "[]",
    "no Statement": json.dumps({"Version": "2012-10-17"}),
    "empty Statement": json.dumps({"Version": "2012-10-17", "Statement": []}),
    "bad Effect": policy(statement(effect="Permit")),
    "no Effect": policy(statement(Effect=None)),
    "unknown statement element": policy(statement(Colour="blue")),
    "unknown top-level element": json.dumps(
        {"Version": "2012-10-17", "Statement": [statement()], "X": 1}
    ),
    "no Principal": policy(statement(Principal=None)),
    "bad Principal": policy(statement({"AWS": "not-an-arn"})),
    "no Action": policy(statement(Action=None)),
    "Action without a service": policy(statement(action="Encrypt")),
    "Action and NotAction": policy(statement(NotAction="kms:Decrypt")),
    "no Resource": policy(statement(Resource=None)),
    "unknown Version": json.dumps({"Version": "2020-01-01", "Statement": [statement()]}),
    "unknown condition operator": policy(statement(Condition={"Resembles": {"aws:x": "y"}})),
    "duplicate Sid": policy(statement(Sid="Same"), statement(Sid="Same")),
}


@pytest.mark.parametrize("document", MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_policy_is_refused_and_changes_nothing(kms, key, document):
    with policy_unchanged(kms, key["KeyId"]), aws_error("MalformedPolicyDocumentException"):
        kms.put_key_policy(KeyId=key["KeyId"], Policy=document)
    with unchanged(kms), aws_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy=document)


def test_a_policy_over_32_kb_exceeds_the_quota(kms, key):
    largest = padded(policy(), MAX_POLICY_BYTES)
    kms.put_key_policy(KeyId=key["KeyId"], Policy=largest)
    assert current_policy(kms, key["KeyId"]) == largest

    too_large = padded(policy(), MAX_POLICY_BYTES + 1)
    with policy_unchanged(kms, key["KeyId"]), aws_error("LimitExceededException"):
        kms.put_key_policy(KeyId=key["KeyId"], Policy=too_large)
    with unchanged(kms), aws_error("LimitExceededException"):
        kms.create_key(Policy=too_large)


# The lockout safety check


KEEPS_ACCESS = {
    "account root, kms:*": policy(statement()),
    "account root, kms:Put*": policy(statement(action="kms:Put*")),
    "account root, *": policy(statement(action="*")),
    "account root, kms:PutKeyPolicy among others": policy(
        statement(action=["kms:Encrypt", "kms:PutKeyPolicy"])
    ),
    "account root, NotAction of something else": policy(
        statement(Action=None, NotAction="kms:Encrypt")
    ),
    "the account id": policy(statement({"AWS": ACCOUNT})),
    "the caller": policy(statement({"AWS": DEV_USER})),
    "everyone": policy(statement("*")),
    "everyone, as AWS *": policy(statement({"AWS": "*"})),
    "a Deny of something else": policy(
        statement(), statement("*", "kms:ScheduleKeyDeletion", effect="Deny")
    ),
}
LOCKS_OUT = {
    "another user only": policy(statement({"AWS": SOMEONE_ELSE})),
    "another account only": policy(statement({"AWS": "arn:aws:iam::111122223333:root"})),
    "a service only": policy(statement({"Service": "logs.amazonaws.com"})),
    "no kms:PutKeyPolicy": policy(statement(action=["kms:Encrypt", "kms:Get*"])),
    "an unconditional Deny for everyone": policy(
        statement(), statement("*", "kms:PutKeyPolicy", effect="Deny")
    ),
    "an unconditional Deny of kms:* for the account": policy(
        statement(), statement({"AWS": ROOT}, "kms:*", effect="Deny")
    ),
}


@pytest.mark.parametrize("document", KEEPS_ACCESS.values(), ids=KEEPS_ACCESS)
def test_a_policy_that_keeps_the_caller_in_passes_the_lockout_check(kms, key, document):
    created = kms.create_key(Policy=document)["KeyMetadata"]["KeyId"]
    for key_id in (key["KeyId"], created):
        kms.put_key_policy(KeyId=key_id, Policy=document)
        # Kept in, as the check promised: the caller can still change the policy.
        kms.put_key_policy(KeyId=key_id, Policy=policy(statement()))
        assert current_policy(kms, key_id) == policy(statement())


@pytest.mark.parametrize("document", LOCKS_OUT.values(), ids=LOCKS_OUT)
def test_a_policy_that_locks_the_caller_out_is_refused_unless_bypassed(kms, key, document):
    with policy_unchanged(kms, key["KeyId"]):
        with aws_error("MalformedPolicyDocumentException", message=LOCKOUT_MESSAGE):
            kms.put_key_policy(KeyId=key["KeyId"], Policy=document)
        with aws_error("MalformedPolicyDocumentException", message=LOCKOUT_MESSAGE):
            kms.put_key_policy(
                KeyId=key["KeyId"], Policy=document, BypassPolicyLockoutSafetyCheck=False
            )
    with unchanged(kms), aws_error("MalformedPolicyDocumentException", message=LOCKOUT_MESSAGE):
        kms.create_key(Policy=document)

    kms.put_key_policy(KeyId=key["KeyId"], Policy=document, BypassPolicyLockoutSafetyCheck=True)
    created = kms.create_key(Policy=document, BypassPolicyLockoutSafetyCheck=True)
    for key_id in (key["KeyId"], created["KeyMetadata"]["KeyId"]):
        # Locked out, as the check warned: the policy took effect and keeps its author out.
        with aws_error("AccessDeniedException"):
            kms.put_key_policy(KeyId=key_id, Policy=policy(statement()))


def test_bypassing_the_lockout_check_skips_no_other_check(kms, key):
    for document, error in (
        (MALFORMED["bad Effect"], "MalformedPolicyDocumentException"),
        (padded(LOCKS_OUT["another user only"], MAX_POLICY_BYTES + 1), "LimitExceededException"),
    ):
        with policy_unchanged(kms, key["KeyId"]), aws_error(error):
            kms.put_key_policy(
                KeyId=key["KeyId"], Policy=document, BypassPolicyLockoutSafetyCheck=True
            )


def test_the_aws_managed_key_policy_cannot_be_changed(own_dev_server):
    """An AWS managed key's policy is AWS's: it allows the account only kms:Describe*,
    kms:Get* and kms:List*, so PutKeyPolicy is denied."""
    kms = own_dev_server.client("kms")
    own_dev_server.client("secretsmanager").create_secret(Name="managed", SecretString="x")
    key_id = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyId"]
    with policy_unchanged(kms, key_id), pytest.raises(ClientError) as refused:
        kms.put_key_policy(KeyId=key_id, Policy=policy(), BypassPolicyLockoutSafetyCheck=True)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
