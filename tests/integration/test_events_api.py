"""EventBridge rules through a real server with boto3 and the aws CLI, on SQLite and
PostgreSQL: PutRule's schedules and event patterns, the rule lifecycle, targets and their
limits, listings and their pages, tags, the default bus only, isolation between Regions, the
source document's commands, and the scheduler's view in storage (due rules, claimed once)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from strongroom.jobs.schedule_expressions import parse
from strongroom.storage.events import EventsRepository
from tests.support.kms import aws_error
from tests.support.server import REGION, Server
from tests.support.storage import storage, storage_view

ACCOUNT = "123456789012"
INVALID_SCHEDULE = "Parameter ScheduleExpression is not valid."
LIMIT = "The requested resource exceeds the maximum number allowed."
SEED_RULE = "alphavox-key-rotation"
SEED_FUNCTION = "arn:aws:lambda:region:account:function:alphavox-rotate-secrets"


def unique(prefix: str = "rule") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def no_rule(name: str) -> str:
    return f"Rule {name} does not exist on EventBus default."


@pytest.fixture
def events(dev_server: Server) -> Any:
    return dev_server.client("events")


def stored_rule(server: Server, name: str) -> dict[str, Any]:
    with storage(storage_view(server)) as engine, engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT id, state, next_due, schedule_anchor FROM events_rules "
                "WHERE name = :name AND region = :region"
            ),
            {"name": name, "region": REGION},
        ).one()
    return dict(row._mapping)


# Rules


def test_rule_lifecycle(events, dev_server):
    name = unique()
    before = time.time()
    arn = events.put_rule(
        Name=name,
        ScheduleExpression="rate(5 minutes)",
        Description="every five minutes",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/events",
    )["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    described = events.describe_rule(Name=name)
    del described["ResponseMetadata"]
    assert described == {
        "Name": name,
        "Arn": arn,
        "ScheduleExpression": "rate(5 minutes)",
        "State": "ENABLED",
        "Description": "every five minutes",
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events",
        "EventBusName": "default",
        "CreatedBy": ACCOUNT,
    }
    # The durable next due time: five minutes after the rule's (re)definition.
    stored = stored_rule(dev_server, name)
    assert stored["next_due"] == pytest.approx(stored["schedule_anchor"] + 300)
    assert before - 1 <= stored["schedule_anchor"] <= time.time() + 1

    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    assert stored_rule(dev_server, name)["next_due"] is None
    events.enable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    enabled = stored_rule(dev_server, name)
    assert enabled["next_due"] is not None and enabled["next_due"] > time.time() - 1

    # PutRule again replaces what it says; omitted members are gone.
    events.put_rule(Name=name, EventPattern='{"source": ["aws.secretsmanager"]}')
    described = events.describe_rule(Name=name)
    assert "ScheduleExpression" not in described and "Description" not in described
    assert json.loads(described["EventPattern"]) == {"source": ["aws.secretsmanager"]}
    assert stored_rule(dev_server, name)["next_due"] is None

    events.delete_rule(Name=name)
    with aws_error("ResourceNotFoundException", 400, no_rule(name)):
        events.describe_rule(Name=name)
    events.delete_rule(Name=name)  # a rule that does not exist: deleting it succeeds


def test_a_disabled_rule_has_no_due_time(events, dev_server):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression="cron(0 10 * * ? *)", State="DISABLED")
    assert stored_rule(dev_server, name)["next_due"] is None
    events.enable_rule(Name=name)
    due = datetime.fromtimestamp(stored_rule(dev_server, name)["next_due"], UTC)
    assert (due.hour, due.minute, due.second) == (10, 0, 0)
    events.delete_rule(Name=name)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(90 days)",
        "rate(12 hours)",
        "cron(0 10 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)",
        "cron(0 0 ? * 6L 2030-2040)",
    ],
)
def test_schedule_expressions(events, expression):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression=expression)
    assert events.describe_rule(Name=name)["ScheduleExpression"] == expression
    events.delete_rule(Name=name)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(10 seconds)",
        "rate(10 MINUTES)",
        " rate(10 minutes)",
        "rate(-1 days)",
        "cron(0 10 * * * *)",
        "cron(0 10 ? * ? *)",
        "cron(0 10 * * ?)",
        "cron(60 10 * * ? *)",
        "cron(0 10 ? * 2#1,6#3 *)",
        "cron(0 10 * * ? 1969)",
        "every day",
    ],
)
def test_invalid_schedule_expressions(events, expression):
    name = unique()
    with aws_error("ValidationException", 400, INVALID_SCHEDULE):
        events.put_rule(Name=name, ScheduleExpression=expression)
    with aws_error("ResourceNotFoundException", 400, no_rule(name)):
        events.describe_rule(Name=name)


def test_a_rule_needs_a_schedule_or_a_pattern(events):
    with aws_error(
        "ValidationException",
        400,
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    ):
        events.put_rule(Name=unique(), Description="nothing to do")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("not json", "Filter is not valid JSON"),
        ("[1, 2]", "Filter is not an object"),
        ('{"source": "aws.kms"}', '"source" must be an object or an array'),
        ('{"source": []}', "Empty arrays are not allowed"),
        ('{"detail": {"size": [{"numeric": [">", "x"]}]}}', "Value of > must be numeric"),
        ('{"source": [{"prefix": 1}]}', "prefix match pattern must be a string"),
        ('{"source": [{"nope": "x"}]}', "Unrecognized match type nope"),
        (
            '{"source": [{"prefix": "a", "suffix": "b"}]}',
            "Only one key allowed in match expression",
        ),
        ('{"source": [["a"]]}', "Match value must be String, number, true, false, or null"),
        (
            '{"detail": {"x": [{"exists": "yes"}]}}',
            "exists match pattern must be either true or false.",
        ),
    ],
)
def test_invalid_event_patterns(events, pattern, reason):
    with aws_error(
        "InvalidEventPatternException", 400, f"Event pattern is not valid. Reason: {reason}"
    ):
        events.put_rule(Name=unique(), EventPattern=pattern)


def test_event_patterns(events):
    name = unique()
    pattern = {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventName": ["RotateSecret", {"prefix": "Put"}],
            "size": [{"numeric": [">", 0, "<=", 5]}],
            "errorCode": [{"exists": False}],
            "region": [{"anything-but": ["us-west-2"]}],
        },
        "$or": [{"account": [ACCOUNT]}, {"resources": [{"wildcard": "arn:*"}]}],
    }
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="DISABLED")
    assert json.loads(events.describe_rule(Name=name)["EventPattern"]) == pattern
    events.delete_rule(Name=name)


def test_only_the_default_bus(events):
    with aws_error("ResourceNotFoundException", 400, "Event bus custom does not exist."):
        events.put_rule(Name=unique(), ScheduleExpression="rate(1 day)", EventBusName="custom")
    name = unique()
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    events.put_rule(Name=name, ScheduleExpression="rate(1 day)", EventBusName=bus_arn)
    assert events.describe_rule(Name=name, EventBusName="default")["Name"] == name
    with aws_error("ResourceNotFoundException", 400, "Event bus other does not exist."):
        events.list_rules(EventBusName="other")
    events.delete_rule(Name=name)


def test_unknown_rules(events):
    name = unique()
    for call in (
        lambda: events.describe_rule(Name=name),
        lambda: events.enable_rule(Name=name),
        lambda: events.disable_rule(Name=name),
        lambda: events.list_targets_by_rule(Rule=name),
        lambda: events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": SEED_FUNCTION}]),
        lambda: events.remove_targets(Rule=name, Ids=["1"]),
    ):
        with aws_error("ResourceNotFoundException", 400, no_rule(name)):
            call()


def test_list_rules_pages_and_prefix(events):
    prefix = unique("page")
    names = sorted(f"{prefix}-{i:02d}" for i in range(7))
    for name in names:
        events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    events.put_rule(Name=f"{prefix}x", ScheduleExpression="rate(1 day)")  # not under prefix-
    found, token, pages = [], None, 0
    while True:
        page = events.list_rules(
            NamePrefix=f"{prefix}-", Limit=3, **({"NextToken": token} if token else {})
        )
        found += [rule["Name"] for rule in page["Rules"]]
        pages += 1
        token = page.get("NextToken")
        if token is None:
            break
    assert found == names and pages == 3
    listed = events.list_rules(NamePrefix=f"{prefix}-00")["Rules"]
    assert listed == [
        {
            "Name": names[0],
            "Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{names[0]}",
            "ScheduleExpression": "rate(1 day)",
            "State": "ENABLED",
            "EventBusName": "default",
        }
    ]
    paginated = events.get_paginator("list_rules").paginate(
        NamePrefix=prefix, PaginationConfig={"PageSize": 2}
    )
    assert len([r for page in paginated for r in page["Rules"]]) == 8
    with aws_error("ValidationException", 400):
        events.list_rules(NextToken="not-a-token")
    for name in [*names, f"{prefix}x"]:
        events.delete_rule(Name=name)


def test_rules_are_per_region(events, dev_server):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    elsewhere = dev_server.client("events", region_name="eu-west-1")
    with aws_error("ResourceNotFoundException", 400, no_rule(name)):
        elsewhere.describe_rule(Name=name)
    assert elsewhere.list_rules(NamePrefix=name)["Rules"] == []
    events.delete_rule(Name=name)


# Targets


def test_targets(events):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    answer = events.put_targets(
        Rule=name,
        Targets=[
            {"Id": "1", "Arn": function, "Input": json.dumps({"SecretId": "db"})},
            {"Id": "2", "Arn": function, "InputPath": "$.detail"},
        ],
    )
    assert answer["FailedEntryCount"] == 0 and answer["FailedEntries"] == []
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    assert targets == [
        {"Id": "1", "Arn": function, "Input": '{"SecretId": "db"}'},
        {"Id": "2", "Arn": function, "InputPath": "$.detail"},
    ]
    # Same id: replaced.
    events.put_targets(Rule=name, Targets=[{"Id": "2", "Arn": function}])
    assert events.list_targets_by_rule(Rule=name, Limit=1)["Targets"] == [targets[0]]
    page = events.list_targets_by_rule(Rule=name, Limit=1)
    rest = events.list_targets_by_rule(Rule=name, Limit=1, NextToken=page["NextToken"])
    assert rest["Targets"] == [{"Id": "2", "Arn": function}] and "NextToken" not in rest
    assert events.list_rule_names_by_target(TargetArn=function)["RuleNames"] == [name]

    with aws_error("ValidationException", 400, "Rule can't be deleted since it has targets."):
        events.delete_rule(Name=name)
    assert events.describe_rule(Name=name)["Name"] == name

    removed = events.remove_targets(Rule=name, Ids=["1", "9"])
    assert removed["FailedEntryCount"] == 1
    assert removed["FailedEntries"] == [
        {
            "TargetId": "9",
            "ErrorCode": "ResourceNotFoundException",
            "ErrorMessage": f"Rule '{name}' does not have a target with the Id '9'.",
        }
    ]
    events.remove_targets(Rule=name, Ids=["2"])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    assert events.list_rule_names_by_target(TargetArn=function)["RuleNames"] == []
    events.delete_rule(Name=name)


def test_at_most_five_targets(events):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    six = [{"Id": str(i), "Arn": function} for i in range(6)]
    with aws_error("LimitExceededException", 400, LIMIT):
        events.put_targets(Rule=name, Targets=six)
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    events.put_targets(Rule=name, Targets=six[:5])
    with aws_error("LimitExceededException", 400, LIMIT):
        events.put_targets(Rule=name, Targets=six[5:])
    events.put_targets(Rule=name, Targets=six[:2])  # replacing stays within the limit
    assert len(events.list_targets_by_rule(Rule=name)["Targets"]) == 5
    events.remove_targets(Rule=name, Ids=[t["Id"] for t in six[:5]])
    events.delete_rule(Name=name)


def test_a_target_needs_an_arn(events):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    with aws_error(
        "ValidationException",
        400,
        "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.",
    ):
        events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": "not-an-arn"}])
    with aws_error("ValidationException", 400):
        events.put_targets(Rule=name, Targets=[{"Id": "bad id", "Arn": SEED_FUNCTION}])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    events.delete_rule(Name=name)


# Tags


def test_tags(events):
    name = unique()
    arn = events.put_rule(
        Name=name, ScheduleExpression="rate(1 day)", Tags=[{"Key": "team", "Value": "a"}]
    )["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "a"},
    ]
    events.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    events.delete_rule(Name=name)
    with aws_error("ResourceNotFoundException", 400, no_rule(name)):
        events.list_tags_for_resource(ResourceARN=arn)


# The scheduler's view


def test_due_rules_are_claimed_once(dev_server, events):
    name = unique()
    events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")
    with storage(storage_view(dev_server)) as engine:
        first, second = EventsRepository(engine), EventsRepository(engine)
        stored = stored_rule(dev_server, name)
        assert not [r for r in first.due_rules(stored["next_due"] - 1, 1000) if r.name == name]
        (due,) = [r for r in first.due_rules(stored["next_due"] + 1, 10_000) if r.name == name]
        assert due.next_due == stored["next_due"]
        schedule = parse(due.schedule_expression)
        anchor = datetime.fromtimestamp(due.schedule_anchor, UTC)
        fired = datetime.fromtimestamp(due.next_due, UTC)
        following = schedule.next_after(fired, anchor)
        assert following is not None
        # Two processes race for the same firing: exactly one wins.
        results: list[bool] = []
        barrier = threading.Barrier(2)

        def claim(repository: EventsRepository) -> None:
            barrier.wait()
            results.append(repository.advance(due, due.next_due, following.timestamp()))

        threads = [threading.Thread(target=claim, args=(r,)) for r in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, True]
        assert stored_rule(dev_server, name)["next_due"] == pytest.approx(stored["next_due"] + 60)
        # A rule changed since it was read is not claimed.
        events.disable_rule(Name=name)
        assert not [r for r in first.due_rules(time.time() + 3600, 10_000) if r.name == name]
        assert not first.advance(due, due.next_due, following.timestamp())
    events.delete_rule(Name=name)
