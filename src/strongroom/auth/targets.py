"""What a call acts on, read from its parameters, for services whose resources are named by
the request alone (IAM, CloudWatch Logs, CloudWatch, CloudTrail, S3, EventBridge): the dispatcher
authorizes these calls before they run. Services whose resources carry policies of their own
(Secrets Manager's secrets, KMS keys, SNS topics) authorize where they find the resource instead.

Each function returns the IAM action (None: the service's prefix and the operation's name)
and the ARN of the resource, "*" for operations that act on none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strongroom.services.context import RequestContext

Target = tuple[str | None, str]
TargetOf = Callable[[RequestContext, str, Mapping[str, Any]], Target]


def logs_target(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> Target:
    """Log groups as `...:log-group:NAME:*` and streams as `...:log-group:NAME:log-stream:S`,
    the forms AWS's CloudWatch Logs policies are written against."""
    prefix = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:"
    if "resourceArn" in params:
        return None, str(params["resourceArn"])
    identifier = params.get("logGroupName") or params.get("logGroupIdentifier")
    if identifier is None:
        return None, f"{prefix}*" if operation == "DescribeLogGroups" else "*"
    if str(identifier).startswith("arn:"):
        return None, str(identifier).removesuffix(":*") + ":*"
    stream = params.get("logStreamName")
    if stream is not None and operation in ("PutLogEvents", "GetLogEvents"):
        return None, f"{prefix}{identifier}:log-stream:{stream}"
    return None, f"{prefix}{identifier}:*"


def events_target(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> Target:
    """Rules as `arn:aws:events:REGION:ACCOUNT:rule/NAME` (`rule/BUS/NAME` on another bus);
    tagging calls act on the ARN they name, listings on no one rule."""
    if "ResourceARN" in params:
        return None, str(params["ResourceARN"])
    name = params.get("Name") if "Name" in params else params.get("Rule")
    if name is None:
        return None, "*"
    bus = str(params.get("EventBusName") or "default").rsplit("/", 1)[-1]
    path = name if bus == "default" else f"{bus}/{name}"
    return None, f"arn:aws:events:{ctx.region}:{ctx.account_id}:rule/{path}"


def cloudwatch_target(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> Target:
    """Alarms as `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME` (a call naming one alarm acts
    on it, tag calls on the ARN they name); metrics have no ARNs, so metric calls and calls on
    several alarms act on "*" (CloudWatch's signing name is `monitoring`, its actions' prefix
    `cloudwatch`)."""
    action = f"cloudwatch:{operation}"
    if "ResourceARN" in params:
        return action, str(params["ResourceARN"])
    names = [params["AlarmName"]] if "AlarmName" in params else params.get("AlarmNames") or []
    if len(names) == 1:
        return action, f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{names[0]}"
    return action, "*"


def cloudtrail_target(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> Target:
    name = params.get("Name")
    if name is None:
        return None, "*"
    name = str(name)
    if name.startswith("arn:"):
        return None, name
    return None, f"arn:aws:cloudtrail:{ctx.region}:{ctx.account_id}:trail/{name}"


# S3 names its permissions after what they allow, not after the operations.
_S3_ACTIONS = {
    "GetBucketLocation": "s3:GetBucketLocation",
    "ListObjects": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
}


def s3_target(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> Target:
    bucket = f"arn:aws:s3:::{params.get('Bucket', '')}"
    if "Key" in params:
        return _S3_ACTIONS.get(operation), f"{bucket}/{params['Key']}"
    return _S3_ACTIONS.get(operation), bucket


# The member naming what an IAM call acts on, in order of precedence: AddUserToGroup acts on
# the group, AttachRolePolicy on the role (the policy is a condition key, iam:PolicyARN).
_IAM_NAMES = (("RoleName", "role"), ("GroupName", "group"), ("UserName", "user"))
# Calls on a user that act on the caller's own user when they name none.
_IAM_SELF = frozenset(
    {
        "GetUser",
        "CreateAccessKey",
        "ListAccessKeys",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "ListMFADevices",
    }
)


def iam_target(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> Target:
    """IAM entities by their ARNs (without a path: policies name users as `user/NAME` or
    `user/*`); a call about "me" acts on the caller's own user, so self-service policies
    written against `user/${aws:username}` work."""
    account = f"arn:aws:iam::{ctx.account_id}:"
    for member, kind in _IAM_NAMES:
        if member in params:
            return None, f"{account}{kind}/{params[member]}"
    if operation in _IAM_SELF:
        return None, ctx.principal.arn
    for member in ("PolicyArn", "SerialNumber"):
        if member in params:
            return None, str(params[member])
    if "VirtualMFADeviceName" in params:
        return None, f"{account}mfa/{params['VirtualMFADeviceName']}"
    return None, "*"
