"""Run the ASGI app under uvicorn: HTTPS with our own TLS context, or plain HTTP for --dev."""

from __future__ import annotations

import ssl

import uvicorn

from strongroom.core import Core
from strongroom.http.app import create_app


def serve(core: Core, tls_context: ssl.SSLContext | None) -> None:
    config = uvicorn.Config(
        create_app(core),
        host=core.settings.host,
        port=core.settings.port,
        log_config=None,
        access_log=False,  # our access log leaves out query strings, which can carry signatures
        server_header=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        timeout_keep_alive=30,
        # Idle keep-alive TLS clients never answer the close_notify sent on shutdown; without a
        # cap, SIGTERM waits for them (uvloop: 30 s each) instead of stopping.
        timeout_graceful_shutdown=5,
    )
    config.load()
    # uvicorn builds its SSL context from file names only; ours pins TLS 1.2+ and AEAD suites.
    config.ssl = tls_context
    uvicorn.Server(config).run()
