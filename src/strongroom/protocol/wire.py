"""A request as the protocol layer sees it, and the response it produces."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.auth.sigv4 import HttpRequest


@dataclass(frozen=True)
class WireRequest:
    http: HttpRequest
    source_ip: str
    # CloudTrail's tlsDetails (tlsVersion, cipherSuite, clientProvidedHostHeader); None on
    # plain HTTP (dev servers).
    tls: dict[str, str] | None = None

    @property
    def user_agent(self) -> str:
        return self.http.header("user-agent") or ""


@dataclass
class WireResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # For the access log only: never values, just what was called and how it ended.
    operation: str = ""
    error_code: str = ""

    @property
    def request_id(self) -> str:
        # x-amzn-requestid in JSON protocols, x-amz-request-id in S3's rest-xml.
        names = ("x-amzn-requestid", "x-amz-request-id")
        return next((v for k, v in self.headers if k in names), "")
