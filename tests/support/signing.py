"""Hand-built SigV4 requests, for tests that must send what boto3 would refuse to send."""

from __future__ import annotations

import json
from typing import Any

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import REGION, Server

_http = urllib3.PoolManager(retries=False)


def signed_request(
    server: Server,
    target: str,
    body: bytes | str | dict[str, Any],
    *,
    service: str = "kms",
    region: str = REGION,
    credentials: tuple[str, str] | None = None,
    content_type: str = "application/x-amz-json-1.1",
) -> AWSRequest:
    """A POST to the server's endpoint signed exactly as botocore signs it."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": content_type},
    )
    access_key_id, secret = credentials or server.credentials()
    SigV4Auth(Credentials(access_key_id, secret), service, region).add_auth(request)
    return request


def send(
    server: Server, request: AWSRequest, body: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    """Send a prepared request (optionally with a different body than was signed)."""
    headers = {k: v for k, v in request.headers.items()}
    response = _http.request(
        request.method, request.url, body=request.body if body is None else body, headers=headers
    )
    try:
        payload = json.loads(response.data) if response.data else {}
    except ValueError:
        payload = {"raw": response.data.decode(errors="replace")}
    return response.status, payload


def call(server: Server, operation: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Sign and send one KMS JSON call; `body` may be any JSON value or raw text/bytes."""
    if not isinstance(body, (bytes, str, dict)):
        body = json.dumps(body)
    return send(server, signed_request(server, f"TrentService.{operation}", body, **kwargs))
