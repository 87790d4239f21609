"""KMS grants: per-key permissions for a grantee principal, with optional encryption-context
constraints, retired by their retiring principal or revoked by the key's administrators.
Whether a grant lets a request through is decided where every request is authorised."""

from __future__ import annotations

import re
import secrets
from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.kms import errors as e
from strongroom.services.kms.base import (
    DRY_RUN_MESSAGE,
    MAX_GRANTS_PER_GRANTEE,
    MAX_GRANTS_PER_KEY,
    KmsBase,
    with_request_keys,
)
from strongroom.services.kms.keys import paged
from strongroom.services.kms.keyspecs import (
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    SYMMETRIC_DEFAULT,
)
from strongroom.services.kms.model import KmsGrant, KmsKey, key_arn, public_key_id
from strongroom.storage.kms_grants import StoredGrant

_DEFAULT_GRANTS_PAGE = 50
_GRANT_ID = re.compile(r"[0-9a-f]{64}")

_ALWAYS = ("CreateGrant", "RetireGrant", "DescribeKey")
_SYMMETRIC_OPERATIONS = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        *_ALWAYS,
    }
)
# The grant operations each kind of key accepts (AWS refuses, e.g., Sign for an HMAC key).
_OPERATIONS_BY_USAGE = {
    ENCRYPT_DECRYPT: frozenset(
        {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey", *_ALWAYS}
    ),
    SIGN_VERIFY: frozenset({"Sign", "Verify", "GetPublicKey", *_ALWAYS}),
    GENERATE_VERIFY_MAC: frozenset({"GenerateMac", "VerifyMac", *_ALWAYS}),
    KEY_AGREEMENT: frozenset({"DeriveSharedSecret", "GetPublicKey", *_ALWAYS}),
}


class Grants(KmsBase):
    def create_grant(
        self,
        ctx: RequestContext,
        KeyId: str,
        GranteePrincipal: str,
        Operations: list[str],
        RetiringPrincipal: str | None = None,
        Constraints: dict[str, dict[str, str]] | None = None,
        GrantTokens: list[str] | None = None,
        Name: str | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(
            ctx,
            GrantOperations=Operations,
            GranteePrincipal=GranteePrincipal,
            GrantConstraintType=sorted(Constraints or {}),
            GrantIsForAWSResource=False,
            **({"RetiringPrincipal": RetiringPrincipal} if RetiringPrincipal else {}),
        )
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_enabled(key)
        operations = _checked_operations(key, Operations)
        constraints = _checked_constraints(key, Constraints)
        if DryRun:
            raise e.DryRunOperationException(DRY_RUN_MESSAGE)
        grant = KmsGrant(
            grant_id=secrets.token_hex(32),
            key_id=key.storage_id,
            name=Name,
            grantee_principal=GranteePrincipal,
            retiring_principal=RetiringPrincipal,
            issuing_account=f"arn:aws:iam::{ctx.account_id}:root",
            operations=operations,
            constraints=constraints,
            creation_date=self._clock.time(),
        )
        existing = self._same_named_grant(grant)
        if existing is not None:  # a retried request: the same grant, a new token
            return {"GrantToken": self._grant_token(existing), "GrantId": existing}
        on_key, for_grantee = self._grants.grant_counts(key.storage_id, GranteePrincipal)
        if on_key >= MAX_GRANTS_PER_KEY or for_grantee >= MAX_GRANTS_PER_GRANTEE:
            raise e.LimitExceededException(
                f"{key.arn} has the most grants a key may have (at most {MAX_GRANTS_PER_KEY}, "
                f"and {MAX_GRANTS_PER_GRANTEE} for one grantee principal)."
            )
        self._grants.create_grant(grant, self._barrier.mac(grant.record()))
        return {"GrantToken": self._grant_token(grant.grant_id), "GrantId": grant.grant_id}

    def _same_named_grant(self, grant: KmsGrant) -> str | None:
        if grant.name is None:
            return None
        for stored, row_mac in self._grants.grants(grant.key_id, "", 1000, name=grant.name):
            if self._grant_intact(stored, row_mac) and _same_terms(stored, grant):
                return stored.grant_id
        return None

    def list_grants(
        self,
        ctx: RequestContext,
        KeyId: str,
        Limit: int = _DEFAULT_GRANTS_PAGE,
        Marker: str | None = None,
        GrantId: str | None = None,
        GranteePrincipal: str | None = None,
    ) -> dict[str, Any]:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        _check_marker(Marker)
        stored = self._grants.grants(
            key.storage_id, Marker or "", Limit + 1, GrantId, GranteePrincipal
        )
        return self._grant_page(ctx, stored, Limit)

    def list_retirable_grants(
        self,
        ctx: RequestContext,
        RetiringPrincipal: str,
        Limit: int = _DEFAULT_GRANTS_PAGE,
        Marker: str | None = None,
    ) -> dict[str, Any]:
        ctx.authorize()
        _check_marker(Marker)
        stored = self._grants.retirable_grants(
            ctx.account_id, ctx.region, RetiringPrincipal, Marker or "", Limit + 1
        )
        return self._grant_page(ctx, stored, Limit)

    def retire_grant(
        self,
        ctx: RequestContext,
        GrantToken: str | None = None,
        KeyId: str | None = None,
        GrantId: str | None = None,
        DryRun: bool = False,
    ) -> None:
        if GrantToken is not None:
            grant_id = self._granted_id(GrantToken)
            if GrantId is not None and GrantId != grant_id:
                raise e.InvalidGrantIdException("The grant ID does not match the grant token.")
        elif KeyId is not None and GrantId is not None:
            grant_id = GrantId
        else:
            raise e.ValidationException(
                "Specify either a GrantToken, or a KeyId together with a GrantId."
            )
        if KeyId is None:
            # Retiring by token: the token is the authority (its grant names who may retire).
            ctx.authorize()
        key = self._resolve(ctx, KeyId, allow_alias=False) if KeyId is not None else None
        grant = self._existing_grant(ctx, grant_id, key)
        if DryRun:
            raise e.DryRunOperationException(DRY_RUN_MESSAGE)
        self._grants.delete_grant(grant.grant_id)

    def revoke_grant(
        self, ctx: RequestContext, KeyId: str, GrantId: str, DryRun: bool = False
    ) -> None:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        grant = self._existing_grant(ctx, GrantId, key)
        if DryRun:
            raise e.DryRunOperationException(DRY_RUN_MESSAGE)
        self._grants.delete_grant(grant.grant_id)

    def _existing_grant(self, ctx: RequestContext, grant_id: str, key: KmsKey | None) -> KmsGrant:
        """The grant, on `key` if given and otherwise on a key of the caller's account and
        region; NotFoundException else."""
        if not _GRANT_ID.fullmatch(grant_id):
            raise e.InvalidGrantIdException(f"Invalid grant ID {grant_id}")
        stored = self._grants.grant(grant_id)
        if stored is not None and self._grant_intact(*stored):
            grant = stored[0]
            owner = key or self._verified(self._keys.key(grant.key_id))
            if (
                owner is not None
                and owner.storage_id == grant.key_id
                and owner.account_id == ctx.account_id
                and owner.region == ctx.region
            ):
                return grant
        raise e.NotFoundException(f"Grant ID {grant_id} not found")

    def _grant_page(
        self, ctx: RequestContext, stored: list[StoredGrant], limit: int
    ) -> dict[str, Any]:
        page = [
            _grant_entry(ctx, grant)
            for grant, row_mac in stored[:limit]
            if self._grant_intact(grant, row_mac)  # an altered grant is not listed
        ]
        more = len(stored) > limit
        return paged("Grants", page, stored[limit - 1][0].grant_id if more else None)


def _checked_operations(key: KmsKey, operations: list[str]) -> tuple[str, ...]:
    allowed = (
        _SYMMETRIC_OPERATIONS
        if key.key_spec == SYMMETRIC_DEFAULT
        else _OPERATIONS_BY_USAGE[key.key_usage]
    )
    refused = sorted(set(operations) - allowed)
    if refused:
        raise e.ValidationException(
            f"Grant operations {', '.join(refused)} are not valid for a {key.key_spec} key "
            f"with key usage {key.key_usage}."
        )
    if not operations:
        raise e.ValidationException("A grant must allow at least one operation.")
    return tuple(sorted(set(operations)))


def _checked_constraints(
    key: KmsKey, constraints: dict[str, dict[str, str]] | None
) -> dict[str, dict[str, str]] | None:
    constraints = {name: value for name, value in (constraints or {}).items() if value}
    if not constraints:
        return None
    if key.key_spec != SYMMETRIC_DEFAULT:
        raise e.ValidationException(
            "Encryption context grant constraints apply to symmetric encryption keys only."
        )
    return constraints


def _same_terms(a: KmsGrant, b: KmsGrant) -> bool:
    return (
        a.grantee_principal == b.grantee_principal
        and a.retiring_principal == b.retiring_principal
        and a.operations == b.operations
        and a.constraints == b.constraints
    )


def _check_marker(marker: str | None) -> None:
    if marker is not None and not _GRANT_ID.fullmatch(marker):
        raise e.InvalidMarkerException("Invalid marker")


def _grant_entry(ctx: RequestContext, grant: KmsGrant) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "KeyId": key_arn(ctx.region, ctx.account_id, public_key_id(grant.key_id)),
        "GrantId": grant.grant_id,
        "CreationDate": grant.creation_date,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
    }
    optional = {
        "Name": grant.name,
        "RetiringPrincipal": grant.retiring_principal,
        "Constraints": grant.constraints,
    }
    return entry | {member: value for member, value in optional.items() if value is not None}
