"""Multi-Region keys: a primary key and replicas in other Regions of this server, one key id,
the same key material (so a ciphertext of one decrypts in every other), each with its own
policy, description, tags, aliases, grants and key state."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.kms import errors as e
from strongroom.services.kms import rules
from strongroom.services.kms.base import KmsBase, material_aad
from strongroom.services.kms.keys import key_metadata
from strongroom.services.kms.model import ENABLED, KmsKey, default_key_policy
from strongroom.storage.kms import KeyExists


class MultiRegion(KmsBase):
    def replicate_key(
        self,
        ctx: RequestContext,
        KeyId: str,
        ReplicaRegion: str,
        Policy: str | None = None,
        BypassPolicyLockoutSafetyCheck: bool = False,
        Description: str | None = None,
        Tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        primary = self._multi_region_primary(ctx, KeyId)
        self._require_enabled(primary)
        if ReplicaRegion == primary.region:
            raise e.ValidationException(
                f"{primary.arn} is in {ReplicaRegion}: a replica needs another Region."
            )
        if ReplicaRegion not in self._regions:
            raise e.UnsupportedOperationException(
                f"Region {ReplicaRegion} is not served by this server."
            )
        policy = (
            rules.checked_policy(Policy, ctx, BypassPolicyLockoutSafetyCheck)
            if Policy is not None
            else default_key_policy(ctx.account_id)
        )
        tags = rules.checked_tags(Tags or [])
        description = primary.description if Description is None else Description
        rules.check_description(description)
        replica = replace(
            primary,
            region=ReplicaRegion,
            description=description,
            policy=policy,
            key_state=ENABLED,
            creation_date=self._clock.time(),
            deletion_date=None,
            rotation_period_days=None,
            next_rotation_date=None,
            pending_window_days=None,
        )
        materials = [
            (
                material,
                self._barrier.encrypt(
                    self._material(primary, material.version, blob),
                    material_aad(replica, material.version),
                ),
            )
            for material, blob in self._keys.material_blobs(primary.storage_id)
        ]
        try:
            self._keys.create_replica(replica, self._barrier.mac(replica.record()), materials, tags)
        except KeyExists:
            raise e.AlreadyExistsException(f"{replica.arn} already exists.") from None
        return {
            "ReplicaKeyMetadata": key_metadata(replica, self._keys.regions_of(replica.key_id)),
            "ReplicaPolicy": policy,
            "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()],
        }

    def update_primary_region(self, ctx: RequestContext, KeyId: str, PrimaryRegion: str) -> None:
        primary = self._multi_region_primary(ctx, KeyId)
        self._require_enabled(primary)
        if PrimaryRegion == primary.region:
            return
        members = {member.region: member for member in self._key_set(primary)}
        if PrimaryRegion not in members:
            raise e.NotFoundException(
                f"{primary.arn} has no replica in {PrimaryRegion} to become the primary key."
            )
        self._require_enabled(members[PrimaryRegion])  # AWS: both keys must be Enabled
        updated = []
        for region, member in members.items():
            member = replace(member, primary_region=PrimaryRegion)
            if region == PrimaryRegion:  # the rotation schedule moves with the primary role
                member = replace(
                    member,
                    rotation_period_days=primary.rotation_period_days,
                    next_rotation_date=primary.next_rotation_date,
                )
            elif region == primary.region:
                member = replace(member, rotation_period_days=None, next_rotation_date=None)
            updated.append((member, self._barrier.mac(member.record())))
        self._keys.save_keys(updated)

    def _multi_region_primary(self, ctx: RequestContext, key_id: str) -> KmsKey:
        key = self._resolve(ctx, key_id, allow_alias=False)
        if not key.multi_region:
            raise e.UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
        if key.is_replica:
            assert key.primary_region is not None
            primary_arn = replace(key, region=key.primary_region).arn
            raise e.UnsupportedOperationException(
                f"{key.arn} is a replica key; its primary key is {primary_arn}."
            )
        return key
