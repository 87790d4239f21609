"""Lambda functions as Strongroom keeps them, and Lambda's rules about them."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from strongroom.iam.policy import without_statement_ids

LATEST = "$LATEST"
DEFAULT_TIMEOUT = 3
MAX_TIMEOUT = 900
DEFAULT_MEMORY = 128
MAX_MEMORY = 10240
MAX_ENVIRONMENT_BYTES = 4096
MAX_POLICY_BYTES = 20480
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 256 * 1024
MAX_TAGS = 50
DEFAULT_LIST_ITEMS = 50
LOG_TAIL_BYTES = 4096
SERVICE_PRINCIPAL = "lambda.amazonaws.com"
# The Python runtimes that run here; older ones AWS no longer lets anyone create or update.
RUNTIMES = frozenset({"python3.9", "python3.10", "python3.11", "python3.12", "python3.13"})
DEPRECATED_RUNTIMES = frozenset({"python2.7", "python3.6", "python3.7", "python3.8"})
NEWEST_RUNTIME = "python3.13"
# Environment variables the Lambda runtime sets itself (AWS refuses them).
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
# What FunctionName may be: a name, a partial ARN (ACCOUNT:function:NAME) or an ARN, each
# with an optional qualifier.
_FUNCTION_NAME = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)


@dataclass(frozen=True)
class FunctionName:
    """What a FunctionName member names."""

    account_id: str
    region: str
    name: str
    qualifier: str | None

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)


# Function names (in every account) that stand for Strongroom's built-in secret rotators.
BUILT_IN_ROTATOR_PREFIX = "strongroom-rotation-"


def parse_function_name(text: str, account_id: str, region: str) -> FunctionName | None:
    """The function `text` names in the caller's account and Region unless it says otherwise;
    None when it is no function name."""
    match = _FUNCTION_NAME.fullmatch(text)
    if match is None:
        return None
    return FunctionName(
        match["account"] or account_id,
        match["region"] or region,
        match["name"],
        match["qualifier"],
    )


def function_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


@dataclass(frozen=True)
class Configuration:
    """What GetFunctionConfiguration shows besides the environment variables."""

    runtime: str
    role: str
    handler: str
    description: str
    timeout: int
    memory_size: int
    code_sha256: str
    code_size: int
    last_modified: str  # as Lambda writes it: 2024-05-01T10:00:00.000+0000

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Configuration:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class LambdaFunction:
    function_id: str
    account_id: str
    region: str
    name: str
    revision_id: str
    configuration: Configuration
    environment_blob: bytes = field(repr=False)
    policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


def policy_statement(
    statement_id: str,
    action: str,
    principal: str,
    resource: str,
    source_arn: str | None,
    source_account: str | None,
    principal_org_id: str | None,
    event_source_token: str | None,
    function_url_auth_type: str | None,
) -> dict[str, Any]:
    """The statement AddPermission adds to a function's policy, as Lambda writes it."""
    statement: dict[str, Any] = {
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": _principal(principal),
        "Action": action,
        "Resource": resource,
    }
    equals: dict[str, str] = {}
    if source_account is not None:
        equals["AWS:SourceAccount"] = source_account
    if principal_org_id is not None:
        equals["aws:PrincipalOrgID"] = principal_org_id
    if event_source_token is not None:
        equals["lambda:EventSourceToken"] = event_source_token
    if function_url_auth_type is not None:
        equals["lambda:FunctionUrlAuthType"] = function_url_auth_type
    condition: dict[str, Any] = {}
    if equals:
        condition["StringEquals"] = equals
    if source_arn is not None:
        condition["ArnLike"] = {"AWS:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return statement


def _principal(principal: str) -> str | dict[str, str]:
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def policy_document(statements: list[dict[str, Any]]) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Id": "default", "Statement": statements},
        separators=(",", ":"),
    )


def statements_of(policy: str | None) -> list[dict[str, Any]]:
    if policy is None:
        return []
    statements: list[dict[str, Any]] = json.loads(policy)["Statement"]
    return statements


def evaluated_policy(policy: str) -> str:
    """The policy as the evaluator reads it: without statement ids, which Lambda lets hold
    '-', '_' and '.' (IAM's grammar does not) and which take no part in a decision."""
    return without_statement_ids(policy)
