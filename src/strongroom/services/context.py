"""What a service operation knows about the call it is serving."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from strongroom.auth.authorizer import Authorizer, RequestFacts, denial
from strongroom.auth.principal import Principal
from strongroom.iam.conditions import ContextValue
from strongroom.iam.evaluation import ALLOWED, Decision


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
    # Who decides what the caller may do; None for work a service does by itself.
    authorizer: Authorizer | None = None
    service_prefix: str = ""  # of IAM action names: "secretsmanager", "kms"...
    protocol: str = "json"  # the wire protocol, which words a denial
    secure_transport: bool = False
    time: datetime = field(default_factory=lambda: datetime.now(UTC))  # the server's clock
    # Condition keys every decision of this call carries: kms:ViaService when Secrets Manager
    # uses KMS on the caller's behalf.
    conditions: Mapping[str, ContextValue] = field(default_factory=dict)
    # How many decisions the call made: the dispatcher answers no call that made none.
    decisions: list[Decision] = field(default_factory=list)

    def needs_no_permission(self) -> None:
        """For the few calls no policy may refuse (sts:GetCallerIdentity, GetSessionToken)."""
        self.decisions.append(ALLOWED)

    def authorize(
        self,
        resource: str = "*",
        *,
        action: str | None = None,
        resource_policy: str | None = None,
        key_policy: str | None = None,
        trust_policy: str | None = None,
        resource_account: str | None = None,
        grant: bool = False,
        conditions: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """Raise the service's AccessDenied unless the caller may do `action` (this call's
        operation by default) on `resource`, given the resource's own policy if it has one."""
        if self.authorizer is None:
            return
        action = action or f"{self.service_prefix}:{self.operation}"
        facts = RequestFacts(
            self.principal, self.region, self.source_ip, self.secure_transport, self.time
        )
        decision = self.authorizer.decide(
            facts,
            action,
            resource,
            resource_policy=resource_policy,
            key_policy=key_policy,
            trust_policy=trust_policy,
            resource_account=resource_account,
            grant=grant,
            conditions={**self.conditions, **(conditions or {})},
        )
        self.decisions.append(decision)
        if not decision.allowed:
            raise denial(
                self.protocol, self.principal.arn, action, resource, decision, self.service_prefix
            )

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
    additional_data: Mapping[str, str] | None = None  # the record's additionalEventData


ServiceEvents = Callable[[ServiceEvent], None]
