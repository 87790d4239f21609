"""The ASGI application: health, operator endpoints, and every AWS API request.

AWS requests are handed whole to the protocol dispatcher on a worker thread (services are
synchronous and talk to storage); this module knows nothing of services or operations.
"""

from __future__ import annotations

import logging
import time

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from strongroom.auth.sigv4 import AuthFailure, HttpRequest
from strongroom.barrier.seals import SealError
from strongroom.core import Core
from strongroom.protocol.wire import WireRequest

MAX_BODY_BYTES = 16 * 1024 * 1024
CONTROL_PREFIX = "/_strongroom"
access_log = logging.getLogger("strongroom.access")


async def _wire_request(request: Request, body: bytes) -> WireRequest:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    http = HttpRequest(
        method=request.method,
        raw_path=raw_path.decode("latin-1"),
        query_string=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
        body=body,
    )
    return WireRequest(http=http, source_ip=request.client.host if request.client else "")


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than the server accepts."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(core: Core) -> Starlette:
    async def aws_api(request: Request) -> Response:
        started = time.perf_counter()
        body = await _read_body(request)
        if body is None:
            return JSONResponse(
                {"__type": "RequestEntityTooLargeException", "message": "Request is too large."},
                status_code=413,
            )
        wire = await _wire_request(request, body)
        result = await anyio.to_thread.run_sync(core.dispatcher.dispatch, wire)
        # Never the query string, headers or body: they can carry signatures and secrets.
        access_log.info(
            "%s %s %s %s %d %s %.1fms",
            wire.source_ip,
            request.method,
            request.url.path,
            result.operation or "-",
            result.status,
            result.error_code or "-",
            (time.perf_counter() - started) * 1000,
        )
        return Response(result.body, status_code=result.status, headers=dict(result.headers))

    async def health(_: Request) -> Response:
        report = core.health()
        return JSONResponse(report, status_code=503 if report["sealed"] else 200)

    async def unseal(request: Request) -> Response:
        try:
            share = str((await request.json())["share"])
            status = await anyio.to_thread.run_sync(core.submit_unseal_share, share)
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"share": "..."}'}, status_code=400)
        except SealError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(
            {"sealed": status.sealed, "progress": status.progress, "threshold": status.threshold}
        )

    async def seal(request: Request) -> Response:
        body = await _read_body(request) or b""
        wire = await _wire_request(request, body)
        try:
            principal, _ = await anyio.to_thread.run_sync(
                core.authenticator.authenticate, wire.http, "strongroom"
            )
        except AuthFailure as failure:
            return JSONResponse({"error": failure.message}, status_code=403)
        if not core.may_seal(principal):
            return JSONResponse({"error": "only the administrator may seal"}, status_code=403)
        core.seal()
        access_log.warning("sealed by %s from %s", principal.arn, wire.source_ip)
        return JSONResponse({"sealed": True})

    async def dev_reset(_: Request) -> Response:
        await anyio.to_thread.run_sync(core.reset)
        return JSONResponse({"reset": True})

    async def dev_clock(request: Request) -> Response:
        try:
            seconds = float((await request.json())["advance_seconds"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"advance_seconds": N}'}, status_code=400)
        if seconds < 0:
            return JSONResponse({"error": "the clock only moves forward"}, status_code=400)
        now = await anyio.to_thread.run_sync(core.advance_clock, seconds)
        return JSONResponse({"now": now, "offset_seconds": core.clock.offset_seconds})

    routes = [
        Route("/health", health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/unseal", unseal, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/seal", seal, methods=["POST"]),
    ]
    if core.settings.dev:
        routes += [
            Route(f"{CONTROL_PREFIX}/dev/reset", dev_reset, methods=["POST"]),
            Route(f"{CONTROL_PREFIX}/dev/clock", dev_clock, methods=["POST"]),
        ]
    routes.append(
        Route("/{path:path}", aws_api, methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
    )
    return Starlette(routes=routes)
