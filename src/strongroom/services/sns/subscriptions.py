"""SNS subscriptions (HTTP/S, email, email-json, Lambda): subscribing, confirming, unsubscribing,
listing and their attributes.

HTTP/S and email subscriptions wait for confirmation: their SubscriptionConfirmation is queued
with the subscription, and its token (kept only as a hash) confirms through ConfirmSubscription or
the SubscribeURL.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from strongroom.services.context import RequestContext
from strongroom.services.sns import errors as e
from strongroom.services.sns import filters, model
from strongroom.services.sns.base import (
    NO_SUBSCRIPTION,
    NO_TOPIC,
    SUBSCRIPTION_TYPE,
    SnsBase,
    decode_token,
    encode_token,
    endpoint_aad,
    invalid_parameter,
    timestamp,
)
from strongroom.services.sns.model import (
    DELIVERED_PROTOCOLS,
    PAGE_SIZE,
    PENDING_CONFIRMATION,
    SUBSCRIPTION_ATTRIBUTES,
    UNDELIVERED_PROTOCOLS,
    InvalidDeliveryPolicy,
    Subscription,
    Topic,
)
from strongroom.storage.sns import Gone

INVALID_TOKEN = "Invalid token"  # noqa: S105 (a message)
CONFIRMATION_TEXT = (
    "You have chosen to subscribe to the topic {}.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message."
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+|[^@\s]+@localhost")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Subscriptions(SnsBase):
    def subscribe(
        self,
        ctx: RequestContext,
        TopicArn: str,
        Protocol: str,
        Endpoint: str | None = None,
        Attributes: dict[str, str] | None = None,
        ReturnSubscriptionArn: bool = False,
    ) -> dict[str, Any]:
        topic = self._topic(ctx, TopicArn)
        if Protocol in UNDELIVERED_PROTOCOLS:
            raise invalid_parameter(f"Strongroom does not deliver to {Protocol} endpoints")
        if Protocol not in DELIVERED_PROTOCOLS:
            raise invalid_parameter(f"Amazon SNS does not support this protocol string: {Protocol}")
        endpoint = _check_endpoint(Protocol, Endpoint)
        attributes = {
            name: _check_subscription_attribute(Protocol, name, value, subscribe=True)
            for name, value in (Attributes or {}).items()
        }
        pending = Protocol != "lambda"
        arn = f"{topic.arn}:{uuid.uuid4()}"
        now = self._clock.time()
        token = secrets.token_hex(128) if pending else None
        confirmation = None
        if token is not None:
            message_id = str(uuid.uuid4())
            body = {
                "Type": "SubscriptionConfirmation",
                "MessageId": message_id,
                "Token": token,
                "TopicArn": topic.arn,
                "Message": CONFIRMATION_TEXT.format(topic.arn),
                "SubscribeURL": self.subscribe_url(topic.arn, token),
                "Timestamp": timestamp(now),
                "SubscriptionArn": arn,
            }
            confirmation = (message_id, self.seal_message(message_id, body))
        stored_attributes = {
            **attributes,
            "SubscriptionPrincipal": ctx.principal.arn,
            "ConfirmationWasAuthenticated": "false" if pending else "true",
        }
        values = {
            "arn": arn,
            "topic_id": topic.id,
            "account_id": topic.account_id,
            "region": topic.region,
            "protocol": Protocol,
            "endpoint_blob": self._barrier.encrypt(endpoint.encode(), endpoint_aad(arn)),
            "endpoint_tag": self._endpoint_tag(topic.arn, Protocol, endpoint),
            "attributes": json.dumps(stored_attributes, sort_keys=True),
            "pending": pending,
            "token_hash": token_hash(token) if token is not None else None,
        }
        try:
            subscription, created = self._repository.subscribe(values, confirmation, now)
        except Gone:
            raise e.NotFoundException(NO_TOPIC) from None
        ctx.note_resource(SUBSCRIPTION_TYPE, subscription.arn)
        if not created:
            existing = subscription.attribute_map
            defaults = {"RawMessageDelivery": "false"}
            if any(existing.get(k, defaults.get(k)) != v for k, v in attributes.items()):
                raise invalid_parameter(
                    "Attributes Reason: Subscription already exists with different attributes"
                )
        if subscription.pending and not ReturnSubscriptionArn:
            return {"SubscriptionArn": PENDING_CONFIRMATION}
        return {"SubscriptionArn": subscription.arn}

    def confirm_subscription(
        self,
        ctx: RequestContext,
        TopicArn: str,
        Token: str,
        AuthenticateOnUnsubscribe: str | None = None,
    ) -> dict[str, Any]:
        topic = self._topic(ctx, TopicArn, not_found=invalid_parameter("Topic"))
        authenticate = (AuthenticateOnUnsubscribe or "false").lower() == "true"
        subscription = self.confirm(topic, Token, authenticated=True, authenticate=authenticate)
        ctx.note_resource(SUBSCRIPTION_TYPE, subscription.arn)
        return {"SubscriptionArn": subscription.arn}

    def confirm_by_url(self, topic_arn: str, token: str) -> str:
        """The SubscribeURL visited (unsigned, as at AWS): the subscription's ARN."""
        parsed = model.parse_topic_arn(topic_arn)
        topic = self._repository.topic(parsed[1], parsed[0], parsed[2]) if parsed else None
        if topic is None:
            raise invalid_parameter("Topic")
        return self.confirm(topic, token, authenticated=False, authenticate=False).arn

    def confirm(
        self, topic: Topic, token: str, authenticated: bool, authenticate: bool
    ) -> Subscription:
        subscription = self._repository.subscription_by_token(token_hash(token))
        if subscription is None or subscription.topic_id != topic.id:
            raise e.InvalidParameterException(INVALID_TOKEN)
        if subscription.pending:
            attributes = subscription.attribute_map
            attributes["ConfirmationWasAuthenticated"] = "true" if authenticated else "false"
            if authenticate:
                attributes["AuthenticateOnUnsubscribe"] = "true"
            self._repository.update_subscription(
                subscription.id, pending=False, attributes=json.dumps(attributes, sort_keys=True)
            )
        return subscription

    def unsubscribe(self, ctx: RequestContext, SubscriptionArn: str) -> dict[str, Any]:
        subscription = self._subscription(ctx, SubscriptionArn)
        self._repository.unsubscribe(subscription.id)
        return {}

    def unsubscribe_by_url(self, subscription_arn: str) -> str:
        """The UnsubscribeURL visited (unsigned, as at AWS, unless the subscriber confirmed
        with AuthenticateOnUnsubscribe): the topic's ARN."""
        subscription = self._repository.subscription(subscription_arn)
        if subscription is None:
            raise e.NotFoundException(NO_SUBSCRIPTION)
        if subscription.attribute_map.get("AuthenticateOnUnsubscribe") == "true":
            raise e.AuthorizationErrorException(
                "Unsubscribing requires authentication for this subscription"
            )
        self._repository.unsubscribe(subscription.id)
        return subscription.topic_arn

    def list_subscriptions(
        self, ctx: RequestContext, NextToken: str | None = None
    ) -> dict[str, Any]:
        ctx.authorize()
        return self._list_subscriptions(ctx, None, NextToken)

    def list_subscriptions_by_topic(
        self, ctx: RequestContext, TopicArn: str, NextToken: str | None = None
    ) -> dict[str, Any]:
        topic = self._topic(ctx, TopicArn)
        return self._list_subscriptions(ctx, topic, NextToken)

    def _list_subscriptions(
        self, ctx: RequestContext, topic: Topic | None, token: str | None
    ) -> dict[str, Any]:
        """The subscriptions of a topic (perhaps another account's), else of the caller's
        account."""
        after = decode_token(token)
        if topic is None:
            found = self._repository.subscriptions(
                ctx.account_id, ctx.region, None, after, PAGE_SIZE + 1
            )
        else:
            found = self._repository.subscriptions(
                topic.account_id, topic.region, topic.id, after, PAGE_SIZE + 1
            )
        page = found[:PAGE_SIZE]
        result: dict[str, Any] = {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation" if s.pending else s.arn,
                    "Owner": s.account_id,
                    "Protocol": s.protocol,
                    "Endpoint": self.endpoint_of(s),
                    "TopicArn": s.topic_arn,
                }
                for s in page
            ]
        }
        if len(found) > PAGE_SIZE:
            result["NextToken"] = encode_token(page[-1].id)
        return result

    def get_subscription_attributes(
        self, ctx: RequestContext, SubscriptionArn: str
    ) -> dict[str, Any]:
        subscription = self._subscription(ctx, SubscriptionArn)
        stored = subscription.attribute_map
        stored.pop("AuthenticateOnUnsubscribe", None)
        attributes = {
            "SubscriptionArn": subscription.arn,
            "TopicArn": subscription.topic_arn,
            "Owner": subscription.account_id,
            "Protocol": subscription.protocol,
            "Endpoint": self.endpoint_of(subscription),
            "PendingConfirmation": "true" if subscription.pending else "false",
            "RawMessageDelivery": "false",
            **stored,
        }
        if "FilterPolicy" in attributes:
            attributes.setdefault("FilterPolicyScope", "MessageAttributes")
        if subscription.protocol in ("http", "https"):
            topic = self._repository.topic_by_id(subscription.topic_id)
            topic_policy = topic.attribute_map.get("DeliveryPolicy") if topic else None
            attributes["EffectiveDeliveryPolicy"] = _effective_subscription_policy(
                topic_policy, stored.get("DeliveryPolicy")
            )
        return {"Attributes": attributes}

    def set_subscription_attributes(
        self,
        ctx: RequestContext,
        SubscriptionArn: str,
        AttributeName: str,
        AttributeValue: str | None = None,
    ) -> dict[str, Any]:
        subscription = self._subscription(ctx, SubscriptionArn)
        value = AttributeValue or ""
        if AttributeName not in SUBSCRIPTION_ATTRIBUTES:
            raise invalid_parameter("AttributeName")
        attributes = subscription.attribute_map
        if value:
            attributes[AttributeName] = _check_subscription_attribute(
                subscription.protocol, AttributeName, value, subscribe=False
            )
        else:
            attributes.pop(AttributeName, None)
        if not self._repository.update_subscription(
            subscription.id, attributes=json.dumps(attributes, sort_keys=True)
        ):
            raise e.NotFoundException(NO_SUBSCRIPTION)
        return {}

    def _endpoint_tag(self, topic_arn: str, protocol: str, endpoint: str) -> str:
        data = "\0".join(("sns-endpoint", topic_arn, protocol, endpoint)).encode()
        return self._barrier.mac(data).hex()[:64]


def _check_endpoint(protocol: str, endpoint: str | None) -> str:
    if not endpoint:
        raise invalid_parameter("Endpoint")
    if protocol in ("http", "https"):
        try:
            parts = urlsplit(endpoint)
        except ValueError:
            parts = None
        if parts is None or parts.scheme != protocol or not parts.hostname:
            raise invalid_parameter("Endpoint must match the specified protocol")
    elif protocol in ("email", "email-json"):
        if not _EMAIL.fullmatch(endpoint):
            raise invalid_parameter("Email address")
    elif protocol == "lambda" and not model.valid_lambda_arn(endpoint):
        raise invalid_parameter("Lambda endpoint ARN")
    return endpoint


def _check_subscription_attribute(protocol: str, name: str, value: str, subscribe: bool) -> str:
    """The value to store, or AWS's error."""
    reason = "Attributes Reason: " if subscribe else ""
    if name not in SUBSCRIPTION_ATTRIBUTES:
        raise invalid_parameter("AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise invalid_parameter(
                f"{reason}RawMessageDelivery: Invalid value [{value}]. Must be true or false."
            )
        if protocol in ("email", "email-json") and value.lower() == "true":
            raise invalid_parameter(
                f"{reason}Delivery protocol [{protocol}] does not support raw message delivery."
            )
        return value.lower()
    if name == "FilterPolicy":
        try:
            filters.parse(value)
        except filters.InvalidFilterPolicy as invalid:
            raise invalid_parameter(f"{reason}{invalid}") from None
    if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        raise invalid_parameter(f"{reason}FilterPolicyScope: Invalid value [{value}].")
    if name == "DeliveryPolicy":
        if protocol not in ("http", "https"):
            raise invalid_parameter(
                f"{reason}DeliveryPolicy: Delivery protocol [{protocol}] does not support "
                "delivery policies."
            )
        try:
            model.check_delivery_policy(value, topic=False)
        except InvalidDeliveryPolicy as invalid:
            raise invalid_parameter(f"{reason}{invalid}") from None
    return value


def _effective_subscription_policy(topic_policy: str | None, own: str | None) -> str:
    section = json.loads(model.effective_delivery_policy(topic_policy))["http"]
    effective = {
        "healthyRetryPolicy": section["defaultHealthyRetryPolicy"],
        "requestPolicy": section.get("defaultRequestPolicy", {}),
    }
    if own and not section.get("disableSubscriptionOverrides"):
        effective.update(json.loads(own))
    return json.dumps(effective, separators=(",", ":"))
