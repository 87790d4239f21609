"""Lambda functions for tests: deployment packages and execution roles."""

from __future__ import annotations

import io
import json
import textwrap
import uuid
import zipfile
from typing import Any

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def package(source: str, name: str = "app.py") -> bytes:
    """A deployment package (zip) holding `source` as `name`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


def execution_role(iam: Any, *statements: dict[str, Any]) -> str:
    """A new role Lambda may assume, allowed `statements` by an inline policy: its ARN."""
    name = unique("lambda-role")
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
            "Arn"
        ]
    )
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_role_policy(
            RoleName=name, PolicyName="function", PolicyDocument=json.dumps(document)
        )
    return arn


# A rotation function in the shape of AWS's rotation templates (each step idempotent).
ROTATOR = """
import os
import secrets

import boto3


def handler(event, context):
    client = boto3.client("secretsmanager")
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    versions = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation.")
    if step == "createSecret":
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            client.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString=secrets.token_urlsafe(32),
                VersionStages=["AWSPENDING"],
            )
    elif step == "testSecret":
        pending = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        if os.environ.get("FAIL_TEST") == "1" or not pending["SecretString"]:
            raise RuntimeError("the new credentials do not work")
    elif step == "finishSecret":
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        client.update_secret_version_stage(
            SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
            RemoveFromVersionId=current,
        )
    print(f"{step}: done")
"""
ROTATOR_PERMISSIONS = {
    "Effect": "Allow",
    "Action": [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ],
    "Resource": "*",
}


def rotation_function(lam: Any, role: str, **environment: str) -> str:
    """A new rotation function that Secrets Manager may invoke: its ARN."""
    name = unique("rotator")
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": package(ROTATOR)},
        Timeout=60,
        Environment={"Variables": environment},
    )["FunctionArn"]
    lam.add_permission(
        FunctionName=name,
        StatementId="SecretsManagerAccess",
        Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
    )
    return str(arn)
