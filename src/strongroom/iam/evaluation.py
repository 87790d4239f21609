"""IAM policy evaluation: AWS's "Policy evaluation logic" for one request.

The integrator compiles each policy once (`compile_document`, cached by text), builds a
`Request` (caller, action, resource ARN, and a context from `request_context`), and calls
`evaluate`; a denied `Decision` carries the `DenyReason` AWS's AccessDenied message names.

1. An explicit Deny in any policy that applies (identity-based, session, resource-based or key
   policy) denies.
2. Same account (the resource's account is the caller's): allowed when an identity-based policy
   allows (and, for a session with session policies, a session policy too), or when the
   resource-based policy allows the caller by its own ARN (or `*`). A resource policy naming
   the role a session was issued from is limited by the session policies; one naming the
   session ARN is not (unsure: `*` is taken to name the session too). Naming the caller's
   account (root ARN or account id) delegates to the account's identity-based policies and adds
   nothing of its own.
3. Cross-account: both an identity-based policy (within the session policies) and the resource
   policy (naming the caller, its role or its account) must allow.
4. KMS key policies (`key_policy=`): the key policy is required. Same account: allowed when the
   key policy allows the caller directly (or its role, within the session policies), or allows
   the account and an identity-based policy allows. Cross-account as in 3. A grant
   (`grant=True`, computed by the caller) is one more allow: explicit denies still win
   ("never denied" in the KMS key-access rules) and session policies limit it, like a key
   policy statement naming the grantee. Unsure: whether AWS lets a cross-account grant stand
   without an IAM allow in the grantee's account; here it does, as a grant names its grantee.
5. The account root user is allowed by its own account without identity-based policies (AWS's
   one exception to the implicit deny); resource and key policies still apply to it. A service
   principal (`ServicePrincipal`) has no identity-based policies: only a resource policy
   naming the service (or `*`) allows it.

How Principal and NotPrincipal name a caller is in `principals`; NotPrincipal with Allow, which
AWS does not support, grants nothing here. Permissions boundaries, SCPs and RCPs are not
modelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from strongroom.iam.compiled import (
    CompiledPolicy,
    CompiledStatement,
    StatementGroup,
    compile_document,
    compile_policy,
)
from strongroom.iam.conditions import request_context
from strongroom.iam.patterns import Context
from strongroom.iam.principals import AwsPrincipal, Caller, Reach, ServicePrincipal

__all__ = [
    "ALLOWED",
    "AwsPrincipal",
    "Caller",
    "CompiledPolicy",
    "Decision",
    "DenyReason",
    "Request",
    "ServicePrincipal",
    "access_denied_message",
    "compile_document",
    "compile_policy",
    "evaluate",
    "reason_phrase",
    "request_context",
]


@dataclass(frozen=True)
class Request:
    caller: Caller
    action: str  # "secretsmanager:GetSecretValue"; matched case-insensitively
    resource: str = "*"  # the resource ARN, or "*" for actions without one
    context: Context = field(default_factory=dict)  # built with conditions.request_context


class DenyReason(Enum):
    EXPLICIT_DENY_IDENTITY = "with an explicit deny in an identity-based policy"
    EXPLICIT_DENY_RESOURCE = "with an explicit deny in a resource-based policy"
    EXPLICIT_DENY_SESSION = "with an explicit deny in a session policy"
    NO_IDENTITY_ALLOW = "because no identity-based policy allows the {action} action"
    NO_RESOURCE_ALLOW = "because no resource-based policy allows the {action} action"
    NO_SESSION_ALLOW = "because no session policy allows the {action} action"

    @property
    def explicit(self) -> bool:
        return self.value.startswith("with")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: DenyReason | None = None  # why not, when not allowed


ALLOWED = Decision(allowed=True)


def reason_phrase(reason: DenyReason, action: str) -> str:
    """The end of AWS's AccessDenied message: "because no identity-based policy allows the
    secretsmanager:GetSecretValue action", "with an explicit deny in a resource-based policy"."""
    return reason.value.format(action=action)


def access_denied_message(caller_arn: str, action: str, resource: str, reason: DenyReason) -> str:
    """AWS's AccessDenied message; actions without a resource ("*") leave out "on resource"."""
    on = f" on resource: {resource}" if resource and resource != "*" else ""
    return (
        f"User: {caller_arn} is not authorized to perform: {action}{on} "
        f"{reason_phrase(reason, action)}"
    )


_NOTHING, _ALLOW, _DENY = 0, 1, 2


def _scan(policies: Sequence[CompiledPolicy], action: str, resource: str, context: Context) -> int:
    """Identity-based or session policies: _DENY, _ALLOW or _NOTHING."""
    allowed = False
    for policy in policies:
        denies, allows = policy.candidates(action)
        for group in denies:
            if group.first_applying(resource, context) is not None:
                return _DENY
        if not allowed:
            for group in allows:
                if group.first_applying(resource, context) is not None:
                    allowed = True
                    break
    return _ALLOW if allowed else _NOTHING


def _scan_resource(
    policy: CompiledPolicy, caller: Caller, action: str, resource: str, context: Context
) -> Reach | None:
    """A resource or key policy: None for an explicit deny, else how directly it allows."""
    denies, allows = policy.candidates(action)
    for statement in _statements(denies):
        principals = statement.principals
        if (
            principals is not None
            and principals.reach(caller) is not Reach.NONE
            and statement.applies(resource, context)
        ):
            return None
    best = Reach.NONE
    for statement in _statements(allows):
        if statement.principals is None:
            continue
        reach = statement.principals.reach(caller)
        if reach > best and statement.applies(resource, context):
            best = reach
            if best is Reach.DIRECT:
                break
    return best


def _statements(groups: tuple[StatementGroup, ...]) -> list[CompiledStatement]:
    return [statement for group in groups for statement in group.statements]


def evaluate(
    request: Request,
    identity_policies: Sequence[CompiledPolicy] = (),
    *,
    session_policies: Sequence[CompiledPolicy] | None = None,
    resource_policy: CompiledPolicy | None = None,
    key_policy: CompiledPolicy | None = None,
    resource_account: str | None = None,
    grant: bool = False,
) -> Decision:
    """Decide a request.

    identity_policies: every identity-based policy of the caller (user + its groups, or the
        session's role), inline and managed.
    session_policies: for a session created with session policies (AssumeRole `Policy` /
        `PolicyArns`, GetFederationToken); None when the session has none. An empty sequence
        allows nothing (as GetFederationToken without policies).
    resource_policy: the resource's own policy (a secret's, a topic's...), if any.
    key_policy: instead of resource_policy, a KMS key's policy, which must itself allow.
    resource_account: the account owning the resource; None means the caller's own.
    grant: a KMS grant gives the caller this operation on the key (key_policy only).
    """
    if resource_policy is not None and key_policy is not None:
        raise ValueError("pass resource_policy or key_policy, not both")
    caller, resource, context = request.caller, request.resource, request.context
    action = request.action.lower()
    target = key_policy if key_policy is not None else resource_policy
    grant = grant and key_policy is not None

    if isinstance(caller, ServicePrincipal):
        reach = Reach.NONE
        if target is not None:
            found = _scan_resource(target, caller, action, resource, context)
            if found is None:
                return Decision(False, DenyReason.EXPLICIT_DENY_RESOURCE)
            reach = found
        if reach is Reach.DIRECT or grant:
            return ALLOWED
        return Decision(False, DenyReason.NO_RESOURCE_ALLOW)

    if caller.is_root:
        identity_allows = True  # the root user needs no identity-based policy
    else:
        identity = _scan(identity_policies, action, resource, context)
        if identity == _DENY:
            return Decision(False, DenyReason.EXPLICIT_DENY_IDENTITY)
        identity_allows = identity == _ALLOW
    session_allows = True
    if session_policies is not None:
        session = _scan(session_policies, action, resource, context)
        if session == _DENY:
            return Decision(False, DenyReason.EXPLICIT_DENY_SESSION)
        session_allows = session == _ALLOW
    reach = Reach.NONE
    if target is not None:
        found = _scan_resource(target, caller, action, resource, context)
        if found is None:
            return Decision(False, DenyReason.EXPLICIT_DENY_RESOURCE)
        reach = found

    same_account = resource_account is None or resource_account == caller.account_id
    if not same_account:
        return _cross_account(identity_allows, session_allows, reach, grant)
    if key_policy is not None:
        return _same_account_key(identity_allows, session_allows, reach, grant)
    return _same_account(identity_allows, session_allows, reach)


def _same_account(identity_allows: bool, session_allows: bool, reach: Reach) -> Decision:
    if reach is Reach.DIRECT:
        return ALLOWED
    if not identity_allows and reach is not Reach.ISSUER:
        return Decision(False, DenyReason.NO_IDENTITY_ALLOW)
    if not session_allows:
        return Decision(False, DenyReason.NO_SESSION_ALLOW)
    return ALLOWED


def _same_account_key(
    identity_allows: bool, session_allows: bool, reach: Reach, grant: bool
) -> Decision:
    if reach is Reach.DIRECT:
        return ALLOWED
    if reach is Reach.NONE and not grant:
        return Decision(False, DenyReason.NO_RESOURCE_ALLOW)
    if reach is Reach.ACCOUNT and not identity_allows and not grant:
        return Decision(False, DenyReason.NO_IDENTITY_ALLOW)
    if not session_allows:
        return Decision(False, DenyReason.NO_SESSION_ALLOW)
    return ALLOWED


def _cross_account(
    identity_allows: bool, session_allows: bool, reach: Reach, grant: bool
) -> Decision:
    if grant:
        return ALLOWED if session_allows else Decision(False, DenyReason.NO_SESSION_ALLOW)
    if not identity_allows:
        return Decision(False, DenyReason.NO_IDENTITY_ALLOW)
    if not session_allows:
        return Decision(False, DenyReason.NO_SESSION_ALLOW)
    if reach is Reach.NONE:
        return Decision(False, DenyReason.NO_RESOURCE_ALLOW)
    return ALLOWED
