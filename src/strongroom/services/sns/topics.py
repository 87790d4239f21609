"""SNS topics: creating, listing, deleting, their attributes (the access policy among them) and
tags."""

from __future__ import annotations

import json
from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.sns import access, model
from strongroom.services.sns import errors as e
from strongroom.services.sns.base import (
    NO_RESOURCE,
    NO_TOPIC,
    TOPIC_TYPE,
    SnsBase,
    decode_token,
    encode_token,
    invalid_parameter,
)
from strongroom.services.sns.model import (
    MAX_TAGS,
    MAX_TOPICS,
    PAGE_SIZE,
    TOPIC_ATTRIBUTES,
    InvalidDeliveryPolicy,
)
from strongroom.storage.sns import Gone, TooMany

TAG_QUOTA = "Could not complete request: tag quota of per resource exceeded"


class Topics(SnsBase):
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
            raise invalid_parameter(
                "Attributes Reason: FIFO topics are not supported by Strongroom"
            )
        attributes.pop("FifoTopic", None)
        if not model.valid_topic_name(Name):
            raise invalid_parameter("Topic Name")
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
                raise invalid_parameter(
                    "Attributes Reason: Topic already exists with different attributes"
                )
            current = self._repository.tags(topic.id)
            if tags and any(current.get(k) != v for k, v in tags.items()):
                raise invalid_parameter("Tags Reason: Topic already exists with different tags")
        return {"TopicArn": topic.arn}

    def delete_topic(self, ctx: RequestContext, TopicArn: str) -> dict[str, Any]:
        parsed = model.parse_topic_arn(TopicArn)
        if parsed is None:
            raise invalid_parameter("TopicArn")
        ctx.note_resource(TOPIC_TYPE, TopicArn)
        topic = self._find_topic(ctx, parsed)
        if topic is not None:  # AWS: deleting a topic that does not exist succeeds
            self._repository.delete_topic(topic.id)
        return {}

    def list_topics(self, ctx: RequestContext, NextToken: str | None = None) -> dict[str, Any]:
        ctx.authorize()
        after = decode_token(NextToken)
        topics = self._repository.topics(ctx.account_id, ctx.region, after, PAGE_SIZE + 1)
        page = topics[:PAGE_SIZE]
        result: dict[str, Any] = {"Topics": [{"TopicArn": t.arn} for t in page]}
        if len(topics) > PAGE_SIZE:
            result["NextToken"] = encode_token(page[-1].id)
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
            "EffectiveDeliveryPolicy": model.effective_delivery_policy(
                stored.get("DeliveryPolicy")
            ),
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
            raise invalid_parameter("AttributeName")
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


def _check_topic_attribute(name: str, value: str) -> None:
    if name not in TOPIC_ATTRIBUTES:
        raise invalid_parameter("AttributeName")
    if name == "DisplayName" and len(value) > model.MAX_DISPLAY_NAME:
        raise invalid_parameter("DisplayName")
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise invalid_parameter("SignatureVersion")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise invalid_parameter("TracingConfig")
    if name == "Policy":
        try:
            access.check_policy(value)
        except access.InvalidTopicPolicy as invalid:
            raise invalid_parameter(str(invalid)) from None
    if name == "DeliveryPolicy":
        try:
            model.check_delivery_policy(value, topic=True)
        except InvalidDeliveryPolicy as invalid:
            raise invalid_parameter(str(invalid)) from None


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}
