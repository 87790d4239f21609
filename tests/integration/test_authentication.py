"""SigV4 through a real server: every badly authenticated request gets AWS's error type and
status, and changes nothing; the same request signed correctly succeeds (the harness works)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY, REGION, Server
from tests.support.signing import send, signed_request

# A request to send: the prepared request and, optionally, a body other than the one signed.
Built = tuple[AWSRequest, bytes | None]
Builder = Callable[[Server, str, dict[str, Any]], Built]


@dataclass(frozen=True)
class Case:
    name: str
    build: Builder
    error: str | tuple[str, ...]
    message: str


def _signed(**kwargs: Any) -> Builder:
    return lambda server, target, body: (signed_request(server, target, body, **kwargs), None)


def _body_altered(server: Server, target: str, body: dict[str, Any]) -> Built:
    request = signed_request(server, target, body)
    altered = {
        name: f"{value}-altered" if isinstance(value, str) else value
        for name, value in body.items()
    }
    return request, json.dumps(altered).encode()


def _signed_at(offset: timedelta) -> Builder:
    """Correctly signed, but for a moment `offset` away from now."""

    def build(server: Server, target: str, body: dict[str, Any]) -> Built:
        moment = datetime.now(UTC).replace(tzinfo=None) + offset
        with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
            return signed_request(server, target, body), None

    return build


def _edited_authorization(edit: Callable[[str], str]) -> Builder:
    def build(server: Server, target: str, body: dict[str, Any]) -> Built:
        request = signed_request(server, target, body)
        value = edit(request.headers["Authorization"])
        del request.headers["Authorization"]
        request.headers["Authorization"] = value
        return request, None

    return build


def _without_part(part: str) -> Builder:
    return _edited_authorization(
        lambda header: re.sub(rf"{part}=[^,]*(, )?", "", header).rstrip(", ")
    )


def _without_header(name: str) -> Builder:
    def build(server: Server, target: str, body: dict[str, Any]) -> Built:
        request = signed_request(server, target, body)
        del request.headers[name]
        return request, None

    return build


class _HostUnsignedAuth(SigV4Auth):
    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def _host_unsigned(server: Server, target: str, body: dict[str, Any]) -> Built:
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=json.dumps(body).encode(),
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    _HostUnsignedAuth(Credentials(*server.credentials()), "kms", REGION).add_auth(request)
    assert "host" not in request.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    return request, None


BAD = "InvalidSignatureException"
INCOMPLETE = "IncompleteSignatureException"
CASES = [
    Case(
        "wrong-secret",
        _signed(credentials=(DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY[::-1])),
        BAD,
        "The request signature we calculated does not match",
    ),
    Case(
        "body-altered-after-signing",
        _body_altered,
        BAD,
        "The request signature we calculated does not match",
    ),
    Case("signed-20-minutes-ago", _signed_at(timedelta(minutes=-20)), BAD, "Signature expired"),
    Case(
        "signed-20-minutes-ahead",
        _signed_at(timedelta(minutes=20)),
        BAD,
        "Signature not yet current",
    ),
    Case(
        "no-authorization-header",
        _without_header("Authorization"),
        "MissingAuthenticationTokenException",
        "missing Authentication Token",
    ),
    Case(
        "authorization-without-signature",
        _without_part("Signature"),
        INCOMPLETE,
        "requires 'Signature' parameter",
    ),
    Case(
        "authorization-without-signed-headers",
        _without_part("SignedHeaders"),
        INCOMPLETE,
        "requires 'SignedHeaders' parameter",
    ),
    Case(
        "authorization-without-credential",
        _without_part("Credential"),
        INCOMPLETE,
        "requires 'Credential' parameter",
    ),
    Case(
        "other-algorithm",
        _edited_authorization(lambda h: h.replace("SHA256", "SHA512", 1)),
        INCOMPLETE,
        "Unsupported AWS 'algorithm'",
    ),
    Case("no-x-amz-date", _without_header("X-Amz-Date"), INCOMPLETE, "X-Amz-Date"),
    Case(
        "unknown-access-key",
        _signed(credentials=("AKIAUNKNOWNKEY000000", "secret")),
        "UnrecognizedClientException",
        "The security token included in the request is invalid",
    ),
    Case(
        "invalid-region",
        _signed(region="xx-nowhere-1"),
        BAD,
        "Credential should be scoped to a valid region",
    ),
    Case(
        "other-service",
        _signed(service="sts"),
        BAD,
        "Credential should be scoped to correct service: 'kms'",
    ),
    Case(
        "scope-date-differs",
        _edited_authorization(lambda h: re.sub(r"(Credential=[^/]+/)\d{8}", r"\g<1>20200101", h)),
        BAD,
        "Date in Credential scope does not match",
    ),
    # AWS words it "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    Case("host-not-signed", _host_unsigned, (BAD, INCOMPLETE), "'Host'"),
]


def _counts(server: Server) -> tuple[int, int]:
    kms = server.client("kms")
    keys = sum(len(page["Keys"]) for page in kms.get_paginator("list_keys").paginate())
    aliases = sum(len(page["Aliases"]) for page in kms.get_paginator("list_aliases").paginate())
    return keys, aliases


def _attempts(server: Server) -> list[tuple[str, dict[str, Any]]]:
    """A CreateKey and a CreateAlias (onto a fresh key) that would change state if accepted."""
    target = server.client("kms").create_key(Description="auth test target")["KeyMetadata"]
    name = uuid.uuid4().hex[:12]
    return [
        ("TrentService.CreateKey", {"Description": f"must not exist {name}"}),
        (
            "TrentService.CreateAlias",
            {"AliasName": f"alias/auth-{name}", "TargetKeyId": target["KeyId"]},
        ),
    ]


def test_correctly_signed_requests_succeed(dev_server):
    attempts = _attempts(dev_server)
    before = _counts(dev_server)
    for target, body in attempts:
        status, payload = send(dev_server, *_signed()(dev_server, target, body))
        assert status == 200, payload
    assert _counts(dev_server) == (before[0] + 1, before[1] + 1)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_authentication_is_refused_and_changes_nothing(dev_server, case):
    attempts = _attempts(dev_server)
    before = _counts(dev_server)
    for target, body in attempts:
        status, payload = send(dev_server, *case.build(dev_server, target, body))
        expected = case.error if isinstance(case.error, tuple) else (case.error,)
        assert status == 400, payload
        assert payload.get("__type") in expected, payload
        assert case.message in payload.get("message", ""), payload
    assert _counts(dev_server) == before
