"""SigV4 verification against botocore's own signer, with Hypothesis-built requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.auth import sigv4
from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGIONS = frozenset({"us-east-1", "eu-west-1"})

paths = st.lists(st.text("abcXYZ019-_.~ %+=", min_size=1, max_size=8), max_size=3).map(
    lambda parts: "/" + "/".join(parts)
)
query = st.dictionaries(
    st.text("abc_-.", min_size=1, max_size=5), st.text("xyz =&/+", max_size=6), max_size=3
)
bodies = st.binary(max_size=256)


def signed(
    method: str,
    path: str,
    params: dict[str, str],
    body: bytes,
    region: str = "us-east-1",
    secret: str = SECRET,
) -> HttpRequest:
    request = AWSRequest(
        method=method,
        url="https://localhost:8443" + path,
        params=params,
        data=body,
        headers={"X-Amz-Target": "TrentService.Encrypt"},
    )
    prepared = request.prepare()
    request.url = prepared.url
    SigV4Auth(Credentials("AKIDEXAMPLE", secret), "kms", region).add_auth(request)
    url = urlsplit(request.url)
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    headers.append(("host", "localhost:8443"))
    return HttpRequest(method, url.path or "/", url.query, headers, body)


def verify(request: HttpRequest, secret: str = SECRET, now: datetime | None = None) -> None:
    parsed = sigv4.parse_authorization(request)
    sigv4.check_scope(parsed, now or datetime.now(UTC), REGIONS, "kms")
    sigv4.verify_signature(request, parsed, secret)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["GET", "POST", "PUT", "DELETE"]), paths, query, bodies)
def test_botocore_signatures_verify(method, path, params, body):
    verify(signed(method, path, params, body))


@settings(max_examples=80, deadline=None)
@given(paths, query, bodies, st.binary(min_size=1, max_size=8))
def test_any_change_to_the_body_is_refused(path, params, body, extra):
    request = signed("POST", path, params, body)
    altered = HttpRequest(
        request.method, request.raw_path, request.query_string, request.headers, body + extra
    )
    with pytest.raises(AuthFailure) as failure:
        verify(altered)
    assert failure.value.kind is FailureKind.BAD_SIGNATURE


@settings(max_examples=50, deadline=None)
@given(paths, query)
def test_a_changed_path_or_query_is_refused(path, params):
    request = signed("GET", path, params, b"")
    altered = HttpRequest("GET", request.raw_path + "x", request.query_string, request.headers, b"")
    with pytest.raises(AuthFailure):
        verify(altered)
    altered = HttpRequest(
        "GET", request.raw_path, request.query_string + "&z=1", request.headers, b""
    )
    with pytest.raises(AuthFailure):
        verify(altered)


def test_wrong_secret_is_refused():
    with pytest.raises(AuthFailure) as failure:
        verify(signed("POST", "/", {}, b"{}"), secret=SECRET + "x")
    assert failure.value.kind is FailureKind.BAD_SIGNATURE
    assert failure.value.message.startswith("The request signature we calculated does not match")


@pytest.mark.parametrize("minutes", [16, -16])
def test_requests_outside_the_15_minute_window_are_refused(minutes):
    request = signed("POST", "/", {}, b"{}")
    with pytest.raises(AuthFailure) as failure:
        verify(request, now=datetime.now(UTC) + timedelta(minutes=minutes))
    expected = "Signature expired" if minutes > 0 else "Signature not yet current"
    assert failure.value.message.startswith(expected)


def test_requests_inside_the_window_pass():
    verify(signed("POST", "/", {}, b"{}"), now=datetime.now(UTC) + timedelta(minutes=14))


def test_unknown_region_is_refused():
    with pytest.raises(AuthFailure) as failure:
        verify(signed("POST", "/", {}, b"{}", region="xx-nowhere-1"))
    assert failure.value.message.startswith("Credential should be scoped to a valid region")


def test_missing_and_incomplete_authorization():
    request = signed("POST", "/", {}, b"{}")
    bare = HttpRequest(
        "POST", "/", "", [h for h in request.headers if h[0] != "authorization"], b""
    )
    with pytest.raises(AuthFailure) as failure:
        sigv4.parse_authorization(bare)
    assert failure.value.kind is FailureKind.MISSING_TOKEN
    incomplete = HttpRequest(
        "POST",
        "/",
        "",
        [
            *bare.headers,
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request",
            ),
        ],
        b"",
    )
    with pytest.raises(AuthFailure) as failure:
        sigv4.parse_authorization(incomplete)
    assert failure.value.kind is FailureKind.INCOMPLETE
    assert "'Signature'" in failure.value.message and "'SignedHeaders'" in failure.value.message


def test_host_must_be_signed():
    request = signed("POST", "/", {}, b"{}")
    headers = [
        (k, v.replace("host;", "")) if k == "authorization" else (k, v) for k, v in request.headers
    ]
    with pytest.raises(AuthFailure):
        sigv4.parse_authorization(HttpRequest("POST", "/", "", headers, b"{}"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_garbage_authorization_headers_never_crash(header):
    request = HttpRequest("POST", "/", "", [("authorization", header), ("x-amz-date", "x")], b"")
    try:
        parsed = sigv4.parse_authorization(request)
        sigv4.check_scope(parsed, datetime.now(UTC), REGIONS, "kms")
        sigv4.verify_signature(request, parsed, SECRET)
    except AuthFailure:
        pass
