"""SNS publishing: Publish, PublishBatch and the messages AWS services publish (CloudWatch
alarms, EventBridge rules).

Publish stores the message (barrier ciphertext) and its deliveries in one transaction and
answers; `delivery.py` delivers them in the background.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.sns import access, filters, model
from strongroom.services.sns import errors as e
from strongroom.services.sns.base import NO_TOPIC, SnsBase, invalid_parameter, timestamp
from strongroom.services.sns.model import MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES, Subscription, Topic
from strongroom.storage.sns import Gone

_ATTRIBUTE_TYPES = ("String", "Number", "Binary")
_SUBJECT = re.compile(r"[\x20-\x7e]{1,100}")


class Publishing(SnsBase):
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
            raise invalid_parameter("PhoneNumber Reason: Strongroom does not send SMS messages")
        if topic is None:
            raise invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter")
        if TopicArn is not None and TargetArn is not None:
            raise invalid_parameter(
                "TopicArn Reason: Only one of TopicArn or TargetArn may be given"
            )
        if MessageDeduplicationId is not None:
            raise invalid_parameter(
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
                    raise invalid_parameter(
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
            raise invalid_parameter("Subject")
        if not message:
            raise invalid_parameter("Empty message")
        values = _message_attributes(attributes or {})
        if _size(message, attributes) > MAX_MESSAGE_BYTES:
            raise invalid_parameter("Message too long")
        body: dict[str, Any] = {"Message": message}
        if structure is not None:
            if structure != "json":
                raise invalid_parameter("MessageStructure")
            try:
                parsed = json.loads(message)
            except (ValueError, RecursionError):
                parsed = None
            if not isinstance(parsed, dict):
                raise invalid_parameter("Message Structure - JSON message body failed to parse")
            per_protocol = {k: v for k, v in parsed.items() if isinstance(v, str)}
            if "default" not in per_protocol:
                raise invalid_parameter("Message Structure - No default entry in JSON message body")
            body["Structured"] = per_protocol
            body["Message"] = per_protocol["default"]
        if subject is not None:
            body["Subject"] = subject
        if values:
            body["MessageAttributes"] = values
        return body


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
