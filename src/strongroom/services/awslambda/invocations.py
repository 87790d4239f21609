"""Invocations: through the API (RequestResponse, Event, DryRun) and for AWS services, each
in the sandbox of runtime.py with the execution role's credentials, its output to the log
group /aws/lambda/NAME."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from strongroom.auth import sessions
from strongroom.services.awslambda import errors as e
from strongroom.services.awslambda import runtime
from strongroom.services.awslambda.base import BAD_ZIP, LambdaBase
from strongroom.services.awslambda.model import (
    LATEST,
    LOG_TAIL_BYTES,
    MAX_ASYNC_PAYLOAD,
    MAX_SYNC_PAYLOAD,
    LambdaFunction,
)
from strongroom.services.context import RequestContext

log = logging.getLogger("strongroom.lambda")
NOT_JSON = "Could not parse request body into json: Could not parse payload into json"
# How long an invocation's role credentials outlive its timeout.
_CREDENTIALS_MARGIN = 300


class Invocations(LambdaBase):
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
            runtime.check_sandbox(self._data_dir)
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


def _log_stream(now: float) -> str:
    return f"{datetime.fromtimestamp(now, UTC):%Y/%m/%d}/[{LATEST}]{uuid.uuid4().hex}"
