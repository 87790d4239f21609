"""Deliveries from the outbox: the leader's job `sns.deliver` claims due deliveries in storage
(exactly one process makes each attempt) and makes them on a small thread pool: HTTP/S POSTs
of AWS's signed JSON messages, mail through the configured SMTP server, and Lambda invocations
in SNS's event format. A failed attempt is retried by the delivery policy of its protocol
(AWS's numbers; a topic's or subscription's HTTP/S DeliveryPolicy where given). Logs name the
delivery, subscription and reason, never the message or the endpoint (webhook URLs carry
secrets)."""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from strongroom.clock import Clock
from strongroom.services.awslambda.errors import InvocationRefused
from strongroom.services.awslambda.service import Lambda
from strongroom.services.sns import model
from strongroom.services.sns.model import Delivery, RetryPolicy, Subscription, Topic
from strongroom.services.sns.service import SNS
from strongroom.services.sns.signing import SIGNING_CERT_PATH, Signer
from strongroom.storage.sns import DELIVERED, FAILED, PENDING

log = logging.getLogger("strongroom.sns")

HTTP_TIMEOUT_SECONDS = 15
_THREADS = 8
_MAX_IN_FLIGHT = 32
# How long a claimed attempt may take before another process may take it over: Lambda's
# longest run (15 minutes) for functions, a generous bound on a request or a mail otherwise.
_LEASE_SECONDS = {"lambda": 960.0}
_DEFAULT_LEASE = 120.0
_KEEP_FINISHED_SECONDS = 86400.0
_USER_AGENT = "Amazon Simple Notification Service Agent"
DEFAULT_EMAIL_SUBJECT = "AWS Notification Message"
CONFIRMATION_EMAIL_SUBJECT = "AWS Notification - Subscription Confirmation"


class Retry(Exception):
    """The attempt failed in a way worth retrying (the endpoint is down or answered 5xx)."""

    policy: RetryPolicy | None = None  # the policy that applies, once known


class GiveUp(Exception):
    """The attempt failed in a way no retry mends (a client error, a refused invocation)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: bool  # smtps:// (TLS from the start)
    starttls: bool
    username: str | None
    password: str | None
    sender: str

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """smtp://[user:password@]host[:port][?starttls=true&from=address], or smtps://..."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://host:port or smtps://host:port")
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            tls=parts.scheme == "smtps",
            starttls=query.get("starttls", "false").lower() == "true",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=unquote(query.get("from", "no-reply@sns.strongroom.invalid")),
        )


class Deliveries:
    def __init__(
        self,
        sns: SNS,
        signer: Signer,
        functions: Lambda,
        clock: Clock,
        endpoint: str,
        smtp: SmtpSettings | None,
    ) -> None:
        self._sns = sns
        self._repository = sns.repository
        self._signer = signer
        self._functions = functions
        self._clock = clock
        self._endpoint = endpoint
        self._smtp = smtp
        self._pool = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="strongroom-sns")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last_cleanup = 0.0

    def deliver_due(self) -> None:
        """Background job (the leader's): start every due delivery there is room for."""
        with self._lock:
            room = _MAX_IN_FLIGHT - self._in_flight
        now = self._clock.time()
        if room > 0:
            for delivery in self._repository.due_deliveries(now, room):
                lease = now + _LEASE_SECONDS.get(delivery.protocol, _DEFAULT_LEASE)
                if not self._repository.claim(delivery, lease):
                    continue  # another process took it
                with self._lock:
                    self._in_flight += 1
                self._pool.submit(self._attempt, delivery, lease)
        if now - self._last_cleanup > 60:
            self._last_cleanup = now
            self._repository.forget_finished(now - _KEEP_FINISHED_SECONDS, 1000)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _attempt(self, delivery: Delivery, lease: float) -> None:
        attempt = delivery.attempts + 1
        policy = model.AWS_MANAGED if delivery.protocol == "lambda" else model.CUSTOMER_MANAGED
        try:
            try:
                policy = self._deliver(delivery)
                outcome, reason = DELIVERED, ""
            except Retry as failure:
                outcome, reason = PENDING, str(failure)
                policy = failure.policy or policy
            except GiveUp as failure:
                outcome, reason = FAILED, str(failure)
            except Exception as failure:  # a delivery thread must outlive any one delivery
                log.exception("sns: delivery %d failed unexpectedly", delivery.id)
                outcome, reason = PENDING, type(failure).__name__
            self._record(delivery, lease, attempt, policy, outcome, reason)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _record(
        self,
        delivery: Delivery,
        lease: float,
        attempt: int,
        policy: RetryPolicy,
        outcome: str,
        reason: str,
    ) -> None:
        now = self._clock.time()
        next_due = None
        if outcome == PENDING:
            delay = policy.delay(attempt)
            if delay is None:
                outcome = FAILED
            else:
                next_due = now + delay
        if not self._repository.finish(delivery.id, lease, outcome, next_due, now):
            log.warning(
                "sns: delivery %d: the claim was lost; its outcome is not recorded", delivery.id
            )
            return
        if outcome == PENDING:
            log.warning(
                "sns: delivery %d (%s) attempt %d failed: %s; retrying in %.0f s",
                delivery.id,
                delivery.protocol,
                attempt,
                reason,
                (next_due or now) - now,
            )
        elif outcome == FAILED:
            log.warning(
                "sns: delivery %d (%s) failed for good after %d attempts: %s",
                delivery.id,
                delivery.protocol,
                attempt,
                reason,
            )

    def _deliver(self, delivery: Delivery) -> RetryPolicy:
        """Make one attempt; the retry policy that applies to it. Raises Retry or GiveUp."""
        stored = self._repository.message_body(delivery.message_row)
        subscription = self._repository.subscription_by_id(delivery.subscription_id)
        if stored is None or subscription is None:
            raise GiveUp("the subscription or message is gone")
        message_id, topic_id, blob = stored
        topic = self._repository.topic_by_id(topic_id)
        if topic is None:
            raise GiveUp("the topic is gone")
        body = self._sns.open_message(message_id, blob)
        if body["Type"] == "Notification" and subscription.pending:
            raise GiveUp("the subscription is not confirmed")
        endpoint = self._sns.endpoint_of(subscription)
        protocol = subscription.protocol
        policy = model.AWS_MANAGED if protocol == "lambda" else model.CUSTOMER_MANAGED
        try:
            if protocol in ("http", "https"):
                policy, content_type = model.http_policy(
                    topic.attribute_map.get("DeliveryPolicy"),
                    subscription.attribute_map.get("DeliveryPolicy"),
                )
                self._post(endpoint, body, subscription, topic, content_type)
            elif protocol in ("email", "email-json"):
                self._mail(endpoint, body, subscription, topic)
            elif protocol == "lambda":
                self._invoke(endpoint, body, subscription, topic)
            else:
                raise GiveUp(f"protocol {protocol} is not delivered")
        except Retry as failure:
            failure.policy = policy
            raise
        return policy

    # Message formats

    def signed_message(
        self, body: Mapping[str, Any], subscription: Subscription, topic: Topic
    ) -> dict[str, Any]:
        """The JSON document AWS posts to HTTP/S endpoints (and mails as email-json)."""
        version = topic.attribute_map.get("SignatureVersion", "1")
        if body["Type"] == "Notification":
            names = ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp")
            message = {k: body[k] for k in names if body.get(k) is not None}
            message["Message"] = _text_for(body, subscription.protocol)
        else:
            names = (
                "Type",
                "MessageId",
                "Token",
                "TopicArn",
                "Message",
                "SubscribeURL",
                "Timestamp",
            )
            message = {k: body[k] for k in names}
        message["SignatureVersion"] = version
        message["Signature"] = self._signer.sign(message, version)
        message["SigningCertURL"] = self._endpoint + SIGNING_CERT_PATH
        if body["Type"] == "Notification":
            message["UnsubscribeURL"] = self._sns.unsubscribe_url(subscription.arn)
            if body.get("MessageAttributes"):
                message["MessageAttributes"] = body["MessageAttributes"]
        return message

    def _post(
        self,
        url: str,
        body: Mapping[str, Any],
        subscription: Subscription,
        topic: Topic,
        content_type: str,
    ) -> None:
        headers = {
            "Content-Type": content_type,
            "User-Agent": _USER_AGENT,
            "x-amz-sns-message-type": body["Type"],
            "x-amz-sns-message-id": body["MessageId"],
            "x-amz-sns-topic-arn": topic.arn,
        }
        raw = (
            body["Type"] == "Notification"
            and subscription.attribute_map.get("RawMessageDelivery") == "true"
        )
        if body["Type"] == "Notification":
            headers["x-amz-sns-subscription-arn"] = subscription.arn
        if raw:
            headers["x-amz-sns-rawdelivery"] = "true"
            data = _text_for(body, subscription.protocol).encode()
        else:
            data = json.dumps(self.signed_message(body, subscription, topic)).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
        context = ssl.create_default_context() if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(  # noqa: S310 (http and https only: checked at Subscribe)
                request, timeout=HTTP_TIMEOUT_SECONDS, context=context
            ) as response:
                response.read(65536)
        except urllib.error.HTTPError as error:
            with error:
                status = error.code
            if status == 429 or status >= 500:
                raise Retry(f"HTTP {status}") from None
            raise GiveUp(f"HTTP {status}") from None
        except (urllib.error.URLError, OSError, ssl.SSLError) as error:
            reason = getattr(error, "reason", error)
            raise Retry(f"connection failed ({type(reason).__name__})") from None

    def _mail(
        self, address: str, body: Mapping[str, Any], subscription: Subscription, topic: Topic
    ) -> None:
        if self._smtp is None:
            raise Retry("no SMTP server is configured (--smtp-url)")
        mail = EmailMessage()
        display_name = topic.attribute_map.get("DisplayName") or "AWS Notifications"
        mail["From"] = formataddr((display_name, self._smtp.sender))
        mail["To"] = address
        mail["Message-ID"] = make_msgid(domain="sns.strongroom")
        if subscription.protocol == "email-json":
            mail["Subject"] = (
                CONFIRMATION_EMAIL_SUBJECT
                if body["Type"] != "Notification"
                else body.get("Subject") or DEFAULT_EMAIL_SUBJECT
            )
            mail.set_content(json.dumps(self.signed_message(body, subscription, topic)))
        elif body["Type"] != "Notification":
            mail["Subject"] = CONFIRMATION_EMAIL_SUBJECT
            mail.set_content(
                f"You have chosen to subscribe to the topic: \n{topic.arn}\n\n"
                "To confirm this subscription, click or visit the link below "
                "(If this was in error no action is necessary):\n"
                f"Confirm subscription\n{body['SubscribeURL']}\n"
            )
        else:
            mail["Subject"] = body.get("Subject") or DEFAULT_EMAIL_SUBJECT
            mail.set_content(
                f"{_text_for(body, 'email')}\n\n--\n"
                "If you wish to stop receiving notifications from this topic, please click or "
                "visit the link below to unsubscribe:\n"
                f"{self._sns.unsubscribe_url(subscription.arn)}\n\n"
                "Please do not reply directly to this email.\n"
            )
        settings = self._smtp
        try:
            smtp_class = smtplib.SMTP_SSL if settings.tls else smtplib.SMTP
            with smtp_class(settings.host, settings.port, timeout=HTTP_TIMEOUT_SECONDS) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username and settings.password:
                    smtp.login(settings.username, settings.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise GiveUp("the SMTP server refused the recipient") from None
        except (smtplib.SMTPException, OSError) as error:
            raise Retry(f"SMTP failed ({type(error).__name__})") from None

    def _invoke(
        self, function_arn: str, body: Mapping[str, Any], subscription: Subscription, topic: Topic
    ) -> None:
        message = self.signed_message(body, subscription, topic)
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": subscription.arn,
                    "Sns": {
                        "Type": message["Type"],
                        "MessageId": message["MessageId"],
                        "TopicArn": message["TopicArn"],
                        "Subject": message.get("Subject"),
                        "Message": message["Message"],
                        "Timestamp": message["Timestamp"],
                        "SignatureVersion": message["SignatureVersion"],
                        "Signature": message["Signature"],
                        "SigningCertUrl": message["SigningCertURL"],
                        "UnsubscribeUrl": message.get("UnsubscribeURL"),
                        "MessageAttributes": message.get("MessageAttributes", {}),
                    },
                }
            ]
        }
        try:
            invocation = self._functions.invoke_for_service(
                topic.account_id,
                topic.region,
                function_arn,
                event,
                model.SERVICE_PRINCIPAL,
                topic.arn,
            )
        except InvocationRefused as refused:
            raise GiveUp(f"the invocation was refused ({type(refused).__name__})") from None
        if invocation.function_error is not None:
            # Lambda took the event (an asynchronous invocation at AWS): delivered; the
            # function's own failure is in its log group.
            log.warning(
                "sns: %s failed handling a message of %s (%s)",
                function_arn,
                topic.arn,
                invocation.error_type,
            )


def _text_for(body: Mapping[str, Any], protocol: str) -> str:
    structured = body.get("Structured")
    if structured:
        return str(structured.get(protocol, structured["default"]))
    return str(body["Message"])
