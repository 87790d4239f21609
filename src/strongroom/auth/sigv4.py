"""AWS Signature Version 4 verification of Authorization-header requests.

Failures raise AuthFailure with AWS's wording; the protocol codec turns its `kind` into the
error code and status its wire protocol uses (e.g. InvalidSignatureException for JSON services,
SignatureDoesNotMatch for query services).

S3 signs differently, as botocore's S3SigV4Auth does: the payload hash is the value of the
x-amz-content-sha256 header (a hex SHA-256 or UNSIGNED-PAYLOAD), and the path is signed exactly
as sent, neither normalised nor encoded again (object keys may hold `//`, `.` and `..`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
S3_SERVICE = "s3"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_WHITESPACE = re.compile(r"\s+")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class FailureKind(enum.Enum):
    MISSING_TOKEN = "missing"  # noqa: S105 - a failure kind, not a credential  # no authentication at all
    INCOMPLETE = "incomplete"  # malformed Authorization header or missing date
    UNKNOWN_KEY = "unknown_key"  # access key id not known or not active
    BAD_SIGNATURE = "bad_signature"  # signature, scope or time is wrong
    EXPIRED_TOKEN = "expired_token"  # temporary credentials past their expiration  # noqa: S105
    # S3 only: the x-amz-content-sha256 header is absent, not a hash, or not the body's hash.
    PAYLOAD_HASH_MISSING = "payload_hash_missing"
    PAYLOAD_HASH_INVALID = "payload_hash_invalid"
    PAYLOAD_HASH_MISMATCH = "payload_hash_mismatch"


class AuthFailure(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request that SigV4 covers; header names are lower-case."""

    method: str
    raw_path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class CredentialScope:
    access_key_id: str
    date: str
    region: str
    service: str


@dataclass(frozen=True)
class ParsedAuthorization:
    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str


def parse_authorization(request: HttpRequest) -> ParsedAuthorization:
    header = request.header("authorization")
    if header is None:
        raise AuthFailure(FailureKind.MISSING_TOKEN, "Request is missing Authentication Token")
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure(
            FailureKind.INCOMPLETE, f"Unsupported AWS 'algorithm': '{algorithm[:32]}'"
        )
    parts = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    missing = [p for p in ("Credential", "Signature", "SignedHeaders") if not parts.get(p)]
    if missing:
        raise AuthFailure(
            FailureKind.INCOMPLETE,
            " ".join(f"Authorization header requires '{p}' parameter." for p in missing),
        )
    credential = parts["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise AuthFailure(
            FailureKind.INCOMPLETE,
            "Credential should be scoped to a valid region, service and date, "
            "and end with 'aws4_request'.",
        )
    amz_date = request.header("x-amz-date")
    if amz_date is None:
        raise AuthFailure(
            FailureKind.INCOMPLETE,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if "host" not in signed_headers:
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    scope = CredentialScope(credential[0], credential[1], credential[2], credential[3])
    return ParsedAuthorization(scope, signed_headers, parts["Signature"], amz_date)


def _parse_amz_date(text: str) -> datetime:
    # The fixed layout YYYYMMDDTHHMMSSZ, parsed by hand: strptime costs more than the HMACs.
    if len(text) != 16 or text[8] != "T" or text[15] != "Z" or not text[:8].isdigit():
        raise ValueError(text)
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[9:11]),
        int(text[11:13]),
        int(text[13:15]),
        tzinfo=UTC,
    )


def check_scope(
    parsed: ParsedAuthorization, now: datetime, valid_regions: frozenset[str], service: str
) -> None:
    """Reject stale or future requests, and scopes for another date, region or service."""
    try:
        signed_at = _parse_amz_date(parsed.amz_date)
    except ValueError:
        raise AuthFailure(
            FailureKind.INCOMPLETE,
            f"Date must be in ISO-8601 'basic format'. Got '{parsed.amz_date[:32]}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        ) from None
    if signed_at < now - MAX_SKEW:
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            f"Signature expired: {parsed.amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ_DATE_FORMAT)} "
            f"({now.strftime(_AMZ_DATE_FORMAT)} - 15 min.)",
        )
    if signed_at > now + MAX_SKEW:
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            f"Signature not yet current: {parsed.amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE_FORMAT)} "
            f"({now.strftime(_AMZ_DATE_FORMAT)} + 15 min.)",
        )
    if parsed.scope.date != parsed.amz_date[:8]:
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{parsed.scope.date[:16]}' != '{parsed.amz_date[:8]}', from "
            f"ISO-8601 string '{parsed.amz_date}'.",
        )
    if parsed.scope.region not in valid_regions:
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            f"Credential should be scoped to a valid region, not '{parsed.scope.region[:32]}'. ",
        )
    if parsed.scope.service != service:
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            f"Credential should be scoped to correct service: '{service}'. ",
        )


def verify_signature(
    request: HttpRequest, parsed: ParsedAuthorization, secret_access_key: str
) -> None:
    s3 = parsed.scope.service == S3_SERVICE
    # Other services: always the hash of the body received, so an altered body cannot pass.
    payload_hash = _s3_payload_hash(request) if s3 else hashlib.sha256(request.body).hexdigest()
    canonical = canonical_request(request, parsed.signed_headers, payload_hash, s3)
    expected = _signature(canonical, parsed, secret_access_key)
    if not hmac.compare_digest(expected, parsed.signature.encode()):
        raise AuthFailure(
            FailureKind.BAD_SIGNATURE,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        )
    # S3 signed the declared hash; the body must be the one it declared (unless UNSIGNED).
    if (
        s3
        and payload_hash != UNSIGNED_PAYLOAD
        and payload_hash.lower() != hashlib.sha256(request.body).hexdigest()
    ):
        raise AuthFailure(
            FailureKind.PAYLOAD_HASH_MISMATCH,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )


def _s3_payload_hash(request: HttpRequest) -> str:
    value = request.header("x-amz-content-sha256")
    if value is None:
        raise AuthFailure(
            FailureKind.PAYLOAD_HASH_MISSING,
            "Missing required header for this request: x-amz-content-sha256",
        )
    # Streaming (aws-chunked) payloads are not supported: no operation served here takes one.
    if value != UNSIGNED_PAYLOAD and not _SHA256_HEX.fullmatch(value):
        raise AuthFailure(
            FailureKind.PAYLOAD_HASH_INVALID,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.",
        )
    return value


def _signature(canonical: str, parsed: ParsedAuthorization, secret: str) -> bytes:
    scope = parsed.scope
    scope_text = f"{scope.date}/{scope.region}/{scope.service}/aws4_request"
    string_to_sign = "\n".join(
        (ALGORITHM, parsed.amz_date, scope_text, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = signing_key(secret, scope.date, scope.region, scope.service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest().encode()


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Derived once per key, day, region and service: four HMACs saved on every request."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(
    request: HttpRequest, signed_headers: Sequence[str], payload_hash: str, s3: bool = False
) -> str:
    return "\n".join(
        (
            request.method,
            # S3 signs the path as sent (botocore's S3SigV4Auth does not normalise it).
            (request.raw_path or "/") if s3 else _canonical_uri(request.raw_path),
            _canonical_query(request.query_string),
            _canonical_headers(request, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def _canonical_uri(raw_path: str) -> str:
    # Non-S3 services sign the normalised path encoded once more (the client encoded it first).
    path = posixpath.normpath(raw_path) if raw_path not in ("", "/") else "/"
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return quote(path.replace("//", "/"), safe="/~")


def _canonical_query(query_string: str) -> str:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _canonical_headers(request: HttpRequest, signed_headers: Sequence[str]) -> str:
    signed = set(signed_headers)
    values: dict[str, list[str]] = {name: [] for name in signed_headers}
    for name, value in request.headers:
        if name in signed:
            values[name].append(_WHITESPACE.sub(" ", value.strip()))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in signed_headers)
