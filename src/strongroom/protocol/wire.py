"""A request as the protocol layer sees it, and the response it produces."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.auth.sigv4 import HttpRequest


@dataclass(frozen=True)
class WireRequest:
    http: HttpRequest
    source_ip: str

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
