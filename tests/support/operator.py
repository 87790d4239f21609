"""What an operator does to a server: `strongroom init --seal shamir`, CLI commands against its
data directory, and direct calls of its /_strongroom control endpoints."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request

from tests.support.server import Server, strongroom

SHARES, THRESHOLD = 5, 3


def init_shamir(server: Server) -> tuple[list[str], str]:
    """`strongroom init --seal shamir` for the (not yet started) server: its shares and output."""
    storage = server.args[:2] if server.args[:1] == ["--storage"] else []
    result = strongroom(
        "init",
        "--data-dir",
        str(server.data_dir),
        "--seal",
        "shamir",
        "--key-shares",
        str(SHARES),
        "--key-threshold",
        str(THRESHOLD),
        *storage,
    )
    shares = re.findall(r"^Unseal share \d+: (\S+)$", result.stdout, re.MULTILINE)
    assert len(shares) == SHARES, result.stdout
    assert len(set(shares)) == SHARES
    return shares, result.stdout + result.stderr


def cli(
    server: Server, command: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return strongroom(command, "--data-dir", str(server.data_dir), *args, check=check)


def post(server: Server, path: str, payload: object) -> tuple[int, dict[str, object]]:
    """POST JSON (bytes: sent as they are) to the server, unsigned; (status, JSON reply)."""
    context = ssl.create_default_context(cafile=server.ca_bundle) if server.ca_bundle else None
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - the test server's http(s) endpoint
        server.endpoint + path,
        data=body,
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:  # an unclosed TLS socket would hold up the server's shutdown
            return error.code, json.load(error)
