"""Rotation on schedule, through real server processes: a window that opens while the server
runs is rotated in once, inside the window; a rotation due while the server was stopped runs
once after it starts again; two processes on one database never run one rotation twice."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.support.functions import (
    ROTATOR_PERMISSIONS,
    execution_role,
    package,
    rotation_function,
    unique,
)
from tests.support.operator import post
from tests.support.server import Server
from tests.support.storage import overwrite

DAY = 86400


def rotated_versions(sm: Any, arn: str) -> list[str]:
    """The ids of the versions rotation made (all but the first), oldest first."""
    versions = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    ordered = sorted(versions, key=lambda v: v["CreatedDate"])
    return [v["VersionId"] for v in ordered[1:]]


def wait_for_rotations(sm: Any, arn: str, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        described = sm.describe_secret(SecretId=arn)
        current = [v for v, s in described["VersionIdsToStages"].items() if "AWSCURRENT" in s]
        rotated = rotated_versions(sm, arn)
        if len(rotated) >= count and current == rotated[-1:]:
            return
        assert time.monotonic() < deadline, f"{len(rotated)} rotations, wanted {count}"
        time.sleep(0.25)


def advance_clock(server: Server, seconds: float) -> datetime:
    """Move the dev server's clock on; the server's time now."""
    status, reply = post(server, "/_strongroom/dev/clock", {"advance_seconds": seconds})
    assert status == 200, reply
    return datetime.now(UTC) + timedelta(seconds=float(str(reply["offset_seconds"])))


def rotating_secret(server: Server, rules: dict[str, Any]) -> tuple[Any, str]:
    sm = server.client("secretsmanager")
    role = execution_role(server.client("iam"), ROTATOR_PERMISSIONS)
    function_arn = rotation_function(server.client("lambda"), role)
    arn = sm.create_secret(Name=unique("scheduled"), SecretString="first")["ARN"]
    sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn, RotationRules=rules)
    wait_for_rotations(sm, arn, 1)
    return sm, arn


def test_a_window_that_opens_is_rotated_in_once(own_dev_server):
    server = own_dev_server
    sm, arn = rotating_secret(server, {"AutomaticallyAfterDays": 2, "Duration": "4h"})
    opens = sm.describe_secret(SecretId=arn)["NextRotationDate"].astimezone(UTC)
    now = datetime.now(UTC)
    # Just before the window: nothing.
    advance_clock(server, (opens - now).total_seconds() - 600)
    time.sleep(3)
    assert len(rotated_versions(sm, arn)) == 1
    # Into the window: one rotation, inside it.
    advance_clock(server, 900)
    wait_for_rotations(sm, arn, 2)
    time.sleep(2)
    assert len(rotated_versions(sm, arn)) == 2
    described = sm.describe_secret(SecretId=arn)
    rotated_at = described["LastRotatedDate"].astimezone(UTC)
    assert opens <= rotated_at < opens + timedelta(hours=4)
    assert described["NextRotationDate"].astimezone(UTC) == opens + timedelta(days=2)


def test_cron_schedules_fire_inside_their_windows(own_dev_server):
    """A rotation window of cron(0 8 * * ? *) lasting 2 hours, and an EventBridge rule
    cron(30 9 * * ? *): neither runs early, each runs once when its time comes."""
    server = own_dev_server
    sm, arn = rotating_secret(server, {"ScheduleExpression": "cron(0 8 * * ? *)", "Duration": "2h"})
    opens = sm.describe_secret(SecretId=arn)["NextRotationDate"].astimezone(UTC)
    assert (opens.hour, opens.minute) == (8, 0)
    lam, events = server.client("lambda"), server.client("events")
    role = execution_role(server.client("iam"))
    function = lam.create_function(
        FunctionName=unique("cron-target"),
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": package("def handler(event, context):\n    return event['time']\n")},
    )
    rule_arn = events.put_rule(Name=unique("cron"), ScheduleExpression="cron(30 9 * * ? *)")[
        "RuleArn"
    ]
    lam.add_permission(
        FunctionName=function["FunctionName"],
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(
        Rule=rule_arn.rsplit("/", 1)[1], Targets=[{"Id": "1", "Arn": function["FunctionArn"]}]
    )
    group = f"/aws/lambda/{function['FunctionName']}"

    def invocations() -> int:
        logs = server.client("logs")
        try:
            found = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return 0
        return sum(e["message"].startswith("START RequestId") for e in found)

    advance_clock(server, (opens - datetime.now(UTC)).total_seconds() - 600)  # 07:50
    time.sleep(3)
    assert len(rotated_versions(sm, arn)) == 1 and invocations() == 0
    advance_clock(server, 900)  # 08:05: the window is open
    wait_for_rotations(sm, arn, 2)
    rotated_at = sm.describe_secret(SecretId=arn)["LastRotatedDate"].astimezone(UTC)
    assert opens <= rotated_at < opens + timedelta(hours=2)
    assert invocations() == 0  # 09:30 has not come
    advance_clock(server, 90 * 60)  # 09:35
    deadline = time.monotonic() + 60
    while invocations() == 0:
        assert time.monotonic() < deadline, "the rule did not fire"
        time.sleep(0.25)
    time.sleep(3)
    assert invocations() == 1
    assert len(rotated_versions(sm, arn)) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rotation_due_while_the_server_was_stopped_runs_once_after(make_server, backend):
    server = make_server(backend)
    sm, arn = rotating_secret(server, {"AutomaticallyAfterDays": 1})
    server.stop()
    # Three windows went by while it was down.
    overwrite(
        server,
        "UPDATE sm_secrets SET next_rotation_date = :due WHERE arn = :arn",
        due=time.time() - 3 * DAY,
        arn=arn,
    )
    server.start()
    sm = server.client("secretsmanager")
    wait_for_rotations(sm, arn, 2)
    time.sleep(3)
    assert len(rotated_versions(sm, arn)) == 2  # once, not three times
    opens = sm.describe_secret(SecretId=arn)["NextRotationDate"].astimezone(UTC)
    today = datetime.now(UTC).date()
    assert opens == datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_never_run_one_rotation_twice(make_server, backend):
    server = make_server(backend, "--workers", "2")
    role = execution_role(server.client("iam"), ROTATOR_PERMISSIONS)
    function_arn = rotation_function(server.client("lambda"), role)
    arns = []
    for _ in range(10):
        # A client of its own per call: connections, and so calls, spread over both processes.
        sm = server.client("secretsmanager")
        arn = sm.create_secret(Name=unique("twice"), SecretString="first")["ARN"]
        sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn)
        arns.append(arn)
    sm = server.client("secretsmanager")
    for arn in arns:
        wait_for_rotations(sm, arn, 1, seconds=120)
    time.sleep(2)
    trail = server.client("cloudtrail")
    for arn in arns:
        assert len(rotated_versions(sm, arn)) == 1
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
        )["Events"]
        names = sorted(
            json.loads(e["CloudTrailEvent"])["eventName"]
            for e in events
            if json.loads(e["CloudTrailEvent"])["eventType"] == "AwsServiceEvent"
        )
        assert names == ["RotationStarted", "RotationSucceeded"]
    name = function_arn.rsplit(":", 1)[1]
    logs = server.client("logs")
    starts = sum(
        event["message"].startswith("START RequestId")
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{name}"
        )
        for event in page["events"]
    )
    assert starts == 4 * len(arns)  # four steps per rotation, none twice
