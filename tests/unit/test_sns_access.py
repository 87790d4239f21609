"""Tests for strongroom.services.sns.access: which services a topic's policy lets publish
(CloudWatch alarms under AWS's default policy, EventBridge only where the policy names it),
and SNS's refusals of topic policies; Hypothesis checks that `check_policy` refuses anything
only with InvalidTopicPolicy."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.services.sns import access, model
from strongroom.services.sns.model import Topic

OWNER = "111122223333"
OTHER = "444455556666"
ARN = model.topic_arn("us-east-1", OWNER, "alerts")
ALARM = f"arn:aws:cloudwatch:us-east-1:{OWNER}:alarm:cpu"
RULE = f"arn:aws:events:us-east-1:{OWNER}:rule/nightly"
CLOUDWATCH, EVENTS = "cloudwatch.amazonaws.com", "events.amazonaws.com"


def topic(*statements: dict[str, Any]) -> Topic:
    attributes = {}
    if statements:
        attributes["Policy"] = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return Topic(1, OWNER, "us-east-1", "alerts", json.dumps(attributes), 0.0)


def service_statement(effect: str, service: str, **condition: Any) -> dict[str, Any]:
    statement = {
        "Sid": "__console_pub_0",  # SNS's statement ids are free text
        "Effect": effect,
        "Principal": {"Service": service},
        "Action": "SNS:Publish",
        "Resource": ARN,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def test_the_default_policy_admits_the_owners_alarms_and_no_eventbridge_rule():
    default = topic()
    assert access.service_may_publish(default, CLOUDWATCH, ALARM, OWNER)
    other_alarm = f"arn:aws:cloudwatch:us-east-1:{OTHER}:alarm:cpu"
    assert not access.service_may_publish(default, CLOUDWATCH, other_alarm, OTHER)
    assert not access.service_may_publish(default, EVENTS, RULE, OWNER)


def test_a_policy_naming_eventbridge_admits_the_rules_it_names():
    opened = topic(service_statement("Allow", EVENTS, ArnEquals={"aws:SourceArn": RULE}))
    assert access.service_may_publish(opened, EVENTS, RULE, OWNER)
    assert not access.service_may_publish(opened, EVENTS, f"{RULE}-2", OWNER)
    # A policy of its own replaces the default: the owner's alarms need a statement too.
    assert not access.service_may_publish(opened, CLOUDWATCH, ALARM, OWNER)
    by_account = topic(
        service_statement("Allow", EVENTS, StringEquals={"aws:SourceAccount": OTHER})
    )
    other_rule = f"arn:aws:events:us-east-1:{OTHER}:rule/nightly"
    assert access.service_may_publish(by_account, EVENTS, other_rule, OTHER)
    assert not access.service_may_publish(by_account, EVENTS, RULE, OWNER)


def test_an_explicit_deny_refuses_a_service():
    default = json.loads(model.default_topic_policy(ARN, OWNER))["Statement"]
    denied = topic(*default, service_statement("Deny", CLOUDWATCH))
    assert not access.service_may_publish(denied, CLOUDWATCH, ALARM, OWNER)


@pytest.mark.parametrize(
    ("actions", "valid"),
    [
        ("*", True),
        ("sns:*", True),
        (["SNS:Publish", "sns:subscribe", "sns:Get*", "SNS:Receive"], True),
        ("sns:Create*", False),
        (["sns:Publish", "sns:TagResource"], False),
        ("sqs:SendMessage", False),
    ],
)
def test_a_topic_policy_names_topic_actions_only(actions, valid):
    statement = {"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": ARN}
    document = json.dumps({"Statement": [statement]})
    if valid:
        access.check_policy(document)
    else:
        with pytest.raises(access.InvalidTopicPolicy, match="out of service scope"):
            access.check_policy(document)


def test_awss_default_policy_is_a_valid_topic_policy():
    access.check_policy(model.default_topic_policy(ARN, OWNER))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["*", ARN]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["AWS", "Service", "sns:Publish"]), inner, max_size=2)
    ),
    max_leaves=8,
)
STATEMENTS = st.dictionaries(
    st.sampled_from(["Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "Condition"]),
    JSON | st.sampled_from(["Allow", "Deny", "sns:Publish", "SNS:Get*"]),
)


@given(st.lists(STATEMENTS, max_size=3) | JSON)
def test_check_policy_refuses_only_with_its_own_error(statements):
    for text in (json.dumps({"Statement": statements}), json.dumps(statements)):
        with contextlib.suppress(access.InvalidTopicPolicy):
            access.check_policy(text)
