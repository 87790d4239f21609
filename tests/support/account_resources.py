"""One account's resources of every kind, made by its administrator, and valid requests of
any operation that name them (by name, or by ARN where the member takes one).

Every name carries the account's `mark`; every content (secret values, descriptions, tag
values, policy statement ids, log messages) carries its `hidden` token, which no request ever
names: it appearing in another account's answer is a leak, whatever that request named.
"""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel, Shape

from strongroom.audit.trail import TRAIL_NAME
from tests.support import bad_requests
from tests.support.accounts import Account, client
from tests.support.server import REGION, Server

OTHER_REGION = "eu-west-1"
NOW_MS = int(time.time() * 1000)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_account(account_id: str, sid: str, action: str = "*") -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": action,
        "Resource": "*",
    }


def role_trust(account_id: str, sid: str) -> dict[str, Any]:
    """A trust policy's statement (no Resource: the role is the resource)."""
    statement = trust_account(account_id, sid, "sts:AssumeRole")
    del statement["Resource"]
    return statement


@dataclass
class Resources:
    """What one account holds, and the strings that must never reach another account."""

    account: Account
    mark: str  # in every name
    hidden: str  # in every content, never in a request
    secret_name: str = ""
    secret_arn: str = ""
    key_id: str = ""
    key_arn: str = ""
    sign_key_arn: str = ""
    mac_key_arn: str = ""
    alias: str = ""
    ciphertext: str = ""  # base64
    grant_id: str = ""
    log_group: str = ""
    log_group_arn: str = ""  # without the trailing ":*"
    log_stream: str = ""
    filter_name: str = ""
    user: str = ""
    user_arn: str = ""
    group: str = ""
    role: str = ""
    role_arn: str = ""
    inline_policy: str = ""
    policy_arn: str = ""
    mfa_serial: str = ""
    access_key_id: str = ""  # the account user's
    ids: set[str] = field(default_factory=set)  # unique ids AWS gives: keys, users, roles, ...
    bucket: str = ""
    object_key: str = ""  # one of the account's audit log files, once delivered
    function_name: str = ""
    function_arn: str = ""
    function_role_arn: str = ""  # a role Lambda may assume
    rule_name: str = ""  # an EventBridge rule, with a target and tags
    rule_arn: str = ""
    rule_target_arn: str = ""  # the rule's target (a function ARN; EventBridge checks none)
    topic_name: str = ""  # an SNS topic, with tags and a Lambda subscription
    topic_arn: str = ""
    subscription_arn: str = ""
    metric_namespace: str = ""  # a CloudWatch metric with a dimension
    metric_name: str = ""

    @property
    def account_id(self) -> str:
        return self.account.account_id

    @property
    def trail_arn(self) -> str:
        return f"arn:aws:cloudtrail:{REGION}:{self.account_id}:trail/{TRAIL_NAME}"

    def markers(self) -> set[str]:
        """What names or holds this account's things: in another account's answer, a leak
        (unless that account's request named it)."""
        return {
            self.account_id,
            self.mark,
            self.hidden,
            self.account.access_key_id,
            self.access_key_id,
            *self.ids,
        }


def populate(server: Server, account: Account) -> Resources:
    """A resource of every kind in the account, made by its administrator."""
    tag = uuid.uuid4().hex[:10]
    found = Resources(account, mark=f"mark{tag}", hidden=f"hidden{tag}")
    _secrets(server, found)
    _keys(server, found)
    _logs(server, found)
    _iam(server, found)
    _functions(server, found)
    _rules(server, found)
    _topics(server, found)
    _metrics(server, found)
    found.bucket = f"strongroom-cloudtrail-{account.account_id}"
    return found


def _secrets(server: Server, found: Resources) -> None:
    sm = client(server, "secretsmanager", found.account)
    found.secret_name = f"{found.mark}/secret"
    created = sm.create_secret(
        Name=found.secret_name,
        SecretString=f"value-{found.hidden}",
        Description=f"description-{found.hidden}",
        Tags=[{"Key": "owner", "Value": f"tag-{found.hidden}"}],
    )
    found.secret_arn = created["ARN"]
    found.ids.add(created["VersionId"])
    sm.put_resource_policy(
        SecretId=found.secret_arn,
        ResourcePolicy=policy(
            trust_account(found.account_id, found.hidden, "secretsmanager:GetSecretValue")
        ),
    )


def _keys(server: Server, found: Resources) -> None:
    kms = client(server, "kms", found.account)
    key_policy = policy(trust_account(found.account_id, found.hidden, "kms:*"))
    key = kms.create_key(
        Description=f"description-{found.hidden}",
        Policy=key_policy,
        Tags=[{"TagKey": "owner", "TagValue": f"tag-{found.hidden}"}],
    )["KeyMetadata"]
    found.key_id, found.key_arn = key["KeyId"], key["Arn"]
    sign = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Policy=key_policy)
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Policy=key_policy)
    found.sign_key_arn = sign["KeyMetadata"]["Arn"]
    found.mac_key_arn = mac["KeyMetadata"]["Arn"]
    found.ids |= {key["KeyId"], sign["KeyMetadata"]["KeyId"], mac["KeyMetadata"]["KeyId"]}
    found.alias = f"alias/{found.mark}"
    kms.create_alias(AliasName=found.alias, TargetKeyId=found.key_id)
    blob = kms.encrypt(KeyId=found.key_id, Plaintext=f"plaintext-{found.hidden}".encode())
    found.ciphertext = base64.b64encode(blob["CiphertextBlob"]).decode()


def _logs(server: Server, found: Resources) -> None:
    logs = client(server, "logs", found.account)
    found.log_group = f"/{found.mark}/group"
    found.log_stream = f"{found.mark}-stream"
    found.filter_name = f"{found.mark}-filter"
    logs.create_log_group(logGroupName=found.log_group, tags={"owner": f"tag-{found.hidden}"})
    logs.put_retention_policy(logGroupName=found.log_group, retentionInDays=30)
    logs.create_log_stream(logGroupName=found.log_group, logStreamName=found.log_stream)
    logs.put_log_events(
        logGroupName=found.log_group,
        logStreamName=found.log_stream,
        logEvents=[{"timestamp": NOW_MS, "message": f"ERROR event-{found.hidden}"}],
    )
    logs.put_metric_filter(
        logGroupName=found.log_group,
        filterName=found.filter_name,
        filterPattern=f'"{found.hidden}"',
        metricTransformations=[
            {"metricName": found.hidden, "metricNamespace": found.hidden, "metricValue": "1"}
        ],
    )
    (group,) = logs.describe_log_groups(logGroupNamePrefix=found.log_group)["logGroups"]
    found.log_group_arn = group["logGroupArn"]


def _iam(server: Server, found: Resources) -> None:
    iam = client(server, "iam", found.account)
    found.user = f"{found.mark}-user"
    found.group = f"{found.mark}-group"
    found.role = f"{found.mark}-role"
    found.inline_policy = f"{found.mark}-inline"
    allow_reads = policy(
        {"Sid": found.hidden, "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}
    )
    user = iam.create_user(UserName=found.user, Tags=[{"Key": "owner", "Value": found.hidden}])
    found.user_arn = user["User"]["Arn"]
    iam.put_user_policy(
        UserName=found.user, PolicyName=found.inline_policy, PolicyDocument=allow_reads
    )
    key = iam.create_access_key(UserName=found.user)["AccessKey"]
    found.access_key_id = key["AccessKeyId"]
    group = iam.create_group(GroupName=found.group)
    iam.add_user_to_group(GroupName=found.group, UserName=found.user)
    iam.put_group_policy(
        GroupName=found.group, PolicyName=found.inline_policy, PolicyDocument=allow_reads
    )
    role = iam.create_role(
        RoleName=found.role,
        AssumeRolePolicyDocument=policy(role_trust(found.account_id, found.hidden)),
        Description=f"description-{found.hidden}",
        Tags=[{"Key": "owner", "Value": found.hidden}],
    )
    found.role_arn = role["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=found.role, PolicyName=found.inline_policy, PolicyDocument=allow_reads
    )
    managed = iam.create_policy(
        PolicyName=f"{found.mark}-policy",
        PolicyDocument=allow_reads,
        Description=f"description-{found.hidden}",
    )["Policy"]
    found.policy_arn = managed["Arn"]
    iam.attach_user_policy(UserName=found.user, PolicyArn=found.policy_arn)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{found.mark}-mfa")
    found.mfa_serial = device["VirtualMFADevice"]["SerialNumber"]
    admin = iam.get_user()["User"]["UserId"]
    found.ids |= {
        user["User"]["UserId"],
        group["Group"]["GroupId"],
        role["Role"]["RoleId"],
        managed["PolicyId"],
        admin,
    }
    kms = client(server, "kms", found.account)
    grant = kms.create_grant(
        KeyId=found.key_id,
        GranteePrincipal=found.user_arn,
        RetiringPrincipal=found.user_arn,
        Operations=["Decrypt"],
        Name=found.hidden,
    )
    found.grant_id = grant["GrantId"]
    found.ids.add(grant["GrantId"])


def function_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _functions(server: Server, found: Resources) -> None:
    iam = client(server, "iam", found.account)
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    role = iam.create_role(
        RoleName=f"{found.mark}-lambda-role",
        AssumeRolePolicyDocument=policy({**trust, "Action": "sts:AssumeRole"}),
    )["Role"]
    found.function_role_arn = role["Arn"]
    found.ids.add(role["RoleId"])
    lam = client(server, "lambda", found.account)
    found.function_name = f"{found.mark}-function"
    created = lam.create_function(
        FunctionName=found.function_name,
        Runtime="python3.12",
        Role=found.function_role_arn,
        Handler="app.handler",
        Code={"ZipFile": function_package()},
        Description=f"description-{found.hidden}",
        Environment={"Variables": {"SECRET": f"value-{found.hidden}"}},
        Tags={"owner": f"tag-{found.hidden}"},
    )
    found.function_arn = created["FunctionArn"]
    found.ids.add(created["RevisionId"])
    lam.add_permission(
        FunctionName=found.function_name,
        StatementId=found.hidden,
        Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
    )


def _rules(server: Server, found: Resources) -> None:
    events = client(server, "events", found.account)
    found.rule_name = f"{found.mark}-rule"
    found.rule_target_arn = f"arn:aws:lambda:{REGION}:{found.account_id}:function:{found.mark}"
    found.rule_arn = events.put_rule(
        Name=found.rule_name,
        ScheduleExpression="rate(1 day)",
        Description=f"description-{found.hidden}",
        Tags=[{"Key": "owner", "Value": f"tag-{found.hidden}"}],
    )["RuleArn"]
    events.put_targets(
        Rule=found.rule_name,
        Targets=[{"Id": "1", "Arn": found.rule_target_arn, "Input": json.dumps(found.hidden)}],
    )


def _topics(server: Server, found: Resources) -> None:
    sns = client(server, "sns", found.account)
    found.topic_name = f"{found.mark}-topic"
    found.topic_arn = sns.create_topic(
        Name=found.topic_name,
        Attributes={"DisplayName": f"display-{found.hidden}"},
        Tags=[{"Key": "owner", "Value": f"tag-{found.hidden}"}],
    )["TopicArn"]
    found.subscription_arn = sns.subscribe(
        TopicArn=found.topic_arn, Protocol="lambda", Endpoint=found.function_arn
    )["SubscriptionArn"]


def _metrics(server: Server, found: Resources) -> None:
    found.metric_namespace, found.metric_name = f"{found.mark}/metrics", f"{found.mark}-metric"
    client(server, "cloudwatch", found.account).put_metric_data(
        Namespace=found.metric_namespace,
        MetricData=[
            {
                "MetricName": found.metric_name,
                "Dimensions": [{"Name": "owner", "Value": f"dimension-{found.hidden}"}],
                "Value": 1.0,
            }
        ],
    )


# Valid requests naming an account's resources

STRUCTURES: dict[str, dict[str, Any]] = {
    "Filter": {"Key": "name", "Values": ["x"]},
    "InputLogEvent": {"timestamp": NOW_MS, "message": "x"},
    "MetricTransformation": {"metricName": "m", "metricNamespace": "n", "metricValue": "1"},
    "FunctionCode": {"ZipFile": function_package()},
    # EventBridge's shapes whose patterns the generic values do not fit
    "ConnectionArn": f"arn:aws:events:{REGION}:111111111111:connection/c/1",
    "EventBusArn": f"arn:aws:events:{REGION}:111111111111:event-bus/b",
    "NonPartnerEventBusArn": f"arn:aws:events:{REGION}:111111111111:event-bus/b",
    "ArchiveArn": f"arn:aws:events:{REGION}:111111111111:archive/a",
    "HealthCheck": "arn:aws:route53:::healthcheck/a",
    "EventSourceName": "aws.partner/a/b",
    "PartnerEventSourceNamePrefix": "aws.partner/a/",
}
# Optional members the request carries anyway, so that it names the account's resources.
EXTRAS = {
    "PutRule": ["ScheduleExpression"],  # or an EventPattern: the model requires neither
    "BatchGetSecretValue": ["SecretIdList"],
    "ValidateResourcePolicy": ["SecretId"],
    "ListAliases": ["KeyId"],
    "DescribeLogStreams": ["logGroupName"],
    "DescribeMetricFilters": ["logGroupName"],
    "FilterLogEvents": ["logGroupName"],
    "GetLogEvents": ["logGroupName"],
    "GetUser": ["UserName"],
    "ListAccessKeys": ["UserName"],
    "ListMFADevices": ["UserName"],
    "DescribeTrails": ["trailNameList"],
    "LookupEvents": ["LookupAttributes"],
    "Decrypt": ["CiphertextBlob"],
    "ReEncrypt": ["CiphertextBlob"],
    "GenerateRandom": ["NumberOfBytes"],
    "GenerateDataKey": ["KeySpec"],  # KeySpec or NumberOfBytes: the model requires neither
    "GenerateDataKeyWithoutPlaintext": ["KeySpec"],
    "RetireGrant": ["KeyId", "GrantId"],  # these, or a GrantToken
    "PutSecretValue": ["SecretString"],
    "CreateSecret": ["SecretString"],
}
_KEY_FOR = {
    "Sign": "sign_key_arn",
    "Verify": "sign_key_arn",
    "GetPublicKey": "sign_key_arn",
    "GenerateMac": "mac_key_arn",
    "VerifyMac": "mac_key_arn",
}
_CREATES = {
    "CreateSecret",
    "CreateAlias",
    "CreateLogGroup",
    "CreateLogStream",
    "CreateUser",
    "CreateGroup",
    "CreateRole",
    "CreatePolicy",
    "CreateFunction",
    "PutRule",
    "CreateTopic",
}


def _key(r: Resources, operation: str, by_arn: bool) -> str:
    attribute = _KEY_FOR.get(operation)
    if attribute is not None:
        return str(getattr(r, attribute))
    return r.key_arn if by_arn else r.key_id


def _values(
    r: Resources, service: str, operation: str, by_arn: bool
) -> dict[str, Callable[[], Any]]:
    """Valid values of members by name, naming the account's resources."""
    new = f"{r.mark}-new-{uuid.uuid4().hex[:8]}"
    creates = operation in _CREATES
    secret = r.secret_arn if by_arn else r.secret_name
    tags: dict[str, Callable[[], Any]] = {
        "secretsmanager": lambda: [{"Key": "k", "Value": "v"}],
        "kms": lambda: [{"TagKey": "k", "TagValue": "v"}],
        "iam": lambda: [{"Key": "k", "Value": "v"}],
        "logs": lambda: ["k"] if operation == "UntagLogGroup" else {"k": "v"},
        "lambda": lambda: {"k": "v"},
    }
    document = policy(trust_account(r.account_id, "Sid1"))
    return {
        # Secrets Manager
        "SecretId": lambda: secret,
        "SecretIdList": lambda: [secret],
        "SecretString": lambda: "changed",
        "ResourcePolicy": lambda: document,
        "VersionStage": lambda: (
            "NEWLABEL" if operation == "UpdateSecretVersionStage" else "AWSCURRENT"
        ),
        "AddReplicaRegions": lambda: [{"Region": OTHER_REGION}],
        "RemoveReplicaRegions": lambda: [OTHER_REGION],
        # KMS
        "KeyId": lambda: _key(r, operation, by_arn),
        "TargetKeyId": lambda: r.key_id,
        "SourceKeyId": lambda: _key(r, operation, by_arn),
        "DestinationKeyId": lambda: _key(r, operation, by_arn),
        "AliasName": lambda: f"alias/{new}" if creates else r.alias,
        "CiphertextBlob": lambda: r.ciphertext,
        "Plaintext": lambda: base64.b64encode(b"x").decode(),
        "Policy": lambda: document,
        "GranteePrincipal": lambda: r.user_arn,
        "RetiringPrincipal": lambda: r.user_arn,
        "Operations": lambda: ["Decrypt"],
        "GrantId": lambda: r.grant_id,
        "SigningAlgorithm": lambda: "RSASSA_PSS_SHA_256",
        "MacAlgorithm": lambda: "HMAC_SHA_256",
        "ReplicaRegion": lambda: OTHER_REGION,
        "PrimaryRegion": lambda: OTHER_REGION,
        "NumberOfBytes": lambda: 16,
        # CloudWatch Logs
        "logGroupName": lambda: f"/{new}" if creates else r.log_group,
        "logGroupIdentifier": lambda: r.log_group_arn if by_arn else r.log_group,
        "logStreamName": lambda: new if creates else r.log_stream,
        "logEvents": lambda: [{"timestamp": NOW_MS, "message": "x"}],
        "retentionInDays": lambda: 1,
        "filterName": lambda: r.filter_name,
        "filterPattern": lambda: "ERROR",
        "logEventMessages": lambda: ["ERROR x"],
        "resourceArn": lambda: r.log_group_arn,
        "tags": tags.get(service, lambda: {"k": "v"}),
        "Tags": tags.get(service, lambda: [{"Key": "k", "Value": "v"}]),
        "tagKeys": lambda: ["k"],
        "TagKeys": lambda: ["k"],
        # CloudTrail
        "Name": lambda: (
            (r.trail_arn if by_arn else TRAIL_NAME)
            if service == "cloudtrail"
            else (new if creates else r.rule_name)
            if service == "events"
            else (new if creates else r.topic_name)
            if service == "sns"
            else f"{r.mark}/{new}"
        ),
        "trailNameList": lambda: [r.trail_arn if by_arn else TRAIL_NAME],
        "LookupAttributes": lambda: [
            {"AttributeKey": "EventName", "AttributeValue": "CreateSecret"}
        ],
        # IAM and STS
        "UserName": lambda: new if creates else r.user,
        "GroupName": lambda: new if creates else r.group,
        "RoleName": lambda: new if creates else r.role,
        "PolicyName": lambda: new if creates else r.inline_policy,
        "PolicyArn": lambda: r.policy_arn,
        "PolicyDocument": lambda: document,
        "AssumeRolePolicyDocument": lambda: policy(role_trust(r.account_id, "Sid1")),
        "VersionId": lambda: "v1",
        "AccessKeyId": lambda: r.access_key_id,
        "SerialNumber": lambda: r.mfa_serial,
        "VirtualMFADeviceName": lambda: new,
        "Status": lambda: "Active",
        "RoleArn": lambda: r.role_arn,
        "RoleSessionName": lambda: "session",
        "EventSource": lambda: "kms.amazonaws.com",
        "EntityPath": lambda: "o-aaaaaaaaaa/r-aaaa",
        # Lambda
        "FunctionName": lambda: (
            f"{r.mark}-new" if creates else (r.function_arn if by_arn else r.function_name)
        ),
        "Resource": lambda: r.function_arn,
        "Role": lambda: r.function_role_arn,
        "Runtime": lambda: "python3.12",
        "Handler": lambda: "app.handler",
        "StatementId": lambda: "Sid1",
        "Action": lambda: "lambda:InvokeFunction",
        "Principal": lambda: "secretsmanager.amazonaws.com",
        # ARNs of what Strongroom does not implement, which the value generator cannot make.
        "DurableExecutionArn": lambda: (
            f"{r.function_arn}:$LATEST/durable-execution/{r.mark}/{r.mark}"
        ),
        "CodeSigningConfigArn": lambda: (
            f"arn:aws:lambda:{REGION}:{r.account_id}:code-signing-config:csc-" + "0" * 17
        ),
        "Arn": lambda: f"arn:aws:lambda:{REGION}:{r.account_id}:layer:{r.mark}:1",
        "AllowedPublishers": lambda: {
            "SigningProfileVersionArns": [
                f"arn:aws:signer:{REGION}:{r.account_id}:/signing-profiles/{r.mark}/1"
            ]
        },
        "PermissionsConfig": lambda: {"CapacityProviderOperatorRoleArn": r.function_role_arn},
        # EventBridge
        # (CloudWatch's PutAlarmMuteRule has a Rule too: a structure, left to the generator.)
        **({"Rule": lambda: r.rule_name} if service != "cloudwatch" else {}),
        "Ids": lambda: ["1"],
        "Targets": lambda: [{"Id": "1", "Arn": r.rule_target_arn}],
        "TargetArn": lambda: r.topic_arn if service == "sns" else r.rule_target_arn,
        "ResourceARN": lambda: r.rule_arn,
        "ScheduleExpression": lambda: "rate(1 day)",
        # CloudWatch
        "Namespace": lambda: r.metric_namespace,
        "MetricName": lambda: r.metric_name,
        # SNS (its members' names are other services' too: Message is a KMS blob)
        **(
            {
                "TopicArn": lambda: r.topic_arn,
                "SubscriptionArn": lambda: r.subscription_arn,
                "ResourceArn": lambda: r.topic_arn,
                "Protocol": lambda: "lambda",
                "Endpoint": lambda: r.function_arn,
                "Message": lambda: "x",
                "Token": lambda: "0" * 64,
                "AttributeName": lambda: (
                    "RawMessageDelivery" if "Subscription" in operation else "DisplayName"
                ),
                "PublishBatchRequestEntries": lambda: [{"Id": "1", "Message": "x"}],
            }
            if service == "sns"
            else {}
        ),
        # S3
        "CopySource": lambda: f"{r.bucket}/{r.object_key or 'none'}",
        "RenameSource": lambda: f"{r.bucket}/{r.object_key or 'none'}",
        "Bucket": lambda: r.bucket,
        "Key": lambda: r.object_key or f"AWSLogs/{r.account_id}/none",
    }


@dataclass(frozen=True)
class _World:
    resources: Resources
    service: str
    by_arn: bool


def _top_level_value(name: str, shape: Shape, operation: str, world: _World) -> Any:
    values = _values(world.resources, world.service, operation, world.by_arn)
    return values[name]() if name in values else bad_requests.valid_value(shape, STRUCTURES)


def request(
    r: Resources, service: str, operation: OperationModel, by_arn: bool = False, bare: bool = False
) -> dict[str, Any]:
    """A valid request of the operation naming the account's resources: its required members,
    and (unless `bare`) the optional ones that name a resource (EXTRAS)."""
    if operation.input_shape is None:
        return {}
    # EXTRAS name operations; two services may have one of the same name (ListAliases).
    members = operation.input_shape.members
    extras = [name for name in EXTRAS.get(operation.name, []) if name in members]
    spec = bad_requests.Service(
        _top_level_value,
        minimal_request={},
        id_member="",
        structures=STRUCTURES,
        base_extras={} if bare else {operation.name: extras},
    )
    return bad_requests.base_request(operation, _World(r, service, by_arn), spec)
