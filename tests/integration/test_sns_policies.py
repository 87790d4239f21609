"""SNS topic access policies through real servers on both storage backends: AWS's default
policy, SNS's errors for policies it refuses, the policy taking part in every decision on its
topic (another account's principals by ARN when both sides allow, an explicit Deny denying),
and EventBridge's scheduled rules publishing to a topic only where its policy lets
events.amazonaws.com publish."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.integration.test_rotation_scheduling import advance_clock
from tests.integration.test_sns import confirmed_http_subscription, error_of
from tests.support.accounts import Account, client, new_account, tls_server
from tests.support.notifications import Endpoint
from tests.support.server import REGION, Server

DEFAULT_ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]


def unique(prefix: str = "topic") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def default_policy(arn: str, account_id: str) -> str:
    """AWS's default topic policy, as GetTopicAttributes shows it."""
    statement = {
        "Sid": "__default_statement_ID",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": DEFAULT_ACTIONS,
        "Resource": arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
    }
    document = {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [statement]}
    return json.dumps(document, separators=(",", ":"))


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, actions: Any, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": resource}


def set_policy(sns: Any, arn: str, document: str) -> None:
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=document)


# The default policy, and policies SNS refuses


def test_a_new_topic_has_awss_default_policy(dev_server):
    sns = dev_server.client("sns")
    account = dev_server.client("sts").get_caller_identity()["Account"]
    arn = sns.create_topic(Name=unique())["TopicArn"]
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["Policy"] == default_policy(arn, account)
    # A policy set is the policy shown, and it may name topics' actions in either case.
    given = policy(allow({"AWS": account}, ["sns:Publish", "SNS:Subscribe", "sns:Get*"], arn))
    set_policy(sns, arn, given)
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"] == given
    # CreateTopic takes one too (an older default listing SNS:Receive is still accepted).
    other = unique()
    other_arn = f"arn:aws:sns:{REGION}:{account}:{other}"
    legacy = json.loads(default_policy(other_arn, account))
    legacy["Statement"][0]["Action"].append("SNS:Receive")
    created = sns.create_topic(Name=other, Attributes={"Policy": json.dumps(legacy)})
    shown = sns.get_topic_attributes(TopicArn=created["TopicArn"])["Attributes"]["Policy"]
    assert json.loads(shown) == legacy


def test_policies_sns_refuses_get_its_errors_and_change_nothing(dev_server):
    sns = dev_server.client("sns")
    arn = sns.create_topic(Name=unique())["TopicArn"]
    before = sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    anyone = {"AWS": "*"}
    cases = [
        ("", "Invalid parameter: Policy is empty"),
        ("not json", "Invalid parameter: Policy Error: null"),
        ("[]", "Invalid parameter: Policy Error: null"),
        (json.dumps({"Version": "2012-10-17"}), "Invalid parameter: Policy Error: null"),
        (
            policy({"Effect": "Allow", "Action": "sns:Publish", "Resource": arn}),
            "Invalid parameter: Policy Error: null",
        ),
        (
            policy({**allow(anyone, "sns:Publish", arn), "Effect": "Maybe"}),
            "Invalid parameter: Policy Error: null",
        ),
        (
            policy(allow({"AWS": "123"}, "sns:Publish", arn)),
            "Invalid parameter: Policy Error: PrincipalNotFound",
        ),
        (
            policy(allow(anyone, ["sns:Publish", "sns:CreateTopic"], arn)),
            "Invalid parameter: Policy statement action out of service scope!",
        ),
        (
            policy(allow(anyone, "sqs:SendMessage", arn)),
            "Invalid parameter: Policy statement action out of service scope!",
        ),
        (
            policy(allow(anyone, "sns:SetSubscriptionAttributes", arn)),
            "Invalid parameter: Policy statement action out of service scope!",
        ),
    ]

    def create(name: str, document: str) -> Any:
        return sns.create_topic(Name=name, Attributes={"Policy": document})

    names = []
    for document, message in cases:
        refused = ("InvalidParameter", message, 400)
        assert error_of(lambda d=document: set_policy(sns, arn, d)) == refused, document
        names.append(unique())
        assert error_of(lambda d=document, n=names[-1]: create(n, d)) == refused, document
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"] == before
    pages = sns.get_paginator("list_topics").paginate()
    listed = {t["TopicArn"].rsplit(":", 1)[1] for page in pages for t in page["Topics"]}
    assert not set(names) & listed


# Decisions on a topic, across accounts


@dataclass(frozen=True)
class Accounts:
    server: Server
    a: Account
    b: Account


@pytest.fixture(scope="module", params=BACKENDS)
def accounts(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Accounts]:
    with tls_server(request.param, tmp_path_factory.mktemp("topics"), request) as server:
        yield Accounts(server, new_account(server), new_account(server))


def user_keys(server: Server, account: Account, *statements: dict[str, Any]) -> dict[str, str]:
    """A new IAM user of the account with these identity policy statements: its keys."""
    iam = client(server, "iam", account)
    name = unique("user")
    iam.create_user(UserName=name)
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        iam.put_user_policy(UserName=name, PolicyName="topics", PolicyDocument=document)
    keys = iam.create_access_key(UserName=name)["AccessKey"]
    return {**keys, "Arn": f"arn:aws:iam::{account.account_id}:user/{name}"}


def test_another_account_publishes_only_where_the_topic_policy_allows(accounts):
    server, a, b = accounts.server, accounts.a, accounts.b
    owner = client(server, "sns", a)
    other = client(server, "sns", b)  # B's administrator: AdministratorAccess
    arn = owner.create_topic(Name=unique())["TopicArn"]
    b_admin = f"arn:aws:iam::{b.account_id}:user/admin"

    # The default policy lets no other account in.
    assert error_of(lambda: other.publish(TopicArn=arn, Message="hello")) == (
        "AuthorizationError",
        f"User: {b_admin} is not authorized to perform: SNS:Publish on resource: {arn} "
        "because no resource-based policy allows the SNS:Publish action",
        403,
    )
    assert error_of(lambda: other.get_topic_attributes(TopicArn=arn))[0] == "AuthorizationError"
    # A topic that does not exist is refused the same way: B learns nothing of A's topics.
    gone = f"{arn}-gone"
    assert error_of(lambda: other.publish(TopicArn=gone, Message="x"))[0] == "AuthorizationError"

    # A lets B's account publish and read the topic's attributes.
    set_policy(
        owner,
        arn,
        policy(allow({"AWS": b.account_id}, ["sns:Publish", "sns:GetTopicAttributes"], arn)),
    )
    assert uuid.UUID(other.publish(TopicArn=arn, Message="hello")["MessageId"])
    batch = other.publish_batch(
        TopicArn=arn, PublishBatchRequestEntries=[{"Id": "1", "Message": "one"}]
    )
    assert [entry["Id"] for entry in batch["Successful"]] == ["1"]
    assert other.get_topic_attributes(TopicArn=arn)["Attributes"]["Owner"] == a.account_id
    # ...and nothing else: not what the policy leaves out, not calls it cannot govern.
    assert error_of(lambda: other.list_subscriptions_by_topic(TopicArn=arn))[0] == (
        "AuthorizationError"
    )
    assert error_of(lambda: other.delete_topic(TopicArn=arn))[0] == "AuthorizationError"
    tags = [{"Key": "k", "Value": "v"}]
    assert error_of(lambda: other.tag_resource(ResourceArn=arn, Tags=tags))[0] == (
        "AuthorizationError"
    )
    # Across accounts both sides must allow: a user of B without identity policies is refused.
    nobody = user_keys(server, b)
    refused = error_of(lambda: client(server, "sns", nobody).publish(TopicArn=arn, Message="x"))
    assert refused == (
        "AuthorizationError",
        f"User: {nobody['Arn']} is not authorized to perform: SNS:Publish on resource: {arn} "
        "because no identity-based policy allows the SNS:Publish action",
        403,
    )
    # The topic is as A left it.
    assert owner.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn


def test_another_accounts_subscriber_by_arn_and_an_explicit_deny(accounts):
    server, a, b = accounts.server, accounts.a, accounts.b
    owner = client(server, "sns", a)
    arn = owner.create_topic(Name=unique())["TopicArn"]
    subscriber = user_keys(
        server, b, {"Effect": "Allow", "Action": "sns:Subscribe", "Resource": "*"}
    )
    set_policy(owner, arn, policy(allow({"AWS": subscriber["Arn"]}, "sns:Subscribe", arn)))
    function = f"arn:aws:lambda:{REGION}:{b.account_id}:function:listener"
    subscribed = client(server, "sns", subscriber).subscribe(
        TopicArn=arn, Protocol="lambda", Endpoint=function
    )
    assert subscribed["SubscriptionArn"].startswith(f"{arn}:")
    listed = owner.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["Endpoint"] for s in listed] == [function]

    # In A's own account: a topic policy naming a user allows it without identity policies,
    # and an explicit Deny in it denies even an identity policy's allow.
    publisher = user_keys(server, a)
    denied = user_keys(server, a, {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})
    set_policy(
        owner,
        arn,
        policy(
            allow({"AWS": publisher["Arn"]}, "sns:Publish", arn),
            {**allow({"AWS": denied["Arn"]}, "sns:*", arn), "Effect": "Deny"},
        ),
    )
    assert client(server, "sns", publisher).publish(TopicArn=arn, Message="m")["MessageId"]
    as_denied = client(server, "sns", denied)
    assert error_of(lambda: as_denied.publish(TopicArn=arn, Message="m")) == (
        "AuthorizationError",
        f"User: {denied['Arn']} is not authorized to perform: SNS:Publish on resource: {arn} "
        "with an explicit deny in a resource-based policy",
        403,
    )
    assert error_of(lambda: as_denied.get_topic_attributes(TopicArn=arn))[0] == (
        "AuthorizationError"
    )
    # Its identity policy still decides what the topic policy does not govern.
    assert as_denied.list_topics()["Topics"] is not None
    # The administrator (identity policy) still may; the publisher may not read it.
    assert owner.get_topic_attributes(TopicArn=arn)["Attributes"]["Owner"] == a.account_id
    publisher_sns = client(server, "sns", publisher)
    assert error_of(lambda: publisher_sns.get_topic_attributes(TopicArn=arn))[:2] == (
        "AuthorizationError",
        f"User: {publisher['Arn']} is not authorized to perform: SNS:GetTopicAttributes on "
        f"resource: {arn} because no identity-based policy allows the SNS:GetTopicAttributes "
        "action",
    )


# EventBridge's scheduled rules publishing to topics


def events_may_publish(arn: str, rule_arn: str) -> dict[str, Any]:
    """The statement AWS's EventBridge guide adds to a topic's policy."""
    return {
        "Sid": "PublishEventsToMyTopic",
        **allow({"Service": "events.amazonaws.com"}, "sns:Publish", arn),
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }


def notifications(endpoint: Endpoint, count: int) -> list[dict[str, Any]]:
    return [json.loads(endpoint.next(timeout=30)[1]) for _ in range(count)]


def test_a_scheduled_rule_publishes_to_a_topic_its_policy_opens_to_eventbridge(own_dev_server):
    server = own_dev_server
    sns, events = server.client("sns"), server.client("events")
    account = server.client("sts").get_caller_identity()["Account"]
    name = unique()
    arn = sns.create_topic(Name=name)["TopicArn"]
    endpoint = Endpoint().start()
    try:
        confirmed_http_subscription(sns, endpoint, arn)
        rule = unique("rule")
        rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")["RuleArn"]
        marker = uuid.uuid4().hex
        events.put_targets(
            Rule=rule,
            Targets=[
                {"Id": "event", "Arn": arn},
                # The documentation's placeholders mean the rule's own Region and account.
                {
                    "Id": "input",
                    "Arn": f"arn:aws:sns:region:account:{name}",
                    "Input": json.dumps({"marker": marker}),
                },
            ],
        )
        assert {t["Arn"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]} == {
            arn,
            f"arn:aws:sns:region:account:{name}",
        }

        # The default policy does not let EventBridge publish: the firing is refused.
        advance_clock(server, 301)
        deadline = time.monotonic() + 30
        while server.log_text().count(f"cannot publish to {arn}") < 2:
            assert time.monotonic() < deadline, "the rule did not fire"
            time.sleep(0.25)
        assert "AuthorizationErrorException" in server.log_text()
        assert marker not in server.log_text()  # refusals name no message content
        time.sleep(2)
        assert endpoint.received.empty()

        # The policy AWS's guide gives: both targets' messages arrive, signed, as SNS sends.
        document = json.loads(default_policy(arn, account))
        document["Statement"].append(events_may_publish(arn, rule_arn))
        set_policy(sns, arn, json.dumps(document))
        advance_clock(server, 301)
        received = notifications(endpoint, 2)
        assert {m["Type"] for m in received} == {"Notification"}
        assert {m["TopicArn"] for m in received} == {arn}
        messages = [json.loads(m["Message"]) for m in received]
        assert {"marker": marker} in messages
        (event,) = [m for m in messages if m != {"marker": marker}]
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["resources"] == [rule_arn]
        assert event["account"] == account

        # A policy for another rule's events lets this one publish nothing.
        document["Statement"][-1] = events_may_publish(arn, f"{rule_arn}-other")
        set_policy(sns, arn, json.dumps(document))
        advance_clock(server, 301)
        deadline = time.monotonic() + 30
        while server.log_text().count(f"cannot publish to {arn}") < 4:
            assert time.monotonic() < deadline, "the rule did not fire"
            time.sleep(0.25)
        time.sleep(2)
        assert endpoint.received.empty()
    finally:
        endpoint.stop()
