"""Topic access policies: a topic's `Policy` attribute is its resource policy, as at AWS.

Every topic has one: the policy it was given, else AWS's default (`model.default_topic_policy`),
which allows everyone (`"AWS": "*"`) the topic's actions under the condition
`AWS:SourceOwner` = the owner's account. The calls its actions name (`TOPIC_POLICY_OPERATIONS`)
are decided with it, by AWS's evaluation logic: another account's principal by ARN when the
policy and its own identity policies both allow; a principal of the owner's account when either
allows; an explicit Deny in it denies. Other calls (CreateTopic, tagging, subscriptions by ARN)
are decided by identity policies alone, in the caller's own account.

AWS:SourceOwner is a legacy key that AWS sets only when a service acts for the account that
owns the source (unsure: AWS does not document it; it never holds the caller's account for an
IAM principal's own call, so the default policy grants IAM principals nothing and their
identity policies decide, as AWS says "by default, only the topic owner can publish"). Services
publishing for an account (`service_may_publish`):

- CloudWatch alarms publish with AWS:SourceOwner = the alarm's account: the default policy lets
  alarms reach the same account's topics out of the box, as at AWS, and another account's only
  where that topic's policy allows `cloudwatch.amazonaws.com` (or the account).
- EventBridge (and every other service) publishes with aws:SourceArn and aws:SourceAccount
  only: the topic's policy must allow its service principal to `sns:Publish` (AWS's EventBridge
  guide, "Amazon SNS permissions": the default policy does not).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from strongroom.iam.compiled import compile_document
from strongroom.iam.evaluation import Request, ServicePrincipal, evaluate, request_context
from strongroom.iam.policy import MalformedPolicy, PolicyKind, parse, without_statement_ids
from strongroom.services.sns import model
from strongroom.services.sns.model import Topic

# The operations a topic policy governs, with the action they need (PublishBatch needs
# sns:Publish: IAM has no PublishBatch action).
TOPIC_POLICY_OPERATIONS = {
    "GetTopicAttributes": "sns:GetTopicAttributes",
    "SetTopicAttributes": "sns:SetTopicAttributes",
    "AddPermission": "sns:AddPermission",
    "RemovePermission": "sns:RemovePermission",
    "DeleteTopic": "sns:DeleteTopic",
    "Subscribe": "sns:Subscribe",
    "ListSubscriptionsByTopic": "sns:ListSubscriptionsByTopic",
    "Publish": "sns:Publish",
    "PublishBatch": "sns:Publish",
}
# What a topic policy may name: its operations' actions, and Receive, which older default
# policies list (policies copied from them must still be accepted).
_IN_SCOPE = tuple(sorted({a.lower() for a in TOPIC_POLICY_OPERATIONS.values()} | {"sns:receive"}))
# Services that publish as the account owning their source (see above).
_OWNER_SERVICES = frozenset({"cloudwatch.amazonaws.com"})

EMPTY = "Policy is empty"
MALFORMED = "Policy Error: null"
NO_SUCH_PRINCIPAL = "Policy Error: PrincipalNotFound"
OUT_OF_SCOPE = "Policy statement action out of service scope!"


class InvalidTopicPolicy(ValueError):
    """A policy SNS refuses; the message is the end of SNS's "Invalid parameter: ..."."""


def check_policy(text: str) -> None:
    """Raise InvalidTopicPolicy unless SNS would accept `text` as a topic's policy."""
    if not text:
        raise InvalidTopicPolicy(EMPTY)
    try:
        policy = parse(without_statement_ids(text), PolicyKind.RESOURCE)
    except MalformedPolicy as malformed:
        invalid_principal = malformed.message.startswith("Invalid principal")
        raise InvalidTopicPolicy(NO_SUCH_PRINCIPAL if invalid_principal else MALFORMED) from None
    for statement in policy.statements:
        for action in statement.action or statement.not_action or ():
            if not _in_scope(action.lower()):
                raise InvalidTopicPolicy(OUT_OF_SCOPE)


def _in_scope(action: str) -> bool:
    return any(fnmatchcase(known, action) for known in _IN_SCOPE)


def evaluated_policy(topic: Topic) -> str:
    """The policy in force on a topic (its own, else AWS's default) as the evaluator reads it:
    SNS's statement ids are free text."""
    own = topic.attribute_map.get("Policy")
    return without_statement_ids(own or model.default_topic_policy(topic.arn, topic.account_id))


def service_may_publish(topic: Topic, service: str, source_arn: str, account_id: str) -> bool:
    """Whether the topic's policy lets `service` publish for `account_id`'s `source_arn`."""
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": account_id}
    if service in _OWNER_SERVICES:
        context["aws:SourceOwner"] = account_id
    decision = evaluate(
        Request(ServicePrincipal(service), "sns:Publish", topic.arn, request_context(context)),
        resource_policy=compile_document(evaluated_policy(topic), PolicyKind.RESOURCE),
        resource_account=topic.account_id,
    )
    return decision.allowed
