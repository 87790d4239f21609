"""KMS aliases: friendly names that point at keys."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.kms import errors as e
from strongroom.services.kms import rules
from strongroom.services.kms.base import KmsBase
from strongroom.services.kms.keys import paged
from strongroom.services.kms.model import (
    ALIAS_PREFIX,
    MAX_ALIASES_PER_KEY,
    KmsAlias,
    KmsKey,
    parse_key_reference,
    public_key_id,
)
from strongroom.storage.kms import AliasExists

_DEFAULT_ALIASES_PAGE = 50


class Aliases(KmsBase):
    def create_alias(self, ctx: RequestContext, AliasName: str, TargetKeyId: str) -> None:
        rules.check_alias_name(AliasName)
        now = self._clock.time()
        alias = KmsAlias(ctx.account_id, ctx.region, AliasName, "", now, now)
        # The alias and its key are both resources of the call: each must allow it.
        ctx.authorize(alias.arn)
        key = self._alias_target(ctx, TargetKeyId)
        if self._keys.alias_count(key.storage_id) >= MAX_ALIASES_PER_KEY:
            raise e.LimitExceededException(
                f"A KMS key can have at most {MAX_ALIASES_PER_KEY} aliases."
            )
        alias = replace(alias, target_key_id=key.storage_id)
        try:
            self._keys.create_alias(alias)
        except AliasExists:
            raise e.AlreadyExistsException(
                f"An alias with the name {alias.arn} already exists"
            ) from None

    def update_alias(self, ctx: RequestContext, AliasName: str, TargetKeyId: str) -> None:
        alias = self._existing_alias(ctx, AliasName)
        ctx.authorize(alias.arn)
        key = self._alias_target(ctx, TargetKeyId)
        self._keys.retarget_alias(alias, key.storage_id, self._clock.time())

    def delete_alias(self, ctx: RequestContext, AliasName: str) -> None:
        alias = self._existing_alias(ctx, AliasName)
        ctx.authorize(alias.arn)
        self._keys.delete_alias(alias)

    def list_aliases(
        self,
        ctx: RequestContext,
        KeyId: str | None = None,
        Limit: int = _DEFAULT_ALIASES_PAGE,
        Marker: str | None = None,
    ) -> dict[str, Any]:
        if Marker is not None and not Marker.startswith(ALIAS_PREFIX):
            raise e.InvalidMarkerException("Invalid marker")
        if KeyId is None:
            ctx.authorize()
        key_id = self._resolve(ctx, KeyId, allow_alias=False).storage_id if KeyId else None
        aliases = self._keys.aliases(ctx.account_id, ctx.region, Marker or "", Limit + 1, key_id)
        page = [
            {
                "AliasName": a.alias_name,
                "AliasArn": a.arn,
                "TargetKeyId": public_key_id(a.target_key_id),
                "CreationDate": a.creation_date,
                "LastUpdatedDate": a.last_updated_date,
            }
            for a in aliases[:Limit]
        ]
        next_marker = aliases[Limit - 1].alias_name if len(aliases) > Limit else None
        return paged("Aliases", page, next_marker)

    def _alias_target(self, ctx: RequestContext, target_key_id: str) -> KmsKey:
        reference = parse_key_reference(target_key_id)
        if reference is not None and reference.alias_name is not None:
            raise e.ValidationException("Aliases must refer to keys. Not aliases")
        key = self._customer_key(ctx, target_key_id)
        self._require_not_pending_deletion(key)
        return key
