"""AWS Lambda, the subset rotation and schedules need: functions (Python runtimes, zip
packages), their configuration, code, resource policy and tags, and invocations, per account
and Region.

A function is Active and its last update Successful at once (nothing is provisioned), so
boto3's waiters pass. Code and environment variables pass the barrier (either may embed
secrets). An invocation runs in the sandbox of `runtime.py` with temporary credentials of the
function's execution role, as STS would issue them for a role session named after the function,
and its output goes to the log group /aws/lambda/NAME.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from strongroom.auth import sessions
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam.conditions import ContextValue
from strongroom.iam.evaluation import (
    Request,
    ServicePrincipal,
    compile_document,
    evaluate,
    request_context,
)
from strongroom.iam.policy import MalformedPolicy, PolicyKind
from strongroom.protocol.errors import NotImplementedYet
from strongroom.services.awslambda import errors as e
from strongroom.services.awslambda import runtime
from strongroom.services.awslambda.model import (
    BUILT_IN_ROTATOR_PREFIX,
    DEFAULT_LIST_ITEMS,
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    DEPRECATED_RUNTIMES,
    LATEST,
    LOG_TAIL_BYTES,
    MAX_ASYNC_PAYLOAD,
    MAX_ENVIRONMENT_BYTES,
    MAX_MEMORY,
    MAX_POLICY_BYTES,
    MAX_SYNC_PAYLOAD,
    MAX_TAGS,
    MAX_TIMEOUT,
    NEWEST_RUNTIME,
    RESERVED_VARIABLES,
    RUNTIMES,
    SERVICE_PRINCIPAL,
    Configuration,
    FunctionName,
    LambdaFunction,
    evaluated_policy,
    parse_function_name,
    policy_document,
    policy_statement,
    statements_of,
)
from strongroom.services.context import RequestContext
from strongroom.services.logs.service import Logs
from strongroom.storage.awslambda import FunctionExists, LambdaRepository
from strongroom.storage.iam import IamRepository

log = logging.getLogger("strongroom.lambda")

FUNCTION_RESOURCE = "AWS::Lambda::Function"
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
NO_POLICY = "The resource you requested does not exist."
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)
SID_EXISTS = (
    "The statement id ({}) provided already exists. Please provide a new statement id, or "
    "remove the existing statement."
)
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
RESERVED_KEYS = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided contains reserved keys that are currently not supported for "
    "modification. Reserved keys used in this request: {}"
)
ENVIRONMENT_TOO_LARGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided exceeded the 4KB limit."
)
RUNTIME_AND_HANDLER = (
    "Runtime and Handler are mandatory parameters for functions created with deployment packages."
)
DEPRECATED_RUNTIME = (
    "The runtime parameter of {} is no longer supported for creating or updating AWS Lambda "
    f"functions. We recommend you use the new runtime ({NEWEST_RUNTIME}) while creating or "
    "updating functions."
)
UNSUPPORTED_RUNTIME = (
    "The runtime parameter of {} is not supported by Strongroom, which runs Python functions "
    f"only ({', '.join(sorted(RUNTIMES))})."
)
S3_CODE = (
    "Strongroom does not support function code in S3 (S3Bucket, S3Key, S3ObjectVersion): "
    "upload the deployment package as ZipFile."
)
IMAGE_CODE = "Strongroom runs .zip deployment packages only: container images are not supported."
NO_CODE = "Please provide a source for function code."
NOT_JSON = "Could not parse request body into json: Could not parse payload into json"
# How long an invocation's role credentials outlive its timeout.
_CREDENTIALS_MARGIN = 300
_BACKGROUND_INVOCATIONS = 4
_SAME_POLICY: Any = object()  # _store's default: the policy stays as it is
_ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/(?:[!-~]*/)?([\w+=,.@-]+)")


class Lambda:
    def __init__(
        self,
        repository: LambdaRepository,
        iam: IamRepository,
        logs: Logs,
        barrier: Barrier,
        clock: Clock,
        endpoint: runtime.Endpoint,
    ) -> None:
        self._repository = repository
        self._iam = iam
        self._logs = logs
        self._barrier = barrier
        self._clock = clock
        self._endpoint = endpoint
        # Event invocations run here, after their call is recorded (not durable: a restart
        # loses those not yet run).
        self._background = ThreadPoolExecutor(
            _BACKGROUND_INVOCATIONS, thread_name_prefix="lambda-event"
        )

    # Functions

    def create_function(
        self,
        ctx: RequestContext,
        FunctionName: str,
        Role: str,
        Code: dict[str, Any],
        Runtime: str | None = None,
        Handler: str | None = None,
        Description: str = "",
        Timeout: int = DEFAULT_TIMEOUT,
        MemorySize: int = DEFAULT_MEMORY,
        Publish: bool = False,
        PackageType: str = "Zip",
        Environment: dict[str, Any] | None = None,
        Tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        target = self._name(ctx, FunctionName)
        ctx.authorize(target.arn, resource_account=target.account_id)
        if target.qualifier is not None or target.region != ctx.region:
            raise e.InvalidParameterValueException(
                "FunctionName must name an unqualified function in the Region of the request."
            )
        if target.name.startswith(BUILT_IN_ROTATOR_PREFIX):
            raise e.InvalidParameterValueException(
                f"Function names starting {BUILT_IN_ROTATOR_PREFIX} are reserved for "
                "Strongroom's built-in rotators."
            )
        self._pass_role(ctx, Role)
        _check_limits(Timeout, MemorySize)
        if PackageType != "Zip":
            raise e.InvalidParameterValueException(IMAGE_CODE)
        if Runtime is None or Handler is None:
            raise e.InvalidParameterValueException(RUNTIME_AND_HANDLER)
        _check_runtime(Runtime)
        variables = _variables(Environment)
        if len(Tags or {}) > MAX_TAGS:
            raise e.InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        code = _zip_file(Code)
        if Publish:
            raise NotImplementedYet("Strongroom does not publish function versions yet.")
        self._assumable_role(ctx.account_id, Role)
        function_id = uuid.uuid4().hex
        configuration = Configuration(
            runtime=Runtime,
            role=Role,
            handler=Handler,
            description=Description,
            timeout=Timeout,
            memory_size=MemorySize,
            code_sha256=_sha256(code),
            code_size=len(code),
            last_modified=self._now_text(),
        )
        function = LambdaFunction(
            function_id,
            ctx.account_id,
            ctx.region,
            target.name,
            str(uuid.uuid4()),
            configuration,
            self._seal_variables(function_id, target.arn, variables),
            tags=dict(Tags or {}),
        )
        try:
            self._repository.create(function, self._seal_code(function, code))
        except FunctionExists:
            raise e.ResourceConflictException(f"Function already exist: {target.name}") from None
        ctx.note_resource(FUNCTION_RESOURCE, function.arn)
        return self._configuration(function, variables)

    def get_function(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        result: dict[str, Any] = {
            "Configuration": self._configuration(function),
            # Lambda answers a presigned S3 URL; the code stays here behind the barrier.
            "Code": {"RepositoryType": "S3"},
        }
        if function.tags:
            result["Tags"] = function.tags
        return result

    def get_function_configuration(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        return self._configuration(self._find(ctx, FunctionName, Qualifier))

    def list_functions(
        self,
        ctx: RequestContext,
        FunctionVersion: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        ctx.authorize("*")
        after = _unmarker(Marker) if Marker is not None else None
        limit = min(MaxItems or DEFAULT_LIST_ITEMS, DEFAULT_LIST_ITEMS)
        found = self._repository.functions(ctx.account_id, ctx.region, after, limit + 1)
        page = found[:limit]
        result: dict[str, Any] = {"Functions": [self._configuration(f) for f in page]}
        if len(found) > limit:
            result["NextMarker"] = _marker(page[-1].name)
        return result

    def update_function_code(
        self,
        ctx: RequestContext,
        FunctionName: str,
        ZipFile: bytes | None = None,
        S3Bucket: str | None = None,
        S3Key: str | None = None,
        S3ObjectVersion: str | None = None,
        ImageUri: str | None = None,
        Publish: bool = False,
        DryRun: bool = False,
        RevisionId: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName)
        code = _zip_file(
            {
                "ZipFile": ZipFile,
                "S3Bucket": S3Bucket,
                "S3Key": S3Key,
                "S3ObjectVersion": S3ObjectVersion,
                "ImageUri": ImageUri,
            }
        )
        if Publish:
            raise NotImplementedYet("Strongroom does not publish function versions yet.")
        _check_revision(function, RevisionId)
        changed = replace(
            function.configuration,
            code_sha256=_sha256(code),
            code_size=len(code),
            last_modified=self._now_text(),
        )
        if DryRun:
            return self._configuration(replace(function, configuration=changed))
        updated = self._store(function, configuration=changed, code=code)
        return self._configuration(updated)

    def update_function_configuration(
        self,
        ctx: RequestContext,
        FunctionName: str,
        Role: str | None = None,
        Handler: str | None = None,
        Description: str | None = None,
        Timeout: int | None = None,
        MemorySize: int | None = None,
        Environment: dict[str, Any] | None = None,
        Runtime: str | None = None,
        RevisionId: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName)
        if Role is not None:
            self._pass_role(ctx, Role)
        current = function.configuration
        _check_limits(
            Timeout if Timeout is not None else current.timeout,
            MemorySize if MemorySize is not None else current.memory_size,
        )
        if Runtime is not None:
            _check_runtime(Runtime)
        variables = _variables(Environment) if Environment is not None else None
        if Role is not None:
            self._assumable_role(ctx.account_id, Role)
        _check_revision(function, RevisionId)
        changed = replace(
            current,
            role=Role if Role is not None else current.role,
            handler=Handler if Handler is not None else current.handler,
            description=Description if Description is not None else current.description,
            timeout=Timeout if Timeout is not None else current.timeout,
            memory_size=MemorySize if MemorySize is not None else current.memory_size,
            runtime=Runtime if Runtime is not None else current.runtime,
            last_modified=self._now_text(),
        )
        updated = self._store(function, configuration=changed, variables=variables)
        return self._configuration(updated)

    def delete_function(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        if (Qualifier or parse_qualifier(FunctionName)) == LATEST:
            raise e.InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if not self._repository.delete(function.function_id):
            raise e.ResourceNotFoundException(f"Function not found: {function.arn}")
        return {"StatusCode": 204}

    # Resource policy

    def add_permission(
        self,
        ctx: RequestContext,
        FunctionName: str,
        StatementId: str,
        Action: str,
        Principal: str,
        SourceArn: str | None = None,
        SourceAccount: str | None = None,
        EventSourceToken: str | None = None,
        Qualifier: str | None = None,
        RevisionId: str | None = None,
        PrincipalOrgID: str | None = None,
        FunctionUrlAuthType: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        _check_revision(function, RevisionId)
        statements = statements_of(function.policy)
        if any(s.get("Sid") == StatementId for s in statements):
            raise e.ResourceConflictException(SID_EXISTS.format(StatementId))
        statement = policy_statement(
            StatementId,
            Action,
            Principal,
            function.arn,
            SourceArn,
            SourceAccount,
            PrincipalOrgID,
            EventSourceToken,
            FunctionUrlAuthType,
        )
        document = policy_document([*statements, statement])
        try:
            compile_document(evaluated_policy(document) or "", PolicyKind.RESOURCE)
        except MalformedPolicy as malformed:
            raise e.InvalidParameterValueException(malformed.message) from None
        if len(document) > MAX_POLICY_BYTES:
            raise e.PolicyLengthExceededException(
                f"The final policy size ({len(document)}) is bigger than the limit "
                f"({MAX_POLICY_BYTES})."
            )
        self._store(function, policy=document)
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def remove_permission(
        self,
        ctx: RequestContext,
        FunctionName: str,
        StatementId: str,
        Qualifier: str | None = None,
        RevisionId: str | None = None,
    ) -> None:
        function = self._find(ctx, FunctionName, Qualifier)
        _check_revision(function, RevisionId)
        statements = statements_of(function.policy)
        kept = [s for s in statements if s.get("Sid") != StatementId]
        if len(kept) == len(statements):
            raise e.ResourceNotFoundException(
                f"Statement {StatementId} is not found in resource policy."
            )
        self._store(function, policy=policy_document(kept) if kept else None)

    def get_policy(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        if function.policy is None:
            raise e.ResourceNotFoundException(NO_POLICY)
        return {"Policy": function.policy, "RevisionId": function.revision_id}

    # Tags

    def tag_resource(self, ctx: RequestContext, Resource: str, Tags: dict[str, str]) -> None:
        function = self._find(ctx, Resource, arn_only=True)
        tags = function.tags | Tags
        if len(tags) > MAX_TAGS:
            raise e.InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        self._store(function, tags=tags, new_revision=False)

    def untag_resource(self, ctx: RequestContext, Resource: str, TagKeys: list[str]) -> None:
        function = self._find(ctx, Resource, arn_only=True)
        tags = {k: v for k, v in function.tags.items() if k not in TagKeys}
        self._store(function, tags=tags, new_revision=False)

    def list_tags(self, ctx: RequestContext, Resource: str) -> dict[str, Any]:
        return {"Tags": self._find(ctx, Resource, arn_only=True).tags}

    # Invocations

    def invoke(
        self,
        ctx: RequestContext,
        FunctionName: str,
        InvocationType: str = "RequestResponse",
        LogType: str = "None",
        Payload: bytes | None = None,
        Qualifier: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier, action="lambda:InvokeFunction")
        event = Payload or b""
        limit = MAX_ASYNC_PAYLOAD if InvocationType == "Event" else MAX_SYNC_PAYLOAD
        if len(event) > limit:
            raise e.RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        event = event if event.strip() else b"{}"
        try:
            json.loads(event)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise e.InvalidRequestContentException(NOT_JSON) from None
        if InvocationType == "DryRun":
            return {"StatusCode": 204}
        if InvocationType == "Event":
            request_id = ctx.request_id
            ctx.when_recorded(
                lambda: self._background.submit(self._run_logged, function, event, request_id)
            )
            return {"StatusCode": 202}
        outcome = self._run(function, event, ctx.request_id)
        result: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": outcome.payload,
            "ExecutedVersion": LATEST,
            "FunctionError": outcome.function_error,
        }
        if LogType == "Tail":
            tail = "".join(f"{line}\n" for line in outcome.log_lines).encode()[-LOG_TAIL_BYTES:]
            result["LogResult"] = base64.b64encode(tail).decode()
        return result

    def invoke_for_service(
        self,
        account_id: str,
        region: str,
        function_arn: str,
        event: dict[str, Any],
        service_principal: str,
        source_arn: str | None = None,
    ) -> runtime.Invocation:
        """Invoke a function on behalf of an AWS service (Secrets Manager's rotation,
        EventBridge's schedules), as Lambda does: only if the function's resource policy lets
        `service_principal` call lambda:InvokeFunction, given aws:SourceAccount (`account_id`)
        and aws:SourceArn (`source_arn`). Blocks while the function runs (call it from a
        background thread). Raises FunctionNotFound or InvocationNotPermitted."""
        function = self.permitted_function(
            account_id, region, function_arn, service_principal, source_arn
        )
        return self._run(function, json.dumps(event).encode(), str(uuid.uuid4()))

    def permitted_function(
        self,
        account_id: str,
        region: str,
        function_arn: str,
        service_principal: str,
        source_arn: str | None = None,
    ) -> LambdaFunction:
        """The function `function_arn` names, if `service_principal` may invoke it."""
        target = parse_function_name(function_arn, account_id, region)
        function = (
            self._repository.function(target.account_id, target.region, target.name)
            if target is not None and target.qualifier in (None, LATEST)
            else None
        )
        if function is None:
            raise e.FunctionNotFound(f"Function not found: {function_arn}")
        context: dict[str, ContextValue] = {"aws:SourceAccount": account_id}
        if source_arn is not None:
            context["aws:SourceArn"] = source_arn
        decision = evaluate(
            Request(
                ServicePrincipal(service_principal),
                "lambda:InvokeFunction",
                function.arn,
                request_context(context),
            ),
            resource_policy=(
                compile_document(evaluated_policy(function.policy), PolicyKind.RESOURCE)
                if function.policy
                else None
            ),
            resource_account=function.account_id,
        )
        if not decision.allowed:
            raise e.InvocationNotPermitted(
                f"The resource policy of {function.arn} does not let {service_principal} invoke it."
            )
        return function

    def _run_logged(self, function: LambdaFunction, event: bytes, request_id: str) -> None:
        try:
            self._run(function, event, request_id)
        except Exception:
            log.exception("event invocation %s of %s failed", request_id, function.arn)

    def _run(self, function: LambdaFunction, event: bytes, request_id: str) -> runtime.Invocation:
        function, code = self._current_code(function)
        c = function.configuration
        spec = runtime.FunctionSpec(
            name=function.name,
            code=code,
            handler=c.handler,
            runtime=c.runtime,
            timeout_seconds=c.timeout,
            memory_mb=c.memory_size,
            environment=self._open_variables(function),
            arn=function.arn,
            version=LATEST,
        )
        credentials = self._credentials(function)
        try:
            outcome = runtime.invoke(
                spec, event, credentials, self._endpoint, function.region, request_id
            )
        except runtime.SandboxUnavailable as unavailable:
            log.error("cannot run %s: %s", function.arn, unavailable)
            raise e.ServiceException(
                "This server cannot run functions confined, so it runs none (see its log)."
            ) from None
        except runtime.InvalidDeploymentPackage:
            raise e.InvalidZipFileException(BAD_ZIP) from None
        self._logs.write_events(
            function.account_id,
            function.region,
            function.log_group,
            outcome.log_stream_name or _log_stream(self._clock.time()),
            list(outcome.log_lines),
        )
        return outcome

    def _credentials(self, function: LambdaFunction) -> runtime.Credentials:
        """Temporary credentials of the function's execution role: a role session named after
        the function, as STS's AssumeRole would issue it."""
        role = self._assumable_role(function.account_id, function.configuration.role)
        now = self._clock.time()
        expires_at = now + function.configuration.timeout + _CREDENTIALS_MARGIN
        session = sessions.role_session(role, function.name, now, expires_at)
        return runtime.Credentials(
            session.access_key_id, session.secret_access_key, sessions.seal(self._barrier, session)
        )

    # Internals

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
            resource_policy=evaluated_policy(function.policy) if function is not None else None,
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
        return self._barrier.encrypt(code, _code_aad(function, _sha256(code)))

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


def _log_stream(now: float) -> str:
    return f"{datetime.fromtimestamp(now, UTC):%Y/%m/%d}/[{LATEST}]{uuid.uuid4().hex}"


def parse_qualifier(function_name: str) -> str | None:
    target = parse_function_name(function_name, "000000000000", "us-east-1")
    return target.qualifier if target is not None else None


def _sha256(code: bytes) -> str:
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def _check_limits(timeout: int, memory_size: int) -> None:
    violations = []
    if timeout > MAX_TIMEOUT:
        violations.append(
            f"Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have "
            f"value less than or equal to {MAX_TIMEOUT}"
        )
    if memory_size > MAX_MEMORY:
        violations.append(
            f"Value '{memory_size}' at 'memorySize' failed to satisfy constraint: Member must "
            f"have value less than or equal to {MAX_MEMORY}"
        )
    if violations:
        noun = "error" if len(violations) == 1 else "errors"
        raise e.ValidationException(
            f"{len(violations)} validation {noun} detected: " + "; ".join(violations)
        )


def _check_runtime(name: str) -> None:
    if name in DEPRECATED_RUNTIMES:
        raise e.InvalidParameterValueException(DEPRECATED_RUNTIME.format(name))
    if name not in RUNTIMES:
        raise e.InvalidParameterValueException(UNSUPPORTED_RUNTIME.format(name))


def _check_revision(function: LambdaFunction, revision_id: str | None) -> None:
    if revision_id is not None and revision_id != function.revision_id:
        raise e.PreconditionFailedException(REVISION_MISMATCH)


def _variables(environment: dict[str, Any] | None) -> dict[str, str]:
    variables: dict[str, str] = dict((environment or {}).get("Variables") or {})
    reserved = sorted(variables.keys() & RESERVED_VARIABLES)
    if reserved:
        raise e.InvalidParameterValueException(RESERVED_KEYS.format(",".join(reserved)))
    if len(json.dumps(variables, separators=(",", ":")).encode()) > MAX_ENVIRONMENT_BYTES:
        # AWS quotes the variables measured; they may be secrets, so they are left out.
        raise e.InvalidParameterValueException(ENVIRONMENT_TOO_LARGE)
    return variables


def _zip_file(code: dict[str, Any]) -> bytes:
    """The deployment package, once it is known to be a zip file Lambda would take."""
    if code.get("ImageUri") is not None:
        raise e.InvalidParameterValueException(IMAGE_CODE)
    if any(code.get(k) is not None for k in ("S3Bucket", "S3Key", "S3ObjectVersion")):
        raise e.InvalidParameterValueException(S3_CODE)
    data = code.get("ZipFile")
    if not data:
        raise e.InvalidParameterValueException(NO_CODE)
    try:
        runtime.validate_package(data)
    except runtime.InvalidDeploymentPackage as refused:
        message = str(refused)
        raise e.InvalidParameterValueException(
            message if message.startswith("Unzipped size") else BAD_ZIP
        ) from None
    return bytes(data)


def _marker(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _unmarker(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, ValueError):
        raise e.InvalidParameterValueException("Invalid Marker") from None
