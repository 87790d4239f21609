"""The source document's "Automated Key Rotation" section verbatim: its `lambda_handler` zipped
and created as a function, its EventBridge rule `rate(90 days)` and target made by its own aws
CLI commands; 90 days on the clock of a `--dev` server fire the rule once, and both secrets
get new values (AWSPREVIOUS keeps the old ones). And step 1 of its "Secret Compromise
Response", `aws secretsmanager rotate-secret`, with and without a rotation function."""

from __future__ import annotations

import json
import time

from tests.integration.test_seed_kms import run_shell
from tests.support.functions import (
    ROTATOR_PERMISSIONS,
    execution_role,
    package,
    rotation_function,
)
from tests.support.operator import post
from tests.support.server import Server

LAMBDA_FUNCTION = '''
import boto3
import json
import secrets

def lambda_handler(event, context):
    """Rotate AlphaVox secrets every 90 days."""
    
    client = boto3.client('secretsmanager')
    
    # Rotate JWT secret
    new_jwt_secret = secrets.token_urlsafe(32)
    client.update_secret(
        SecretId='alphavox/jwt-secret',
        SecretString=new_jwt_secret
    )
    
    # Rotate HIPAA encryption key
    new_hipaa_key = secrets.token_urlsafe(32)
    client.update_secret(
        SecretId='alphavox/hipaa-encryption-key',
        SecretString=new_hipaa_key
    )
    
    return {
        'statusCode': 200,
        'body': json.dumps('Secrets rotated successfully')
    }
'''  # noqa: W293 - the document's blank lines hold spaces

SCHEDULE = """
# Create EventBridge rule for 90-day rotation
aws events put-rule \\
    --name "alphavox-key-rotation" \\
    --schedule-expression "rate(90 days)" \\
    --description "Rotate AlphaVox secrets every 90 days"

# Add Lambda target
aws events put-targets \\
    --rule "alphavox-key-rotation" \\
    --targets "Id"="1","Arn"="arn:aws:lambda:region:account:function:alphavox-rotate-secrets"
"""

EMERGENCY = """
# 1. Immediately rotate compromised secret
aws secretsmanager rotate-secret --secret-id alphavox/admin-credentials
"""
SECRETS = ("alphavox/jwt-secret", "alphavox/hipaa-encryption-key")
NINETY_DAYS = 90 * 86400


def shell(server: Server, script: str):
    """`script` as a user runs it against this dev server, after `strongroom env --dev`."""
    env = f'eval "$(strongroom env --dev --port {server.port})"\n'
    return run_shell(env + script, str(server.data_dir))


def current_values(sm) -> dict[str, str]:
    return {name: sm.get_secret_value(SecretId=name)["SecretString"] for name in SECRETS}


def test_the_90_day_rule_fires_once_and_rotates_both_secrets(own_dev_server):
    server = own_dev_server
    sm = server.client("secretsmanager")
    for name in SECRETS:
        sm.create_secret(Name=name, SecretString=f"before {name}")
    before = current_values(sm)
    role = execution_role(
        server.client("iam"),
        {"Effect": "Allow", "Action": "secretsmanager:UpdateSecret", "Resource": "*"},
    )
    lam = server.client("lambda")
    lam.create_function(
        FunctionName="alphavox-rotate-secrets",
        Runtime="python3.12",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": package(LAMBDA_FUNCTION, "lambda_function.py")},
    )
    done = shell(server, SCHEDULE)
    assert done.returncode == 0, done.stderr
    first_end = done.stdout.index("}") + 1  # two documents: put-rule's, put-targets'
    put_rule, put_targets = json.loads(done.stdout[:first_end]), json.loads(done.stdout[first_end:])
    events = server.client("events")
    rule = events.describe_rule(Name="alphavox-key-rotation")
    assert put_rule == {"RuleArn": rule["Arn"]}
    assert put_targets == {"FailedEntryCount": 0, "FailedEntries": []}
    assert rule["ScheduleExpression"] == "rate(90 days)" and rule["State"] == "ENABLED"
    assert rule["Description"] == "Rotate AlphaVox secrets every 90 days"
    assert events.list_targets_by_rule(Rule="alphavox-key-rotation")["Targets"] == [
        {"Id": "1", "Arn": "arn:aws:lambda:region:account:function:alphavox-rotate-secrets"}
    ]
    # What the console adds for the rule: EventBridge may invoke the function for it.
    lam.add_permission(
        FunctionName="alphavox-rotate-secrets",
        StatementId="alphavox-key-rotation",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule["Arn"],
    )
    time.sleep(3)
    assert current_values(sm) == before  # not before its time

    status, _ = post(server, "/_strongroom/dev/clock", {"advance_seconds": NINETY_DAYS + 60})
    assert status == 200
    deadline = time.monotonic() + 60
    while any(value == before[name] for name, value in current_values(sm).items()):
        assert time.monotonic() < deadline, "the rule did not fire"
        time.sleep(0.25)
    time.sleep(3)  # time enough for a second firing, if there were one
    for name in SECRETS:
        versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
        assert len(versions) == 2, versions  # fired once
        previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
        assert previous["SecretString"] == before[name]
    logs = server.client("logs").filter_log_events(
        logGroupName="/aws/lambda/alphavox-rotate-secrets"
    )["events"]
    assert sum(e["message"].startswith("START RequestId") for e in logs) == 1


def test_the_emergency_rotation_needs_a_rotation_function(own_dev_server):
    server = own_dev_server
    sm = server.client("secretsmanager")
    name = "alphavox/admin-credentials"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "admin"}))
    refused = shell(server, EMERGENCY)
    assert refused.returncode != 0
    assert (
        "An error occurred (InvalidRequestException) when calling the RotateSecret operation: "
        "No Lambda rotation function ARN is associated with this secret." in refused.stderr
    )
    # Once a rotation function is configured, the same command rotates the secret with it.
    role = execution_role(server.client("iam"), ROTATOR_PERMISSIONS)
    function_arn = rotation_function(server.client("lambda"), role)
    first = sm.rotate_secret(SecretId=name, RotationLambdaARN=function_arn)["VersionId"]
    wait_until_current(sm, name, first)
    rotated = shell(server, EMERGENCY)
    assert rotated.returncode == 0, rotated.stderr
    wait_until_current(sm, name, json.loads(rotated.stdout)["VersionId"])


def wait_until_current(sm, name: str, version_id: str) -> None:
    deadline = time.monotonic() + 60
    while "AWSCURRENT" not in sm.describe_secret(SecretId=name)["VersionIdsToStages"].get(
        version_id, []
    ):
        assert time.monotonic() < deadline, "the rotation did not finish"
        time.sleep(0.25)
