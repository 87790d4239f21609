"""Secret rotation through a real server, on SQLite and PostgreSQL: RotateSecret stores the
rotation and its function takes it through createSecret, setSecret, testSecret and
finishSecret in its sandbox, calling back with its role's credentials; a failing step leaves
AWSCURRENT alone and is retried; DescribeSecret, the audit trail and the function's log group
tell what happened; bad input gets Secrets Manager's errors and changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.functions import (
    ROTATOR,
    ROTATOR_PERMISSIONS,
    execution_role,
    package,
    rotation_function,
    unique,
)

NO_FUNCTION = "No Lambda rotation function ARN is associated with this secret."
IN_PROGRESS = "A previous rotation isn't complete. That rotation will be reattempted."
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def lam(dev_server):
    return dev_server.client("lambda", config=Config(read_timeout=120))


@pytest.fixture(scope="module")
def rotator_role(dev_server) -> str:
    return execution_role(dev_server.client("iam"), ROTATOR_PERMISSIONS)


def new_secret(sm: Any, value: str = "first value") -> str:
    return str(sm.create_secret(Name=unique("rotated"), SecretString=value)["ARN"])


def wait_for(check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = check()
        if outcome:
            return outcome
        time.sleep(0.2)
    raise AssertionError("timed out")


def service_events(dev_server: Any, secret_arn: str) -> list[str]:
    """The names of the AwsServiceEvent records about the secret, oldest first."""
    trail = dev_server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": secret_arn}]
    )["Events"]
    records = [json.loads(event["CloudTrailEvent"]) for event in reversed(events)]
    return [r["eventName"] for r in records if r["eventType"] == "AwsServiceEvent"]


def stages(sm: Any, arn: str) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=arn)["VersionIdsToStages"])


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as failed:
        call()
    response = failed.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_rotate_secret_takes_a_new_version_through_the_four_steps(
    dev_server, sm, lam, rotator_role
):
    function_arn = rotation_function(lam, rotator_role)
    arn = new_secret(sm)
    started = datetime.now(UTC)
    answer = sm.rotate_secret(
        SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 30}
    )
    assert answer["ARN"] == arn
    new_version = answer["VersionId"]
    wait_for(lambda: sm.describe_secret(SecretId=arn).get("LastRotatedDate"))
    described = sm.describe_secret(SecretId=arn)
    assert described["VersionIdsToStages"][new_version][0] == "AWSCURRENT"
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == function_arn
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    # The window opens at midnight (UTC) 30 days after the rotation.
    opens = described["NextRotationDate"].astimezone(UTC)
    assert opens == datetime.combine(started.date() + timedelta(days=30), datetime.min.time(), UTC)
    value = sm.get_secret_value(SecretId=arn)
    assert value["VersionId"] == new_version and value["SecretString"] != "first value"
    previous = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
    assert previous == "first value"
    assert service_events(dev_server, arn) == ["RotationStarted", "RotationSucceeded"]
    # Every step ran, in order, and wrote to the function's log group.
    name = function_arn.rsplit(":", 1)[1]
    logs = dev_server.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
    done = [e["message"] for e in logs["events"] if e["message"].endswith(": done")]
    assert done == [
        f"{step}: done" for step in ("createSecret", "setSecret", "testSecret", "finishSecret")
    ]


def test_rotating_again_reuses_the_stored_function_and_rules(dev_server, sm, lam, rotator_role):
    function_arn = rotation_function(lam, rotator_role)
    arn = new_secret(sm)
    rules = {"ScheduleExpression": "rate(10 days)", "Duration": "3h"}
    sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn, RotationRules=rules)
    wait_for(lambda: sm.describe_secret(SecretId=arn).get("LastRotatedDate"))
    # The emergency procedure of the source document: no function named, the stored one runs.
    again = sm.rotate_secret(SecretId=arn)["VersionId"]
    wait_for(lambda: "AWSCURRENT" in stages(sm, arn).get(again, []))
    described = sm.describe_secret(SecretId=arn)
    assert described["RotationRules"] == rules
    assert described["RotationLambdaARN"] == function_arn
    assert service_events(dev_server, arn) == ["RotationStarted", "RotationSucceeded"] * 2


def test_a_failing_test_step_leaves_the_secret_current_and_is_retried(
    dev_server, sm, lam, rotator_role
):
    function_arn = rotation_function(lam, rotator_role, FAIL_TEST="1")
    arn = new_secret(sm)
    pending = sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn)["VersionId"]
    wait_for(lambda: "RotationFailed" in service_events(dev_server, arn))
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "first value"
    assert stages(sm, arn)[pending] == ["AWSPENDING"]
    assert "LastRotatedDate" not in sm.describe_secret(SecretId=arn)
    # While it is under way, another rotation is refused, and this one tried again.
    assert error_of(lambda: sm.rotate_secret(SecretId=arn)) == (
        "InvalidRequestException",
        IN_PROGRESS,
        400,
    )
    # The attempt that answer promised runs (and fails, the function unchanged).
    wait_for(lambda: service_events(dev_server, arn).count("RotationFailed") == 2)
    lam.update_function_configuration(
        FunctionName=function_arn, Environment={"Variables": {"FAIL_TEST": "0"}}
    )
    assert error_of(lambda: sm.rotate_secret(SecretId=arn))[1] == IN_PROGRESS
    wait_for(lambda: "AWSCURRENT" in stages(sm, arn).get(pending, []))
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == (
        "first value"
    )
    names = service_events(dev_server, arn)
    assert names[0] == "RotationStarted" and names[-1] == "RotationSucceeded"
    assert names.count("RotationStarted") == 1 and "RotationFailed" in names


def test_a_new_value_made_current_by_hand_abandons_the_rotation(dev_server, sm, lam, rotator_role):
    function_arn = rotation_function(lam, rotator_role, FAIL_TEST="1")
    arn = new_secret(sm)
    pending = sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn)["VersionId"]
    wait_for(lambda: "RotationFailed" in service_events(dev_server, arn))
    sm.put_secret_value(SecretId=arn, SecretString="set by hand")
    assert pending not in stages(sm, arn)
    assert "AWSPENDING" not in json.dumps(stages(sm, arn))
    assert service_events(dev_server, arn)[-1] == "RotationAbandoned"
    # The next rotation can start.
    lam.update_function_configuration(
        FunctionName=function_arn, Environment={"Variables": {"FAIL_TEST": "0"}}
    )
    version = sm.rotate_secret(SecretId=arn)["VersionId"]
    wait_for(lambda: "AWSCURRENT" in stages(sm, arn).get(version, []))


def test_rotate_immediately_false_only_tests_the_function(dev_server, sm, lam, rotator_role):
    function_arn = rotation_function(lam, rotator_role)
    arn = new_secret(sm)
    rules = {"AutomaticallyAfterDays": 7}
    sm.rotate_secret(
        SecretId=arn, RotationLambdaARN=function_arn, RotationRules=rules, RotateImmediately=False
    )
    name = function_arn.rsplit(":", 1)[1]
    logs = dev_server.client("logs")

    def tested() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return any(e["message"] == "testSecret: done" for e in found)

    wait_for(tested)
    wait_for(lambda: "AWSPENDING" not in json.dumps(stages(sm, arn)))
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "first value"
    described = sm.describe_secret(SecretId=arn)
    assert described["RotationEnabled"] is True and "LastRotatedDate" not in described
    today = datetime.now(UTC).date()
    opens = described["NextRotationDate"].astimezone(UTC).date()
    assert opens == today + timedelta(days=7)
    assert service_events(dev_server, arn) == []


def test_cancel_rotate_secret_turns_rotation_off(dev_server, sm, lam, rotator_role):
    function_arn = rotation_function(lam, rotator_role)
    arn = new_secret(sm)
    sm.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=function_arn,
        RotationRules={"AutomaticallyAfterDays": 7},
        RotateImmediately=False,
    )
    answer = sm.cancel_rotate_secret(SecretId=arn)
    assert answer["ARN"] == arn
    described = sm.describe_secret(SecretId=arn)
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described
    assert described["RotationLambdaARN"] == function_arn  # kept, for the next RotateSecret


def test_rotation_needs_a_function_secrets_manager_may_invoke(dev_server, sm, lam, rotator_role):
    arn = new_secret(sm)
    before = sm.describe_secret(SecretId=arn)
    assert error_of(lambda: sm.rotate_secret(SecretId=arn)) == (
        "InvalidRequestException",
        NO_FUNCTION,
        400,
    )
    # A function whose policy does not let Secrets Manager invoke it.
    name = unique("no-permission")
    unpermitted = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=rotator_role,
        Handler="app.handler",
        Code={"ZipFile": package(ROTATOR)},
    )["FunctionArn"]
    assert error_of(lambda: sm.rotate_secret(SecretId=arn, RotationLambdaARN=unpermitted)) == (
        "AccessDeniedException",
        CANNOT_INVOKE,
        400,
    )
    missing = unpermitted.replace(name, unique("missing"))
    assert error_of(lambda: sm.rotate_secret(SecretId=arn, RotationLambdaARN=missing))[1] == (
        CANNOT_INVOKE
    )
    after = sm.describe_secret(SecretId=arn)
    assert after == before | {"ResponseMetadata": after["ResponseMetadata"]}


@pytest.mark.parametrize(
    "rules",
    [
        {"AutomaticallyAfterDays": 30, "ScheduleExpression": "rate(30 days)"},
        {"ScheduleExpression": "rate(2 hours)"},
        {"ScheduleExpression": "cron(0 * * * ? *)"},
        {"ScheduleExpression": "every tuesday"},
        {"AutomaticallyAfterDays": 3, "Duration": "25h"},
    ],
)
def test_invalid_rotation_rules_get_invalid_parameter(dev_server, sm, lam, rotator_role, rules):
    function_arn = rotation_function(lam, rotator_role)
    arn = new_secret(sm)
    with pytest.raises(ClientError) as refused:
        sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn, RotationRules=rules)
    error = refused.value.response["Error"]
    assert error["Code"] in {"InvalidParameterException", "ValidationException"}
    described = sm.describe_secret(SecretId=arn)
    assert described["RotationEnabled"] is False and "RotationLambdaARN" not in described
