"""KMS (TrentService): the symmetric key core. Operations are named after the API."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from strongroom.barrier.aead import IntegrityError, new_key
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.services.context import RequestContext
from strongroom.services.kms import ciphertext, rules
from strongroom.services.kms import errors as e
from strongroom.services.kms.model import (
    ALIAS_PREFIX,
    DISABLED,
    ENABLED,
    ENCRYPT_DECRYPT,
    MAX_ALIASES_PER_KEY,
    MAX_DELETION_WINDOW_DAYS,
    MAX_TAGS_PER_KEY,
    MIN_DELETION_WINDOW_DAYS,
    PENDING_DELETION,
    SYMMETRIC_DEFAULT,
    KmsAlias,
    KmsKey,
    default_key_policy,
    is_key_id,
    new_key_id,
    parse_key_reference,
)
from strongroom.storage.kms import AliasExists, KmsRepository, StoredKey

_DEFAULT_KEYS_PAGE = 100
_DEFAULT_ALIASES_PAGE = 50
_DEFAULT_TAGS_PAGE = 50
_DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}
_MATERIAL_CACHE_SIZE = 4096
log = logging.getLogger("strongroom.kms")
_DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."


# PostgreSQL text cannot hold NUL, so stored free text refuses it on every backend alike; AWS's
# tag rules allow no control characters anyway.
def material_aad(key: KmsKey, version: int) -> bytes:
    # The ARN binds account and region too: moving a key row to another account in storage
    # makes its material unreadable instead of handing the key to that account.
    return f"kms_key_materials/{key.arn}/{version}".encode()


class KMS:
    def __init__(self, repository: KmsRepository, barrier: Barrier, clock: Clock) -> None:
        self._keys = repository
        self._barrier = barrier
        self._clock = clock
        # Decrypted key material, keyed by its stored ciphertext: a row that changes in storage
        # (or is tampered with) is never served from here.
        self._materials: dict[bytes, bytes] = {}
        # Key rows whose integrity tag was checked, by tag (saves a JSON dump and HMAC a call).
        self._intact_rows: dict[bytes, KmsKey] = {}
        # Data keys other services keep wrapped, unwrapped (see unwrap_data_key).
        self._data_keys: dict[tuple[bytes, tuple[tuple[str, str], ...]], bytes] = {}

    def forget_materials(self) -> None:
        """Called on seal: no key material may outlive the unsealed barrier."""
        self._materials.clear()
        self._intact_rows.clear()
        self._data_keys.clear()

    # Keys

    def create_key(
        self,
        ctx: RequestContext,
        Policy: str | None = None,
        Description: str = "",
        KeyUsage: str = ENCRYPT_DECRYPT,
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
        if key_spec != SYMMETRIC_DEFAULT:
            raise e.UnsupportedOperationException(f"KeySpec {key_spec} is not supported yet.")
        if KeyUsage != ENCRYPT_DECRYPT:
            raise e.ValidationException(
                f"KeyUsage {KeyUsage} is not compatible with KeySpec {key_spec}"
            )
        if CustomKeyStoreId or XksKeyId:
            raise e.CustomKeyStoreNotFoundException("The custom key store does not exist.")
        if Origin != "AWS_KMS":
            raise e.UnsupportedOperationException(f"Origin {Origin} is not supported yet.")
        if MultiRegion:
            raise e.UnsupportedOperationException("Multi-Region keys are not supported yet.")
        policy = (
            rules.checked_policy(Policy)
            if Policy is not None
            else default_key_policy(ctx.account_id)
        )
        tags = rules.checked_tags(Tags or [])
        rules.check_description(Description)
        key = self._new_key(ctx, Description, policy, "CUSTOMER")
        self._store_key(key, tags)
        return {"KeyMetadata": _key_metadata(key)}

    def aws_managed_key(self, ctx: RequestContext, alias_name: str, description: str) -> str:
        """The ARN of the account's AWS managed key behind `alias_name` (e.g.
        alias/aws/secretsmanager), created with its alias on first use, as AWS does."""
        alias = self._keys.alias(ctx.account_id, ctx.region, alias_name)
        if alias is None:
            key = self._new_key(ctx, description, default_key_policy(ctx.account_id), "AWS")
            now = self._clock.time()
            # A concurrent first use may win the alias: then nothing of ours was stored.
            with contextlib.suppress(AliasExists):
                self._store_key(
                    key, {}, KmsAlias(ctx.account_id, ctx.region, alias_name, key.key_id, now, now)
                )
            alias = self._keys.alias(ctx.account_id, ctx.region, alias_name, fresh=True)
            assert alias is not None  # ours, or the one that won
        return self._resolve(ctx, alias.target_key_id, allow_alias=False).arn

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
            origin="AWS_KMS",
            policy=policy,
            multi_region=False,
            current_material_version=1,
            creation_date=self._clock.time(),
        )

    def _store_key(
        self, key: KmsKey, tags: Mapping[str, str], alias: KmsAlias | None = None
    ) -> None:
        material_blob = self._barrier.encrypt(new_key(), material_aad(key, 1))
        self._keys.create_key(key, self._barrier.mac(key.record()), material_blob, tags, alias)

    def describe_key(
        self, ctx: RequestContext, KeyId: str, GrantTokens: list[str] | None = None
    ) -> dict[str, Any]:
        return {"KeyMetadata": _key_metadata(self._resolve(ctx, KeyId))}

    def list_keys(
        self, ctx: RequestContext, Limit: int = _DEFAULT_KEYS_PAGE, Marker: str | None = None
    ) -> dict[str, Any]:
        if Marker is not None and not is_key_id(Marker):
            raise e.InvalidMarkerException("Invalid marker")
        stored = self._keys.keys(ctx.account_id, ctx.region, Marker or "", Limit + 1)
        page = [
            {"KeyId": key.key_id, "KeyArn": key.arn}
            for key, row_mac in stored[:Limit]
            if self._intact(key, row_mac)  # an altered row is not listed (and is logged)
        ]
        more = len(stored) > Limit
        return _paged("Keys", page, stored[Limit - 1][0].key_id if more else None)

    def update_key_description(self, ctx: RequestContext, KeyId: str, Description: str) -> None:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_not_pending_deletion(key)
        rules.check_description(Description)
        self._save(replace(key, description=Description))

    def enable_key(self, ctx: RequestContext, KeyId: str) -> None:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_not_pending_deletion(key)
        self._save(replace(key, key_state=ENABLED))

    def disable_key(self, ctx: RequestContext, KeyId: str) -> None:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_not_pending_deletion(key)
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
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_not_pending_deletion(key)
        deletion_date = self._clock.time() + PendingWindowInDays * 86400
        self._save(replace(key, key_state=PENDING_DELETION, deletion_date=deletion_date))
        return {
            "KeyId": key.arn,
            "DeletionDate": deletion_date,
            "KeyState": PENDING_DELETION,
            "PendingWindowInDays": PendingWindowInDays,
        }

    def cancel_key_deletion(self, ctx: RequestContext, KeyId: str) -> dict[str, Any]:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        if key.key_state != PENDING_DELETION:
            raise e.KMSInvalidStateException(f"{key.arn} is not pending deletion.")
        # As AWS does: a key whose deletion is cancelled comes back disabled.
        self._save(replace(key, key_state=DISABLED, deletion_date=None))
        return {"KeyId": key.arn}

    def delete_due_keys(self) -> None:
        """Background job: destroy every key whose deletion date has come, with its key
        material, aliases and tags (a concurrent CancelKeyDeletion wins)."""
        now = self._clock.time()
        for key_id in self._keys.due_for_deletion(now):
            if self._keys.destroy_key(key_id, due_by=now):
                log.info("deleted KMS key %s: its waiting period ended", key_id)

    # Cryptographic operations

    def encrypt(
        self,
        ctx: RequestContext,
        KeyId: str,
        Plaintext: bytes,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: list[str] | None = None,
        EncryptionAlgorithm: str = SYMMETRIC_DEFAULT,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        key, material = self._usable_key(ctx, KeyId, EncryptionAlgorithm)
        if DryRun:
            raise e.DryRunOperationException(_DRY_RUN_MESSAGE)
        blob = ciphertext.seal(
            key.key_id, key.current_material_version, material, Plaintext, EncryptionContext
        )
        return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": SYMMETRIC_DEFAULT}

    def decrypt(
        self,
        ctx: RequestContext,
        CiphertextBlob: bytes | None = None,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: list[str] | None = None,
        KeyId: str | None = None,
        EncryptionAlgorithm: str = SYMMETRIC_DEFAULT,
        Recipient: dict[str, Any] | None = None,
        DryRun: bool = False,
        DryRunModifiers: list[str] | None = None,
    ) -> dict[str, Any]:
        if Recipient is not None:
            raise e.UnsupportedOperationException("Nitro Enclaves recipients are not supported.")
        key, plaintext = self._open(
            ctx, CiphertextBlob, EncryptionContext, KeyId, EncryptionAlgorithm
        )
        if DryRun:
            raise e.DryRunOperationException(_DRY_RUN_MESSAGE)
        return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": SYMMETRIC_DEFAULT}

    def unwrap_data_key(
        self, ctx: RequestContext, wrapped: bytes, context: Mapping[str, str]
    ) -> bytes:
        """Decrypt, for a service that stores its data keys wrapped (Secrets Manager): the
        key's state and the caller's account are checked on every call as Decrypt does; the
        cryptography runs once per wrapped key, whose plaintext is kept like key material."""
        _, material = self._key_for(ctx, wrapped, None, SYMMETRIC_DEFAULT)
        cache_key = (wrapped, tuple(sorted(context.items())))
        data_key = self._data_keys.get(cache_key)
        if data_key is None:
            try:
                data_key = ciphertext.open_blob(wrapped, material, context)
            except IntegrityError:
                raise e.InvalidCiphertextException("") from None
            if len(self._data_keys) >= _MATERIAL_CACHE_SIZE:
                self._data_keys.clear()
            self._data_keys[cache_key] = data_key
        return data_key

    def re_encrypt(
        self,
        ctx: RequestContext,
        DestinationKeyId: str,
        CiphertextBlob: bytes | None = None,
        SourceEncryptionContext: Mapping[str, str] | None = None,
        SourceKeyId: str | None = None,
        DestinationEncryptionContext: Mapping[str, str] | None = None,
        SourceEncryptionAlgorithm: str = SYMMETRIC_DEFAULT,
        DestinationEncryptionAlgorithm: str = SYMMETRIC_DEFAULT,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
        DryRunModifiers: list[str] | None = None,
    ) -> dict[str, Any]:
        source, plaintext = self._open(
            ctx, CiphertextBlob, SourceEncryptionContext, SourceKeyId, SourceEncryptionAlgorithm
        )
        destination, material = self._usable_key(
            ctx, DestinationKeyId, DestinationEncryptionAlgorithm
        )
        if DryRun:
            raise e.DryRunOperationException(_DRY_RUN_MESSAGE)
        blob = ciphertext.seal(
            destination.key_id,
            destination.current_material_version,
            material,
            plaintext,
            DestinationEncryptionContext,
        )
        return {
            "CiphertextBlob": blob,
            "SourceKeyId": source.arn,
            "KeyId": destination.arn,
            "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
            "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
        }

    def generate_data_key(
        self,
        ctx: RequestContext,
        KeyId: str,
        EncryptionContext: Mapping[str, str] | None = None,
        NumberOfBytes: int | None = None,
        KeySpec: str | None = None,
        GrantTokens: list[str] | None = None,
        Recipient: dict[str, Any] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        if Recipient is not None:
            raise e.UnsupportedOperationException("Nitro Enclaves recipients are not supported.")
        key, plaintext, blob = self._data_key(
            ctx, KeyId, EncryptionContext, NumberOfBytes, KeySpec, DryRun
        )
        return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}

    def generate_data_key_without_plaintext(
        self,
        ctx: RequestContext,
        KeyId: str,
        EncryptionContext: Mapping[str, str] | None = None,
        KeySpec: str | None = None,
        NumberOfBytes: int | None = None,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        key, _, blob = self._data_key(ctx, KeyId, EncryptionContext, NumberOfBytes, KeySpec, DryRun)
        return {"CiphertextBlob": blob, "KeyId": key.arn}

    def generate_random(
        self,
        ctx: RequestContext,
        NumberOfBytes: int | None = None,
        CustomKeyStoreId: str | None = None,
        Recipient: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if CustomKeyStoreId is not None:
            raise e.CustomKeyStoreNotFoundException("The custom key store does not exist.")
        if Recipient is not None:
            raise e.UnsupportedOperationException("Nitro Enclaves recipients are not supported.")
        if NumberOfBytes is None:
            raise e.ValidationException("Please specify the number of bytes.")
        return {"Plaintext": os.urandom(NumberOfBytes)}

    # Aliases

    def create_alias(self, ctx: RequestContext, AliasName: str, TargetKeyId: str) -> None:
        rules.check_alias_name(AliasName)
        key = self._alias_target(ctx, TargetKeyId)
        if self._keys.alias_count(key.key_id) >= MAX_ALIASES_PER_KEY:
            raise e.LimitExceededException(
                f"A KMS key can have at most {MAX_ALIASES_PER_KEY} aliases."
            )
        now = self._clock.time()
        alias = KmsAlias(ctx.account_id, ctx.region, AliasName, key.key_id, now, now)
        try:
            self._keys.create_alias(alias)
        except AliasExists:
            raise e.AlreadyExistsException(
                f"An alias with the name {alias.arn} already exists"
            ) from None

    def update_alias(self, ctx: RequestContext, AliasName: str, TargetKeyId: str) -> None:
        alias = self._existing_alias(ctx, AliasName)
        key = self._alias_target(ctx, TargetKeyId)
        self._keys.retarget_alias(alias, key.key_id, self._clock.time())

    def delete_alias(self, ctx: RequestContext, AliasName: str) -> None:
        self._keys.delete_alias(self._existing_alias(ctx, AliasName))

    def list_aliases(
        self,
        ctx: RequestContext,
        KeyId: str | None = None,
        Limit: int = _DEFAULT_ALIASES_PAGE,
        Marker: str | None = None,
    ) -> dict[str, Any]:
        if Marker is not None and not Marker.startswith(ALIAS_PREFIX):
            raise e.InvalidMarkerException("Invalid marker")
        key_id = self._resolve(ctx, KeyId, allow_alias=False).key_id if KeyId else None
        aliases = self._keys.aliases(ctx.account_id, ctx.region, Marker or "", Limit + 1, key_id)
        page = [
            {
                "AliasName": a.alias_name,
                "AliasArn": a.arn,
                "TargetKeyId": a.target_key_id,
                "CreationDate": a.creation_date,
                "LastUpdatedDate": a.last_updated_date,
            }
            for a in aliases[:Limit]
        ]
        next_marker = aliases[Limit - 1].alias_name if len(aliases) > Limit else None
        return _paged("Aliases", page, next_marker)

    # Tags

    def tag_resource(self, ctx: RequestContext, KeyId: str, Tags: list[dict[str, str]]) -> None:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_not_pending_deletion(key)
        tags = rules.checked_tags(Tags)
        merged = self._keys.tags(key.key_id) | tags
        if len(merged) > MAX_TAGS_PER_KEY:
            raise e.LimitExceededException(f"A KMS key can have at most {MAX_TAGS_PER_KEY} tags.")
        self._keys.put_tags(key.key_id, tags)

    def untag_resource(self, ctx: RequestContext, KeyId: str, TagKeys: list[str]) -> None:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        self._require_not_pending_deletion(key)
        rules.check_tag_keys(TagKeys)
        self._keys.delete_tags(key.key_id, TagKeys)

    def list_resource_tags(
        self,
        ctx: RequestContext,
        KeyId: str,
        Limit: int = _DEFAULT_TAGS_PAGE,
        Marker: str | None = None,
    ) -> dict[str, Any]:
        key = self._resolve(ctx, KeyId, allow_alias=False)
        tags = sorted(self._keys.tags(key.key_id).items())
        start = 0
        if Marker is not None:
            names = [name for name, _ in tags]
            if Marker not in names:
                raise e.InvalidMarkerException("Invalid marker")
            start = names.index(Marker) + 1
        page = tags[start : start + Limit]
        more = start + Limit < len(tags)
        return _paged(
            "Tags", [{"TagKey": k, "TagValue": v} for k, v in page], page[-1][0] if more else None
        )

    # Resolution and checks

    def _resolve(self, ctx: RequestContext, key_id: str, allow_alias: bool = True) -> KmsKey:
        """Find the key a KeyId names in the caller's account and region, or NotFoundException."""
        target = self._target_id(ctx, key_id, allow_alias)
        return self._owned(ctx, self._verified(self._keys.key(target)), target)

    def _target_id(self, ctx: RequestContext, key_id: str, allow_alias: bool) -> str:
        reference = parse_key_reference(key_id)
        if reference is None or (reference.alias_name is not None and not allow_alias):
            raise e.NotFoundException(f"Invalid keyId {key_id}")
        if reference.account_id not in (None, ctx.account_id) or reference.region not in (
            None,
            ctx.region,
        ):
            raise e.NotFoundException(f"Invalid arn {key_id}")
        if reference.alias_name is not None:
            return self._existing_alias(ctx, reference.alias_name).target_key_id
        return reference.key_id or ""

    def _save(self, key: KmsKey) -> None:
        self._keys.replace_key(key, self._barrier.mac(key.record()))

    def _intact(self, key: KmsKey, row_mac: bytes) -> bool:
        if self._intact_rows.get(row_mac) == key:
            return True  # verified before: same tag, same fields
        try:
            self._barrier.verify(key.record(), row_mac)
        except IntegrityError:
            log.error("KMS key %s: its stored record failed an integrity check", key.key_id)
            return False
        if len(self._intact_rows) >= _MATERIAL_CACHE_SIZE:
            self._intact_rows.clear()
        self._intact_rows[row_mac] = key
        return True

    def _verified(self, stored: StoredKey | None) -> KmsKey | None:
        """The stored key, or KMSInvalidStateException when its row was altered in storage."""
        if stored is None:
            return None
        key, row_mac = stored
        if not self._intact(key, row_mac):
            raise e.KMSInvalidStateException(
                f"{key.arn} is unusable: its stored record failed an integrity check."
            )
        return key

    @staticmethod
    def _owned(ctx: RequestContext, key: KmsKey | None, target_id: str) -> KmsKey:
        if key is None or key.account_id != ctx.account_id or key.region != ctx.region:
            arn = f"arn:aws:kms:{ctx.region}:{ctx.account_id}:key/{target_id}"
            raise e.NotFoundException(f"Key '{arn}' does not exist")
        return key

    def _existing_alias(self, ctx: RequestContext, alias_name: str) -> KmsAlias:
        alias = self._keys.alias(ctx.account_id, ctx.region, alias_name)
        if alias is None:
            arn = f"arn:aws:kms:{ctx.region}:{ctx.account_id}:{alias_name}"
            raise e.NotFoundException(f"Alias {arn} is not found.")
        return alias

    def _alias_target(self, ctx: RequestContext, target_key_id: str) -> KmsKey:
        reference = parse_key_reference(target_key_id)
        if reference is not None and reference.alias_name is not None:
            raise e.ValidationException("Aliases must refer to keys. Not aliases")
        key = self._resolve(ctx, target_key_id, allow_alias=False)
        self._require_not_pending_deletion(key)
        return key

    @staticmethod
    def _require_not_pending_deletion(key: KmsKey) -> None:
        if key.key_state == PENDING_DELETION:
            raise e.KMSInvalidStateException(f"{key.arn} is pending deletion.")

    def _require_usable(self, key: KmsKey, algorithm: str) -> None:
        if key.key_state == DISABLED:
            raise e.DisabledException(f"{key.arn} is disabled.")
        if key.key_state != ENABLED:
            raise e.KMSInvalidStateException(f"{key.arn} is {_state_words(key.key_state)}.")
        if key.key_usage != ENCRYPT_DECRYPT or algorithm != SYMMETRIC_DEFAULT:
            raise e.InvalidKeyUsageException(
                f"You cannot use {algorithm} with KMS key {key.arn} "
                f"({key.key_spec}, {key.key_usage})."
            )

    def _usable_key(self, ctx: RequestContext, key_id: str, algorithm: str) -> tuple[KmsKey, bytes]:
        target = self._target_id(ctx, key_id, allow_alias=True)
        found, blob = self._keys.key_with_material(target)
        key = self._owned(ctx, self._verified(found), target)
        self._require_usable(key, algorithm)
        return key, self._material(key, key.current_material_version, blob)

    def _material(self, key: KmsKey, version: int, blob: bytes | None) -> bytes:
        if blob is None:
            raise e.InvalidCiphertextException("")
        material = self._materials.get(blob)
        if material is None:
            try:
                material = self._barrier.decrypt(blob, material_aad(key, version))
            except IntegrityError:
                raise e.KMSInvalidStateException(
                    f"{key.arn} is unusable: its stored key material failed an integrity check."
                ) from None
            if len(self._materials) >= _MATERIAL_CACHE_SIZE:
                self._materials.clear()
            self._materials[blob] = material
        return material

    def _open(
        self,
        ctx: RequestContext,
        blob: bytes | None,
        context: Mapping[str, str] | None,
        key_id: str | None,
        algorithm: str,
    ) -> tuple[KmsKey, bytes]:
        key, material = self._key_for(ctx, blob, key_id, algorithm)
        try:
            return key, ciphertext.open_blob(blob, material, context)
        except IntegrityError:
            raise e.InvalidCiphertextException("") from None

    def _key_for(
        self, ctx: RequestContext, blob: bytes | None, key_id: str | None, algorithm: str
    ) -> tuple[KmsKey, bytes]:
        """The key (and its material) a ciphertext names, if the caller may use it now."""
        if blob is None:
            # The model makes CiphertextBlob optional (for DryRunModifiers); decrypting needs it.
            raise e.ValidationException(
                "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
                "constraint: Member must not be null"
            )
        try:
            header = ciphertext.read_header(blob)
        except ciphertext.MalformedCiphertext:
            raise e.InvalidCiphertextException("") from None
        if key_id is not None and self._resolve(ctx, key_id).key_id != header.key_id:
            raise e.IncorrectKeyException(
                "The key ID in the request does not identify a KMS key that can perform this "
                "operation."
            )
        found, material_blob = self._keys.key_with_material(header.key_id, header.material_version)
        key = self._verified(found)
        if key is None or key.account_id != ctx.account_id or key.region != ctx.region:
            raise e.InvalidCiphertextException("")
        self._require_usable(key, algorithm)
        return key, self._material(key, header.material_version, material_blob)

    def _data_key(
        self,
        ctx: RequestContext,
        key_id: str,
        context: Mapping[str, str] | None,
        number_of_bytes: int | None,
        key_spec: str | None,
        dry_run: bool,
    ) -> tuple[KmsKey, bytes, bytes]:
        if (number_of_bytes is None) == (key_spec is None):
            raise e.ValidationException("Please specify either number of bytes or key spec.")
        key, material = self._usable_key(ctx, key_id, SYMMETRIC_DEFAULT)
        if dry_run:
            raise e.DryRunOperationException(_DRY_RUN_MESSAGE)
        plaintext = os.urandom(number_of_bytes or _DATA_KEY_BYTES[key_spec or "AES_256"])
        blob = ciphertext.seal(
            key.key_id, key.current_material_version, material, plaintext, context
        )
        return key, plaintext, blob


def _key_metadata(key: KmsKey) -> dict[str, Any]:
    material = f"{key.key_id}/{key.current_material_version}".encode()
    material_id = hashlib.sha256(material).hexdigest()
    return {
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
        "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
        "MultiRegion": key.multi_region,
        "CurrentKeyMaterialId": material_id,
    } | ({"DeletionDate": key.deletion_date} if key.deletion_date is not None else {})


def _paged(member: str, page: list[dict[str, Any]], next_marker: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {member: page, "Truncated": next_marker is not None}
    if next_marker is not None:
        result["NextMarker"] = next_marker
    return result


def _state_words(state: str) -> str:
    return {"PendingDeletion": "pending deletion", "PendingImport": "pending import"}.get(
        state, state
    )
