"""Who is calling, and how a Principal or NotPrincipal element names the caller.

A caller is a set of identities, as AWS checks them in turn: its own ARN (user, root or session),
the role (or IAM user) its session was issued from, and its account. A Principal names the
caller when it names any of them (an account id is its root ARN); how directly it does so
(`Reach`) decides what the evaluator does with an Allow. NotPrincipal excludes a caller only
when it lists every one of its identities, which is why AWS tells NotPrincipal users to list the
account too. `*` names everyone, services included. Federated and CanonicalUser principals never
match: no caller here is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from strongroom.iam.policy import Principals


@dataclass(frozen=True)
class AwsPrincipal:
    """An IAM identity making a call: an IAM user, the account root user, or a session.
    `arn` is the user ARN, the root ARN, or the session ARN
    (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`, `arn:aws:sts::ACCT:federated-user/NAME`);
    `session_issuer_arn` is the role ARN of an assumed-role session (the IAM user ARN of a
    federated-user session)."""

    account_id: str
    arn: str
    session_issuer_arn: str | None = None
    root_arn: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        partition = self.arn.split(":")[1] if self.arn.startswith("arn:") else "aws"
        object.__setattr__(self, "root_arn", f"arn:{partition}:iam::{self.account_id}:root")

    @property
    def is_root(self) -> bool:
        return self.arn == self.root_arn


@dataclass(frozen=True)
class ServicePrincipal:
    """An AWS service calling on its own behalf, e.g. `lambda.amazonaws.com`."""

    service: str


Caller = AwsPrincipal | ServicePrincipal


class Reach(IntEnum):
    """How a resource-policy statement names the caller; higher is more direct."""

    NONE = 0
    ACCOUNT = 1  # the caller's account: a delegation to the account's identity-based policies
    ISSUER = 2  # the role (or IAM user) the caller's session was issued from
    DIRECT = 3  # the caller's own ARN, or everyone


class PrincipalMatcher:
    __slots__ = ("_arns", "_everyone", "_negated", "_services")

    def __init__(self, principals: Principals, negated: bool) -> None:
        names = principals.get("AWS", ())
        self._everyone = "*" in names
        # An account id is that account's root ARN (either form names the account).
        self._arns = frozenset(
            f"arn:aws:iam::{name}:root" if name.isdigit() else name for name in names
        )
        self._services = frozenset(principals.get("Service", ()))
        self._negated = negated

    def reach(self, caller: Caller) -> Reach:
        if self._negated:
            return Reach.NONE if self._excludes(caller) else Reach.DIRECT
        if self._everyone:
            return Reach.DIRECT
        if isinstance(caller, ServicePrincipal):
            named = caller.service in self._services or "*" in self._services
            return Reach.DIRECT if named else Reach.NONE
        if caller.arn in self._arns:
            return Reach.DIRECT
        if caller.session_issuer_arn is not None and caller.session_issuer_arn in self._arns:
            return Reach.ISSUER
        if caller.root_arn in self._arns:
            return Reach.ACCOUNT
        return Reach.NONE

    def _excludes(self, caller: Caller) -> bool:
        """NotPrincipal: the caller escapes only if every identity it has is listed."""
        if self._everyone:
            return True
        if isinstance(caller, ServicePrincipal):
            return caller.service in self._services or "*" in self._services
        identities = [caller.arn, caller.root_arn]
        if caller.session_issuer_arn is not None:
            identities.append(caller.session_issuer_arn)
        return all(identity in self._arns for identity in identities)
