"""What a service operation knows about the call it is serving."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.auth.principal import Principal


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    principal: Principal
    region: str
    source_ip: str
    user_agent: str
    operation: str = ""  # the API operation being served, e.g. "Encrypt"

    @property
    def account_id(self) -> str:
        return self.principal.account_id
