"""KMS key lifecycle: creating, describing, enabling and deleting keys; key policies; tags."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.kms import errors as e
from strongroom.services.kms import keyspecs, rules
from strongroom.services.kms.base import KmsBase, log, material_aad
from strongroom.services.kms.keyspecs import ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT
from strongroom.services.kms.model import (
    AWS_KMS,
    DEFAULT_ROTATION_PERIOD_DAYS,
    DISABLED,
    ENABLED,
    EXTERNAL,
    KEY_RESOURCE,
    MAX_DELETION_WINDOW_DAYS,
    MAX_TAGS_PER_KEY,
    MIN_DELETION_WINDOW_DAYS,
    PENDING_DELETION,
    PENDING_IMPORT,
    PENDING_REPLICA_DELETION,
    RESERVED_ALIAS_PREFIX,
    KmsAlias,
    KmsKey,
    aws_managed_key_policy,
    default_key_policy,
    is_storage_id,
    key_arn,
    key_material_id,
    new_key_id,
    public_key_id,
)
from strongroom.storage.kms import AliasExists

_DEFAULT_KEYS_PAGE = 100
_DEFAULT_TAGS_PAGE = 50
_DEFAULT_POLICY_NAME = "default"  # the only key policy a key has
DAY = 86400.0


class KeyLifecycle(KmsBase):
    def create_key(
        self,
        ctx: RequestContext,
        Policy: str | None = None,
        Description: str = "",
        KeyUsage: str | None = None,
        CustomerMasterKeySpec: str | None = None,
        KeySpec: str | None = None,
        Origin: str = "AWS_KMS",
        CustomKeyStoreId: str | None = None,
        BypassPolicyLockoutSafetyCheck: bool = False,
        Tags: list[dict[str, str]] | None = None,
        MultiRegion: bool = False,
        XksKeyId: str | None = None,
    ) -> dict[str, Any]:
        if KeySpec and CustomerMasterKeySpec:
            raise e.ValidationException(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                "CustomerMasterKeySpec is deprecated."
            )
        key_spec = KeySpec or CustomerMasterKeySpec or SYMMETRIC_DEFAULT
        if key_spec not in keyspecs.ALGORITHMS:
            raise e.UnsupportedOperationException(f"KeySpec {key_spec} is not supported.")
        if KeyUsage is None and key_spec != SYMMETRIC_DEFAULT:
            raise e.ValidationException(
                "You must specify a KeyUsage value for all KMS keys except for symmetric "
                "encryption keys."
            )
        KeyUsage = KeyUsage or ENCRYPT_DECRYPT
        if KeyUsage not in keyspecs.ALGORITHMS[key_spec]:
            raise e.ValidationException(
                f"KeyUsage {KeyUsage} is not compatible with KeySpec {key_spec}"
            )
        if CustomKeyStoreId or XksKeyId:
            raise e.CustomKeyStoreNotFoundException("The custom key store does not exist.")
        if Origin not in (AWS_KMS, EXTERNAL):
            raise e.UnsupportedOperationException(f"Origin {Origin} is not supported.")
        if MultiRegion and Origin == EXTERNAL:
            raise e.UnsupportedOperationException(
                "Multi-Region keys with imported key material are not supported."
            )
        ctx.authorize(
            conditions={
                "kms:KeySpec": key_spec,
                "kms:KeyUsage": KeyUsage,
                "kms:KeyOrigin": Origin,
                "kms:MultiRegion": MultiRegion,
                "kms:BypassPolicyLockoutSafetyCheck": BypassPolicyLockoutSafetyCheck,
            }
        )
        policy = (
            rules.checked_policy(Policy, ctx, BypassPolicyLockoutSafetyCheck)
            if Policy is not None
            else default_key_policy(ctx.account_id)
        )
        tags = rules.checked_tags(Tags or [])
        rules.check_description(Description)
        key = replace(
            self._new_key(ctx, Description, policy, "CUSTOMER"),
            key_id=new_key_id(MultiRegion),
            key_usage=KeyUsage,
            key_spec=key_spec,
            origin=Origin,
            key_state=PENDING_IMPORT if Origin == EXTERNAL else ENABLED,
            multi_region=MultiRegion,
            primary_region=ctx.region if MultiRegion else None,
        )
        self._store_key(key, tags)
        ctx.note_resource(KEY_RESOURCE, key.arn)
        return {"KeyMetadata": self._metadata(key)}

    def aws_managed_key(self, ctx: RequestContext, alias_name: str, description: str) -> str:
        """The ARN of the account's AWS managed key behind `alias_name` (e.g.
        alias/aws/secretsmanager), created with its alias on first use, as AWS does. AWS
        rotates its managed keys every year; so does Strongroom."""
        alias = self._keys.alias(ctx.account_id, ctx.region, alias_name)
        if alias is None:
            service = alias_name.removeprefix(RESERVED_ALIAS_PREFIX)
            policy = aws_managed_key_policy(ctx.account_id, ctx.region, service)
            key = self._new_key(ctx, description, policy, "AWS")
            key = replace(
                key,
                rotation_period_days=DEFAULT_ROTATION_PERIOD_DAYS,
                next_rotation_date=key.creation_date + DEFAULT_ROTATION_PERIOD_DAYS * DAY,
            )
            now = self._clock.time()
            alias = KmsAlias(ctx.account_id, ctx.region, alias_name, key.storage_id, now, now)
            # A concurrent first use may win the alias: then nothing of ours was stored.
            with contextlib.suppress(AliasExists):
                self._store_key(key, {}, alias)
            alias = self._keys.alias(ctx.account_id, ctx.region, alias_name, fresh=True)
            assert alias is not None  # ours, or the one that won
        return self._resolve(ctx, public_key_id(alias.target_key_id), allow_alias=False).arn

    def _new_key(
        self, ctx: RequestContext, description: str, policy: str, key_manager: str
    ) -> KmsKey:
        return KmsKey(
            key_id=new_key_id(),
            account_id=ctx.account_id,
            region=ctx.region,
            description=description,
            key_usage=ENCRYPT_DECRYPT,
            key_spec=SYMMETRIC_DEFAULT,
            key_state=ENABLED,
            key_manager=key_manager,
            origin=AWS_KMS,
            policy=policy,
            multi_region=False,
            current_material_version=1,
            creation_date=self._clock.time(),
        )

    def _store_key(
        self, key: KmsKey, tags: Mapping[str, str], alias: KmsAlias | None = None
    ) -> None:
        material_blob = None  # an EXTERNAL key's material comes with ImportKeyMaterial
        if key.origin == AWS_KMS:
            material = keyspecs.new_material(key.key_spec)
            material_blob = self._barrier.encrypt(material, material_aad(key, 1))
        self._keys.create_key(key, self._barrier.mac(key.record()), material_blob, tags, alias)

    def describe_key(
        self, ctx: RequestContext, KeyId: str, GrantTokens: list[str] | None = None
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        return {"KeyMetadata": self._metadata(self._resolve(ctx, KeyId))}

    def _metadata(self, key: KmsKey) -> dict[str, Any]:
        regions = self._keys.regions_of(key.key_id) if key.multi_region else []
        return key_metadata(key, regions)

    def list_keys(
        self, ctx: RequestContext, Limit: int = _DEFAULT_KEYS_PAGE, Marker: str | None = None
    ) -> dict[str, Any]:
        ctx.authorize()
        if Marker is not None and not is_storage_id(Marker):
            raise e.InvalidMarkerException("Invalid marker")
        stored = self._keys.keys(ctx.account_id, ctx.region, Marker or "", Limit + 1)
        page = [
            {"KeyId": key.key_id, "KeyArn": key.arn}
            for key, row_mac in stored[:Limit]
            if self._intact(key, row_mac)  # an altered row is not listed (and is logged)
        ]
        more = len(stored) > Limit
        return paged("Keys", page, stored[Limit - 1][0].storage_id if more else None)

    def update_key_description(self, ctx: RequestContext, KeyId: str, Description: str) -> None:
        key = self._customer_key(ctx, KeyId)
        self._require_not_pending_deletion(key)
        rules.check_description(Description)
        self._save(replace(key, description=Description))

    def enable_key(self, ctx: RequestContext, KeyId: str) -> None:
        key = self._customer_key(ctx, KeyId)
        self._require_material(key)
        self._save(replace(key, key_state=ENABLED))

    def disable_key(self, ctx: RequestContext, KeyId: str) -> None:
        key = self._customer_key(ctx, KeyId)
        self._require_material(key)
        self._save(replace(key, key_state=DISABLED))

    # Deletion

    def schedule_key_deletion(
        self, ctx: RequestContext, KeyId: str, PendingWindowInDays: int = 30
    ) -> dict[str, Any]:
        if not MIN_DELETION_WINDOW_DAYS <= PendingWindowInDays <= MAX_DELETION_WINDOW_DAYS:
            raise e.ValidationException(
                "1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy "
                f"constraint: Member must have value between {MIN_DELETION_WINDOW_DAYS} and "
                f"{MAX_DELETION_WINDOW_DAYS}"
            )
        key = self._customer_key(ctx, KeyId)
        self._require_not_pending_deletion(key)
        if not key.is_replica and len(self._key_set(key)) > 1:
            # As AWS does: a primary key outlives its replicas; its window starts after them.
            self._save(
                replace(
                    key, key_state=PENDING_REPLICA_DELETION, pending_window_days=PendingWindowInDays
                )
            )
            return {
                "KeyId": key.arn,
                "KeyState": PENDING_REPLICA_DELETION,
                "PendingWindowInDays": PendingWindowInDays,
            }
        deletion_date = self._clock.time() + PendingWindowInDays * DAY
        self._save(replace(key, key_state=PENDING_DELETION, deletion_date=deletion_date))
        return {
            "KeyId": key.arn,
            "DeletionDate": deletion_date,
            "KeyState": PENDING_DELETION,
            "PendingWindowInDays": PendingWindowInDays,
        }

    def cancel_key_deletion(self, ctx: RequestContext, KeyId: str) -> dict[str, Any]:
        key = self._customer_key(ctx, KeyId)
        if key.key_state not in (PENDING_DELETION, PENDING_REPLICA_DELETION):
            raise e.KMSInvalidStateException(f"{key.arn} is not pending deletion.")
        # As AWS does: a key whose deletion is cancelled comes back disabled (or, without
        # key material, pending import).
        _, material = self._keys.key_with_material(key.storage_id)
        state = DISABLED if material is not None else PENDING_IMPORT
        self._save(replace(key, key_state=state, deletion_date=None, pending_window_days=None))
        return {"KeyId": key.arn}

    def delete_due_keys(self) -> None:
        """Background job: destroy every key whose deletion date has come, with its key
        material, grants, aliases and tags (a concurrent CancelKeyDeletion wins)."""
        now = self._clock.time()
        for key_id in self._keys.due_for_deletion(now):
            key = self._verified(self._keys.key(key_id))
            if self._keys.destroy_key(key_id, due_by=now):
                log.info("deleted KMS key %s: its waiting period ended", key_id)
                if key is not None:
                    self._service_event(key, "DeleteKey")
        for key_id in self._keys.pending_replica_deletions():
            key = self._verified(self._keys.key(key_id))
            if key is not None and key.pending_window_days and len(self._key_set(key)) == 1:
                self._save(
                    replace(
                        key,
                        key_state=PENDING_DELETION,
                        deletion_date=now + key.pending_window_days * DAY,
                        pending_window_days=None,
                    )
                )
                log.info("KMS key %s: its replicas are gone; its waiting period starts", key_id)

    def get_key_last_usage(self, ctx: RequestContext, KeyId: str) -> dict[str, Any]:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        usage = self._keys.usage(key.storage_id)
        result: dict[str, Any] = {
            "KeyId": key.arn,
            "TrackingStartDate": usage.tracking_start if usage else key.creation_date,
            "KeyCreationDate": key.creation_date,
        }
        if usage is not None and usage.used_at is not None:
            result["KeyLastUsage"] = {
                "Operation": usage.operation,
                "Timestamp": usage.used_at,
                "KmsRequestId": usage.request_id,
            }
        return result

    # Key policies

    def get_key_policy(
        self, ctx: RequestContext, KeyId: str, PolicyName: str = _DEFAULT_POLICY_NAME
    ) -> dict[str, Any]:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        _check_policy_name(PolicyName)
        return {"Policy": key.policy, "PolicyName": PolicyName}

    def put_key_policy(
        self,
        ctx: RequestContext,
        KeyId: str,
        Policy: str,
        PolicyName: str = _DEFAULT_POLICY_NAME,
        BypassPolicyLockoutSafetyCheck: bool = False,
    ) -> None:
        key = self._customer_key(ctx, KeyId)
        _check_policy_name(PolicyName)
        self._save(
            replace(key, policy=rules.checked_policy(Policy, ctx, BypassPolicyLockoutSafetyCheck))
        )

    def list_key_policies(
        self, ctx: RequestContext, KeyId: str, Limit: int = 100, Marker: str | None = None
    ) -> dict[str, Any]:
        self._resolve(ctx, KeyId, allow_alias=False)
        if Marker is not None:
            raise e.InvalidMarkerException("Invalid marker")  # one page is all there is
        return paged("PolicyNames", [_DEFAULT_POLICY_NAME], None)

    # Tags

    def tag_resource(self, ctx: RequestContext, KeyId: str, Tags: list[dict[str, str]]) -> None:
        key = self._customer_key(ctx, KeyId)
        self._require_not_pending_deletion(key)
        tags = rules.checked_tags(Tags)
        merged = self._keys.tags(key.storage_id) | tags
        if len(merged) > MAX_TAGS_PER_KEY:
            raise e.LimitExceededException(f"A KMS key can have at most {MAX_TAGS_PER_KEY} tags.")
        self._keys.put_tags(key.storage_id, tags)

    def untag_resource(self, ctx: RequestContext, KeyId: str, TagKeys: list[str]) -> None:
        key = self._customer_key(ctx, KeyId)
        self._require_not_pending_deletion(key)
        rules.check_tag_keys(TagKeys)
        self._keys.delete_tags(key.storage_id, TagKeys)

    def list_resource_tags(
        self,
        ctx: RequestContext,
        KeyId: str,
        Limit: int = _DEFAULT_TAGS_PAGE,
        Marker: str | None = None,
    ) -> dict[str, Any]:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        tags = sorted(self._keys.tags(key.storage_id).items())
        start = 0
        if Marker is not None:
            names = [name for name, _ in tags]
            if Marker not in names:
                raise e.InvalidMarkerException("Invalid marker")
            start = names.index(Marker) + 1
        page = tags[start : start + Limit]
        more = start + Limit < len(tags)
        return paged(
            "Tags", [{"TagKey": k, "TagValue": v} for k, v in page], page[-1][0] if more else None
        )


def _check_policy_name(policy_name: str) -> None:
    if policy_name != _DEFAULT_POLICY_NAME:
        raise e.NotFoundException(f"No such policy exists: {policy_name}")


def key_metadata(key: KmsKey, regions: list[str]) -> dict[str, Any]:
    """DescribeKey's KeyMetadata; `regions` are a multi-Region key's Regions."""
    algorithms = keyspecs.ALGORITHMS[key.key_spec][key.key_usage]
    metadata: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation_date,
        "Enabled": key.key_state == ENABLED,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.key_state,
        "Origin": key.origin,
        "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        keyspecs.ALGORITHMS_MEMBER[key.key_usage]: list(algorithms),
        "MultiRegion": key.multi_region,
    }
    # AWS names the material of symmetric keys only (of imported ones, once it is there).
    if key.key_spec == SYMMETRIC_DEFAULT and key.key_state != PENDING_IMPORT:
        metadata["CurrentKeyMaterialId"] = key_material_id(key.key_id, key.current_material_version)
    if key.multi_region and key.primary_region is not None:
        metadata["MultiRegionConfiguration"] = _multi_region_configuration(key, regions)
    optional = {
        "PendingDeletionWindowInDays": key.pending_window_days,
        "DeletionDate": key.deletion_date,
        "ExpirationModel": key.expiration_model,
        "ValidTo": key.valid_to,
    }
    return metadata | {member: value for member, value in optional.items() if value is not None}


def _multi_region_configuration(key: KmsKey, regions: list[str]) -> dict[str, Any]:
    def member(region: str) -> dict[str, str]:
        return {"Arn": key_arn(region, key.account_id, key.key_id), "Region": region}

    assert key.primary_region is not None
    return {
        "MultiRegionKeyType": "REPLICA" if key.is_replica else "PRIMARY",
        "PrimaryKey": member(key.primary_region),
        "ReplicaKeys": [member(r) for r in regions if r != key.primary_region],
    }


def paged(member: str, page: list[Any], next_marker: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {member: page, "Truncated": next_marker is not None}
    if next_marker is not None:
        result["NextMarker"] = next_marker
    return result
