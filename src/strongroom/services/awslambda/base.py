"""What every group of Lambda operations shares: finding the function a caller names, its
stored configuration, and its code and environment variables through the barrier."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam.evaluation import (
    Request,
    ServicePrincipal,
    compile_document,
    evaluate,
    request_context,
)
from strongroom.iam.policy import PolicyKind
from strongroom.services.awslambda import errors as e
from strongroom.services.awslambda import runtime
from strongroom.services.awslambda.model import (
    LATEST,
    SERVICE_PRINCIPAL,
    Configuration,
    FunctionName,
    LambdaFunction,
    evaluated_policy,
    parse_function_name,
)
from strongroom.services.context import RequestContext
from strongroom.services.logs.service import Logs
from strongroom.storage.awslambda import LambdaRepository
from strongroom.storage.iam import IamRepository

FUNCTION_RESOURCE = "AWS::Lambda::Function"
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
_BACKGROUND_INVOCATIONS = 4
_SAME_POLICY: Any = object()  # _store's default: the policy stays as it is
_ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/(?:[!-~]*/)?([\w+=,.@-]+)")


class LambdaBase:
    def __init__(
        self,
        repository: LambdaRepository,
        iam: IamRepository,
        logs: Logs,
        barrier: Barrier,
        clock: Clock,
        endpoint: runtime.Endpoint,
        data_dir: Path,
    ) -> None:
        self._repository = repository
        self._iam = iam
        self._logs = logs
        self._barrier = barrier
        self._clock = clock
        self._endpoint = endpoint
        self._data_dir = data_dir  # which no function may read
        # Event invocations run here, after their call is recorded (not durable: a restart
        # loses those not yet run).
        self._background = ThreadPoolExecutor(
            _BACKGROUND_INVOCATIONS, thread_name_prefix="lambda-event"
        )

    def _name(self, ctx: RequestContext, text: str) -> FunctionName:
        target = parse_function_name(text, ctx.account_id, ctx.region)
        if target is None:
            ctx.authorize("*")
            raise e.InvalidParameterValueException(f"Invalid function name: {text}")
        return target

    def _find(
        self,
        ctx: RequestContext,
        function_name: str,
        qualifier: str | None = None,
        *,
        action: str | None = None,
        arn_only: bool = False,
    ) -> LambdaFunction:
        """The function the caller names, once the caller may act on it: its resource policy
        takes part. A caller who may not learns nothing, not even whether it exists."""
        target = self._name(ctx, function_name)
        if arn_only and not function_name.startswith("arn:"):
            ctx.authorize("*", action=action)
            raise e.InvalidParameterValueException(f"Invalid resource ARN: {function_name}")
        if qualifier is not None and target.qualifier not in (None, qualifier):
            ctx.authorize(target.arn, action=action, resource_account=target.account_id)
            raise e.InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        qualifier = qualifier or target.qualifier
        function = (
            self._repository.function(target.account_id, target.region, target.name)
            if target.region == ctx.region
            else None
        )
        ctx.authorize(
            target.arn,
            action=action,
            resource_policy=(
                evaluated_policy(function.policy)
                if function is not None and function.policy is not None
                else None
            ),
            resource_account=target.account_id,
        )
        if function is None or qualifier not in (None, LATEST):
            suffix = f":{qualifier}" if qualifier is not None else ""
            raise e.ResourceNotFoundException(f"Function not found: {target.arn}{suffix}")
        ctx.note_resource(FUNCTION_RESOURCE, function.arn)
        return function

    def _pass_role(self, ctx: RequestContext, role_arn: str) -> None:
        """AWS checks that the caller may pass the execution role to Lambda."""
        ctx.authorize(
            role_arn,
            action="iam:PassRole",
            conditions={"iam:PassedToService": SERVICE_PRINCIPAL},
        )

    def _assumable_role(self, account_id: str, role_arn: str) -> Any:
        """The execution role, if it is the account's and its trust policy lets Lambda
        assume it."""
        match = _ROLE_ARN.fullmatch(role_arn)
        role = self._iam.role(match[1], match[2]) if match and match[1] == account_id else None
        if role is None or role.arn != role_arn:
            raise e.InvalidParameterValueException(ROLE_NOT_ASSUMABLE)
        decision = evaluate(
            Request(
                ServicePrincipal(SERVICE_PRINCIPAL),
                "sts:AssumeRole",
                role.arn,
                request_context({"aws:SourceAccount": account_id}),
            ),
            key_policy=compile_document(role.trust_policy, PolicyKind.TRUST),
            resource_account=role.account_id,
        )
        if not decision.allowed:
            raise e.InvalidParameterValueException(ROLE_NOT_ASSUMABLE)
        return role

    def _store(
        self,
        function: LambdaFunction,
        *,
        configuration: Configuration | None = None,
        variables: dict[str, str] | None = None,
        code: bytes | None = None,
        policy: str | None = _SAME_POLICY,
        tags: dict[str, str] | None = None,
        new_revision: bool = True,
    ) -> LambdaFunction:
        """Store a change to the function as it was read; a concurrent change in between is
        Lambda's ResourceConflictException."""
        updated = replace(
            function,
            revision_id=str(uuid.uuid4()) if new_revision else function.revision_id,
            configuration=configuration or function.configuration,
            policy=function.policy if policy is _SAME_POLICY else policy,
            tags=function.tags if tags is None else tags,
        )
        if variables is not None:
            updated = replace(
                updated,
                environment_blob=self._seal_variables(
                    function.function_id, function.arn, variables
                ),
            )
        code_blob = self._seal_code(updated, code) if code is not None else None
        if not self._repository.replace(function.revision_id, updated, code_blob):
            raise e.ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {function.arn}"
            )
        return updated

    def _configuration(
        self, function: LambdaFunction, variables: dict[str, str] | None = None
    ) -> dict[str, Any]:
        c = function.configuration
        variables = self._open_variables(function) if variables is None else variables
        result: dict[str, Any] = {
            "FunctionName": function.name,
            "FunctionArn": function.arn,
            "Runtime": c.runtime,
            "Role": c.role,
            "Handler": c.handler,
            "CodeSize": c.code_size,
            "Description": c.description,
            "Timeout": c.timeout,
            "MemorySize": c.memory_size,
            "LastModified": c.last_modified,
            "CodeSha256": c.code_sha256,
            "Version": LATEST,
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": function.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": function.log_group},
        }
        if variables:
            result["Environment"] = {"Variables": variables}
        return result

    def _now_text(self) -> str:
        moment = datetime.fromtimestamp(self._clock.time(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"

    # The barrier: code bound to its function and hash, variables to their function.

    def _seal_code(self, function: LambdaFunction, code: bytes) -> bytes:
        return self._barrier.encrypt(code, _code_aad(function, sha256_of(code)))

    def _current_code(self, function: LambdaFunction) -> tuple[LambdaFunction, bytes]:
        """The function as stored now, with its code (re-read if it changed meanwhile)."""
        for _ in range(3):
            blob = self._repository.code(function.function_id, function.revision_id)
            if blob is not None:
                aad = _code_aad(function, function.configuration.code_sha256)
                return function, self._barrier.decrypt(blob, aad)
            current = self._repository.function(function.account_id, function.region, function.name)
            if current is None or current.function_id != function.function_id:
                raise e.ResourceNotFoundException(f"Function not found: {function.arn}")
            function = current
        raise e.ResourceConflictException(
            f"The function {function.arn} changed while it was being invoked; try again."
        )

    def _seal_variables(self, function_id: str, arn: str, variables: dict[str, str]) -> bytes:
        document = json.dumps(variables, separators=(",", ":")).encode()
        return self._barrier.encrypt(document, _variables_aad(function_id, arn))

    def _open_variables(self, function: LambdaFunction) -> dict[str, str]:
        aad = _variables_aad(function.function_id, function.arn)
        variables: dict[str, str] = json.loads(
            self._barrier.decrypt(function.environment_blob, aad)
        )
        return variables


def _code_aad(function: LambdaFunction, sha256: str) -> bytes:
    place = ["lambda_functions", function.function_id, function.arn, "code", sha256]
    return json.dumps(place).encode()


def _variables_aad(function_id: str, arn: str) -> bytes:
    return json.dumps(["lambda_functions", function_id, arn, "environment"]).encode()


def sha256_of(code: bytes) -> str:
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def check_revision(function: LambdaFunction, revision_id: str | None) -> None:
    if revision_id is not None and revision_id != function.revision_id:
        raise e.PreconditionFailedException(REVISION_MISMATCH)
