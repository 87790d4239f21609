"""Rotation of symmetric keys: automatic (on a schedule, by a leader-elected job) and on demand.

A rotation adds a key material and makes it current; older materials stay, so everything
encrypted before still decrypts (the ciphertext names its material version)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from strongroom.barrier.aead import new_key
from strongroom.services.context import RequestContext
from strongroom.services.kms import errors as e
from strongroom.services.kms.base import KmsBase, log, material_aad
from strongroom.services.kms.keys import DAY, paged
from strongroom.services.kms.keyspecs import SYMMETRIC_DEFAULT
from strongroom.services.kms.model import (
    AUTOMATIC,
    AWS_KMS,
    DEFAULT_ROTATION_PERIOD_DAYS,
    MAX_ON_DEMAND_ROTATIONS,
    ON_DEMAND,
    KmsKey,
    key_material_id,
    storage_id,
)
from strongroom.storage.kms import RotationConflict

_DEFAULT_ROTATIONS_PAGE = 100
_ALL_KEY_MATERIAL = "ALL_KEY_MATERIAL"


class Rotation(KmsBase):
    def enable_key_rotation(
        self,
        ctx: RequestContext,
        KeyId: str,
        RotationPeriodInDays: int = DEFAULT_ROTATION_PERIOD_DAYS,
    ) -> None:
        key = self._primary(self._rotatable(ctx, KeyId))
        self._require_customer_managed(ctx, key)
        self._require_enabled(key)
        if key.rotation_period_days is None or key.next_rotation_date is None:
            start = self._clock.time()
        else:  # a new period counts from the last rotation, as AWS does
            start = key.next_rotation_date - key.rotation_period_days * DAY
        self._save(
            replace(
                key,
                rotation_period_days=RotationPeriodInDays,
                next_rotation_date=start + RotationPeriodInDays * DAY,
            )
        )

    def disable_key_rotation(self, ctx: RequestContext, KeyId: str) -> None:
        key = self._primary(self._rotatable(ctx, KeyId))
        self._require_customer_managed(ctx, key)
        self._require_enabled(key)
        self._save(replace(key, rotation_period_days=None, next_rotation_date=None))

    def get_key_rotation_status(self, ctx: RequestContext, KeyId: str) -> dict[str, Any]:
        key = self._rotatable(ctx, KeyId)
        self._require_not_pending_deletion(key)
        # A replica is rotated with its primary key, on the primary's schedule.
        schedule = self._primary_of(key) if key.is_replica else key
        status: dict[str, Any] = {
            "KeyRotationEnabled": schedule.rotation_period_days is not None,
            "KeyId": key.arn,
        }
        if schedule.rotation_period_days is not None:
            status["RotationPeriodInDays"] = schedule.rotation_period_days
            status["NextRotationDate"] = schedule.next_rotation_date
        return status

    def rotate_key_on_demand(self, ctx: RequestContext, KeyId: str) -> dict[str, Any]:
        key = self._primary(self._rotatable(ctx, KeyId))
        self._require_customer_managed(ctx, key)
        self._require_enabled(key)
        done = sum(m.rotation_type == ON_DEMAND for m in self._keys.materials(key.storage_id))
        if done >= MAX_ON_DEMAND_ROTATIONS:
            raise e.LimitExceededException(
                f"{key.arn} has been rotated on demand {MAX_ON_DEMAND_ROTATIONS} times, the most "
                "a key may be."
            )
        try:
            self._rotate(key, ON_DEMAND, key.next_rotation_date)
        except RotationConflict:
            raise e.ConflictException(f"{key.arn} is being rotated already.") from None
        return {"KeyId": key.arn}

    def list_key_rotations(
        self,
        ctx: RequestContext,
        KeyId: str,
        IncludeKeyMaterial: str = "ROTATIONS_ONLY",
        Limit: int = _DEFAULT_ROTATIONS_PAGE,
        Marker: str | None = None,
    ) -> dict[str, Any]:
        key = self._rotatable(ctx, KeyId)
        materials = [
            m
            for m in self._keys.materials(key.storage_id)
            if m.rotation_type is not None or IncludeKeyMaterial == _ALL_KEY_MATERIAL
        ]
        start = 0
        if Marker is not None:
            versions = [str(m.version) for m in materials]
            if Marker not in versions:
                raise e.InvalidMarkerException("Invalid marker")
            start = versions.index(Marker) + 1
        page = materials[start : start + Limit]
        entries = []
        for material in page:
            entry: dict[str, Any] = {
                "KeyId": key.arn,
                "KeyMaterialId": key_material_id(key.key_id, material.version),
                "KeyMaterialState": (
                    "CURRENT" if material.version == key.current_material_version else "NON_CURRENT"
                ),
            }
            if material.rotation_type is not None:
                entry["RotationDate"] = material.created_at
                entry["RotationType"] = material.rotation_type
            entries.append(entry)
        more = start + Limit < len(materials)
        return paged("Rotations", entries, str(page[-1].version) if more else None)

    def rotate_due_keys(self) -> None:
        """Background job: rotate every enabled key whose automatic rotation is due. A key
        whose rotation was missed while the server was down is rotated once, and its next
        rotation counted from now."""
        now = self._clock.time()
        for key_id in self._keys.due_for_rotation(now):
            key = self._verified(self._keys.key(key_id))
            if key is None or key.rotation_period_days is None or key.next_rotation_date is None:
                continue
            following = key.next_rotation_date + key.rotation_period_days * DAY
            if following <= now:
                following = now + key.rotation_period_days * DAY
            try:
                self._rotate(key, AUTOMATIC, following)
            except RotationConflict:
                continue  # rotated on demand at this instant; the next run looks again
            log.info("rotated KMS key %s automatically", key_id)
            self._service_event(key, "RotateKey")

    def _rotatable(self, ctx: RequestContext, key_id: str) -> KmsKey:
        key = self._resolve(ctx, key_id, allow_alias=False)
        if key.key_spec != SYMMETRIC_DEFAULT or key.origin != AWS_KMS:
            raise e.UnsupportedOperationException(
                f"{key.arn} is a {key.key_spec} key with origin {key.origin}; only symmetric "
                "keys with AWS_KMS key material can be rotated."
            )
        return key

    @staticmethod
    def _primary(key: KmsKey) -> KmsKey:
        if key.is_replica:
            raise e.UnsupportedOperationException(
                f"{key.arn} is a multi-Region replica key; rotate its primary key in "
                f"{key.primary_region}."
            )
        return key

    def _primary_of(self, replica: KmsKey) -> KmsKey:
        assert replica.primary_region is not None
        primary = self._verified(self._keys.key(storage_id(replica.key_id, replica.primary_region)))
        return primary or replica

    def _rotate(self, key: KmsKey, rotation_type: str, next_rotation_date: float | None) -> None:
        """Make new key material current for the key and, if it is a multi-Region primary,
        for its replicas (which share its material)."""
        version = key.current_material_version + 1
        material = new_key()
        rotated = []
        for member in self._key_set(key):
            schedule = next_rotation_date if member is key else member.next_rotation_date
            member = replace(member, current_material_version=version, next_rotation_date=schedule)
            blob = self._barrier.encrypt(material, material_aad(member, version))
            rotated.append((member, self._barrier.mac(member.record()), blob))
        self._keys.rotate(rotated, rotation_type, self._clock.time())
