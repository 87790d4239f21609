"""S3's SigV4 rules, checked against botocore's own S3SigV4Auth: the declared payload hash is
signed, the path is signed exactly as sent, and the body must match a declared hex hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.auth import sigv4
from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGIONS = frozenset({"us-east-1", "eu-west-1"})

# Object keys S3 allows and path normalisation would change: "//", ".", "..", spaces, "+".
keys = st.lists(
    st.sampled_from(["a", "B", "0", ".", "..", "", " ", "+", "~", "é", "%", "x y", "a=b"]),
    min_size=1,
    max_size=6,
).map("/".join)


def signed(
    key: str,
    body: bytes = b"",
    params: dict[str, str] | None = None,
    unsigned_payload: bool = False,
) -> HttpRequest:
    scheme = "https" if unsigned_payload else "http"
    path = "/strongroom-cloudtrail-123456789012/" + quote(key, safe="/~")
    request = AWSRequest(method="GET", url=f"{scheme}://localhost:8443{path}", data=body)
    if params:
        request.params = params
        request.url = request.prepare().url
        request.params = {}
    if unsigned_payload:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(Credentials("AKIDEXAMPLE", SECRET), "s3", "eu-west-1").add_auth(request)
    url = urlsplit(request.url)
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    headers.append(("host", "localhost:8443"))
    return HttpRequest("GET", url.path, url.query, headers, body)


def verify(request: HttpRequest) -> None:
    parsed = sigv4.parse_authorization(request)
    sigv4.check_scope(parsed, datetime.now(UTC), REGIONS, "s3")
    sigv4.verify_signature(request, parsed, SECRET)


def replaced(request: HttpRequest, **changes: object) -> HttpRequest:
    fields = {
        "method": request.method,
        "raw_path": request.raw_path,
        "query_string": request.query_string,
        "headers": request.headers,
        "body": request.body,
    }
    fields.update(changes)
    return HttpRequest(**fields)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(keys, st.binary(max_size=64))
def test_botocore_s3_signatures_verify_with_unnormalised_paths(key, body):
    verify(signed(key, body))


def test_query_parameters_are_signed():
    request = signed("", params={"prefix": "AWSLogs/1/", "max-keys": "2", "encoding-type": "url"})
    verify(request)
    with pytest.raises(AuthFailure) as failure:
        verify(
            replaced(request, query_string=request.query_string.replace("max-keys=2", "max-keys=3"))
        )
    assert failure.value.kind is FailureKind.BAD_SIGNATURE


def test_a_normalised_path_is_not_the_signed_one():
    request = signed("a/../b")
    verify(request)
    with pytest.raises(AuthFailure) as failure:
        verify(replaced(request, raw_path=request.raw_path.replace("/a/../b", "/b")))
    assert failure.value.kind is FailureKind.BAD_SIGNATURE


def test_a_body_other_than_the_declared_one_is_refused_after_the_signature():
    request = signed("key", b"declared")
    with pytest.raises(AuthFailure) as failure:
        verify(replaced(request, body=b"altered"))
    assert failure.value.kind is FailureKind.PAYLOAD_HASH_MISMATCH
    assert "x-amz-content-sha256" in failure.value.message


def test_a_changed_declared_hash_breaks_the_signature():
    request = signed("key", b"declared")
    other = hashlib.sha256(b"altered").hexdigest()
    headers = [(k, other if k == "x-amz-content-sha256" else v) for k, v in request.headers]
    with pytest.raises(AuthFailure) as failure:
        verify(replaced(request, headers=headers, body=b"altered"))
    assert failure.value.kind is FailureKind.BAD_SIGNATURE


def test_unsigned_payload_is_accepted_as_signed():
    request = signed("key", b"any body", unsigned_payload=True)
    assert request.header("x-amz-content-sha256") == sigv4.UNSIGNED_PAYLOAD
    verify(request)
    verify(replaced(request, body=b"another body"))


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, FailureKind.PAYLOAD_HASH_MISSING),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", FailureKind.PAYLOAD_HASH_INVALID),
        ("abc", FailureKind.PAYLOAD_HASH_INVALID),
    ],
)
def test_the_payload_hash_header_must_be_a_hash_or_unsigned(value, kind):
    request = signed("key")
    headers = [(k, v) for k, v in request.headers if k != "x-amz-content-sha256"]
    if value is not None:
        headers.append(("x-amz-content-sha256", value))
    with pytest.raises(AuthFailure) as failure:
        verify(replaced(request, headers=headers))
    assert failure.value.kind is kind


def test_other_services_still_hash_the_body_and_normalise_the_path():
    """The S3 rules apply only to requests scoped to s3."""
    request = signed("a/./b")
    parsed = sigv4.parse_authorization(request)
    kms_scope = sigv4.CredentialScope(
        parsed.scope.access_key_id, parsed.scope.date, parsed.scope.region, "kms"
    )
    as_kms = sigv4.ParsedAuthorization(
        kms_scope, parsed.signed_headers, parsed.signature, parsed.amz_date
    )
    canonical = sigv4.canonical_request(request, parsed.signed_headers, "h")
    assert canonical.split("\n")[1] == "/strongroom-cloudtrail-123456789012/a/b"
    with pytest.raises(AuthFailure) as failure:
        sigv4.verify_signature(request, as_kms, SECRET)
    assert failure.value.kind is FailureKind.BAD_SIGNATURE
