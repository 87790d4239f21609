"""What every group of SNS operations shares: construction, finding the topic or subscription
a caller names (and may act on), sealing messages and endpoints behind the barrier, and the URLs
subscribers visit."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.services.context import RequestContext
from strongroom.services.sns import access, model
from strongroom.services.sns import errors as e
from strongroom.services.sns.model import Subscription, Topic
from strongroom.storage.sns import SnsRepository

TOPIC_TYPE = "AWS::SNS::Topic"
SUBSCRIPTION_TYPE = "AWS::SNS::Subscription"
CONFIRM_PATH = "/_strongroom/sns/confirm"
UNSUBSCRIBE_PATH = "/_strongroom/sns/unsubscribe"
NO_TOPIC = "Topic does not exist"
NO_SUBSCRIPTION = "Subscription does not exist"
NO_RESOURCE = "Resource does not exist"


def invalid_parameter(what: str) -> e.InvalidParameterException:
    return e.InvalidParameterException(f"Invalid parameter: {what}")


def timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class SnsBase:
    def __init__(
        self, repository: SnsRepository, barrier: Barrier, clock: Clock, endpoint: str
    ) -> None:
        self._repository = repository
        self._barrier = barrier
        self._clock = clock
        self._endpoint = endpoint

    @property
    def repository(self) -> SnsRepository:
        return self._repository

    # URLs subscribers visit (served unsigned by the HTTP layer)

    def subscribe_url(self, topic_arn: str, token: str) -> str:
        return (
            f"{self._endpoint}{CONFIRM_PATH}?Action=ConfirmSubscription"
            f"&TopicArn={quote(topic_arn, safe='')}&Token={token}"
        )

    def unsubscribe_url(self, subscription_arn: str) -> str:
        return (
            f"{self._endpoint}{UNSUBSCRIBE_PATH}?Action=Unsubscribe"
            f"&SubscriptionArn={quote(subscription_arn, safe='')}"
        )

    # Helpers

    def seal_message(self, message_id: str, body: dict[str, Any]) -> bytes:
        text = json.dumps(body, separators=(",", ":")).encode()
        return self._barrier.encrypt(text, message_aad(message_id))

    def open_message(self, message_id: str, blob: bytes) -> dict[str, Any]:
        return dict(json.loads(self._barrier.decrypt(blob, message_aad(message_id))))

    def endpoint_of(self, subscription: Subscription) -> str:
        return self._barrier.decrypt(
            subscription.endpoint_blob, endpoint_aad(subscription.arn)
        ).decode()

    def _find_topic(self, ctx: RequestContext, parsed: tuple[str, str, str]) -> Topic | None:
        """The topic an ARN names if the caller may do this call's operation on it: decided
        with the topic's access policy for the operations it governs, which alone reach
        another account's topics (`access`). None when there is no such topic, which only a
        caller who may act on such a topic learns."""
        region, owner, name = parsed
        arn = model.topic_arn(region, owner, name)
        action = access.TOPIC_POLICY_OPERATIONS.get(ctx.operation)
        topic = None
        if region == ctx.region and (action is not None or owner == ctx.account_id):
            topic = self._repository.topic(owner, region, name)
        if topic is None:
            ctx.authorize(arn, action=action, resource_account=owner)
            return None
        policy = access.evaluated_policy(topic) if action is not None else None
        ctx.authorize(arn, action=action, resource_policy=policy, resource_account=owner)
        return topic

    def _topic(self, ctx: RequestContext, arn: str, not_found: Exception | None = None) -> Topic:
        parsed = model.parse_topic_arn(arn)
        if parsed is None:
            raise invalid_parameter("TopicArn") if not_found is None else not_found
        topic = self._find_topic(ctx, parsed)
        if topic is None:
            raise e.NotFoundException(NO_TOPIC) if not_found is None else not_found
        ctx.note_resource(TOPIC_TYPE, topic.arn)
        return topic

    def _tagged(self, ctx: RequestContext, arn: str) -> Topic:
        parsed = model.parse_topic_arn(arn)
        if parsed is None:
            ctx.authorize(arn)
        topic = self._find_topic(ctx, parsed) if parsed else None
        if topic is None:
            raise e.ResourceNotFoundException(NO_RESOURCE)
        ctx.note_resource(TOPIC_TYPE, topic.arn)
        return topic

    def _subscription(self, ctx: RequestContext, arn: str) -> Subscription:
        """A subscription of the caller's account's topics; decided on its topic, before it
        is looked up (only a caller who may act on the topic learns what it holds)."""
        parsed = model.parse_subscription_arn(arn)
        if parsed is None:
            raise invalid_parameter("SubscriptionArn")
        region, owner, name = parsed
        ctx.authorize(model.topic_arn(region, owner, name), resource_account=owner)
        subscription = self._repository.subscription(arn)
        if subscription is None or (region, owner) != (ctx.region, ctx.account_id):
            raise e.NotFoundException(NO_SUBSCRIPTION)
        ctx.note_resource(SUBSCRIPTION_TYPE, subscription.arn)
        return subscription


def message_aad(message_id: str) -> bytes:
    return f"sns_messages/{message_id}".encode()


def endpoint_aad(subscription_arn: str) -> bytes:
    return f"sns_subscriptions/{subscription_arn}".encode()


def encode_token(after: int) -> str:
    return base64.urlsafe_b64encode(f"sns:{after}".encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        if not token.isascii():
            raise ValueError
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "sns" or not number.isdigit() or len(number) > 19:
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_parameter("NextToken") from None
