"""The audit trail as the tests see it: records read straight from storage, raw signed requests
(for what boto3 will not send), and the operator's `strongroom audit` commands."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import REGION, Server, strongroom
from tests.support.storage import storage, storage_view


def query(server: Server, sql: str, **params: object) -> list[sa.Row[Any]]:
    with storage(storage_view(server)) as engine, engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params))


def execute(server: Server, *statements: str, **params: object) -> int:
    """Run statements in one committed transaction; the last one's row count."""
    count = 0
    with storage(storage_view(server)) as engine, engine.begin() as connection:
        for statement in statements:
            count = connection.execute(sa.text(statement), params).rowcount
    return count


def record_counts(server: Server, request_ids: Iterable[str]) -> dict[str, int]:
    """How many records each request id has (0 for none)."""
    wanted = sorted(set(request_ids))
    counts = dict.fromkeys(wanted, 0)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        statement = sa.text(
            "SELECT request_id, count(*) FROM audit_records WHERE request_id IN :ids"
            " GROUP BY request_id"
        ).bindparams(sa.bindparam("ids", expanding=True))
        with storage(storage_view(server)) as engine, engine.connect() as connection:
            for request_id, count in connection.execute(statement, {"ids": chunk}):
                counts[request_id] = count
    return counts


def reservation_ids(server: Server) -> set[str]:
    return {row[0] for row in query(server, "SELECT request_id FROM audit_reservations")}


def record_of(server: Server, request_id: str) -> dict[str, Any]:
    rows = query(server, "SELECT record FROM audit_records WHERE request_id = :id", id=request_id)
    assert len(rows) == 1, f"{len(rows)} records of request {request_id}"
    return dict(json.loads(rows[0][0]))


def audit_text(server: Server) -> bytes:
    """Every record and every reservation, as stored."""
    rows = query(server, "SELECT record FROM audit_records")
    rows += query(server, "SELECT record FROM audit_reservations")
    return "\n".join(row[0] for row in rows).encode()


def request_id(reply: dict[str, Any]) -> str:
    """The request id of a boto3 reply or of a ClientError's response."""
    metadata = reply["ResponseMetadata"]
    headers = metadata.get("HTTPHeaders", {})
    # botocore finds no id in an error body it cannot parse (a HEAD request's, or JSON where
    # the client expected XML); the header still carries it.
    value = (
        metadata.get("RequestId")
        or headers.get("x-amzn-requestid")
        or headers.get("x-amz-request-id")
    )
    assert value, metadata
    return str(value)


@dataclasses.dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def request_id(self) -> str:
        found = self.headers.get("x-amzn-requestid") or self.headers.get("x-amz-request-id")
        if not found:  # an S3 error names it in its XML body
            match = re.search(rb"<RequestId>([^<]+)</RequestId>", self.body)
            found = match[1].decode() if match else ""
        return found

    @property
    def error_code(self) -> str:
        try:
            return str(json.loads(self.body).get("__type", "")).rsplit("#", 1)[-1]
        except ValueError:
            return ""


def raw_call(
    server: Server,
    target: str | None,
    body: bytes = b"{}",
    *,
    signing_name: str = "kms",
    region: str = REGION,
    credentials: tuple[str, str] | None = None,
    content_type: str = "application/x-amz-json-1.1",
    sign: bool = True,
    timeout: float = 30,
) -> RawReply:
    """POST `body` to the server with X-Amz-Target `target`, signed with SigV4 (by default
    with the server's administrator credentials)."""
    url = server.endpoint + "/"
    headers = {"content-type": content_type}
    if target is not None:
        headers["x-amz-target"] = target
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    if sign:
        access_key_id, secret = credentials or server.credentials()
        SigV4Auth(Credentials(access_key_id, secret), signing_name, region).add_auth(request)
    prepared = urllib.request.Request(  # noqa: S310 - the test server's own endpoint
        url, data=body, method="POST", headers=dict(request.headers.items())
    )
    context = ssl.create_default_context(cafile=server.ca_bundle) if server.ca_bundle else None
    try:
        with urllib.request.urlopen(prepared, context=context, timeout=timeout) as reply:  # noqa: S310
            return RawReply(
                reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
            )
    except urllib.error.HTTPError as error:
        with error:
            return RawReply(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )


def close_period(server: Server) -> list[str]:
    """`strongroom audit close`: the keys of the digests it wrote."""
    result = strongroom("audit", "close", "--data-dir", str(server.data_dir))
    return re.findall(r"^Digest: (\S+)$", result.stdout, re.MULTILINE)


def verify(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """`strongroom audit verify` on the server's storage (the server need not run)."""
    storage_args = list(server.args[:2]) if server.args[:1] == ["--storage"] else []
    data_dir = ["--data-dir", str(server.data_dir)]
    return strongroom("audit", "verify", *data_dir, *storage_args, *args, check=False)


def wait_for(condition: Callable[[], Any], timeout: float = 15, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def aws(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """The stock aws CLI, configured only by what `strongroom env` would set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | server.env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        ["aws", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def records_of(server: Server, request_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The record of each request id (that has exactly one)."""
    wanted = sorted(set(request_ids))
    found: dict[str, dict[str, Any]] = {}
    statement = sa.text(
        "SELECT request_id, record FROM audit_records WHERE request_id IN :ids"
    ).bindparams(sa.bindparam("ids", expanding=True))
    with storage(storage_view(server)) as engine, engine.connect() as connection:
        for start in range(0, len(wanted), 500):
            for rid, text in connection.execute(statement, {"ids": wanted[start : start + 500]}):
                assert rid not in found, f"two records of request {rid}"
                found[rid] = json.loads(text)
    return found


def close_request(server: Server) -> tuple[int, bytes]:
    """POST /_strongroom/audit/close signed by the administrator, as `strongroom audit close`
    sends it: (status, body)."""
    url = server.endpoint + "/_strongroom/audit/close"
    headers = {"content-type": "application/json"}
    request = AWSRequest(method="POST", url=url, data=b"{}", headers=headers)
    SigV4Auth(Credentials(*server.credentials()), "strongroom", REGION).add_auth(request)
    prepared = urllib.request.Request(  # noqa: S310 - the test server's own endpoint
        url, data=b"{}", method="POST", headers=dict(request.headers.items())
    )
    context = ssl.create_default_context(cafile=server.ca_bundle) if server.ca_bundle else None
    try:
        with urllib.request.urlopen(prepared, context=context, timeout=30) as reply:  # noqa: S310
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
