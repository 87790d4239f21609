"""SNS entities and rules: topic and subscription ARNs, names, limits, delivery policies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_TOPICS = 100_000  # AWS's default quota per account and Region
MAX_SUBSCRIPTIONS_PER_TOPIC = 12_500_000
MAX_TAGS = 50
MAX_MESSAGE_BYTES = 262_144  # 256 KiB, message and attributes together
MAX_BATCH_ENTRIES = 10
MAX_SUBJECT = 100
MAX_DISPLAY_NAME = 100
PAGE_SIZE = 100  # ListTopics and ListSubscriptions answer 100 at a time
DELIVERED_PROTOCOLS = ("http", "https", "email", "email-json", "lambda")
# Protocols AWS accepts that Strongroom does not deliver to.
UNDELIVERED_PROTOCOLS = ("sqs", "sms", "application", "firehose")
PENDING_CONFIRMATION = "pending confirmation"
SERVICE_PRINCIPAL = "sns.amazonaws.com"

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOPIC_ARN = re.compile(r"arn:aws:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_.-]{1,256})")
_SUBSCRIPTION_ARN = re.compile(
    r"arn:aws:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_.-]{1,256}):"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_LAMBDA_ARN = re.compile(r"arn:aws[\w-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+")
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")

# Settable topic attributes (FifoTopic and ContentBasedDeduplication only at creation).
TOPIC_ATTRIBUTES = frozenset(
    {
        "DisplayName",
        "Policy",
        "DeliveryPolicy",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
        "ArchivePolicy",
        "DataProtectionPolicy",
    }
)
SUBSCRIPTION_ATTRIBUTES = frozenset(
    {"RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "DeliveryPolicy"}
)


@dataclass(frozen=True)
class Topic:
    id: int
    account_id: str
    region: str
    name: str
    attributes: str  # JSON object
    created: float

    @property
    def arn(self) -> str:
        return topic_arn(self.region, self.account_id, self.name)

    @property
    def attribute_map(self) -> dict[str, str]:
        return dict(json.loads(self.attributes))


@dataclass(frozen=True)
class Subscription:
    id: int
    arn: str
    topic_id: int
    account_id: str
    region: str
    protocol: str
    endpoint_blob: bytes
    endpoint_tag: str
    attributes: str  # JSON object
    pending: bool
    token_hash: str | None
    created: float

    @property
    def topic_arn(self) -> str:
        return self.arn.rsplit(":", 1)[0]

    @property
    def attribute_map(self) -> dict[str, str]:
        return dict(json.loads(self.attributes))


@dataclass(frozen=True)
class Delivery:
    id: int
    message_row: int
    subscription_id: int
    protocol: str
    state: str
    attempts: int
    due: float | None


def topic_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account_id}:{name}"


def valid_topic_name(name: str) -> bool:
    return _TOPIC_NAME.fullmatch(name) is not None


def parse_topic_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name), or None when it is no topic ARN."""
    match = _TOPIC_ARN.fullmatch(arn)
    return (match[1], match[2], match[3]) if match else None


def parse_subscription_arn(arn: str) -> tuple[str, str, str] | None:
    match = _SUBSCRIPTION_ARN.fullmatch(arn)
    return (match[1], match[2], match[3]) if match else None


def valid_lambda_arn(arn: str) -> bool:
    return _LAMBDA_ARN.fullmatch(arn) is not None


def default_topic_policy(arn: str, account_id: str) -> str:
    """The policy AWS gives a new topic: its owner's account may do the topic's actions."""
    actions = [
        "SNS:GetTopicAttributes",
        "SNS:SetTopicAttributes",
        "SNS:AddPermission",
        "SNS:RemovePermission",
        "SNS:DeleteTopic",
        "SNS:Subscribe",
        "SNS:ListSubscriptionsByTopic",
        "SNS:Publish",
    ]
    statement = {
        "Sid": "__default_statement_ID",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": actions,
        "Resource": arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
    }
    policy = {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [statement]}
    return json.dumps(policy, separators=(",", ":"))


# Delivery policies (AWS's numbers, docs "Amazon SNS message delivery retries")


@dataclass(frozen=True)
class RetryPolicy:
    no_delay_retries: int
    min_delay_retries: int
    min_delay: float
    backoff_retries: int
    max_delay: float
    max_delay_retries: int
    backoff_function: str = "exponential"

    def delay(self, retry: int) -> float | None:
        """Seconds before retry number `retry` (1 is the first retry), None once exhausted."""
        n = retry
        if n <= self.no_delay_retries:
            return 0.0
        n -= self.no_delay_retries
        if n <= self.min_delay_retries:
            return self.min_delay
        n -= self.min_delay_retries
        if n <= self.backoff_retries:
            return _backoff(
                self.backoff_function, self.min_delay, self.max_delay, n, self.backoff_retries
            )
        n -= self.backoff_retries
        if n <= self.max_delay_retries:
            return self.max_delay
        return None


def _backoff(function: str, low: float, high: float, n: int, count: int) -> float:
    fraction = n / count
    if function == "linear":
        return low + (high - low) * fraction
    if function == "arithmetic":
        return low + (high - low) * (n * (n + 1)) / (count * (count + 1))
    if function == "geometric":
        return low + (high - low) * fraction**2
    return low * (high / low) ** fraction if low > 0 else high * fraction  # exponential


# HTTP/S: 3 retries, 20 seconds apart (the default healthyRetryPolicy).
HTTP_DEFAULT = RetryPolicy(0, 0, 20.0, 3, 20.0, 0, "linear")
# AWS managed endpoints (Lambda): 3 immediate, 2 a second apart, 10 backing off from 1 to 20
# seconds, then 100,000 twenty seconds apart (100,015 attempts over 23 days).
AWS_MANAGED = RetryPolicy(3, 2, 1.0, 10, 20.0, 100_000)
# Customer managed endpoints (SMTP): none immediate, 2 ten seconds apart, 10 backing off from
# 10 to 600 seconds, 38 ten minutes apart (50 attempts over 6 hours).
CUSTOMER_MANAGED = RetryPolicy(0, 2, 10.0, 10, 600.0, 38)

DEFAULT_EFFECTIVE_DELIVERY_POLICY = json.dumps(
    {
        "http": {
            "defaultHealthyRetryPolicy": {
                "minDelayTarget": 20,
                "maxDelayTarget": 20,
                "numRetries": 3,
                "numMaxDelayRetries": 0,
                "numNoDelayRetries": 0,
                "numMinDelayRetries": 0,
                "backoffFunction": "linear",
            },
            "disableSubscriptionOverrides": False,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        }
    },
    separators=(",", ":"),
)
_BACKOFF_FUNCTIONS = ("arithmetic", "exponential", "geometric", "linear")
MAX_RETRY_SECONDS = 3600


class InvalidDeliveryPolicy(ValueError):
    pass


def check_delivery_policy(text: str, topic: bool) -> None:
    """Raise InvalidDeliveryPolicy unless `text` is an HTTP/S delivery policy AWS accepts."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidDeliveryPolicy("DeliveryPolicy: failed to parse JSON.") from None
    if not isinstance(document, dict):
        raise InvalidDeliveryPolicy("DeliveryPolicy: must be a JSON object.")
    section = document.get("http", {}) if topic else document
    if not isinstance(section, dict):
        raise InvalidDeliveryPolicy("DeliveryPolicy: http must be an object.")
    key = "defaultHealthyRetryPolicy" if topic else "healthyRetryPolicy"
    retry = section.get(key)
    if retry is not None:
        _retry_policy(retry)


def _retry_policy(retry: Any) -> RetryPolicy:
    if not isinstance(retry, dict):
        raise InvalidDeliveryPolicy("DeliveryPolicy: healthyRetryPolicy must be an object.")

    def number(name: str, default: int, low: int, high: int) -> int:
        value = retry.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidDeliveryPolicy(f"DeliveryPolicy: {name} must be between {low} and {high}")
        return value

    low = number("minDelayTarget", 20, 1, MAX_RETRY_SECONDS)
    high = number("maxDelayTarget", 20, 1, MAX_RETRY_SECONDS)
    if low > high:
        raise InvalidDeliveryPolicy("DeliveryPolicy: minDelayTarget must be <= maxDelayTarget")
    total = number("numRetries", 3, 0, 100)
    no_delay = number("numNoDelayRetries", 0, 0, total)
    min_retries = number("numMinDelayRetries", 0, 0, total)
    max_retries = number("numMaxDelayRetries", 0, 0, total)
    backoff = total - no_delay - min_retries - max_retries
    if backoff < 0:
        raise InvalidDeliveryPolicy(
            "DeliveryPolicy: numRetries must be at least the sum of its phases"
        )
    function = retry.get("backoffFunction", "linear")
    if function not in _BACKOFF_FUNCTIONS:
        raise InvalidDeliveryPolicy(f"DeliveryPolicy: backoffFunction {function} is not valid")
    policy = RetryPolicy(
        no_delay, min_retries, float(low), backoff, float(high), max_retries, function
    )
    if sum(policy.delay(n) or 0.0 for n in range(1, total + 1)) > MAX_RETRY_SECONDS:
        raise InvalidDeliveryPolicy(
            "DeliveryPolicy: the total retry time must not exceed 3600 seconds"
        )
    return policy


def http_policy(
    topic_policy: str | None, subscription_policy: str | None
) -> tuple[RetryPolicy, str]:
    """The retry policy and content type of an HTTP/S delivery: the subscription's policy
    unless the topic disables overrides, else the topic's, else AWS's default."""
    retry, content_type = HTTP_DEFAULT, "text/plain; charset=UTF-8"
    topic_section: dict[str, Any] = {}
    if topic_policy:
        topic_section = json.loads(topic_policy).get("http", {})
        if "defaultHealthyRetryPolicy" in topic_section:
            retry = _retry_policy(topic_section["defaultHealthyRetryPolicy"])
        content_type = topic_section.get("defaultRequestPolicy", {}).get(
            "headerContentType", content_type
        )
    if subscription_policy and not topic_section.get("disableSubscriptionOverrides"):
        document = json.loads(subscription_policy)
        if "healthyRetryPolicy" in document:
            retry = _retry_policy(document["healthyRetryPolicy"])
        content_type = document.get("requestPolicy", {}).get("headerContentType", content_type)
    return retry, content_type


def effective_delivery_policy(topic_policy: str | None) -> str:
    if not topic_policy:
        return DEFAULT_EFFECTIVE_DELIVERY_POLICY
    effective = json.loads(DEFAULT_EFFECTIVE_DELIVERY_POLICY)
    given = json.loads(topic_policy).get("http", {})
    effective["http"].update(given)
    return json.dumps(effective, separators=(",", ":"))
