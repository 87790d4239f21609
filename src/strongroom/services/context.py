"""What a service operation knows about the call it is serving."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from strongroom.auth.principal import Principal


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    principal: Principal
    region: str
    source_ip: str
    user_agent: str
    operation: str = ""  # the API operation being served, e.g. "Encrypt"
    # What the call acted on, as (CloudFormation type, ARN), for its audit record.
    resources: list[tuple[str, str]] = field(default_factory=list)
    # Bookkeeping that waits until the call's audit record is stored (a call refused for want
    # of a record leaves no trace); None for work a service does by itself: done at once.
    when_recorded_callbacks: list[Callable[[], None]] | None = None

    def note_resource(self, kind: str, arn: str) -> None:
        if (kind, arn) not in self.resources:
            self.resources.append((kind, arn))

    def when_recorded(self, bookkeeping: Callable[[], None]) -> None:
        if self.when_recorded_callbacks is None:
            bookkeeping()
        else:
            self.when_recorded_callbacks.append(bookkeeping)

    @property
    def account_id(self) -> str:
        return self.principal.account_id


@dataclass(frozen=True)
class ServiceEvent:
    """Something a service did by itself (a key deleted when its waiting period ended, an
    automatic rotation): the audit trail records it as an AwsServiceEvent."""

    account_id: str
    region: str
    event_source: str  # e.g. "kms.amazonaws.com"
    event_name: str  # CloudTrail's name for it, e.g. "DeleteKey"
    resources: tuple[tuple[str, str], ...]  # (type, ARN)


ServiceEvents = Callable[[ServiceEvent], None]
