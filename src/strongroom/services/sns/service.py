"""Amazon SNS: topics, subscriptions (HTTP/S, email, email-json, Lambda) and publishing, per
account and Region.

Publish stores the message (barrier ciphertext) and its deliveries in one transaction and
answers; `delivery.py` delivers them in the background. HTTP/S and email subscriptions wait
for confirmation: their SubscriptionConfirmation is queued with the subscription, and its
token (kept only as a hash) confirms through ConfirmSubscription or the SubscribeURL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.services.context import RequestContext
from strongroom.services.sns import access, filters, model
from strongroom.services.sns import errors as e
from strongroom.services.sns.model import (
    DELIVERED_PROTOCOLS,
    MAX_BATCH_ENTRIES,
    MAX_MESSAGE_BYTES,
    MAX_TAGS,
    MAX_TOPICS,
    PAGE_SIZE,
    PENDING_CONFIRMATION,
    SUBSCRIPTION_ATTRIBUTES,
    TOPIC_ATTRIBUTES,
    UNDELIVERED_PROTOCOLS,
    InvalidDeliveryPolicy,
    Subscription,
    Topic,
)
from strongroom.storage.sns import Gone, SnsRepository, TooMany

TOPIC_TYPE = "AWS::SNS::Topic"
SUBSCRIPTION_TYPE = "AWS::SNS::Subscription"
CONFIRM_PATH = "/_strongroom/sns/confirm"
UNSUBSCRIBE_PATH = "/_strongroom/sns/unsubscribe"
NO_TOPIC = "Topic does not exist"
NO_SUBSCRIPTION = "Subscription does not exist"
NO_RESOURCE = "Resource does not exist"
INVALID_TOKEN = "Invalid token"  # noqa: S105 (a message)
TAG_QUOTA = "Could not complete request: tag quota of per resource exceeded"
CONFIRMATION_TEXT = (
    "You have chosen to subscribe to the topic {}.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message."
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+|[^@\s]+@localhost")
_ATTRIBUTE_TYPES = ("String", "Number", "Binary")
_SUBJECT = re.compile(r"[\x20-\x7e]{1,100}")


def _invalid(what: str) -> e.InvalidParameterException:
    return e.InvalidParameterException(f"Invalid parameter: {what}")


def timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SNS:
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

    # Topics

    def create_topic(
        self,
        ctx: RequestContext,
        Name: str,
        Attributes: dict[str, str] | None = None,
        Tags: list[dict[str, str]] | None = None,
        DataProtectionPolicy: str | None = None,
    ) -> dict[str, Any]:
        attributes = dict(Attributes or {})
        if DataProtectionPolicy is not None:
            attributes["DataProtectionPolicy"] = DataProtectionPolicy
        if attributes.get("FifoTopic", "false").lower() == "true" or Name.endswith(".fifo"):
            raise _invalid("Attributes Reason: FIFO topics are not supported by Strongroom")
        attributes.pop("FifoTopic", None)
        if not model.valid_topic_name(Name):
            raise _invalid("Topic Name")
        arn = model.topic_arn(ctx.region, ctx.account_id, Name)
        ctx.authorize(arn)
        for name, value in attributes.items():
            _check_topic_attribute(name, value)
        tags = _tags(Tags)
        ctx.note_resource(TOPIC_TYPE, arn)
        try:
            topic, created = self._repository.create_topic(
                ctx.account_id,
                ctx.region,
                Name,
                json.dumps(attributes, sort_keys=True),
                tags,
                self._clock.time(),
                MAX_TOPICS,
                MAX_TAGS,
            )
        except TooMany:
            if len(tags) > MAX_TAGS:
                raise e.TagLimitExceededException(TAG_QUOTA) from None
            raise e.TopicLimitExceededException("Topic limit exceeded") from None
        if not created:
            stored = topic.attribute_map
            if any(stored.get(k, "") != v for k, v in attributes.items()):
                raise _invalid("Attributes Reason: Topic already exists with different attributes")
            current = self._repository.tags(topic.id)
            if tags and any(current.get(k) != v for k, v in tags.items()):
                raise _invalid("Tags Reason: Topic already exists with different tags")
        return {"TopicArn": topic.arn}

    def delete_topic(self, ctx: RequestContext, TopicArn: str) -> dict[str, Any]:
        parsed = model.parse_topic_arn(TopicArn)
        if parsed is None:
            raise _invalid("TopicArn")
        ctx.note_resource(TOPIC_TYPE, TopicArn)
        topic = self._find_topic(ctx, parsed)
        if topic is not None:  # AWS: deleting a topic that does not exist succeeds
            self._repository.delete_topic(topic.id)
        return {}

    def list_topics(self, ctx: RequestContext, NextToken: str | None = None) -> dict[str, Any]:
        ctx.authorize()
        after = _decode_token(NextToken)
        topics = self._repository.topics(ctx.account_id, ctx.region, after, PAGE_SIZE + 1)
        page = topics[:PAGE_SIZE]
        result: dict[str, Any] = {"Topics": [{"TopicArn": t.arn} for t in page]}
        if len(topics) > PAGE_SIZE:
            result["NextToken"] = _encode_token(page[-1].id)
        return result

    def get_topic_attributes(self, ctx: RequestContext, TopicArn: str) -> dict[str, Any]:
        topic = self._topic(ctx, TopicArn)
        stored = topic.attribute_map
        confirmed, pending = self._repository.counts(topic.id)
        attributes = {
            "TopicArn": topic.arn,
            "Owner": topic.account_id,
            "Policy": stored.pop("Policy", None)
            or model.default_topic_policy(topic.arn, topic.account_id),
            "DisplayName": stored.pop("DisplayName", ""),
            "SubscriptionsConfirmed": str(confirmed),
            "SubscriptionsPending": str(pending),
            "SubscriptionsDeleted": "0",
            "EffectiveDeliveryPolicy": _effective_delivery_policy(stored.get("DeliveryPolicy")),
            **stored,
        }
        return {"Attributes": attributes}

    def set_topic_attributes(
        self,
        ctx: RequestContext,
        TopicArn: str,
        AttributeName: str,
        AttributeValue: str | None = None,
    ) -> dict[str, Any]:
        topic = self._topic(ctx, TopicArn)
        if AttributeName not in TOPIC_ATTRIBUTES:
            raise _invalid("AttributeName")
        value = AttributeValue or ""
        if value or AttributeName == "Policy":  # a topic always has a policy
            _check_topic_attribute(AttributeName, value)

        def update(current: str) -> str:
            attributes = json.loads(current)
            if value:
                attributes[AttributeName] = value
            else:
                attributes.pop(AttributeName, None)
            return json.dumps(attributes, sort_keys=True)

        if not self._repository.set_topic_attributes(topic.id, update):
            raise e.NotFoundException(NO_TOPIC)
        return {}

    # Subscriptions

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
            raise _invalid(f"Strongroom does not deliver to {Protocol} endpoints")
        if Protocol not in DELIVERED_PROTOCOLS:
            raise _invalid(f"Amazon SNS does not support this protocol string: {Protocol}")
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
            "endpoint_blob": self._barrier.encrypt(endpoint.encode(), _endpoint_aad(arn)),
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
                raise _invalid(
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
        topic = self._topic(ctx, TopicArn, not_found=_invalid("Topic"))
        authenticate = (AuthenticateOnUnsubscribe or "false").lower() == "true"
        subscription = self.confirm(topic, Token, authenticated=True, authenticate=authenticate)
        ctx.note_resource(SUBSCRIPTION_TYPE, subscription.arn)
        return {"SubscriptionArn": subscription.arn}

    def confirm_by_url(self, topic_arn: str, token: str) -> str:
        """The SubscribeURL visited (unsigned, as at AWS): the subscription's ARN."""
        parsed = model.parse_topic_arn(topic_arn)
        topic = self._repository.topic(parsed[1], parsed[0], parsed[2]) if parsed else None
        if topic is None:
            raise _invalid("Topic")
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
        after = _decode_token(token)
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
            result["NextToken"] = _encode_token(page[-1].id)
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
            raise _invalid("AttributeName")
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

    # Publishing

    def publish(
        self,
        ctx: RequestContext,
        Message: str,
        TopicArn: str | None = None,
        TargetArn: str | None = None,
        PhoneNumber: str | None = None,
        Subject: str | None = None,
        MessageStructure: str | None = None,
        MessageAttributes: dict[str, dict[str, Any]] | None = None,
        MessageDeduplicationId: str | None = None,
        MessageGroupId: str | None = None,
    ) -> dict[str, Any]:
        arn = TopicArn or TargetArn
        if arn is None:
            ctx.authorize()  # a call naming no topic acts on none
        topic = self._topic(ctx, arn) if arn is not None else None
        if PhoneNumber is not None:
            raise _invalid("PhoneNumber Reason: Strongroom does not send SMS messages")
        if topic is None:
            raise _invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if TopicArn is not None and TargetArn is not None:
            raise _invalid("TopicArn Reason: Only one of TopicArn or TargetArn may be given")
        if MessageDeduplicationId is not None:
            raise _invalid(
                "MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                "parameter that is not valid for this topic type"
            )
        body = self._message(Message, Subject, MessageStructure, MessageAttributes)
        message_id = self._publish(topic, [body])[0]
        return {"MessageId": message_id}

    def publish_for_service(
        self,
        account_id: str,
        region: str,
        topic_arn: str,
        message: str,
        subject: str | None,
        service_principal: str,
        source_arn: str,
    ) -> str:
        """Publish `message` to a topic on behalf of an AWS service (CloudWatch alarms,
        EventBridge rules) in `account_id`; the message id. Raises NotFoundException when the
        topic does not exist, AuthorizationErrorException when its access policy does not let
        `service_principal` publish (given aws:SourceArn = source_arn and aws:SourceAccount =
        account_id).

        The topic must be in `region` (neither alarms nor rules reach another Region's
        topics). Which services the default policy admits is in `access`. A message SNS
        would refuse from anyone raises InvalidParameterException."""
        parsed = model.parse_topic_arn(topic_arn)
        topic = None
        if parsed is not None and parsed[0] == region:
            topic = self._repository.topic(parsed[1], parsed[0], parsed[2])
        if topic is None:
            raise e.NotFoundException(NO_TOPIC)
        if not access.service_may_publish(topic, service_principal, source_arn, account_id):
            raise e.AuthorizationErrorException(
                f"Resource: {source_arn} is not authorized to perform: SNS:Publish on "
                f"resource: {topic.arn}"
            )
        return self._publish(topic, [self._message(message, subject, None, None)])[0]

    def publish_batch(
        self,
        ctx: RequestContext,
        TopicArn: str,
        PublishBatchRequestEntries: list[dict[str, Any]],
    ) -> dict[str, Any]:
        topic = self._topic(ctx, TopicArn)
        entries = PublishBatchRequestEntries
        if not entries:
            raise e.EmptyBatchRequestException("The batch request doesn't contain any entries.")
        if len(entries) > MAX_BATCH_ENTRIES:
            raise e.TooManyEntriesInBatchRequestException(
                "The batch request contains more entries than permissible."
            )
        ids = [entry["Id"] for entry in entries]
        if len(set(ids)) != len(ids):
            raise e.BatchEntryIdsNotDistinctException(
                "Two or more batch entries in the request have the same Id."
            )
        if not all(model.BATCH_ENTRY_ID.fullmatch(i) for i in ids):
            raise e.InvalidBatchEntryIdException(
                "The Id of a batch entry in a batch request doesn't abide by the specification."
            )
        if (
            sum(_size(x["Message"], x.get("MessageAttributes")) for x in entries)
            > MAX_MESSAGE_BYTES
        ):
            raise e.BatchRequestTooLongException(
                "The length of all the messages put together is more than the limit."
            )
        bodies, accepted, failed = [], [], []
        for entry in entries:
            try:
                if entry.get("MessageDeduplicationId") is not None:
                    raise _invalid(
                        "MessageDeduplicationId Reason: The request includes "
                        "MessageDeduplicationId parameter that is not valid for this topic type"
                    )
                bodies.append(
                    self._message(
                        entry["Message"],
                        entry.get("Subject"),
                        entry.get("MessageStructure"),
                        entry.get("MessageAttributes"),
                    )
                )
                accepted.append(entry["Id"])
            except (e.InvalidParameterException, e.InvalidParameterValueException) as error:
                code = (
                    "InvalidParameter"
                    if isinstance(error, e.InvalidParameterException)
                    else ("ParameterValueInvalid")
                )
                failed.append(
                    {"Id": entry["Id"], "Code": code, "Message": error.message, "SenderFault": True}
                )
        message_ids = self._publish(topic, bodies) if bodies else []
        return {
            "Successful": [
                {"Id": entry_id, "MessageId": message_id}
                for entry_id, message_id in zip(accepted, message_ids, strict=True)
            ],
            "Failed": failed,
        }

    def _publish(self, topic: Topic, bodies: list[dict[str, Any]]) -> list[str]:
        now = self._clock.time()
        stored = []
        for body in bodies:
            message_id = str(uuid.uuid4())
            body.update({"Type": "Notification", "MessageId": message_id, "TopicArn": topic.arn})
            body["Timestamp"] = timestamp(now)
            wants = _recipient_filter(body)
            stored.append((message_id, self.seal_message(message_id, body), wants))
        try:
            self._repository.publish(topic.id, stored, now)
        except Gone:
            raise e.NotFoundException(NO_TOPIC) from None
        return [message_id for message_id, _, _ in stored]

    def _message(
        self,
        message: str,
        subject: str | None,
        structure: str | None,
        attributes: dict[str, dict[str, Any]] | None,
    ) -> dict[str, Any]:
        """The stored form of a message, or AWS's error for it."""
        if subject is not None and not _SUBJECT.fullmatch(subject):
            raise _invalid("Subject")
        if not message:
            raise _invalid("Empty message")
        values = _message_attributes(attributes or {})
        if _size(message, attributes) > MAX_MESSAGE_BYTES:
            raise _invalid("Message too long")
        body: dict[str, Any] = {"Message": message}
        if structure is not None:
            if structure != "json":
                raise _invalid("MessageStructure")
            try:
                parsed = json.loads(message)
            except (ValueError, RecursionError):
                parsed = None
            if not isinstance(parsed, dict):
                raise _invalid("Message Structure - JSON message body failed to parse")
            per_protocol = {k: v for k, v in parsed.items() if isinstance(v, str)}
            if "default" not in per_protocol:
                raise _invalid("Message Structure - No default entry in JSON message body")
            body["Structured"] = per_protocol
            body["Message"] = per_protocol["default"]
        if subject is not None:
            body["Subject"] = subject
        if values:
            body["MessageAttributes"] = values
        return body

    # Tags

    def tag_resource(
        self, ctx: RequestContext, ResourceArn: str, Tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        topic = self._tagged(ctx, ResourceArn)
        try:
            self._repository.tag(topic.id, _tags(Tags), MAX_TAGS)
        except TooMany:
            raise e.TagLimitExceededException(TAG_QUOTA) from None
        except Gone:
            raise e.ResourceNotFoundException(NO_RESOURCE) from None
        return {}

    def untag_resource(
        self, ctx: RequestContext, ResourceArn: str, TagKeys: list[str]
    ) -> dict[str, Any]:
        topic = self._tagged(ctx, ResourceArn)
        self._repository.untag(topic.id, TagKeys)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, ResourceArn: str) -> dict[str, Any]:
        topic = self._tagged(ctx, ResourceArn)
        tags = self._repository.tags(topic.id)
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    # Helpers

    def seal_message(self, message_id: str, body: dict[str, Any]) -> bytes:
        text = json.dumps(body, separators=(",", ":")).encode()
        return self._barrier.encrypt(text, message_aad(message_id))

    def open_message(self, message_id: str, blob: bytes) -> dict[str, Any]:
        return dict(json.loads(self._barrier.decrypt(blob, message_aad(message_id))))

    def endpoint_of(self, subscription: Subscription) -> str:
        return self._barrier.decrypt(
            subscription.endpoint_blob, _endpoint_aad(subscription.arn)
        ).decode()

    def _endpoint_tag(self, topic_arn: str, protocol: str, endpoint: str) -> str:
        data = "\0".join(("sns-endpoint", topic_arn, protocol, endpoint)).encode()
        return self._barrier.mac(data).hex()[:64]

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
            raise _invalid("TopicArn") if not_found is None else not_found
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
            raise _invalid("SubscriptionArn")
        region, owner, name = parsed
        ctx.authorize(model.topic_arn(region, owner, name), resource_account=owner)
        subscription = self._repository.subscription(arn)
        if subscription is None or (region, owner) != (ctx.region, ctx.account_id):
            raise e.NotFoundException(NO_SUBSCRIPTION)
        ctx.note_resource(SUBSCRIPTION_TYPE, subscription.arn)
        return subscription


def message_aad(message_id: str) -> bytes:
    return f"sns_messages/{message_id}".encode()


def _endpoint_aad(subscription_arn: str) -> bytes:
    return f"sns_subscriptions/{subscription_arn}".encode()


def _recipient_filter(body: dict[str, Any]) -> Any:
    attributes = filters.attribute_values(body.get("MessageAttributes", {}))
    try:
        document = json.loads(body["Message"])
    except (ValueError, RecursionError):
        document = None

    def wants(subscription: Subscription) -> bool:
        stored = subscription.attribute_map
        policy = stored.get("FilterPolicy")
        if not policy:
            return True
        parsed = json.loads(policy)
        if stored.get("FilterPolicyScope") == "MessageBody":
            return isinstance(document, dict) and filters.matches(parsed, document)
        return filters.matches(parsed, attributes)

    return wants


def _size(message: str, attributes: dict[str, dict[str, Any]] | None) -> int:
    size = len(message.encode())
    for name, attribute in (attributes or {}).items():
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        if attribute.get("StringValue") is not None:
            size += len(str(attribute["StringValue"]).encode())
        if attribute.get("BinaryValue") is not None:
            size += len(attribute["BinaryValue"])
    return size


def _message_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Message attributes as SNS delivers them ({Type, Value}), or AWS's error."""
    values = {}
    for name, attribute in attributes.items():
        kind = str(attribute.get("DataType", ""))
        if kind.split(".", 1)[0] not in _ATTRIBUTE_TYPES:
            raise e.InvalidParameterValueException(
                f"The message attribute '{name}' has an invalid message attribute type, the set "
                "of supported type prefixes is Binary, Number, and String."
            )
        if kind.startswith("Binary"):
            binary = attribute.get("BinaryValue")
            if not binary:
                raise _missing_value(name, kind)
            values[name] = {"Type": kind, "Value": base64.b64encode(binary).decode()}
            continue
        text = attribute.get("StringValue")
        if text is None or text == "":
            raise _missing_value(name, kind)
        if kind.startswith("Number"):
            try:
                float(text)
            except ValueError:
                raise e.InvalidParameterValueException(
                    f"Could not cast message attribute '{name}' value to number."
                ) from None
        if kind.startswith("String.Array"):
            try:
                items = json.loads(text)
            except (ValueError, RecursionError):
                items = None
            if not isinstance(items, list):
                raise e.InvalidParameterValueException(
                    f"The message attribute '{name}' with type 'String.Array' has an invalid "
                    "value: it must be a JSON array."
                )
        values[name] = {"Type": kind, "Value": text}
    return values


def _missing_value(name: str, kind: str) -> e.InvalidParameterValueException:
    return e.InvalidParameterValueException(
        f"The message attribute '{name}' must contain non-empty message attribute value for "
        f"message attribute type '{kind.split('.', 1)[0]}'."
    )


def _check_topic_attribute(name: str, value: str) -> None:
    if name not in TOPIC_ATTRIBUTES:
        raise _invalid("AttributeName")
    if name == "DisplayName" and len(value) > model.MAX_DISPLAY_NAME:
        raise _invalid("DisplayName")
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise _invalid("SignatureVersion")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise _invalid("TracingConfig")
    if name == "Policy":
        try:
            access.check_policy(value)
        except access.InvalidTopicPolicy as invalid:
            raise _invalid(str(invalid)) from None
    if name == "DeliveryPolicy":
        try:
            model.check_delivery_policy(value, topic=True)
        except InvalidDeliveryPolicy as invalid:
            raise _invalid(str(invalid)) from None


def _check_endpoint(protocol: str, endpoint: str | None) -> str:
    if not endpoint:
        raise _invalid("Endpoint")
    if protocol in ("http", "https"):
        try:
            parts = urlsplit(endpoint)
        except ValueError:
            parts = None
        if parts is None or parts.scheme != protocol or not parts.hostname:
            raise _invalid("Endpoint must match the specified protocol")
    elif protocol in ("email", "email-json"):
        if not _EMAIL.fullmatch(endpoint):
            raise _invalid("Email address")
    elif protocol == "lambda" and not model.valid_lambda_arn(endpoint):
        raise _invalid("Lambda endpoint ARN")
    return endpoint


def _check_subscription_attribute(protocol: str, name: str, value: str, subscribe: bool) -> str:
    """The value to store, or AWS's error."""
    reason = "Attributes Reason: " if subscribe else ""
    if name not in SUBSCRIPTION_ATTRIBUTES:
        raise _invalid("AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise _invalid(
                f"{reason}RawMessageDelivery: Invalid value [{value}]. Must be true or false."
            )
        if protocol in ("email", "email-json") and value.lower() == "true":
            raise _invalid(
                f"{reason}Delivery protocol [{protocol}] does not support raw message delivery."
            )
        return value.lower()
    if name == "FilterPolicy":
        try:
            filters.parse(value)
        except filters.InvalidFilterPolicy as invalid:
            raise _invalid(f"{reason}{invalid}") from None
    if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        raise _invalid(f"{reason}FilterPolicyScope: Invalid value [{value}].")
    if name == "DeliveryPolicy":
        if protocol not in ("http", "https"):
            raise _invalid(
                f"{reason}DeliveryPolicy: Delivery protocol [{protocol}] does not support "
                "delivery policies."
            )
        try:
            model.check_delivery_policy(value, topic=False)
        except InvalidDeliveryPolicy as invalid:
            raise _invalid(f"{reason}{invalid}") from None
    return value


def _effective_delivery_policy(topic_policy: str | None) -> str:
    if not topic_policy:
        return model.DEFAULT_EFFECTIVE_DELIVERY_POLICY
    effective = json.loads(model.DEFAULT_EFFECTIVE_DELIVERY_POLICY)
    given = json.loads(topic_policy).get("http", {})
    effective["http"].update(given)
    return json.dumps(effective, separators=(",", ":"))


def _effective_subscription_policy(topic_policy: str | None, own: str | None) -> str:
    section = json.loads(_effective_delivery_policy(topic_policy))["http"]
    effective = {
        "healthyRetryPolicy": section["defaultHealthyRetryPolicy"],
        "requestPolicy": section.get("defaultRequestPolicy", {}),
    }
    if own and not section.get("disableSubscriptionOverrides"):
        effective.update(json.loads(own))
    return json.dumps(effective, separators=(",", ":"))


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def _encode_token(after: int) -> str:
    return base64.urlsafe_b64encode(f"sns:{after}".encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int:
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
        raise _invalid("NextToken") from None
