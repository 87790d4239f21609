"""Accounts are the isolation boundary. Two accounts made by `strongroom account create` on one
real server (both storage backends) each hold a resource of every kind; account B, whatever it
calls, never sees anything of account A's: not in any answer of any read operation of any
service, not by naming A's resources by name or by ARN, not in its audit trail (event history,
log group, S3 objects), unless a resource policy or key policy of A's allows it, and then only
by ARN and only what both sides allow, as AWS does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.audit.record import is_read_only
from tests.conftest import BACKENDS
from tests.support.account_resources import Resources, populate, request
from tests.support.accounts import (
    SERVICES,
    Caller,
    Reply,
    client,
    implemented,
    model,
    new_account,
    tls_server,
)
from tests.support.audit import close_period
from tests.support.server import REGION, Server

AUDIT_GROUP = "CloudTrail/AlphaVoxSecrets"


@dataclass(frozen=True)
class World:
    server: Server
    a: Resources
    b: Resources


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("isolation")
    with tls_server(request.param, directory, request) as server:
        a = populate(server, new_account(server))
        b = populate(server, new_account(server))
        close_period(server)  # each account's records are cut into its own log files
        for resources in (a, b):
            s3 = client(server, "s3", resources.account)
            listed = s3.list_objects(Bucket=resources.bucket, Prefix="AWSLogs/")["Contents"]
            resources.object_key = next(o["Key"] for o in listed if "/CloudTrail/" in o["Key"])
        yield World(server, a, b)


@pytest.fixture(scope="module")
def caller_b(world: World) -> Iterator[Caller]:
    """Calls of any operation as B's administrator."""
    with Caller(world.server, world.b.account.credentials) as caller:
        yield caller


def leaked(reply: Reply, owner: Resources) -> set[str]:
    """The owner's markers in the answer that the request did not itself name."""
    sent = reply.sent.decode()
    return {m for m in owner.markers() if m in reply.text and m not in sent}


def read_operations() -> list[tuple[str, str]]:
    """Every read operation (list, describe, get, ...) of every service, implemented or not
    (those the server does not implement answer UnsupportedOperationException to anyone)."""
    return [
        (service, operation)
        for service in SERVICES
        for operation in model(service).operation_names
        if is_read_only(operation)
    ]


# Every read operation, as B


def read_calls(world: World) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(service, operation, form, parameters) of every read operation: B's own resources
    (bare, and named), then A's by name and by ARN in B's requests. B's own calls come first:
    once B has named A's resources, B's own audit trail rightly holds those names."""
    calls: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {"own": [], "a": []}
    for service, operation_name in read_operations():
        operation = model(service).operation_model(operation_name)
        forms = {
            "bare": request(world.b, service, operation, bare=True),
            "own": request(world.b, service, operation),
            "a by name": request(world.a, service, operation),
            "a by arn": request(world.a, service, operation, by_arn=True),
        }
        seen: list[dict[str, Any]] = []
        for form, params in forms.items():
            if params not in seen:
                seen.append(params)
                calls["a" if form.startswith("a ") else "own"].append(
                    (service, operation_name, form, params)
                )
    return calls["own"] + calls["a"]


def test_no_read_operation_of_any_service_shows_b_anything_of_a(world, caller_b):
    caller = caller_b
    problems: dict[tuple[str, str, str], Any] = {}
    own_contents: set[str] = set()
    calls = read_calls(world)
    for service, operation_name, form, params in calls:
        reply = caller.call(service, operation_name, params)
        key = (service, operation_name, form)
        if reply.status >= 500:
            problems[key] = f"HTTP {reply.status} {reply.error_code}"
        elif found := leaked(reply, world.a):
            problems[key] = f"leaks {sorted(found)}: {reply.text[:300]}"
        if not form.startswith("a ") and world.b.hidden in reply.text:
            own_contents.add(operation_name)
    assert problems == {}
    assert len(calls) > 300
    assert sum(implemented(service, op) for service, op, _, _ in calls) > 150
    # The reads did read: B's own contents came back where they are kept.
    assert own_contents >= {
        "GetSecretValue",
        "DescribeSecret",
        "GetResourcePolicy",
        "DescribeKey",
        "GetKeyPolicy",
        "ListResourceTags",
        "GetLogEvents",
        "FilterLogEvents",
        "DescribeMetricFilters",
        "GetRole",
        "GetUserPolicy",
        "GetPolicyVersion",
        "ListUserTags",
        "LookupEvents",
        "GetObject",
    }, own_contents


# Direct access to A's resources by ARN

NOT_YOURS = {"AccessDeniedException", "ResourceNotFoundException"}
KMS_NOT_YOURS = {"AccessDeniedException", "NotFoundException"}
IAM_NOT_YOURS = {"AccessDenied", "NoSuchEntity"}


def direct_calls(a: Resources, b: Resources) -> list[tuple[str, str, dict[str, Any], set[str]]]:
    """(service, operation, parameters naming A's resources, the errors AWS may answer)."""
    stream = {"logGroupIdentifier": a.log_group_arn, "logStreamName": a.log_stream}
    alias_arn = f"arn:aws:kms:{REGION}:{a.account_id}:{a.alias}"
    return [
        ("secretsmanager", "GetSecretValue", {"SecretId": a.secret_arn}, NOT_YOURS),
        ("secretsmanager", "DescribeSecret", {"SecretId": a.secret_arn}, NOT_YOURS),
        ("secretsmanager", "GetResourcePolicy", {"SecretId": a.secret_arn}, NOT_YOURS),
        ("secretsmanager", "ListSecretVersionIds", {"SecretId": a.secret_arn}, NOT_YOURS),
        (
            "secretsmanager",
            "BatchGetSecretValue",
            {"SecretIdList": [a.secret_arn]},
            NOT_YOURS | {"200"},  # each secret's error in the answer, checked below
        ),
        (
            "secretsmanager",
            "PutSecretValue",
            {"SecretId": a.secret_arn, "SecretString": "x"},
            NOT_YOURS,
        ),
        ("secretsmanager", "DeleteSecret", {"SecretId": a.secret_arn}, NOT_YOURS),
        ("secretsmanager", "DeleteResourcePolicy", {"SecretId": a.secret_arn}, NOT_YOURS),
        ("kms", "DescribeKey", {"KeyId": a.key_arn}, KMS_NOT_YOURS),
        ("kms", "DescribeKey", {"KeyId": alias_arn}, KMS_NOT_YOURS),
        ("kms", "Encrypt", {"KeyId": a.key_arn, "Plaintext": "eA=="}, KMS_NOT_YOURS),
        (
            "kms",
            "Decrypt",
            {"CiphertextBlob": a.ciphertext},
            KMS_NOT_YOURS | {"InvalidCiphertextException"},
        ),
        ("kms", "GetKeyPolicy", {"KeyId": a.key_arn}, KMS_NOT_YOURS),
        ("kms", "ListGrants", {"KeyId": a.key_arn}, KMS_NOT_YOURS),
        ("kms", "ListResourceTags", {"KeyId": a.key_arn}, KMS_NOT_YOURS),
        ("kms", "ScheduleKeyDeletion", {"KeyId": a.key_arn}, KMS_NOT_YOURS),
        ("kms", "DisableKey", {"KeyId": a.key_arn}, KMS_NOT_YOURS),
        ("logs", "GetLogEvents", stream, {"ResourceNotFoundException", "AccessDeniedException"}),
        (
            "logs",
            "FilterLogEvents",
            {"logGroupIdentifier": a.log_group_arn},
            {"ResourceNotFoundException", "AccessDeniedException"},
        ),
        (
            "logs",
            "DescribeLogStreams",
            {"logGroupIdentifier": a.log_group_arn},
            {"ResourceNotFoundException", "AccessDeniedException"},
        ),
        (
            "logs",
            "ListTagsForResource",
            {"resourceArn": a.log_group_arn},
            {"ResourceNotFoundException", "AccessDeniedException"},
        ),
        (
            "logs",
            "TagResource",
            {"resourceArn": a.log_group_arn, "tags": {"k": "v"}},
            {"ResourceNotFoundException", "AccessDeniedException"},
        ),
        ("iam", "GetPolicy", {"PolicyArn": a.policy_arn}, IAM_NOT_YOURS),
        ("iam", "GetPolicyVersion", {"PolicyArn": a.policy_arn, "VersionId": "v1"}, IAM_NOT_YOURS),
        ("iam", "ListEntitiesForPolicy", {"PolicyArn": a.policy_arn}, IAM_NOT_YOURS),
        ("iam", "ListPolicyVersions", {"PolicyArn": a.policy_arn}, IAM_NOT_YOURS),
        (
            "iam",
            "AttachUserPolicy",
            {"UserName": b.user, "PolicyArn": a.policy_arn},
            IAM_NOT_YOURS,
        ),
        ("iam", "DeletePolicy", {"PolicyArn": a.policy_arn}, IAM_NOT_YOURS),
        ("iam", "DeleteVirtualMFADevice", {"SerialNumber": a.mfa_serial}, IAM_NOT_YOURS),
        ("iam", "GetAccessKeyLastUsed", {"AccessKeyId": a.access_key_id}, IAM_NOT_YOURS),
        ("iam", "DeleteAccessKey", {"AccessKeyId": a.access_key_id}, IAM_NOT_YOURS),
        (
            "sts",
            "AssumeRole",
            {"RoleArn": a.role_arn, "RoleSessionName": "session"},
            {"AccessDenied"},
        ),
        ("cloudtrail", "GetTrail", {"Name": a.trail_arn}, {"TrailNotFoundException"}),
        ("cloudtrail", "GetTrailStatus", {"Name": a.trail_arn}, {"TrailNotFoundException"}),
        ("events", "DescribeRule", {"Name": a.rule_name}, NOT_YOURS),
        ("events", "ListTargetsByRule", {"Rule": a.rule_name}, NOT_YOURS),
        ("events", "ListTagsForResource", {"ResourceARN": a.rule_arn}, NOT_YOURS),
        (
            "events",
            "TagResource",
            {"ResourceARN": a.rule_arn, "Tags": [{"Key": "k", "Value": "v"}]},
            NOT_YOURS,
        ),
        ("events", "DisableRule", {"Name": a.rule_name}, NOT_YOURS),
        ("s3", "ListObjects", {"Bucket": a.bucket}, {"AccessDenied"}),
        ("s3", "GetBucketLocation", {"Bucket": a.bucket}, {"AccessDenied"}),
        ("s3", "GetObject", {"Bucket": a.bucket, "Key": a.object_key}, {"AccessDenied"}),
        ("s3", "HeadObject", {"Bucket": a.bucket, "Key": a.object_key}, {"403"}),
        ("s3", "GetObject", {"Bucket": b.bucket, "Key": a.object_key}, {"NoSuchKey"}),
    ]


def test_b_naming_a_resources_by_arn_gets_an_error_never_data(world, caller_b):
    a, b = world.a, world.b
    caller = caller_b
    wrong: dict[tuple[str, str, str], Any] = {}
    for service, operation, params, expected in direct_calls(a, b):
        reply = caller.call(service, operation, params)
        answer = reply.error_code or str(reply.status)
        key = (service, operation, json.dumps(params)[:80])
        if answer not in expected or leaked(reply, a):
            wrong[key] = (answer, reply.text[:300])
        if answer == "200":  # BatchGetSecretValue: refused secret by secret
            (error,) = json.loads(reply.body)["Errors"]
            if error["ErrorCode"] not in NOT_YOURS or json.loads(reply.body)["SecretValues"]:
                wrong[key] = (answer, reply.text[:300])
    assert wrong == {}
    # A's resources are as A left them.
    sm = client(world.server, "secretsmanager", a.account)
    assert sm.get_secret_value(SecretId=a.secret_arn)["SecretString"] == f"value-{a.hidden}"
    assert sm.get_resource_policy(SecretId=a.secret_arn)["ResourcePolicy"]
    kms = client(world.server, "kms", a.account)
    assert kms.describe_key(KeyId=a.key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    iam = client(world.server, "iam", a.account)
    assert iam.get_policy(PolicyArn=a.policy_arn)["Policy"]["AttachmentCount"] == 1
    assert iam.list_access_keys(UserName=a.user)["AccessKeyMetadata"]
    tags = client(world.server, "logs", a.account).list_tags_for_resource(
        resourceArn=a.log_group_arn
    )["tags"]
    assert tags == {"owner": f"tag-{a.hidden}"}
    rule_tags = client(world.server, "events", a.account).list_tags_for_resource(
        ResourceARN=a.rule_arn
    )["Tags"]
    assert rule_tags == [{"Key": "owner", "Value": f"tag-{a.hidden}"}]


# Each account's audit trail is its own


def test_b_audit_trail_holds_only_b_calls(world):
    a, b = world.a, world.b
    trail_a = client(world.server, "cloudtrail", a.account)
    trail_b = client(world.server, "cloudtrail", b.account)

    def events(trail: Any, key: str, value: str) -> list[dict[str, Any]]:
        attributes = [{"AttributeKey": key, "AttributeValue": value}]
        pages = trail.get_paginator("lookup_events").paginate(LookupAttributes=attributes)
        return [json.loads(e["CloudTrailEvent"]) for page in pages for e in page["Events"]]

    for trail, own in ((trail_a, a), (trail_b, b)):
        created = events(trail, "EventName", "CreateSecret")
        assert created, "the account's own CreateSecret is in its event history"
        assert {e["recipientAccountId"] for e in created} == {own.account_id}
        # Both administrators are called "admin": a user name picks the caller's account's.
        by_admin = events(trail, "Username", "admin")
        assert {e["userIdentity"]["accountId"] for e in by_admin} == {own.account_id}
    assert events(trail_b, "AccessKeyId", a.account.access_key_id) == []
    assert events(trail_b, "ResourceName", a.secret_arn) == []
    assert (
        a.hidden.encode()
        not in json.dumps(events(trail_b, "EventSource", "kms.amazonaws.com")).encode()
    )

    # The trail as a log group: B's group serves B's records only.
    logs = client(world.server, "logs", b.account)
    found = logs.filter_log_events(
        logGroupName=AUDIT_GROUP, filterPattern='{ $.eventName = "CreateSecret" }'
    )["events"]
    assert found
    assert {json.loads(e["message"])["recipientAccountId"] for e in found} == {b.account_id}

    # And as S3 objects: B's bucket lists B's files only.
    s3 = client(world.server, "s3", b.account)
    pages = s3.get_paginator("list_objects").paginate(Bucket=b.bucket)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert keys
    assert all(key.startswith(f"AWSLogs/{b.account_id}/") for key in keys)


def test_aws_managed_policies_are_attached_per_account(world):
    """AdministratorAccess is AWS's, attached to every account's administrator: each account
    sees its own attachments only."""
    iam = client(world.server, "iam", world.b.account)
    administrator_access = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert iam.get_policy(PolicyArn=administrator_access)["Policy"]["AttachmentCount"] == 1
    entities = iam.list_entities_for_policy(PolicyArn=administrator_access)
    assert [user["UserName"] for user in entities["PolicyUsers"]] == ["admin"]
    assert entities["PolicyUsers"][0]["UserId"] == iam.get_user()["User"]["UserId"]
    attached = iam.list_policies(OnlyAttached=True, Scope="AWS")["Policies"]
    assert [p["PolicyName"] for p in attached] == ["AdministratorAccess"]
    assert attached[0]["AttachmentCount"] == 1


def test_names_are_per_account(world):
    """The same names in another account are other resources (names are the account's)."""
    a = world.a
    c = new_account(world.server)
    sm = client(world.server, "secretsmanager", c)
    sm.create_secret(Name=a.secret_name, SecretString="c's own")
    client(world.server, "kms", c).create_alias(
        AliasName=a.alias,
        TargetKeyId=client(world.server, "kms", c).create_key()["KeyMetadata"]["KeyId"],
    )
    client(world.server, "iam", c).create_user(UserName=a.user)
    client(world.server, "logs", c).create_log_group(logGroupName=a.log_group)
    assert sm.get_secret_value(SecretId=a.secret_name)["SecretString"] == "c's own"
    a_sm = client(world.server, "secretsmanager", a.account)
    assert a_sm.get_secret_value(SecretId=a.secret_name)["SecretString"] == f"value-{a.hidden}"
    a_kms = client(world.server, "kms", a.account)
    assert a_kms.describe_key(KeyId=a.alias)["KeyMetadata"]["KeyId"] == a.key_id


# Cross-account access that resource policies allow


def reader_role(server: Server, b: Resources, *statements: dict[str, Any]) -> dict[str, str]:
    """A role in B allowed by B's identity policy, assumed by B's administrator: its
    temporary credentials."""
    iam = client(server, "iam", b.account)
    name = f"{b.mark}-reader-{len(iam.list_roles()['Roles'])}"
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{b.account_id}:root"},
        "Action": "sts:AssumeRole",
    }
    document = {"Version": "2012-10-17", "Statement": [trust]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"][
        "Arn"
    ]
    inline = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    iam.put_role_policy(RoleName=name, PolicyName="reads", PolicyDocument=inline)
    sts = client(server, "sts", b.account)
    credentials = sts.assume_role(RoleArn=arn, RoleSessionName="reader")["Credentials"]
    return {"Arn": arn, **credentials}


def allow(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def a_secret_under_a_shared_key(server: Server, a: Resources, reader_arn: str) -> str:
    """A's secret under A's own key (AWS managed keys are never shared across accounts) whose
    key policy lets B's reader decrypt: the secret's ARN."""
    reader = {"Effect": "Allow", "Principal": {"AWS": reader_arn}, "Resource": "*"}
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                **reader,
                "Sid": "A",
                "Principal": {"AWS": f"arn:aws:iam::{a.account_id}:root"},
                "Action": "kms:*",
            },
            {**reader, "Sid": "Reader", "Action": "kms:Decrypt"},
        ],
    }
    kms = client(server, "kms", a.account)
    key = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
    sm = client(server, "secretsmanager", a.account)
    name = f"{a.mark}/shared-{len(sm.list_secrets()['SecretList'])}"
    return str(sm.create_secret(Name=name, SecretString="shared value", KmsKeyId=key)["ARN"])


def test_another_account_is_refused_a_secret_without_a_resource_policy(world):
    a, b = world.a, world.b
    role = reader_role(
        world.server, b, allow("secretsmanager:GetSecretValue", "*"), allow("kms:Decrypt", "*")
    )
    secret_arn = a_secret_under_a_shared_key(world.server, a, role["Arn"])
    reader = client(world.server, "secretsmanager", role)
    with pytest.raises(ClientError) as refused:
        reader.get_secret_value(SecretId=secret_arn)
    # Cross-account calls need the resource policy too.
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "shared value" not in json.dumps(refused.value.response)


def test_a_secret_policy_lets_another_account_read_by_arn(world):
    a, b = world.a, world.b
    role = reader_role(
        world.server, b, allow("secretsmanager:GetSecretValue", "*"), allow("kms:Decrypt", "*")
    )
    secret_arn = a_secret_under_a_shared_key(world.server, a, role["Arn"])
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": role["Arn"]},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    client(world.server, "secretsmanager", a.account).put_resource_policy(
        SecretId=secret_arn,
        ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    reader = client(world.server, "secretsmanager", role)
    assert reader.get_secret_value(SecretId=secret_arn)["SecretString"] == "shared value"
    # B's administrator, whom the policy does not name, is still refused.
    with pytest.raises(ClientError) as refused:
        client(world.server, "secretsmanager", b.account).get_secret_value(SecretId=secret_arn)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_key_policy_lets_another_account_use_the_key_by_arn(world):
    a, b = world.a, world.b
    statements = [
        {
            "Sid": "Owner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{a.account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "OtherAccount",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{b.account_id}:root"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        },
    ]
    kms_a = client(world.server, "kms", a.account)
    key = kms_a.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    arn = key["KeyMetadata"]["Arn"]
    kms_b = client(world.server, "kms", b.account)  # AdministratorAccess: the IAM side allows
    blob = kms_b.encrypt(KeyId=arn, Plaintext=b"across")["CiphertextBlob"]
    assert kms_a.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
    assert kms_b.describe_key(KeyId=arn)["KeyMetadata"]["AWSAccountId"] == a.account_id
    assert kms_b.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
    # Only the operations AWS allows across accounts, whatever the key policy says.
    everything = {**statements[1], "Action": "kms:*"}
    kms_a.put_key_policy(
        KeyId=arn,
        PolicyName="default",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statements[0], everything]}),
    )
    with pytest.raises(ClientError) as refused:
        kms_b.schedule_key_deletion(KeyId=arn)
    assert refused.value.response["Error"]["Code"] == "NotFoundException"
    assert kms_a.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Enabled"


def test_another_accounts_key_by_alias_arn_only_where_its_policy_allows(world):
    a, b = world.a, world.b
    kms_a = client(world.server, "kms", a.account)
    owner_only = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{a.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    shared = {**owner_only, "Principal": {"AWS": f"arn:aws:iam::{b.account_id}:root"}}
    kms_b = client(world.server, "kms", b.account)
    for statements, expected in (([owner_only], None), ([owner_only, shared], a.account_id)):
        policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
        key_id = kms_a.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
        alias = f"alias/{a.mark}-{key_id[:8]}"
        kms_a.create_alias(AliasName=alias, TargetKeyId=key_id)
        alias_arn = f"arn:aws:kms:{REGION}:{a.account_id}:{alias}"
        if expected is None:
            with pytest.raises(ClientError) as refused:
                kms_b.describe_key(KeyId=alias_arn)
            # Refused through an alias: the answer names the alias, never the key behind it.
            assert refused.value.response["Error"]["Code"] == "NotFoundException"
            assert key_id not in json.dumps(refused.value.response)
        else:
            assert kms_b.describe_key(KeyId=alias_arn)["KeyMetadata"]["AWSAccountId"] == expected


def test_cross_account_secret_access_needs_both_sides_and_the_key(world):
    a, b = world.a, world.b
    role = reader_role(
        world.server,
        b,
        allow("secretsmanager:GetSecretValue", "*"),
        allow("secretsmanager:PutSecretValue", "*"),
        allow("secretsmanager:BatchGetSecretValue", "*"),
        allow("secretsmanager:ListSecrets", "*"),
        allow("kms:*", "*"),
    )
    secret_arn = a_secret_under_a_shared_key(world.server, a, role["Arn"])  # key: Decrypt only
    sm_a = client(world.server, "secretsmanager", a.account)
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": role["Arn"]},
        "Action": [
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:PutSecretValue",
        ],
        "Resource": "*",
    }
    sm_a.put_resource_policy(
        SecretId=secret_arn,
        ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    reader = client(world.server, "secretsmanager", role)
    # The resource policy allows DescribeSecret; the reader's own policies do not.
    with pytest.raises(ClientError) as refused:
        reader.describe_secret(SecretId=secret_arn)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    # Both sides allow PutSecretValue; the key's policy does not let the reader encrypt.
    with pytest.raises(ClientError) as refused:
        reader.put_secret_value(SecretId=secret_arn, SecretString="overwritten")
    assert refused.value.response["Error"]["Message"] == "Access to KMS is not allowed"
    assert sm_a.get_secret_value(SecretId=secret_arn)["SecretString"] == "shared value"
    # BatchGetSecretValue decides each secret as GetSecretValue, which both sides allow.
    batch = reader.batch_get_secret_value(SecretIdList=[secret_arn])
    assert [value["SecretString"] for value in batch["SecretValues"]] == ["shared value"]
    # ListSecrets is not among the operations AWS allows across accounts: B lists its own.
    assert secret_arn not in json.dumps(reader.list_secrets(), default=str)


def test_a_secret_under_the_aws_managed_key_never_reaches_another_account(world):
    a, b = world.a, world.b
    role = reader_role(
        world.server, b, allow("secretsmanager:GetSecretValue", "*"), allow("kms:*", "*")
    )
    sm_a = client(world.server, "secretsmanager", a.account)
    name = f"{a.mark}/managed-key-{len(sm_a.list_secrets()['SecretList'])}"
    secret_arn = sm_a.create_secret(Name=name, SecretString="kept home")["ARN"]
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": role["Arn"]},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    sm_a.put_resource_policy(
        SecretId=secret_arn,
        ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    with pytest.raises(ClientError) as refused:
        client(world.server, "secretsmanager", role).get_secret_value(SecretId=secret_arn)
    assert refused.value.response["Error"]["Message"] == "Access to KMS is not allowed"
    assert "kept home" not in json.dumps(refused.value.response)
