"""Imported key material (keys of origin EXTERNAL): wrapping keys and import tokens, importing,
expiring and deleting the material. A key without material is PendingImport."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import keywrap
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from strongroom.barrier.aead import IntegrityError
from strongroom.services.context import RequestContext
from strongroom.services.kms import asymmetric, keyspecs
from strongroom.services.kms import errors as e
from strongroom.services.kms.base import KmsBase, log, material_aad
from strongroom.services.kms.keys import DAY
from strongroom.services.kms.model import (
    ENABLED,
    EXTERNAL,
    KEY_MATERIAL_DOES_NOT_EXPIRE,
    KEY_MATERIAL_EXPIRES,
    PENDING_DELETION,
    PENDING_IMPORT,
    KmsKey,
    key_material_id,
)

_IMPORT_TOKEN_AAD = b"kms import token v1"
_FINGERPRINT = b"kms imported material\0"
_PARAMETERS_VALID_SECONDS = DAY  # AWS: import tokens and wrapping keys last 24 hours
_MAX_VALID_TO_SECONDS = 365 * DAY
_WRAPPING_ALGORITHMS = {
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
}
# The lengths of HMAC key material AWS accepts, in bytes.
_HMAC_MATERIAL_BYTES = {
    "HMAC_224": (28, 64),
    "HMAC_256": (32, 64),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}


class Imports(KmsBase):
    def get_parameters_for_import(
        self, ctx: RequestContext, KeyId: str, WrappingAlgorithm: str, WrappingKeySpec: str
    ) -> dict[str, Any]:
        key = self._external_key(ctx, KeyId)
        if WrappingAlgorithm not in _WRAPPING_ALGORITHMS or WrappingKeySpec not in (
            keyspecs.RSA_BITS
        ):
            # RSAES_PKCS1_V1_5 is retired by AWS; SM2 exists only in China Regions.
            raise e.UnsupportedOperationException(
                f"Wrapping algorithm {WrappingAlgorithm} with wrapping key spec "
                f"{WrappingKeySpec} is not supported."
            )
        wrapping_key = keyspecs.new_private_key(WrappingKeySpec)
        valid_to = self._clock.time() + _PARAMETERS_VALID_SECONDS
        token = {
            "key": key.arn,
            "algorithm": WrappingAlgorithm,
            "valid_to": valid_to,
            "wrapping_key": base64.b64encode(asymmetric.private_key_der(wrapping_key)).decode(),
        }
        return {
            "KeyId": key.arn,
            "ImportToken": self._barrier.encrypt(json.dumps(token).encode(), _IMPORT_TOKEN_AAD),
            "PublicKey": asymmetric.public_key_der(wrapping_key),
            "ParametersValidTo": valid_to,
        }

    def import_key_material(
        self,
        ctx: RequestContext,
        KeyId: str,
        ImportToken: bytes,
        EncryptedKeyMaterial: bytes,
        ValidTo: datetime | None = None,
        ExpirationModel: str | None = None,
        ImportType: str | None = None,
        KeyMaterialDescription: str | None = None,
        KeyMaterialId: str | None = None,
    ) -> dict[str, Any]:
        key = self._external_key(ctx, KeyId)
        if ImportType == "NEW_KEY_MATERIAL" or KeyMaterialId is not None:
            raise e.UnsupportedOperationException(
                "Importing new key material to rotate a key is not supported."
            )
        expiration_model, valid_to = self._expiry(ExpirationModel, ValidTo)
        algorithm, wrapping_key = self._opened_token(ImportToken, key)
        material = _canonical_material(key, _unwrap(algorithm, wrapping_key, EncryptedKeyMaterial))
        if not self._imported_before(key, material):
            raise e.IncorrectKeyMaterialException(
                "The key material is not the key material that was imported into this key before."
            )
        imported = replace(
            key,
            key_state=ENABLED if key.key_state == PENDING_IMPORT else key.key_state,
            valid_to=valid_to,
            expiration_model=expiration_model,
            imported_material_mac=key.imported_material_mac
            or self._barrier.mac(_FINGERPRINT + material).hex(),
        )
        version = imported.current_material_version
        self._keys.import_material(
            imported,
            self._barrier.mac(imported.record()),
            self._barrier.encrypt(material, material_aad(imported, version)),
            self._clock.time(),
        )
        return {"KeyId": key.arn, "KeyMaterialId": key_material_id(key.key_id, version)}

    def delete_imported_key_material(
        self, ctx: RequestContext, KeyId: str, KeyMaterialId: str | None = None
    ) -> dict[str, Any]:
        # AWS allows this on a key pending deletion too (its state stays PendingDeletion).
        key = self._external_key(ctx, KeyId, pending_deletion_too=True)
        material_id = key_material_id(key.key_id, key.current_material_version)
        if KeyMaterialId not in (None, material_id):
            raise e.NotFoundException(f"Key material {KeyMaterialId} does not exist.")
        self._remove_material(key)
        return {"KeyId": key.arn, "KeyMaterialId": material_id}

    def expire_imported_material(self) -> None:
        """Background job: delete imported material whose ValidTo has come; its key becomes
        PendingImport, as AWS does."""
        now = self._clock.time()
        for key_id in self._keys.expired_imports(now):
            key = self._verified(self._keys.key(key_id))
            if key is not None and self._remove_material(key, expired_by=now):
                log.info("KMS key %s: its imported key material expired and was deleted", key_id)
                self._service_event(key, "DeleteExpiredKeyMaterial")

    def _remove_material(self, key: KmsKey, expired_by: float | None = None) -> bool:
        pending = replace(
            key,
            key_state=key.key_state if key.key_state == PENDING_DELETION else PENDING_IMPORT,
            valid_to=None,
            expiration_model=None,
        )
        return self._keys.remove_material(pending, self._barrier.mac(pending.record()), expired_by)

    def _external_key(
        self, ctx: RequestContext, key_id: str, pending_deletion_too: bool = False
    ) -> KmsKey:
        key = self._resolve(ctx, key_id, allow_alias=False)
        if key.origin != EXTERNAL:
            raise e.UnsupportedOperationException(
                f"{key.arn} origin is {key.origin} which is not valid for this operation."
            )
        if not pending_deletion_too:
            self._require_not_pending_deletion(key)
        return key

    def _imported_before(self, key: KmsKey, material: bytes) -> bool:
        """Whether `material` is the key's first imported material (or none was imported):
        checked against the barrier MAC kept of it, whatever keyring term made that MAC."""
        if key.imported_material_mac is None:
            return True
        try:
            self._barrier.verify(_FINGERPRINT + material, bytes.fromhex(key.imported_material_mac))
        except IntegrityError:
            return False
        return True

    def _expiry(
        self, expiration_model: str | None, valid_to: datetime | None
    ) -> tuple[str, float | None]:
        model = expiration_model or (
            KEY_MATERIAL_EXPIRES if valid_to is not None else KEY_MATERIAL_DOES_NOT_EXPIRE
        )
        if model == KEY_MATERIAL_DOES_NOT_EXPIRE:
            if valid_to is not None:
                raise e.ValidationException(
                    "ValidTo must not be given when ExpirationModel is "
                    "KEY_MATERIAL_DOES_NOT_EXPIRE."
                )
            return model, None
        if valid_to is None:
            raise e.ValidationException(
                "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES."
            )
        expires = valid_to.timestamp()
        now = self._clock.time()
        if not now < expires <= now + _MAX_VALID_TO_SECONDS:
            raise e.ValidationException(
                "ValidTo must be in the future and at most 365 days from now."
            )
        return model, expires

    def _opened_token(self, token: bytes, key: KmsKey) -> tuple[str, rsa.RSAPrivateKey]:
        try:
            fields = json.loads(self._barrier.decrypt(token, _IMPORT_TOKEN_AAD))
        except (IntegrityError, ValueError):
            raise e.InvalidImportTokenException("The import token is not valid.") from None
        if fields["key"] != key.arn:
            raise e.InvalidImportTokenException("The import token was issued for another KMS key.")
        if fields["valid_to"] <= self._clock.time():
            raise e.ExpiredImportTokenException("The import token has expired.")
        wrapping_key = asymmetric.load_private_key(base64.b64decode(fields["wrapping_key"]))
        assert isinstance(wrapping_key, rsa.RSAPrivateKey)
        return fields["algorithm"], wrapping_key


def _unwrap(algorithm: str, wrapping_key: rsa.RSAPrivateKey, wrapped: bytes) -> bytes:
    """Undo the client's wrapping: RSA-OAEP alone, or RSA-OAEP around an ephemeral AES key
    that wraps the material with AES key wrap with padding (RFC 5649)."""
    oaep = asymmetric.oaep(algorithm)
    try:
        if algorithm.startswith("RSAES_OAEP"):
            return wrapping_key.decrypt(wrapped, oaep)
        split = wrapping_key.key_size // 8
        aes_key = wrapping_key.decrypt(wrapped[:split], oaep)
        return keywrap.aes_key_unwrap_with_padding(aes_key, wrapped[split:])
    except (ValueError, keywrap.InvalidUnwrap):
        raise e.InvalidCiphertextException(
            "The encrypted key material could not be unwrapped with the import token's "
            "wrapping key and algorithm."
        ) from None


def _canonical_material(key: KmsKey, material: bytes) -> bytes:
    """The material as Strongroom stores it for the key's spec, or IncorrectKeyMaterial."""
    spec = key.key_spec
    if spec == keyspecs.SYMMETRIC_DEFAULT and len(material) == 32:
        return material
    if spec in _HMAC_MATERIAL_BYTES:
        shortest, longest = _HMAC_MATERIAL_BYTES[spec]
        if shortest <= len(material) <= longest:
            return material
    if keyspecs.is_asymmetric(spec):
        try:
            private_key = asymmetric.load_private_key(material)
        except (ValueError, TypeError):
            private_key = None
        if _fits_spec(private_key, spec):
            assert private_key is not None
            return asymmetric.private_key_der(private_key)
    raise e.IncorrectKeyMaterialException(f"The key material is not valid for a {spec} key.")


def _fits_spec(private_key: asymmetric.PrivateKey | None, spec: str) -> bool:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return keyspecs.RSA_BITS.get(spec) == private_key.key_size
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return spec in keyspecs.CURVES and isinstance(private_key.curve, keyspecs.CURVES[spec])
    return False
