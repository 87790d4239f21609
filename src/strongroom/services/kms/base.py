"""What every group of KMS operations shares: finding a key the caller may name, checking its
integrity and state, and its key material (decrypted through the barrier, cached per process)."""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import NamedTuple

from strongroom.barrier.aead import IntegrityError
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam.conditions import ContextValue
from strongroom.protocol.errors import AwsError
from strongroom.services.context import RequestContext, ServiceEvent, ServiceEvents
from strongroom.services.kms import asymmetric
from strongroom.services.kms import errors as e
from strongroom.services.kms.keyspecs import ALGORITHMS
from strongroom.services.kms.model import (
    DISABLED,
    ENABLED,
    KEY_RESOURCE,
    PENDING_DELETION,
    PENDING_IMPORT,
    PENDING_REPLICA_DELETION,
    KmsAlias,
    KmsGrant,
    KmsKey,
    key_arn,
    parse_key_reference,
    public_key_id,
    storage_id,
)
from strongroom.storage.kms import KmsRepository, StoredKey
from strongroom.storage.kms_grants import GrantRepository

MATERIAL_CACHE_SIZE = 4096
DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
SERVICE = "kms.amazonaws.com"  # the event source of KMS in audit records
log = logging.getLogger("strongroom.kms")
MAX_GRANTS_PER_KEY = 50_000
MAX_GRANTS_PER_GRANTEE = 500  # grants of one key for one grantee principal
# What a principal of another account may do with a key (named by its key or alias ARN), when
# the key policy allows it; every other operation acts on the caller's own keys only.
CROSS_ACCOUNT_OPERATIONS = frozenset(
    {
        "CreateGrant",
        "Decrypt",
        "DeriveSharedSecret",
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ReEncrypt",
        "RetireGrant",
        "RevokeGrant",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)

_GRANT_ID_BYTES = 32
_GRANT_TOKEN_NONCE_BYTES = 8  # every CreateGrant returns a new token, even for one grant
_GRANT_TOKEN_BODY_BYTES = _GRANT_ID_BYTES + _GRANT_TOKEN_NONCE_BYTES
_GRANT_TOKEN_PURPOSE = b"kms grant token\0"


class KeyTarget(NamedTuple):
    """What a KeyId names: a key id, the account that must own the key (the caller's, or the
    one its ARN names), and the alias ARN it was named through, if it was."""

    key_id: str
    owner: str
    alias_arn: str | None = None


def material_aad(key: KmsKey, version: int) -> bytes:
    # The ARN binds account and region too: moving a key row to another account in storage
    # makes its material unreadable instead of handing the key to that account.
    return f"kms_key_materials/{key.arn}/{version}".encode()


class KmsBase:
    def __init__(
        self,
        repository: KmsRepository,
        grants: GrantRepository,
        barrier: Barrier,
        clock: Clock,
        regions: frozenset[str],
        events: ServiceEvents,
    ) -> None:
        self._keys = repository
        self._grants = grants
        self._barrier = barrier
        self._clock = clock
        self._regions = regions  # where multi-Region keys can have replicas
        self._events = events
        # Decrypted key material, keyed by its stored ciphertext: a row that changes in storage
        # (or is tampered with) is never served from here.
        self._materials: dict[bytes, bytes] = {}
        # Private keys parsed from their material (parsing an RSA key costs more than using it).
        self._private_keys: dict[bytes, asymmetric.PrivateKey] = {}
        # Key rows whose integrity tag was checked, by tag (saves a JSON dump and HMAC a call).
        self._intact_rows: dict[bytes, KmsKey] = {}
        # Data keys other services keep wrapped, unwrapped (see unwrap_data_key).
        self._data_keys: dict[tuple[bytes, tuple[tuple[str, str], ...]], bytes] = {}

    def _service_event(self, key: KmsKey, name: str) -> None:
        """Tell the audit trail what KMS did to `key` by itself (CloudTrail's event `name`)."""
        self._events(
            ServiceEvent(key.account_id, key.region, SERVICE, name, ((KEY_RESOURCE, key.arn),))
        )

    def forget_materials(self) -> None:
        """Called on seal: no key material may outlive the unsealed barrier."""
        for cache in (self._materials, self._private_keys, self._intact_rows, self._data_keys):
            cache.clear()

    # Finding keys

    def _resolve(self, ctx: RequestContext, key_id: str, allow_alias: bool = True) -> KmsKey:
        """Find the key a KeyId names in the caller's region (in the caller's account, or, for
        the operations AWS allows across accounts, in the account its ARN names), or
        NotFoundException."""
        target = self._target(ctx, key_id, allow_alias)
        stored = self._keys.key(storage_id(target.key_id, ctx.region))
        return self._owned(ctx, self._verified(stored), target)

    def _customer_key(self, ctx: RequestContext, key_id: str) -> KmsKey:
        """A key the caller may manage: named by id or ARN, and customer managed."""
        key = self._resolve(ctx, key_id, allow_alias=False)
        self._require_customer_managed(ctx, key)
        return key

    def _target(self, ctx: RequestContext, key_id: str, allow_alias: bool) -> KeyTarget:
        reference = parse_key_reference(key_id)
        if reference is None or (reference.alias_name is not None and not allow_alias):
            raise e.NotFoundException(f"Invalid keyId {key_id}")
        owner = reference.account_id or ctx.account_id
        if reference.region not in (None, ctx.region) or (
            owner != ctx.account_id and ctx.operation not in CROSS_ACCOUNT_OPERATIONS
        ):
            raise e.NotFoundException(f"Invalid arn {key_id}")
        if reference.alias_name is not None:
            alias = self._existing_alias(ctx, reference.alias_name, owner)
            return KeyTarget(public_key_id(alias.target_key_id), owner, alias.arn)
        return KeyTarget(reference.key_id or "", owner)

    def _existing_alias(
        self, ctx: RequestContext, alias_name: str, owner: str | None = None
    ) -> KmsAlias:
        owner = owner or ctx.account_id
        alias = self._keys.alias(owner, ctx.region, alias_name)
        if alias is None:
            arn = f"arn:aws:kms:{ctx.region}:{owner}:{alias_name}"
            raise e.NotFoundException(f"Alias {arn} is not found.")
        return alias

    def _owned(self, ctx: RequestContext, key: KmsKey | None, target: KeyTarget) -> KmsKey:
        if key is None or key.account_id != target.owner or key.region != ctx.region:
            arn = key_arn(ctx.region, target.owner, target.key_id)
            raise e.NotFoundException(f"Key '{arn}' does not exist")
        if target.owner == ctx.account_id:
            ctx.note_resource(KEY_RESOURCE, key.arn)
            self._authorize_key(ctx, key)
            return key
        try:
            self._authorize_key(ctx, key)
        except AwsError:
            if target.alias_arn is None:
                raise
            # Another account's key named by its alias and refused: say nothing of the key.
            raise e.NotFoundException(f"Alias {target.alias_arn} is not found.") from None
        ctx.note_resource(KEY_RESOURCE, key.arn)
        return key

    def _save(self, key: KmsKey) -> None:
        self._keys.replace_key(key, self._barrier.mac(key.record()))

    def _key_set(self, key: KmsKey) -> list[KmsKey]:
        """The key, and for a multi-Region key the keys of its other Regions."""
        if not key.multi_region:
            return [key]
        others = [
            self._verified(self._keys.key(storage_id(key.key_id, region)))
            for region in self._keys.regions_of(key.key_id)
            if region != key.region
        ]
        return [key, *(other for other in others if other is not None)]

    # Integrity

    def _intact(self, key: KmsKey, row_mac: bytes) -> bool:
        if self._intact_rows.get(row_mac) == key:
            return True  # verified before: same tag, same fields
        try:
            self._barrier.verify(key.record(), row_mac)
        except IntegrityError:
            log.error("KMS key %s: its stored record failed an integrity check", key.key_id)
            return False
        if len(self._intact_rows) >= MATERIAL_CACHE_SIZE:
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

    # Key state and usage

    @staticmethod
    def _require_not_pending_deletion(key: KmsKey) -> None:
        if key.key_state in (PENDING_DELETION, PENDING_REPLICA_DELETION):
            raise e.KMSInvalidStateException(f"{key.arn} is {state_words(key.key_state)}.")

    @staticmethod
    def _require_customer_managed(ctx: RequestContext, key: KmsKey) -> None:
        """AWS managed keys are AWS's to manage: their policy lets nobody change them."""
        if key.key_manager == "AWS":
            action = f"kms:{ctx.operation}"
            raise e.AccessDeniedException(
                f"User: {ctx.principal.arn} is not authorized to perform: {action} on "
                f"resource: {key.arn} because no resource-based policy allows the {action} "
                "action"
            )

    @staticmethod
    def _require_material(key: KmsKey) -> None:
        """For EnableKey/DisableKey: a key pending deletion or pending import has no state to
        switch (AWS: KMSInvalidStateException)."""
        if key.key_state in (PENDING_DELETION, PENDING_REPLICA_DELETION, PENDING_IMPORT):
            raise e.KMSInvalidStateException(f"{key.arn} is {state_words(key.key_state)}.")

    @staticmethod
    def _require_enabled(key: KmsKey) -> None:
        if key.key_state == DISABLED:
            raise e.DisabledException(f"{key.arn} is disabled.")
        if key.key_state != ENABLED:
            raise e.KMSInvalidStateException(f"{key.arn} is {state_words(key.key_state)}.")

    def _require_usable(self, ctx: RequestContext, key: KmsKey, usage: str, algorithm: str) -> None:
        self._require_enabled(key)
        if key.key_usage != usage:
            raise e.InvalidKeyUsageException(
                f"{key.arn} key usage is {key.key_usage} which is not valid for {ctx.operation}."
            )
        if algorithm not in ALGORITHMS[key.key_spec][usage]:
            raise e.InvalidKeyUsageException(
                f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}."
            )

    def _usable_key(
        self, ctx: RequestContext, key_id: str, usage: str, algorithm: str
    ) -> tuple[KmsKey, bytes]:
        """The key a KeyId names, usable now for `usage` with `algorithm`, and its current
        material."""
        return self._checked_key(
            ctx, key_id, lambda key: self._require_usable(ctx, key, usage, algorithm)
        )

    def _checked_key(
        self, ctx: RequestContext, key_id: str, check: Callable[[KmsKey], None]
    ) -> tuple[KmsKey, bytes]:
        """The key a KeyId names and its current material (read in one query), once `check`
        has passed."""
        target = self._target(ctx, key_id, allow_alias=True)
        found, blob = self._keys.key_with_material(storage_id(target.key_id, ctx.region))
        key = self._owned(ctx, self._verified(found), target)
        check(key)
        return key, self._material(key, key.current_material_version, blob)

    def _note_use(self, ctx: RequestContext, key: KmsKey, operation: str) -> None:
        """Remember a successful cryptographic operation for GetKeyLastUsage."""
        used_at = self._clock.time()
        ctx.when_recorded(
            lambda: self._keys.note_usage(key.storage_id, operation, used_at, ctx.request_id)
        )

    # Key material

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
            if len(self._materials) >= MATERIAL_CACHE_SIZE:
                self._materials.clear()
            self._materials[blob] = material
        return material

    def _private_key(self, material: bytes) -> asymmetric.PrivateKey:
        private_key = self._private_keys.get(material)
        if private_key is None:
            private_key = asymmetric.load_private_key(material)
            if len(self._private_keys) >= MATERIAL_CACHE_SIZE:
                self._private_keys.clear()
            self._private_keys[material] = private_key
        return private_key

    # Grant tokens: opaque to callers, unforgeable (a barrier MAC), naming one grant each.

    def _grant_token(self, grant_id: str) -> str:
        body = bytes.fromhex(grant_id) + secrets.token_bytes(_GRANT_TOKEN_NONCE_BYTES)
        tag = self._barrier.mac(_GRANT_TOKEN_PURPOSE + body)
        return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")

    def _granted_id(self, token: str) -> str:
        """The grant id a grant token names, or InvalidGrantTokenException."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        body, tag = raw[:_GRANT_TOKEN_BODY_BYTES], raw[_GRANT_TOKEN_BODY_BYTES:]
        try:
            self._barrier.verify(_GRANT_TOKEN_PURPOSE + body, tag)
        except IntegrityError:
            raise e.InvalidGrantTokenException("The grant token is not valid.") from None
        return body[:_GRANT_ID_BYTES].hex()

    # Authorization

    def _authorize_key(self, ctx: RequestContext, key: KmsKey) -> None:
        """The key policy decides, with the IAM policies it lets decide; a grant to the caller
        for this operation is one more way in (explicit denies still win). Grants are read
        only when the policies alone would refuse: the common call reads none."""
        conditions: dict[str, ContextValue] = {
            "kms:CallerAccount": ctx.account_id,
            "kms:KeySpec": key.key_spec,
            "kms:KeyUsage": key.key_usage,
            "kms:KeyOrigin": key.origin,
            "kms:KeyManager": key.key_manager,
            "kms:MultiRegion": key.multi_region,
        }
        for tag_key, value in self._keys.tags(key.storage_id).items():
            conditions[f"aws:ResourceTag/{tag_key}"] = value
        decide = functools.partial(
            ctx.authorize,
            key.arn,
            key_policy=key.policy,
            resource_account=key.account_id,
            conditions=conditions,
        )
        try:
            decide()
        except AwsError:
            if not self._granted(ctx, key):
                raise
            decide(grant=True)

    def _granted(self, ctx: RequestContext, key: KmsKey) -> bool:
        """Whether a grant gives the caller this operation on the key, its encryption context
        constraints met by the request's encryption context."""
        stored = self._grants.grants(
            key.storage_id, "", MAX_GRANTS_PER_GRANTEE, grantee_principal=ctx.principal.arn
        )
        context = {
            name.removeprefix(_CONTEXT_KEY): value
            for name, value in ctx.conditions.items()
            if name.startswith(_CONTEXT_KEY)
        }
        return any(
            ctx.operation in grant.operations
            and _meets(grant.constraints or {}, context)
            and self._grant_intact(grant, row_mac)
            for grant, row_mac in stored
        )

    def _grant_intact(self, grant: KmsGrant, row_mac: bytes) -> bool:
        try:
            self._barrier.verify(grant.record(), row_mac)
        except IntegrityError:
            log.error("KMS grant %s: its stored record failed an integrity check", grant.grant_id)
            return False
        return True

    def _check_grant_tokens(self, tokens: list[str] | None) -> None:
        for token in tokens or ():
            self._granted_id(token)


def state_words(state: str) -> str:
    return {
        PENDING_DELETION: "pending deletion",
        PENDING_REPLICA_DELETION: "pending replica deletion",
        PENDING_IMPORT: "pending import",
    }.get(state, state)


_CONTEXT_KEY = "kms:EncryptionContext:"


def with_request_keys(
    ctx: RequestContext, context: Mapping[str, str] | None = None, **named: ContextValue
) -> RequestContext:
    """The call's context carrying the condition keys KMS gives a request: its encryption
    context (kms:EncryptionContext:<key>, kms:EncryptionContextKeys) and what it names
    (kms:EncryptionAlgorithm, kms:SigningAlgorithm, kms:MacAlgorithm, ...)."""
    keys: dict[str, ContextValue] = {f"{_CONTEXT_KEY}{k}": v for k, v in (context or {}).items()}
    if context:
        keys["kms:EncryptionContextKeys"] = list(context)
    keys.update({f"kms:{name}": value for name, value in named.items()})
    return replace(ctx, conditions={**ctx.conditions, **keys})


def _meets(constraints: Mapping[str, Mapping[str, str]], context: Mapping[str, str]) -> bool:
    """A grant's constraints against a request's encryption context, as KMS reads them."""
    equals = constraints.get("EncryptionContextEquals")
    subset = constraints.get("EncryptionContextSubset")
    return (equals is None or dict(equals) == dict(context)) and (
        subset is None or all(context.get(k) == v for k, v in subset.items())
    )
