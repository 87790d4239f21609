"""AWS STS: who am I, AssumeRole and GetSessionToken. Temporary credentials are sessions sealed
into their session token (`auth/sessions.py`); the authenticator opens them on every call.

Sessions expire by the server's clock (the --dev clock in tests), as they are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from strongroom.auth import sessions
from strongroom.auth.principal import Principal
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam.conditions import ContextValue
from strongroom.iam.policy import MalformedPolicy, PolicyKind, parse
from strongroom.services.context import RequestContext
from strongroom.services.sts import errors as e
from strongroom.storage.iam import IamRepository

ROLE_RESOURCE = "AWS::IAM::Role"
DEFAULT_DURATION = 3600
ROLE_CHAINING_MAX_DURATION = 3600  # a role session assuming a role gets at most an hour
SESSION_TOKEN_DURATION = 43200  # GetSessionToken's default
MAX_SESSION_POLICY_CHARACTERS = 2048
MAX_SESSION_TAGS = 50
_ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/(?:[!-~]*/)?([\w+=,.@-]+)")
_MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."

# (account, serial number, code) -> whether the code is a current, unused one of the device.
VerifyMfa = Callable[[str, str, str], bool]


class STS:
    def __init__(
        self, iam: IamRepository, verify_mfa: VerifyMfa, barrier: Barrier, clock: Clock
    ) -> None:
        self._iam = iam
        self._verify_mfa = verify_mfa
        self._barrier = barrier
        self._clock = clock

    def get_caller_identity(self, ctx: RequestContext) -> dict[str, Any]:
        # No policy can refuse it, as in AWS: a caller may always learn who it is.
        ctx.needs_no_permission()
        principal = ctx.principal
        return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}

    def assume_role(
        self,
        ctx: RequestContext,
        RoleArn: str,
        RoleSessionName: str,
        PolicyArns: list[dict[str, str]] | None = None,
        Policy: str | None = None,
        DurationSeconds: int | None = None,
        Tags: list[dict[str, str]] | None = None,
        TransitiveTagKeys: list[str] | None = None,
        ExternalId: str | None = None,
        SerialNumber: str | None = None,
        TokenCode: str | None = None,
        SourceIdentity: str | None = None,
    ) -> dict[str, Any]:
        tags = {tag["Key"]: tag["Value"] for tag in Tags or []}
        mfa_at = self._mfa(ctx, SerialNumber, TokenCode)
        conditions: dict[str, ContextValue] = {
            "sts:RoleSessionName": RoleSessionName,
            "aws:TagKeys": list(tags),
            **{f"aws:RequestTag/{key}": value for key, value in tags.items()},
        }
        if ExternalId is not None:
            conditions["sts:ExternalId"] = ExternalId
        if TransitiveTagKeys:
            conditions["sts:TransitiveTagKeys"] = TransitiveTagKeys
        if SourceIdentity is not None:
            conditions["sts:SourceIdentity"] = SourceIdentity
        if mfa_at is not None:
            conditions["aws:MultiFactorAuthPresent"] = True
        match = _ROLE_ARN.fullmatch(RoleArn)
        role = self._iam.role(match[1], match[2]) if match else None
        if role is None or role.arn != RoleArn:
            # Only a caller who may assume such a role learns that there is none.
            ctx.authorize(RoleArn, conditions=conditions)
            raise e.AccessDenied(_not_authorized(ctx.principal, RoleArn))
        ctx.note_resource(ROLE_RESOURCE, role.arn)
        # The role's trust policy is its resource policy: it must name the caller (or, naming
        # the account, leave the decision to the caller's own policies).
        ctx.authorize(
            role.arn,
            trust_policy=role.trust_policy,
            resource_account=role.account_id,
            conditions=conditions,
        )
        # The model bounds DurationSeconds to 900-43,200; the role bounds it further.
        longest = (
            ROLE_CHAINING_MAX_DURATION if ctx.principal.role_session else role.max_session_duration
        )
        duration = DurationSeconds if DurationSeconds is not None else DEFAULT_DURATION
        if duration > longest:
            raise e.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if not set(TransitiveTagKeys or ()) <= tags.keys():
            raise e.ValidationError("TransitiveTagKeys must be keys of the session's Tags.")
        policies = self._session_policies(Policy, PolicyArns)
        if len(tags) > MAX_SESSION_TAGS:
            raise e.PackedPolicyTooLargeException("Packed size of session tags is too large.")
        now = self._clock.time()
        session = sessions.role_session(
            role,
            RoleSessionName,
            now,
            now + duration,
            mfa_authenticated_at=mfa_at,
            policies=policies,
            tags=tags,
            source_identity=SourceIdentity,
        )
        result: dict[str, Any] = {
            "Credentials": self._credentials(session),
            "AssumedRoleUser": {
                "AssumedRoleId": f"{role.role_id}:{RoleSessionName}",
                "Arn": f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{RoleSessionName}",
            },
            "PackedPolicySize": _packed_size(policies, tags),
        }
        if SourceIdentity is not None:
            result["SourceIdentity"] = SourceIdentity
        return result

    def get_session_token(
        self,
        ctx: RequestContext,
        DurationSeconds: int | None = None,
        SerialNumber: str | None = None,
        TokenCode: str | None = None,
    ) -> dict[str, Any]:
        # Authentication, not an action policies govern (AWS: "you cannot use policies to
        # control authentication operations"); but only a user's long-term keys may ask.
        ctx.needs_no_permission()
        principal = ctx.principal
        if principal.session is not None:
            raise e.AccessDenied("Cannot call GetSessionToken with session credentials")
        # The model bounds DurationSeconds to 900-129,600 seconds.
        duration = DurationSeconds if DurationSeconds is not None else SESSION_TOKEN_DURATION
        mfa_at = self._mfa(ctx, SerialNumber, TokenCode)
        now = self._clock.time()
        key_id, secret = sessions.new_temporary_key()
        session = sessions.Session(
            access_key_id=key_id,
            secret_access_key=secret,
            account_id=principal.account_id,
            issued_at=now,
            expires_at=now + duration,
            user_name=principal.user_name,
            user_id=principal.user_id,
            mfa_authenticated_at=mfa_at,
        )
        return {"Credentials": self._credentials(session)}

    # Internals

    def _mfa(self, ctx: RequestContext, serial: str | None, code: str | None) -> float | None:
        """When the call proved MFA (a serial number and a valid, unused code), else None."""
        if serial is None and code is None:
            return None
        if serial is None or code is None:
            raise e.ValidationError("SerialNumber and TokenCode must be given together.")
        if not self._verify_mfa(ctx.account_id, serial, code):
            raise e.AccessDenied(_MFA_FAILED)
        return self._clock.time()

    def _session_policies(
        self, policy: str | None, policy_arns: list[dict[str, str]] | None
    ) -> tuple[str, ...] | None:
        if policy is None and not policy_arns:
            return None
        documents: list[str] = []
        if policy is not None:
            if len("".join(policy.split())) > MAX_SESSION_POLICY_CHARACTERS:
                raise e.PackedPolicyTooLargeException("Packed size of session policy is too large.")
            try:
                parse(policy, PolicyKind.IDENTITY)
            except MalformedPolicy as error:
                raise e.MalformedPolicyDocumentException(error.message) from None
            documents.append(policy)
        arns = [entry["arn"] for entry in policy_arns or []]
        found = self._iam.managed_policy_documents(arns)
        if len(found) != len(arns):
            raise e.ValidationError("One or more PolicyArns do not name a managed policy.")
        return (*documents, *found)

    def _credentials(self, session: sessions.Session) -> dict[str, Any]:
        return {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "SessionToken": sessions.seal(self._barrier, session),
            "Expiration": session.expires_at,
        }


def _not_authorized(principal: Principal, role_arn: str) -> str:
    return (
        f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: "
        f"{role_arn}"
    )


def _packed_size(policies: tuple[str, ...] | None, tags: dict[str, str]) -> int:
    """How full the session's packed policies and tags are, in percent (AWS's measure)."""
    used = sum(len("".join(p.split())) for p in policies or ()) + sum(
        len(k) + len(v) for k, v in tags.items()
    )
    return min(100, round(100 * used / MAX_SESSION_POLICY_CHARACTERS))
