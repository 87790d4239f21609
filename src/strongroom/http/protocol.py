"""uvicorn's HTTP protocol with two additions.

One write per response: uvicorn writes a response's head and its body separately, which over
TLS costs two records and two system calls per request (about a third of the server's CPU for
a small KMS call). Writes made in one pass of the event loop go out as one.

TLS details: the protocol version and cipher suite of the connection go into each request's
scope, for the tlsDetails of its audit record (ASGI's own TLS extension carries neither name).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes are gathered until the event loop's next pass."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def _flush(self) -> None:
        if self._pending and not self._transport.is_closing():
            self._transport.write(b"".join(self._pending))
        self._pending.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


TLS_SCOPE_KEY = "strongroom.tls"


class ServerProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = (
            {"tlsVersion": ssl_object.version(), "cipherSuite": ssl_object.cipher()[0]}
            if ssl_object is not None
            else None
        )
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope[TLS_SCOPE_KEY] = self._tls  # type: ignore[literal-required]
