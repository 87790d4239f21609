"""Turns a signed request into a Principal, or an AuthFailure with AWS's wording."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from strongroom.auth import sessions, sigv4
from strongroom.auth.principal import Principal
from strongroom.auth.sessions import TEMPORARY_KEY_PREFIX
from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.barrier.aead import IntegrityError
from strongroom.barrier.barrier import Barrier
from strongroom.storage.identity import AccessKeyRecord, IdentityRepository

_INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105
_EXPIRED_TOKEN = "The security token included in the request is expired"  # noqa: S105
_SECRET_CACHE_SIZE = 1024
# Global services are signed for us-east-1 whatever Regions this server serves, and their calls
# are recorded there, as CloudTrail records IAM's.
_GLOBAL_SERVICES = {"iam": "us-east-1"}
log = logging.getLogger("strongroom.auth")


def access_key_aad(access_key_id: str, account_id: str, user_name: str, user_id: str) -> bytes:
    # The owner is bound in: a row moved to another account or user in storage stops working
    # instead of lending its secret to that identity.
    return f"access_keys/{access_key_id}/{account_id}/{user_name}/{user_id}".encode()


class Authenticator:
    def __init__(
        self,
        identities: IdentityRepository,
        barrier: Barrier,
        valid_regions: frozenset[str],
        wall_clock: Callable[[], datetime],
        server_time: Callable[[], float],
    ) -> None:
        self._identities = identities
        self._barrier = barrier
        self._valid_regions = valid_regions
        # Request signatures are always checked against real time, never the dev clock: a dev
        # server whose clock was advanced must still accept requests signed just now.
        self._wall_clock = wall_clock
        # Temporary credentials expire by the server's clock, which issued them.
        self._server_time = server_time
        self._secrets: dict[tuple[bytes, bytes], str] = {}
        self._sessions: dict[str, sessions.Session] = {}  # opened session tokens

    def authenticate(self, request: HttpRequest, service: str) -> tuple[Principal, str]:
        """Return the principal and the region the request is scoped to."""
        parsed = sigv4.parse_authorization(request)
        home = _GLOBAL_SERVICES.get(service)
        regions = self._valid_regions | {home} if home else self._valid_regions
        now = self._wall_clock()
        sigv4.check_scope(parsed, now, regions, service)
        region = home or parsed.scope.region
        token = request.header("x-amz-security-token")
        if token is not None or parsed.scope.access_key_id.startswith(TEMPORARY_KEY_PREFIX):
            return self._session_principal(request, parsed, token), region
        record = self._identities.access_key(parsed.scope.access_key_id)
        if record is None or record.status != "Active":
            raise AuthFailure(FailureKind.UNKNOWN_KEY, _INVALID_TOKEN)
        sigv4.verify_signature(request, parsed, self._secret(record))
        self._identities.note_use(record.access_key_id, now.timestamp(), service, region)
        principal = Principal(
            account_id=record.account_id,
            user_name=record.user_name,
            user_id=record.user_id,
            access_key_id=record.access_key_id,
        )
        return principal, region

    def _session_principal(
        self, request: HttpRequest, parsed: sigv4.ParsedAuthorization, token: str | None
    ) -> Principal:
        """The principal of temporary credentials: the session its token seals, if the token
        is this server's, belongs to the access key the request names, and has not expired."""
        session = self._session(token) if token is not None else None
        if session is None or session.access_key_id != parsed.scope.access_key_id:
            raise AuthFailure(FailureKind.UNKNOWN_KEY, _INVALID_TOKEN)
        sigv4.verify_signature(request, parsed, session.secret_access_key)
        if self._server_time() >= session.expires_at:
            raise AuthFailure(FailureKind.EXPIRED_TOKEN, _EXPIRED_TOKEN)
        if session.role_name is not None:
            return Principal(
                account_id=session.account_id,
                user_name=session.role_name,
                user_id=f"{session.role_id}:{session.session_name}",
                access_key_id=session.access_key_id,
                session=session,
            )
        return Principal(
            account_id=session.account_id,
            user_name=session.user_name or "",
            user_id=session.user_id or "",
            access_key_id=session.access_key_id,
            session=session,
        )

    def _session(self, token: str) -> sessions.Session | None:
        session = self._sessions.get(token)
        if session is None:
            try:
                session = sessions.open_token(self._barrier, token)
            except sessions.InvalidSessionToken:
                return None
            if len(self._sessions) >= _SECRET_CACHE_SIZE:
                self._sessions.clear()
            self._sessions[token] = session
        return session

    def account_of(self, access_key_id: str) -> str | None:
        """The account an access key belongs to, if it exists: a failed attempt with it is
        recorded in that account's audit trail."""
        record = self._identities.access_key(access_key_id) if access_key_id else None
        return record.account_id if record is not None else None

    def forget_secrets(self) -> None:
        """Called on seal: no decrypted secret may outlive the unsealed barrier."""
        self._secrets.clear()
        self._sessions.clear()
        sigv4.signing_key.cache_clear()

    def _secret(self, record: AccessKeyRecord) -> str:
        aad = access_key_aad(
            record.access_key_id, record.account_id, record.user_name, record.user_id
        )
        # Keyed by ciphertext and owner: a changed secret or owner is never served from here.
        cache_key = (record.secret_blob, aad)
        secret = self._secrets.get(cache_key)
        if secret is None:
            try:
                secret = self._barrier.decrypt(record.secret_blob, aad).decode()
            except IntegrityError:
                # Altered storage: the key cannot be used, which the client sees as an invalid
                # key (not a 500); the operator sees why.
                log.error(
                    "access key %s: stored secret failed an integrity check", record.access_key_id
                )
                raise AuthFailure(FailureKind.UNKNOWN_KEY, _INVALID_TOKEN) from None
            if len(self._secrets) >= _SECRET_CACHE_SIZE:
                self._secrets.clear()
            self._secrets[cache_key] = secret
        return secret
