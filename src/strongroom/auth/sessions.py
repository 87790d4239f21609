"""Temporary credentials (STS): a session's facts travel inside its session token, encrypted
and authenticated by the barrier, so a token cannot be read, forged or altered, and no storage
is needed to check one. A sealed server reads none.

A session is either a role's (AssumeRole) or an IAM user's own (GetSessionToken, with MFA).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from strongroom.barrier.aead import IntegrityError
from strongroom.barrier.barrier import Barrier

_AAD = b"strongroom/sts/session-token/v1"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
TEMPORARY_KEY_PREFIX = "ASIA"


class InvalidSessionToken(Exception):
    """Not a token this server issued (or one altered since)."""


@dataclass(frozen=True)
class Session:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    account_id: str
    issued_at: float
    expires_at: float
    # A role session names its role (and the caller's RoleSessionName); a user's session
    # names the user.
    role_name: str | None = None
    role_arn: str | None = None  # with the role's path
    role_id: str | None = None
    session_name: str | None = None
    user_name: str | None = None
    user_id: str | None = None
    mfa_authenticated_at: float | None = None  # when the session's MFA code was checked
    # Session policies (AssumeRole's Policy and PolicyArns, as documents); None: none given.
    policies: tuple[str, ...] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    source_identity: str | None = None

    @property
    def mfa_authenticated(self) -> bool:
        return self.mfa_authenticated_at is not None


class Role(Protocol):
    """What a role session names of its role."""

    @property
    def account_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def role_id(self) -> str: ...


def role_session(
    role: Role, session_name: str, issued_at: float, expires_at: float, **details: Any
) -> Session:
    """A new session of `role` (new temporary keys), as AssumeRole issues them; `details`:
    the other Session fields (MFA, session policies, tags, source identity)."""
    key_id, secret = new_temporary_key()
    return Session(
        access_key_id=key_id,
        secret_access_key=secret,
        account_id=role.account_id,
        issued_at=issued_at,
        expires_at=expires_at,
        role_name=role.name,
        role_arn=role.arn,
        role_id=role.role_id,
        session_name=session_name,
        **details,
    )


def new_temporary_key() -> tuple[str, str]:
    key_id = TEMPORARY_KEY_PREFIX + "".join(secrets.choice(_BASE32) for _ in range(16))
    return key_id, base64.b64encode(secrets.token_bytes(30)).decode()


def seal(barrier: Barrier, session: Session) -> str:
    document = json.dumps(asdict(session), separators=(",", ":")).encode()
    return base64.b64encode(barrier.encrypt(document, _AAD)).decode()


def open_token(barrier: Barrier, token: str) -> Session:
    try:
        document = barrier.decrypt(base64.b64decode(token, validate=True), _AAD)
    except (binascii.Error, ValueError, IntegrityError):
        raise InvalidSessionToken from None
    fields = json.loads(document)
    fields["policies"] = tuple(fields["policies"]) if fields["policies"] is not None else None
    return Session(**fields)
