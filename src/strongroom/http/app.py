"""The ASGI application: health, operator endpoints, and every AWS API request.

AWS requests are handed whole to the protocol dispatcher: on the event loop when the operation
is answered from process caches, else on a worker thread so that a commit or a query never
stalls other requests. This module knows nothing of services or operations.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from strongroom.audit.writer import AuditUnavailable
from strongroom.auth.principal import Principal
from strongroom.auth.sigv4 import AuthFailure, HttpRequest
from strongroom.barrier.barrier import SealedError
from strongroom.barrier.seals import SealError
from strongroom.bootstrap import ADMIN_USER
from strongroom.core import Core
from strongroom.http import metrics
from strongroom.http.protocol import TLS_SCOPE_KEY
from strongroom.protocol import query as query_codec
from strongroom.protocol.errors import AwsError, RequestEntityTooLarge
from strongroom.protocol.registry import load_model
from strongroom.protocol.wire import WireRequest, WireResponse
from strongroom.services.sns.base import CONFIRM_PATH, UNSUBSCRIBE_PATH
from strongroom.services.sns.signing import SIGNING_CERT_PATH
from strongroom.storage.engine import StorageUnavailable

MAX_BODY_BYTES = 16 * 1024 * 1024
CONTROL_PREFIX = "/_strongroom"
# Operator requests are tiny, and /unseal answers anyone: it must not buffer 16 MiB per request.
CONTROL_MAX_BODY_BYTES = 64 * 1024
MAX_CLOCK_OFFSET_SECONDS = 100 * 366 * 86400
# How an operator's CreateAccount record names the account it made.
ACCOUNT_RESOURCE = "AWS::Organizations::Account"
access_log = logging.getLogger("strongroom.access")


def _wire_request(scope: Scope, body: bytes) -> WireRequest:
    http = HttpRequest(
        method=scope["method"],
        raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        body=body,
    )
    client = scope.get("client")
    tls = scope.get(TLS_SCOPE_KEY)
    if tls is not None:
        tls = {**tls, "clientProvidedHostHeader": http.header("host") or ""}
    return WireRequest(http=http, source_ip=client[0] if client else "", tls=tls)


async def _read_body(scope: Scope, receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it is larger than `limit`."""
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > limit):
            return None
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def create_app(core: Core) -> ASGIApp:
    """Operator endpoints under /health and /_strongroom go to a small Starlette app; every
    other request is an AWS API call, served by plain ASGI because it is the hot path."""
    control = _control_app(core)
    # Exact paths: any other (a dev control on a real server, say) gets the AWS-style error an
    # unknown request gets, not a bare 404 that tells nothing to AWS clients.
    control_paths = {route.path for route in control.routes if isinstance(route, Route)}
    requests = metrics.RequestMetrics()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in control_paths:
            await control(scope, receive, send)
        else:
            await _aws_api(core, requests, scope, receive, send)

    return app


async def _aws_api(
    core: Core, requests: metrics.RequestMetrics, scope: Scope, receive: Receive, send: Send
) -> None:
    started = time.perf_counter()
    body = await _read_body(scope, receive)
    if body is None:
        # Refused unread, and still recorded in the audit trail like every other call.
        wire = _wire_request(scope, b"")
        answer = core.dispatcher.dispatch(wire, refusal=RequestEntityTooLarge())
    elif core.dispatcher.needs_thread(wire := _wire_request(scope, body)):
        answer = await anyio.to_thread.run_sync(core.dispatcher.dispatch, wire)
    else:
        answer = core.dispatcher.dispatch(wire)
    result = await core.dispatcher.recorded(answer)
    headers = [(k.encode(), v.encode()) for k, v in result.headers]
    if not any(name == "content-length" for name, _ in result.headers):
        # A codec sets it only for HEAD: the length of the body a GET would get.
        headers.append((b"content-length", str(len(result.body)).encode()))
    await send({"type": "http.response.start", "status": result.status, "headers": headers})
    await send({"type": "http.response.body", "body": result.body})
    seconds = time.perf_counter() - started
    requests.observe(
        answer.model, answer.call.event_name, result.status, result.error_code, seconds
    )
    # Never the query string, headers or body: they can carry signatures and secrets.
    access_log.info(
        "%s %s %s %s %d %s %.1fms",
        wire.source_ip,
        scope["method"],
        scope["path"],
        result.operation or "-",
        result.status,
        result.error_code or "-",
        seconds * 1000,
    )


def _control_app(core: Core) -> Starlette:
    too_large = {"error": "request is too large"}

    async def health(_: Request) -> Response:
        report = core.health()
        healthy = report["status"] == "ok"
        return JSONResponse(report, status_code=200 if healthy else 503)

    async def prometheus_metrics(_: Request) -> Response:
        # Unauthenticated, like /health: aggregates only (no account, resource or key names),
        # for scrapers that cannot sign requests.
        text = await anyio.to_thread.run_sync(metrics.exposition, core)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    async def recorded(
        wire: WireRequest,
        action: str,
        principal: Principal | None,
        error: str = "",
        resources: Sequence[tuple[str, str]] = (),
    ) -> None:
        """The operator's action in the audit trail (never the share or key it carried). The
        action is done, or refused, either way: a record that cannot be stored is logged."""
        event = core.dispatcher.operator_record(wire, action, principal, error, resources)
        try:
            await core.audit.write_async(event)
        except AuditUnavailable:
            access_log.error("the audit record of %s could not be stored", action)

    async def unseal(request: Request) -> Response:
        body = await _read_body(request.scope, request.receive, CONTROL_MAX_BODY_BYTES)
        if body is None:
            return JSONResponse(too_large, status_code=413)
        wire = _wire_request(request.scope, b"")
        try:
            share = str(json.loads(body)["share"])
            status = await anyio.to_thread.run_sync(core.submit_unseal_share, share)
        except (ValueError, KeyError, TypeError, RecursionError):  # any malformed JSON
            await recorded(wire, "SubmitUnsealShare", None, "MalformedRequest")
            return JSONResponse({"error": 'expected {"share": "..."}'}, status_code=400)
        except SealError as error:
            await recorded(wire, "SubmitUnsealShare", None, "InvalidUnsealShare")
            return JSONResponse({"error": str(error)}, status_code=400)
        await recorded(wire, "SubmitUnsealShare", None)
        return JSONResponse(
            {"sealed": status.sealed, "progress": status.progress, "threshold": status.threshold}
        )

    async def administrator(
        request: Request, action: str, verb: str, record_success: bool = True
    ) -> Principal | Response:
        """The administrator who signed the request, or the response that refuses it (and
        the refusal's audit record). The record of an allowed request is stored here, unless
        the caller stores it once it knows what the action made."""
        body = await _read_body(request.scope, request.receive, CONTROL_MAX_BODY_BYTES)
        if body is None:
            return JSONResponse(too_large, status_code=413)
        wire = _wire_request(request.scope, body)
        try:
            principal, _ = await anyio.to_thread.run_sync(
                core.authenticator.authenticate, wire.http, "strongroom"
            )
        except AuthFailure as failure:
            await recorded(wire, action, None, "InvalidSignature")
            return JSONResponse({"error": failure.message}, status_code=403)
        if not core.is_administrator(principal):
            await recorded(wire, action, principal, "AccessDenied")
            return JSONResponse({"error": f"only the administrator may {verb}"}, status_code=403)
        access_log.warning("%s by %s from %s", verb, principal.arn, wire.source_ip)
        if record_success:
            await recorded(wire, action, principal)
        return principal

    async def seal(request: Request) -> Response:
        if core.barrier.sealed:
            # Nothing to do, and nothing to authenticate with: access keys are behind the barrier.
            return JSONResponse({"sealed": True})
        caller = await administrator(request, "Seal", "seal")
        if isinstance(caller, Response):
            return caller
        core.seal()
        return JSONResponse({"sealed": True})

    async def close_audit_period(request: Request) -> Response:
        if core.barrier.sealed:
            return JSONResponse({"error": "the server is sealed"}, status_code=503)
        caller = await administrator(request, "CloseAuditPeriod", "close the audit period")
        if isinstance(caller, Response):
            return caller
        digests = await anyio.to_thread.run_sync(core.trail.close_period)
        return JSONResponse({"digests": [digest.object_key for digest in digests]})

    async def create_account(request: Request) -> Response:
        if core.barrier.sealed:
            return JSONResponse({"error": "the server is sealed"}, status_code=503)
        caller = await administrator(
            request, "CreateAccount", "create an account", record_success=False
        )
        if isinstance(caller, Response):
            return caller
        wire = _wire_request(request.scope, b"")
        try:
            created = await anyio.to_thread.run_sync(core.create_account)
        except (StorageUnavailable, SealedError):
            await recorded(wire, "CreateAccount", caller, "ServiceUnavailable")
            return JSONResponse({"error": "storage is unavailable or sealed"}, status_code=503)
        account = (ACCOUNT_RESOURCE, f"arn:aws:iam::{created.account_id}:root")
        await recorded(wire, "CreateAccount", caller, resources=[account])
        # The secret is in this answer only: never in the record above, nor in any log.
        return JSONResponse(
            {
                "account_id": created.account_id,
                "user_name": ADMIN_USER,
                "access_key_id": created.access_key_id,
                "secret_access_key": created.secret_access_key,
            },
            headers={"cache-control": "no-store"},
        )

    async def dev_reset(_: Request) -> Response:
        await anyio.to_thread.run_sync(core.reset)
        return JSONResponse({"reset": True})

    async def dev_clock(request: Request) -> Response:
        body = await _read_body(request.scope, request.receive, CONTROL_MAX_BODY_BYTES)
        if body is None:
            return JSONResponse(too_large, status_code=413)
        try:
            seconds = float(json.loads(body)["advance_seconds"])
        except (ValueError, KeyError, TypeError, RecursionError):  # any malformed JSON
            return JSONResponse({"error": 'expected {"advance_seconds": N}'}, status_code=400)
        # NaN fails both comparisons; the cap keeps service time a date clients can parse.
        if not 0 <= seconds <= MAX_CLOCK_OFFSET_SECONDS - core.clock.offset_seconds:
            return JSONResponse(
                {"error": "the clock only moves forward, by at most 100 years in all"},
                status_code=400,
            )
        now = await anyio.to_thread.run_sync(core.advance_clock, seconds)
        return JSONResponse({"now": now, "offset_seconds": core.clock.offset_seconds})

    async def sns_certificate(_: Request) -> Response:
        """The certificate SNS messages' signatures verify with (their SigningCertURL)."""
        try:
            pem = await anyio.to_thread.run_sync(core.sns_signer.certificate_pem)
        except (SealedError, StorageUnavailable):
            return JSONResponse({"error": "the server is sealed or unavailable"}, status_code=503)
        return Response(pem, media_type="application/x-pem-file")

    sns_model = load_model("sns")

    async def sns_link(request: Request) -> Response:
        """A SubscribeURL or UnsubscribeURL visited: unsigned, as AWS's are; answered in SNS's
        query protocol."""
        wire = _wire_request(request.scope, b"")
        confirm = request.url.path.endswith("/confirm")
        action = "ConfirmSubscription" if confirm else "Unsubscribe"
        operation = sns_model.operation_model(action)
        request_id = str(uuid.uuid4())
        query = request.query_params
        if core.barrier.sealed:
            return JSONResponse({"error": "the server is sealed"}, status_code=503)
        try:
            if confirm:
                arn = await anyio.to_thread.run_sync(
                    core.sns.confirm_by_url, query.get("TopicArn", ""), query.get("Token", "")
                )
                result = {"SubscriptionArn": arn}
            else:
                arn = query.get("SubscriptionArn", "")
                await anyio.to_thread.run_sync(core.sns.unsubscribe_by_url, arn)
                result = None
        except AwsError as error:
            answer = query_codec.encode_error(sns_model, error, request_id)
            await recorded(wire, action, None, answer.error_code)
            return _response(answer)
        except StorageUnavailable:
            return JSONResponse({"error": "storage is unavailable"}, status_code=503)
        await recorded(wire, action, None, resources=[("AWS::SNS::Subscription", arn)])
        return _response(query_codec.encode_result(sns_model, operation, result, request_id))

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", prometheus_metrics, methods=["GET"]),
        Route(SIGNING_CERT_PATH, sns_certificate, methods=["GET"]),
        Route(CONFIRM_PATH, sns_link, methods=["GET"]),
        Route(UNSUBSCRIBE_PATH, sns_link, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/unseal", unseal, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/seal", seal, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/audit/close", close_audit_period, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/accounts", create_account, methods=["POST"]),
    ]
    if core.settings.dev:
        routes += [
            Route(f"{CONTROL_PREFIX}/dev/reset", dev_reset, methods=["POST"]),
            Route(f"{CONTROL_PREFIX}/dev/clock", dev_clock, methods=["POST"]),
        ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _json_http_error})


async def _json_http_error(_: Request, error: Exception) -> Response:
    """Operator endpoints answer in JSON even for a wrong method, like every other reply."""
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code)


def _response(answer: WireResponse) -> Response:
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))
