"""SNS through a real server (SQLite and PostgreSQL) with boto3 and the aws CLI: topics,
subscriptions and publishing; deliveries to a real local HTTP endpoint (the confirmation
handshake, signatures checked with the certificate the server serves), to a real local SMTP
server, and to a Lambda function; retries while an endpoint is down, and a restart between
publish and delivery that loses nothing."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.conftest import BACKENDS
from tests.support.audit import aws
from tests.support.functions import execution_role, package
from tests.support.notifications import Endpoint
from tests.support.server import REGION, Server, dev_server_for

ACCOUNT = "123456789012"
FAST_RETRIES = json.dumps(
    {
        "http": {
            "defaultHealthyRetryPolicy": {
                "minDelayTarget": 1,
                "maxDelayTarget": 1,
                "numRetries": 20,
                "backoffFunction": "linear",
            }
        }
    }
)


def unique(prefix: str = "topic") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, mailbox, tmp_path_factory) -> Iterator[Server]:
    """A dev server of this module's own, whose SNS mails through the test's SMTP server."""
    smtp = f"smtp://127.0.0.1:{mailbox[1]}?from=alerts@example.com"
    log = tmp_path_factory.mktemp("sns") / "server.log"
    with dev_server_for(request, log, "--smtp-url", smtp) as server:
        yield server


@pytest.fixture(scope="module")
def sns(server):
    return server.client("sns")


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    hook = Endpoint().start()
    yield hook
    hook.stop()


def error_of(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# Signatures, checked as a subscriber checks AWS's


def verify_signature(message: dict[str, Any], ca_bundle: str | None = None) -> None:
    """Check the message's signature with the certificate at its SigningCertURL."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    canonical = "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode()
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
    with urllib.request.urlopen(message["SigningCertURL"], context=context) as reply:  # noqa: S310
        certificate = x509.load_pem_x509_certificate(reply.read())
    digest = hashes.SHA256() if message["SignatureVersion"] == "2" else hashes.SHA1()  # noqa: S303
    certificate.public_key().verify(  # raises InvalidSignature
        base64.b64decode(message["Signature"]), canonical, padding.PKCS1v15(), digest
    )


def visit(url: str, ca_bundle: str | None = None) -> str:
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
    with urllib.request.urlopen(url, context=context) as reply:  # noqa: S310
        return reply.read().decode()


def confirmed_http_subscription(sns: Any, endpoint: Endpoint, topic_arn: str, **attrs: str) -> str:
    """Subscribe the endpoint, and confirm with the token of the confirmation it received."""
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url, Attributes=attrs)
    _, body = endpoint.next()
    token = json.loads(body)["Token"]
    return str(sns.confirm_subscription(TopicArn=topic_arn, Token=token)["SubscriptionArn"])


# Topics


def test_topics_are_created_once_by_name_listed_described_tagged_and_deleted(sns):
    name = unique()
    arn = sns.create_topic(Name=name, Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    code, message, _ = error_of(
        lambda: sns.create_topic(Name=name, Attributes={"DisplayName": "other"})
    )
    assert (code, message) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
    )
    listed = [
        t["TopicArn"] for p in sns.get_paginator("list_topics").paginate() for t in p["Topics"]
    ]
    assert arn in listed
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Alerts")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Alerts"
    assert attributes["Owner"] == ACCOUNT
    assert attributes["SubscriptionsConfirmed"] == "0"
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == arn
    effective = json.loads(attributes["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert effective["http"]["defaultHealthyRetryPolicy"]["minDelayTarget"] == 20

    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]

    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # AWS: deleting a topic that is gone succeeds
    assert error_of(lambda: sns.get_topic_attributes(TopicArn=arn)) == (
        "NotFound",
        "Topic does not exist",
        404,
    )


def test_the_aws_cli_publishes_as_the_source_document_does(server):
    created = aws(server, "sns", "create-topic", "--name", unique("cli"))
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["TopicArn"]
    published = aws(server, "sns", "publish", "--topic-arn", arn, "--message", "Rotation failed")
    assert published.returncode == 0, published.stderr
    assert uuid.UUID(json.loads(published.stdout)["MessageId"])
    listed = aws(server, "sns", "list-subscriptions-by-topic", "--topic-arn", arn)
    assert json.loads(listed.stdout)["Subscriptions"] == []


# HTTP/S: the handshake, signatures, raw delivery, filters


def test_an_http_subscription_confirms_through_its_subscribe_url_and_gets_signed_messages(
    sns, endpoint
):
    topic = sns.create_topic(Name=unique())["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    assert answer["SubscriptionArn"] == "pending confirmation"
    headers, body = endpoint.next()
    confirmation = json.loads(body)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-message-id"] == confirmation["MessageId"]
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == topic
    assert confirmation["SignatureVersion"] == "1"
    verify_signature(confirmation)
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed["SubscriptionArn"] == "PendingConfirmation"

    assert "<SubscriptionArn>" in visit(confirmation["SubscribeURL"])
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    subscription = listed["SubscriptionArn"]
    assert subscription.startswith(f"{topic}:")
    assert listed["Endpoint"] == endpoint.url
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    assert attributes["ConfirmationWasAuthenticated"] == "false"

    sns.publish(
        TopicArn=topic,
        Message="disk full",
        Subject="Alarm",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"}},
    )
    headers, body = endpoint.next()
    notification = json.loads(body)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == subscription
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert notification["Message"] == "disk full"
    assert notification["Subject"] == "Alarm"
    assert notification["MessageAttributes"] == {"severity": {"Type": "String", "Value": "high"}}
    verify_signature(notification)

    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="second")
    _, body = endpoint.next()
    notification = json.loads(body)
    assert notification["SignatureVersion"] == "2"
    assert "Subject" not in notification
    verify_signature(notification)

    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="RawMessageDelivery", AttributeValue="true"
    )
    sns.publish(TopicArn=topic, Message='{"raw": true}')
    headers, body = endpoint.next()
    assert body == b'{"raw": true}'
    assert headers["x-amz-sns-rawdelivery"] == "true"

    # The UnsubscribeURL works as AWS's does.
    visit(notification["UnsubscribeURL"])
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_confirm_subscription_with_the_token_and_filter_policies(sns, endpoint):
    topic = sns.create_topic(Name=unique())["TopicArn"]
    subscription = confirmed_http_subscription(
        sns, endpoint, topic, FilterPolicy=json.dumps({"severity": ["high", {"prefix": "crit"}]})
    )
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["ConfirmationWasAuthenticated"] == "true"
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    code, message, _ = error_of(lambda: sns.confirm_subscription(TopicArn=topic, Token="0" * 64))
    assert (code, message) == ("InvalidParameter", "Invalid token")
    for severity in ("low", "critical"):
        sns.publish(
            TopicArn=topic,
            Message=severity,
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
    _, body = endpoint.next()
    assert json.loads(body)["Message"] == "critical"
    assert endpoint.received.empty()


def test_publish_batch_and_message_structure(sns, endpoint):
    topic = sns.create_topic(Name=unique())["TopicArn"]
    confirmed_http_subscription(sns, endpoint, topic)
    result = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "first"},
            {"Id": "b", "Message": "second", "Subject": ""},
            {
                "Id": "c",
                "Message": json.dumps({"default": "plain", "http": "for http"}),
                "MessageStructure": "json",
            },
        ],
    )
    assert [s["Id"] for s in result["Successful"]] == ["a", "c"]
    assert result["Failed"] == [
        {
            "Id": "b",
            "Code": "InvalidParameter",
            "Message": "Invalid parameter: Subject",
            "SenderFault": True,
        }
    ]
    messages = sorted(json.loads(endpoint.next()[1])["Message"] for _ in range(2))
    assert messages == ["first", "for http"]

    entries = [{"Id": str(i), "Message": "x"} for i in range(11)]
    assert error_of(
        lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    ) == (
        "TooManyEntriesInBatchRequest",
        "The batch request contains more entries than permissible.",
        400,
    )
    twice = [{"Id": "same", "Message": "x"}, {"Id": "same", "Message": "y"}]
    assert error_of(lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=twice))[
        0
    ] == ("BatchEntryIdsNotDistinct")


# Email


def test_email_subscriptions_confirm_by_mail_and_receive_notifications(sns, mailbox):
    box, _ = mailbox
    topic = sns.create_topic(Name=unique(), Attributes={"DisplayName": "Ops alerts"})["TopicArn"]
    address = f"{uuid.uuid4().hex[:8]}@example.com"
    assert sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)["SubscriptionArn"] == (
        "pending confirmation"
    )
    mail = box.next()
    assert mail["X-Envelope-To"] == address
    assert mail["Subject"] == "AWS Notification - Subscription Confirmation"
    assert "alerts@example.com" in mail["From"]
    text = mail.get_payload(decode=True).decode()
    assert topic in text
    subscribe_url = next(line for line in text.splitlines() if "/_strongroom/sns/confirm?" in line)
    visit(subscribe_url)

    sns.publish(TopicArn=topic, Message="The rotation of prod/db failed", Subject="Rotation failed")
    mail = box.next()
    assert mail["Subject"] == "Rotation failed"
    assert "Ops alerts" in mail["From"]
    assert mail.get_payload(decode=True).decode().splitlines()[0] == (
        "The rotation of prod/db failed"
    )

    json_address = f"{uuid.uuid4().hex[:8]}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=json_address)
    confirmation = json.loads(box.next().get_payload(decode=True))
    verify_signature(confirmation)
    sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
    sns.publish(TopicArn=topic, Message="as json")
    mails = [box.next(), box.next()]  # both subscriptions
    (as_json,) = [m for m in mails if m["X-Envelope-To"] == json_address]
    notification = json.loads(as_json.get_payload(decode=True))
    assert notification["Message"] == "as json"
    verify_signature(notification)


# Lambda

HANDLER = """
import json

def handler(event, context):
    print("SNS-EVENT " + json.dumps(event))
"""


def test_lambda_subscriptions_invoke_the_function_with_snss_event(server, sns):
    iam, lam, logs = server.client("iam"), server.client("lambda"), server.client("logs")
    name = unique("fn")
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=execution_role(iam),
        Handler="app.handler",
        Code={"ZipFile": package(HANDLER)},
    )["FunctionArn"]
    topic = sns.create_topic(Name=unique())["TopicArn"]
    lam.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    assert subscription["SubscriptionArn"].startswith(f"{topic}:")
    sns.publish(TopicArn=topic, Message="to the function", Subject="hello")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern='"SNS-EVENT"'
            )["events"]
        except ClientError:
            events = []
        if events:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the function was not invoked")
    event = json.loads(events[0]["message"].split("SNS-EVENT ", 1)[1])
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    assert record["Sns"]["Message"] == "to the function"
    assert record["Sns"]["Subject"] == "hello"
    assert record["Sns"]["TopicArn"] == topic
    verify_signature({**record["Sns"], "SigningCertURL": record["Sns"]["SigningCertUrl"]})


# Retries and durability


def test_an_endpoint_that_is_down_gets_the_message_when_it_comes_back(server, sns, endpoint):
    topic = sns.create_topic(Name=unique(), Attributes={"DeliveryPolicy": FAST_RETRIES})["TopicArn"]
    confirmed_http_subscription(sns, endpoint, topic)
    endpoint.stop()
    secret_text = f"body-{uuid.uuid4().hex}"
    sns.publish(TopicArn=topic, Message=secret_text)
    time.sleep(2.5)  # at least one failed attempt
    endpoint.start()
    _, body = endpoint.next(timeout=20)
    assert json.loads(body)["Message"] == secret_text
    log = server.log_text()
    assert "attempt 1 failed: connection failed" in log
    assert secret_text not in log


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restart_between_publish_and_delivery_loses_nothing(make_server, backend):
    server = make_server(backend)
    sns = server.client("sns")
    hook = Endpoint().start()
    try:
        topic = sns.create_topic(Name=unique(), Attributes={"DeliveryPolicy": FAST_RETRIES})[
            "TopicArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url)
        confirmation = json.loads(hook.next()[1])
        verify_signature(confirmation, server.ca_bundle)
        visit(confirmation["SubscribeURL"], server.ca_bundle)
        hook.stop()
        message_ids = {sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"] for i in range(3)}
        server.stop()
        hook.start()
        server.start()
        received = [json.loads(hook.next(timeout=30)[1]) for _ in range(3)]
        assert {m["MessageId"] for m in received} == message_ids
        for message in received:
            verify_signature(message, server.ca_bundle)
        time.sleep(2)
        assert hook.received.empty()  # each delivered once
    finally:
        hook.stop()


# Bad input


def test_bad_input_gets_snss_errors(sns, server):
    topic = sns.create_topic(Name=unique())["TopicArn"]
    raw = server.client(
        "sns", config=Config(parameter_validation=False, retries={"max_attempts": 1})
    )
    cases = [
        (
            lambda: sns.create_topic(Name="has space"),
            "InvalidParameter",
            "Invalid parameter: Topic Name",
        ),
        (
            lambda: sns.create_topic(Name="x" * 257),
            "InvalidParameter",
            "Invalid parameter: Topic Name",
        ),
        (
            lambda: sns.get_topic_attributes(TopicArn="nonsense"),
            "InvalidParameter",
            "Invalid parameter: TopicArn",
        ),
        (
            lambda: sns.publish(TopicArn=f"{topic}-gone", Message="x"),
            "NotFound",
            "Topic does not exist",
        ),
        (
            lambda: sns.publish(TopicArn=topic, Message="x" * 262_145),
            "InvalidParameter",
            "Invalid parameter: Message too long",
        ),
        (
            lambda: raw.publish(TopicArn=topic, Message=""),
            "InvalidParameter",
            "Invalid parameter: Empty message",
        ),
        (
            lambda: sns.publish(TopicArn=topic, Message="x", Subject="a\nb"),
            "InvalidParameter",
            "Invalid parameter: Subject",
        ),
        (
            lambda: sns.publish(TopicArn=topic, Message="{}", MessageStructure="json"),
            "InvalidParameter",
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
        (
            lambda: sns.publish(
                TopicArn=topic,
                Message="x",
                MessageAttributes={"a": {"DataType": "Text", "StringValue": "v"}},
            ),
            "ParameterValueInvalid",
            "The message attribute 'a' has an invalid message attribute type, the set of "
            "supported type prefixes is Binary, Number, and String.",
        ),
        (
            lambda: sns.subscribe(TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x"),
            "InvalidParameter",
            "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon",
        ),
        (
            lambda: sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="http://example.com"),
            "InvalidParameter",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        (
            lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="nobody"),
            "InvalidParameter",
            "Invalid parameter: Email address",
        ),
        (
            lambda: sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint="fn"),
            "InvalidParameter",
            "Invalid parameter: Lambda endpoint ARN",
        ),
        (
            lambda: sns.set_topic_attributes(
                TopicArn=topic, AttributeName="Colour", AttributeValue="red"
            ),
            "InvalidParameter",
            "Invalid parameter: AttributeName",
        ),
        (
            lambda: sns.set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue="{not json"
            ),
            "InvalidParameter",
            "Invalid parameter: Policy Error: null",
        ),
        (
            lambda: sns.create_topic(
                Name=unique(),
                Attributes={
                    "Policy": json.dumps(
                        {
                            "Statement": {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "sns:DeleteEndpoint",
                                "Resource": topic,
                            }
                        }
                    )
                },
            ),
            "InvalidParameter",
            "Invalid parameter: Policy statement action out of service scope!",
        ),
        (
            lambda: sns.get_subscription_attributes(SubscriptionArn=f"{topic}:{uuid.uuid4()}"),
            "NotFound",
            "Subscription does not exist",
        ),
        (
            lambda: sns.list_tags_for_resource(ResourceArn=f"{topic}-gone"),
            "ResourceNotFound",
            "Resource does not exist",
        ),
        (
            lambda: sns.tag_resource(
                ResourceArn=topic, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]
            ),
            "TagLimitExceeded",
            "Could not complete request: tag quota of per resource exceeded",
        ),
        (
            lambda: sns.list_topics(NextToken="bogus"),
            "InvalidParameter",
            "Invalid parameter: NextToken",
        ),
    ]
    for call, code, message in cases:
        got = error_of(call)
        assert got[:2] == (code, message), got
        assert got[2] in (400, 404)
    # Nothing changed.
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert policy["Id"] == "__default_policy_ID"
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == []
