"""Who may do what: every request is decided by AWS's policy evaluation (`iam/evaluation.py`)
over the caller's identity-based policies from IAM storage, the resource's own policy (a
secret's resource policy, a key's key policy), KMS grants, and the request's condition keys.

Services call `RequestContext.authorize` where they know the resource (after finding a secret
or a key, so that its policy and tags take part); the dispatcher refuses to answer a call whose
operation made no decision, so no operation can skip the check by omission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from strongroom.auth.principal import Principal
from strongroom.iam.conditions import ContextValue
from strongroom.iam.evaluation import (
    AwsPrincipal,
    CompiledPolicy,
    Decision,
    Request,
    access_denied_message,
    compile_document,
    evaluate,
    request_context,
)
from strongroom.iam.policy import PolicyKind
from strongroom.protocol.errors import AwsError, NamedError

# Where IAM storage is read: the documents of a user's or role's identity-based policies
# (inline, attached managed, and a user's groups'), and the user's tags.
IdentityPolicies = Callable[[str, str, str], tuple[str, ...]]  # (account, "user"/"role", name)
PrincipalTags = Callable[[str, str, str], Mapping[str, str]]  # (account, "user"/"role", name)

# How each wire protocol's services say "denied": JSON services with AccessDeniedException
# (400), the query and rest-xml services (IAM, STS, S3) with AccessDenied (403), the rest-json
# ones (Lambda) and rpc-v2-cbor ones with AccessDeniedException (403).
_DENIALS = {
    "json": ("AccessDeniedException", 400),
    "query": ("AccessDenied", 403),
    "rest-xml": ("AccessDenied", 403),
    "rest-json": ("AccessDeniedException", 403),
    # CloudWatch: its x-amzn-query-error header makes it AccessDenied to botocore.
    "smithy-rpc-v2-cbor": ("AccessDeniedException", 403),
}
# Services that say it in words of their own, by IAM prefix: SNS answers AuthorizationError
# (403) and names its actions as its policies do ("SNS:Publish").
_SERVICE_DENIALS = {"sns": ("AuthorizationErrorException", 403, "SNS")}


class Authorizer:
    def __init__(self, identity_policies: IdentityPolicies, principal_tags: PrincipalTags) -> None:
        self._identity_policies = identity_policies
        self._principal_tags = principal_tags

    def decide(
        self,
        facts: RequestFacts,
        action: str,
        resource: str,
        *,
        resource_policy: str | None = None,
        key_policy: str | None = None,
        trust_policy: str | None = None,
        resource_account: str | None = None,
        grant: bool = False,
        conditions: Mapping[str, ContextValue] | None = None,
    ) -> Decision:
        """`trust_policy`: a role's, which decides sts:AssumeRole as a key policy decides KMS
        calls."""
        principal, session = facts.principal, facts.principal.session
        kind = "role" if principal.role_session else "user"
        caller = AwsPrincipal(principal.account_id, principal.arn, principal.role_arn)
        documents = self._identity_policies(principal.account_id, kind, principal.user_name)
        identity = [compile_document(d, PolicyKind.IDENTITY) for d in documents]
        session_policies = (
            [compile_document(d, PolicyKind.IDENTITY) for d in session.policies]
            if session is not None and session.policies is not None
            else None
        )
        context = request_context({**self._global_keys(facts, kind), **(conditions or {})})
        return evaluate(
            Request(caller, action, resource, context),
            identity,
            session_policies=session_policies,
            resource_policy=_resource(resource_policy),
            # A trust policy, like a key policy, must itself allow: naming the account lets
            # the caller's own policies decide, naming the caller suffices.
            key_policy=(
                compile_document(trust_policy, PolicyKind.TRUST)
                if trust_policy
                else _resource(key_policy)
            ),
            resource_account=resource_account,
            grant=grant,
        )

    def _global_keys(self, facts: RequestFacts, kind: str) -> dict[str, ContextValue]:
        principal, session = facts.principal, facts.principal.session
        keys: dict[str, ContextValue] = {
            "aws:CurrentTime": facts.time,
            "aws:EpochTime": str(int(facts.time.timestamp())),
            "aws:SourceIp": facts.source_ip,
            "aws:SecureTransport": facts.secure_transport,
            "aws:RequestedRegion": facts.region,
            "aws:PrincipalArn": principal.role_arn or principal.arn,
            "aws:PrincipalAccount": principal.account_id,
            "aws:PrincipalType": "AssumedRole" if kind == "role" else "User",
            "aws:userid": principal.user_id,
        }
        if kind == "user":
            keys["aws:username"] = principal.user_name
        tags = dict(self._principal_tags(principal.account_id, kind, principal.user_name))
        if session is not None:
            # Temporary credentials say whether MFA was used; long-term keys leave the key
            # out altogether, as AWS does (hence the BoolIfExists idiom).
            keys["aws:MultiFactorAuthPresent"] = session.mfa_authenticated
            if session.mfa_authenticated_at is not None:
                age = facts.time.timestamp() - session.mfa_authenticated_at
                keys["aws:MultiFactorAuthAge"] = str(max(0, int(age)))
            keys["aws:TokenIssueTime"] = datetime.fromtimestamp(session.issued_at, UTC)
            if session.source_identity is not None:
                keys["aws:SourceIdentity"] = session.source_identity
            tags |= session.tags  # session tags win over the role's own
        for key, value in tags.items():
            keys[f"aws:PrincipalTag/{key}"] = value
        return keys


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the authorizer reads of a request besides the action and resource."""

    principal: Principal
    region: str
    source_ip: str
    secure_transport: bool
    time: datetime


class PolicyDenial(NamedError):
    """A call the policies refuse (not a resource that is missing or unusable)."""


def denial(
    protocol: str,
    caller_arn: str,
    action: str,
    resource: str,
    decision: Decision,
    service: str = "",
) -> AwsError:
    """The error a denied call gets, in its service's words (`service`: its IAM prefix)."""
    assert decision.reason is not None
    code, status = _DENIALS.get(protocol, _DENIALS["json"])
    if service in _SERVICE_DENIALS:
        code, status, prefix = _SERVICE_DENIALS[service]
        if action.lower().startswith(f"{service}:"):
            action = f"{prefix}:{action.partition(':')[2]}"
    return PolicyDenial(
        code, access_denied_message(caller_arn, action, resource, decision.reason), status=status
    )


def _resource(document: str | None) -> CompiledPolicy | None:
    return compile_document(document, PolicyKind.RESOURCE) if document else None
