"""Run the server: one process, or a supervisor with forked workers sharing one socket.

Workers share nothing in memory: each has its own storage pool, caches and barrier, and they
learn of each other's writes and of a seal through storage (storage/changes.py).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable

import uvicorn

from strongroom.config import Settings
from strongroom.core import Core
from strongroom.http import metrics
from strongroom.http.app import create_app
from strongroom.http.protocol import ServerProtocol
from strongroom.node import prepare_storage, reopen_storage, start_node, stored_seal_kind

log = logging.getLogger("strongroom.server")


def serve(settings: Settings, workers: int) -> None:
    engine = prepare_storage(settings)
    metrics.use_directory(settings.data_dir / "metrics")
    if workers == 1:
        _run(*start_node(settings, engine))
        return
    if settings.dev or stored_seal_kind(engine) != "file":
        raise SystemExit(
            "--workers above 1 needs the file seal and no --dev: Shamir unseal progress and "
            "the dev clock live in one process"
        )
    engine.dispose()  # connection pools must not cross the fork
    listener = _bind(settings)
    children = [_fork_worker(settings, listener) for _ in range(workers)]
    _supervise(children)


def _bind(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((settings.host, settings.port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _fork_worker(settings: Settings, listener: socket.socket) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        core, tls_context = start_node(settings, reopen_storage(settings))
        _run(core, tls_context, listener)
        status = 0
    except SystemExit as error:
        log.error("worker %d: %s", os.getpid(), error)
    finally:
        os._exit(status)


def _supervise(children: list[int]) -> None:
    """Wait for the workers; stop them all on SIGTERM/SIGINT or when one of them dies."""

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    while children:
        pid, status = os.wait()
        children.remove(pid)
        metrics.process_stopped(pid)
        # uvicorn re-raises the signal that stopped it, so a stopped worker may die of SIGTERM.
        stopped = stopping and os.waitstatus_to_exitcode(status) in (0, -signal.SIGTERM)
        if os.waitstatus_to_exitcode(status) != 0 and not stopped and not failed:
            failed = True
            log.error("worker %d stopped unexpectedly; stopping the others", pid)
            stop()
    sys.exit(1 if failed else 0)


def _run(
    core: Core, tls_context: ssl.SSLContext | None, listener: socket.socket | None = None
) -> None:
    config = uvicorn.Config(
        create_app(core),
        host=core.settings.host,
        port=core.settings.port,
        log_config=None,
        access_log=False,  # our access log leaves out query strings, which can carry signatures
        server_header=False,
        # The caller's address (audited as sourceIPAddress) is the socket's peer, never a
        # forwarded-for header anyone can send.
        proxy_headers=False,
        loop="uvloop",
        http=ServerProtocol,
        lifespan="off",
        timeout_keep_alive=30,
        # Idle keep-alive TLS clients never answer the close_notify sent on shutdown; without a
        # cap, SIGTERM waits for them (uvloop: 30 s each) instead of stopping.
        timeout_graceful_shutdown=5,
    )
    config.load()
    # uvicorn builds its SSL context from file names only; ours pins TLS 1.2+ and AEAD suites.
    config.ssl = tls_context
    # Everything loaded so far (models, modules) lives as long as the process: keep it out of
    # the garbage collector's generations so collections during requests stay short.
    gc.freeze()
    core.start()
    _Server(config, on_shutdown=core.stop).run(sockets=[listener] if listener else None)


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal that stopped it once it has shut down, which ends the
    process there and then: what a clean stop must do runs at the end of shutdown()."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        self._on_shutdown()
