"""Lambda through a real server with boto3 and the aws CLI, on SQLite and PostgreSQL: functions
(create, read, list, update, delete) and their waiters, bad input with AWS's errors, resource
policies as AddPermission builds them, tags, and invocations that run the handler in its
sandbox with its execution role's credentials: results, errors, log tails, the log group, and
calls back into Strongroom that the role's policies decide."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.config import Config

from tests.support.functions import LAMBDA_TRUST, package, unique
from tests.support.kms import aws_error
from tests.support.server import REGION
from tests.support.storage import storage, storage_view

ACCOUNT = "123456789012"
ECHO = """
def handler(event, context):
    print("event received:", event)
    return {"echo": event, "function": context.function_name}
"""
FAILING = """
def handler(event, context):
    raise ValueError("it went wrong")
"""
READ_SECRET = """
import boto3

def handler(event, context):
    client = boto3.client("secretsmanager")
    try:
        return {"value": client.get_secret_value(SecretId=event["secret"])["SecretString"]}
    except client.exceptions.ClientError as error:
        return {"error": error.response["Error"]["Code"]}
"""
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture(scope="module")
def lam(dev_server):
    return dev_server.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture(scope="module")
def iam(dev_server):
    return dev_server.client("iam")


@pytest.fixture(scope="module")
def role(iam) -> str:
    name = unique("lambda-role")
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
            "Arn"
        ]
    )


@pytest.fixture
def function(lam, role) -> dict[str, Any]:
    return new_function(lam, role, ECHO)


def new_function(lam: Any, role: str, source: str, **params: Any) -> dict[str, Any]:
    params.setdefault("Runtime", "python3.12")
    params.setdefault("Handler", "app.handler")
    created: dict[str, Any] = lam.create_function(
        FunctionName=params.pop("FunctionName", unique()),
        Role=role,
        Code={"ZipFile": package(source)},
        **params,
    )
    return created


# Functions


def test_create_answers_the_configuration_lambda_answers(lam, role):
    name = unique()
    code = package(ECHO)
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code},
        Description="echoes",
        Environment={"Variables": {"STAGE": "test"}},
        Tags={"team": "platform"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert (created["Runtime"], created["Role"], created["Handler"]) == (
        "python3.12",
        role,
        "app.handler",
    )
    assert (created["Timeout"], created["MemorySize"]) == (3, 128)
    assert created["CodeSha256"] == sha256(code)
    assert created["CodeSize"] == len(code)
    assert created["Version"] == "$LATEST"
    assert created["State"] == "Active"
    assert created["LastUpdateStatus"] == "Successful"
    assert created["PackageType"] == "Zip"
    assert created["Environment"] == {"Variables": {"STAGE": "test"}}
    assert created["Description"] == "echoes"
    assert len(created["RevisionId"]) == 36

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Tags"] == {"team": "platform"}
    assert lam.get_function_configuration(FunctionName=created["FunctionArn"])["CodeSha256"] == (
        sha256(code)
    )
    assert lam.list_tags(Resource=created["FunctionArn"])["Tags"] == {"team": "platform"}


def test_waiters_pass_at_once(lam, function):
    name = function["FunctionName"]
    for waiter in ("function_exists", "function_active_v2", "function_updated_v2"):
        lam.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"MaxAttempts": 1})
    lam.update_function_configuration(FunctionName=name, Timeout=10)
    lam.get_waiter("function_updated").wait(FunctionName=name, WaiterConfig={"MaxAttempts": 1})


def test_list_functions_pages_with_markers(lam, role, dev_server):
    # An account of its own, so that other tests' functions do not share the listing.
    owner = dev_server.client("lambda")
    names = sorted(new_function(owner, role, ECHO)["FunctionName"] for _ in range(3))
    listed: list[str] = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        listed += [f["FunctionName"] for f in page["Functions"]]
    assert set(names) <= set(listed)
    assert listed == sorted(listed)


def test_updates_change_code_and_configuration(lam, role, function):
    name = function["FunctionName"]
    new_code = package(ECHO.replace("event received", "event seen"))
    updated = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert updated["CodeSha256"] == sha256(new_code)
    assert updated["RevisionId"] != function["RevisionId"]
    changed = lam.update_function_configuration(
        FunctionName=name,
        Timeout=60,
        MemorySize=256,
        Description="changed",
        Environment={"Variables": {"MODE": "1"}},
        RevisionId=updated["RevisionId"],
    )
    assert (changed["Timeout"], changed["MemorySize"], changed["Description"]) == (
        60,
        256,
        "changed",
    )
    assert changed["Environment"] == {"Variables": {"MODE": "1"}}
    assert changed["CodeSha256"] == sha256(new_code)
    with aws_error("PreconditionFailedException", 412):
        lam.update_function_configuration(
            FunctionName=name, Timeout=5, RevisionId=updated["RevisionId"]
        )
    cleared = lam.update_function_configuration(FunctionName=name, Environment={"Variables": {}})
    assert "Environment" not in cleared


def test_delete_removes_the_function(lam, function):
    name = function["FunctionName"]
    deleted = lam.delete_function(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    message = f"Function not found: {function['FunctionArn']}"
    with aws_error("ResourceNotFoundException", 404, message):
        lam.get_function(FunctionName=name)
    with aws_error("ResourceNotFoundException", 404, message):
        lam.delete_function(FunctionName=name)


def test_code_and_environment_are_ciphertext_in_storage(lam, role, dev_server):
    marker = uuid.uuid4().hex
    created = new_function(
        lam,
        role,
        ECHO.replace("event received", f"marker {marker}"),
        Environment={"Variables": {"DB_PASSWORD": f"pw-{marker}"}},
    )
    with storage(storage_view(dev_server)) as engine, engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT * FROM lambda_functions WHERE name = :name"),
            {"name": created["FunctionName"]},
        ).one()
    stored = repr(tuple(row))
    assert marker not in stored
    # The zip stores app.py uncompressed here: the plaintext would show if it were kept.
    assert b"def handler" not in row.code_blob


# Bad input: AWS's errors, and nothing changes


def test_bad_input_gets_the_errors_aws_answers(lam, iam, role, dev_server):
    # A client that sends what boto3's own validation would refuse to send.
    raw = dev_server.client(
        "lambda", config=Config(parameter_validation=False, retries={"max_attempts": 1})
    )
    name = unique()
    code = {"ZipFile": package(ECHO)}
    create = {"FunctionName": name, "Role": role, "Handler": "app.handler", "Code": code}
    with aws_error("InvalidParameterValueException", 400):
        lam.create_function(Runtime="nodejs20.x", **create)
    with aws_error(
        "InvalidParameterValueException",
        400,
        "The runtime parameter of python3.8 is no longer supported for creating or updating "
        "AWS Lambda functions. We recommend you use the new runtime (python3.13) while creating "
        "or updating functions.",
    ):
        lam.create_function(Runtime="python3.8", **create)
    with aws_error(
        "ValidationException",
        400,
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    ):
        lam.create_function(Runtime="python3.12", Timeout=901, **create)
    with aws_error(
        "ValidationException",
        400,
        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10240",
    ):
        lam.create_function(Runtime="python3.12", MemorySize=10241, **create)
    with aws_error(
        "InvalidParameterValueException",
        400,
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: AWS_REGION",
    ):
        lam.create_function(
            Runtime="python3.12", Environment={"Variables": {"AWS_REGION": "x"}}, **create
        )
    with aws_error(
        "InvalidParameterValueException",
        400,
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    ):
        lam.create_function(Runtime="python3.12", **{**create, "Code": {"ZipFile": b"not a zip"}})
    with aws_error("InvalidParameterValueException", 400):
        lam.create_function(
            Runtime="python3.12",
            **{**create, "Code": {"S3Bucket": "code-bucket", "S3Key": "k.zip"}},
        )
    # Roles Lambda cannot assume: missing, or trusting someone else.
    missing_role = f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}"
    with aws_error("InvalidParameterValueException", 400, ROLE_NOT_ASSUMABLE):
        lam.create_function(Runtime="python3.12", **{**create, "Role": missing_role})
    other_trust = json.loads(json.dumps(LAMBDA_TRUST))
    other_trust["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}
    ec2_role = iam.create_role(
        RoleName=unique("ec2-role"), AssumeRolePolicyDocument=json.dumps(other_trust)
    )["Role"]["Arn"]
    with aws_error("InvalidParameterValueException", 400, ROLE_NOT_ASSUMABLE):
        lam.create_function(Runtime="python3.12", **{**create, "Role": ec2_role})
    with aws_error("ResourceNotFoundException", 404):
        lam.get_function(FunctionName=name)  # none of the above made it

    lam.create_function(Runtime="python3.12", **create)
    with aws_error("ResourceConflictException", 409, f"Function already exist: {name}"):
        lam.create_function(Runtime="python3.12", **create)
    with aws_error("ValidationException", 400):
        raw.update_function_configuration(FunctionName=name, Timeout=0)


def test_a_bad_invoke_payload_is_refused(lam, function):
    with aws_error("InvalidRequestContentException", 400):
        lam.invoke(FunctionName=function["FunctionName"], Payload=b"{not json")


# Resource policies


def test_add_permission_builds_the_policy_lambda_builds(lam, function):
    name, arn = function["FunctionName"], function["FunctionArn"]
    with aws_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
        lam.get_policy(FunctionName=name)
    secret_arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-*"
    added = lam.add_permission(
        FunctionName=name,
        StatementId="rotation",
        Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
        SourceArn=secret_arn,
        SourceAccount=ACCOUNT,
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = {
        "Sid": "rotation",
        "Effect": "Allow",
        "Principal": {"Service": "secretsmanager.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": ACCOUNT},
            "ArnLike": {"AWS:SourceArn": secret_arn},
        },
    }
    assert json.loads(added["Statement"]) == statement
    lam.add_permission(
        FunctionName=arn,
        StatementId="account",
        Action="lambda:GetFunction",
        Principal="111122223333",
    )
    policy = lam.get_policy(FunctionName=name)
    assert json.loads(policy["Policy"]) == {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [
            statement,
            {
                "Sid": "account",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "lambda:GetFunction",
                "Resource": arn,
            },
        ],
    }
    assert (
        policy["RevisionId"] == lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    )
    with aws_error(
        "ResourceConflictException",
        409,
        "The statement id (rotation) provided already exists. Please provide a new statement "
        "id, or remove the existing statement.",
    ):
        lam.add_permission(
            FunctionName=name,
            StatementId="rotation",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
        )
    lam.remove_permission(FunctionName=name, StatementId="rotation")
    lam.remove_permission(FunctionName=name, StatementId="account")
    with aws_error("ResourceNotFoundException", 404):
        lam.remove_permission(FunctionName=name, StatementId="account")
    with aws_error("ResourceNotFoundException", 404):
        lam.get_policy(FunctionName=name)


def test_a_policy_has_a_size_limit(lam, function):
    name = function["FunctionName"]
    with aws_error("PolicyLengthExceededException", 400):
        for number in range(100):
            lam.add_permission(
                FunctionName=name,
                StatementId=f"statement-{number:03d}-" + "x" * 80,
                Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com",
                SourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/" + "r" * 60,
            )


def test_tags(lam, function):
    arn = function["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}


# Invocations


def test_invoke_returns_the_handlers_result_and_the_log_tail(lam, dev_server, function):
    name = function["FunctionName"]
    reply = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 1}), LogType="Tail")
    assert reply["StatusCode"] == 200
    assert reply["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in reply
    assert json.loads(reply["Payload"].read()) == {"echo": {"n": 1}, "function": name}
    tail = base64.b64decode(reply["LogResult"]).decode()
    assert "event received: {'n': 1}" in tail
    assert "REPORT RequestId:" in tail

    logs = dev_server.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    assert streams[0]["logStreamName"].endswith(tuple("0123456789abcdef"))
    assert "/[$LATEST]" in streams[0]["logStreamName"]
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert any("event received: {'n': 1}" in m for m in messages)


def test_an_error_in_the_handler_is_an_unhandled_function_error(lam, role):
    name = new_function(lam, role, FAILING)["FunctionName"]
    reply = lam.invoke(FunctionName=name, Payload=b"{}")
    assert reply["StatusCode"] == 200
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(reply["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "it went wrong")


def test_event_and_dry_run_invocations(lam, function):
    name = function["FunctionName"]
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == (
        202
    )


def test_a_function_calls_strongroom_with_its_roles_permissions(lam, iam, dev_server):
    secrets = dev_server.client("secretsmanager")
    secret = secrets.create_secret(Name=unique("lambda-secret"), SecretString="s3cr3t")
    readers = []
    for allowed in (True, False):
        name = unique("reader-role")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        if allowed:
            iam.put_role_policy(
                RoleName=name,
                PolicyName="read",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": secret["ARN"],
                            }
                        ],
                    }
                ),
            )
        role_arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        readers.append(new_function(lam, role_arn, READ_SECRET, Timeout=60)["FunctionName"])
    event = json.dumps({"secret": secret["ARN"]})
    allowed_reply = lam.invoke(FunctionName=readers[0], Payload=event)
    assert json.loads(allowed_reply["Payload"].read()) == {"value": "s3cr3t"}
    denied_reply = lam.invoke(FunctionName=readers[1], Payload=event)
    assert json.loads(denied_reply["Payload"].read()) == {"error": "AccessDeniedException"}


# The aws CLI


def test_aws_cli_creates_a_function_from_a_zip_file(dev_server, role, tmp_path):
    path = tmp_path / "function.zip"
    path.write_bytes(package(ECHO))
    name = unique("cli")
    command = [
        "aws",
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "python3.12",
        "--role",
        role,
        "--handler",
        "app.handler",
        "--zip-file",
        f"fileb://{path}",
    ]
    env = {**os.environ, **dev_server.env()}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["FunctionName"] == name
    assert created["CodeSha256"] == sha256(path.read_bytes())
