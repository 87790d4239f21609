"""KMS cryptographic operations: encryption, data keys, signatures, MACs, key agreement."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from strongroom.auth.authorizer import PolicyDenial
from strongroom.barrier.aead import IntegrityError
from strongroom.protocol.errors import AwsError
from strongroom.services.context import RequestContext
from strongroom.services.kms import asymmetric, ciphertext, keyspecs
from strongroom.services.kms import errors as e
from strongroom.services.kms.base import (
    CROSS_ACCOUNT_OPERATIONS,
    DRY_RUN_MESSAGE,
    MATERIAL_CACHE_SIZE,
    KmsBase,
    with_request_keys,
)
from strongroom.services.kms.keyspecs import (
    ALGORITHMS_MEMBER,
    ECDH,
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    SYMMETRIC_DEFAULT,
)
from strongroom.services.kms.model import KEY_RESOURCE, KmsKey, storage_id

_DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}
# AWS's asymmetric encryption algorithms take no encryption context.
_NO_CONTEXT_MESSAGE = "EncryptionContext is not supported with asymmetric KMS keys."
_RECIPIENT_MESSAGE = "Nitro Enclaves recipients are not supported."

# AWS's answer when the key a ciphertext names is deleted, in another Region, or another
# account's and not the caller's to use: one message, so as not to say which.
_INACCESSIBLE_KEY = (
    "The ciphertext refers to a customer master key that does not exist, does not exist in "
    "this region, or you are not allowed to access."
)


class Cryptography(KmsBase):
    # Encryption

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
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, EncryptionContext, EncryptionAlgorithm=EncryptionAlgorithm)
        key, material = self._usable_key(ctx, KeyId, ENCRYPT_DECRYPT, EncryptionAlgorithm)
        blob = self._encrypt_with(key, material, Plaintext, EncryptionContext, EncryptionAlgorithm)
        _check_dry_run(DryRun)
        self._note_use(ctx, key, "Encrypt")
        return {
            "CiphertextBlob": blob,
            "KeyId": key.arn,
            "EncryptionAlgorithm": EncryptionAlgorithm,
        }

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
            raise e.UnsupportedOperationException(_RECIPIENT_MESSAGE)
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, EncryptionContext, EncryptionAlgorithm=EncryptionAlgorithm)
        key, plaintext = self._open(
            ctx, CiphertextBlob, EncryptionContext, KeyId, EncryptionAlgorithm
        )
        _check_dry_run(DryRun)
        self._note_use(ctx, key, "Decrypt")
        return {
            "KeyId": key.arn,
            "Plaintext": plaintext,
            "EncryptionAlgorithm": EncryptionAlgorithm,
        }

    def unwrap_data_key(
        self, ctx: RequestContext, wrapped: bytes, context: Mapping[str, str]
    ) -> bytes:
        """Decrypt, for a service that stores its data keys wrapped (Secrets Manager): the
        key's state and the caller's account are checked on every call as Decrypt does; the
        cryptography runs once per wrapped key, whose plaintext is kept like key material."""
        ctx = with_request_keys(ctx, context, EncryptionAlgorithm=SYMMETRIC_DEFAULT)
        key, material = self._key_for(ctx, wrapped, None, SYMMETRIC_DEFAULT)
        cache_key = (wrapped, tuple(sorted(context.items())))
        data_key = self._data_keys.get(cache_key)
        if data_key is None:
            try:
                data_key = ciphertext.open_blob(wrapped, material, context)
            except IntegrityError:
                raise e.InvalidCiphertextException("") from None
            if len(self._data_keys) >= MATERIAL_CACHE_SIZE:
                self._data_keys.clear()
            self._data_keys[cache_key] = data_key
        self._note_use(ctx, key, "Decrypt")
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
        self._check_grant_tokens(GrantTokens)
        # IAM knows ReEncrypt as two permissions, one on each key.
        source, plaintext = self._open(
            with_request_keys(
                replace(ctx, operation="ReEncryptFrom"),
                SourceEncryptionContext,
                EncryptionAlgorithm=SourceEncryptionAlgorithm,
            ),
            CiphertextBlob,
            SourceEncryptionContext,
            SourceKeyId,
            SourceEncryptionAlgorithm,
        )
        destination, material = self._usable_key(
            with_request_keys(
                replace(ctx, operation="ReEncryptTo"),
                DestinationEncryptionContext,
                EncryptionAlgorithm=DestinationEncryptionAlgorithm,
            ),
            DestinationKeyId,
            ENCRYPT_DECRYPT,
            DestinationEncryptionAlgorithm,
        )
        blob = self._encrypt_with(
            destination,
            material,
            plaintext,
            DestinationEncryptionContext,
            DestinationEncryptionAlgorithm,
        )
        _check_dry_run(DryRun)
        self._note_use(ctx, source, "ReEncrypt")
        self._note_use(ctx, destination, "ReEncrypt")
        return {
            "CiphertextBlob": blob,
            "SourceKeyId": source.arn,
            "KeyId": destination.arn,
            "SourceEncryptionAlgorithm": SourceEncryptionAlgorithm,
            "DestinationEncryptionAlgorithm": DestinationEncryptionAlgorithm,
        }

    def _encrypt_with(
        self,
        key: KmsKey,
        material: bytes,
        plaintext: bytes,
        context: Mapping[str, str] | None,
        algorithm: str,
    ) -> bytes:
        if algorithm == SYMMETRIC_DEFAULT:
            return ciphertext.seal(
                key.key_id, key.current_material_version, material, plaintext, context
            )
        if context:
            raise e.ValidationException(_NO_CONTEXT_MESSAGE)
        try:
            return asymmetric.rsa_encrypt(self._rsa_key(material), algorithm, plaintext)
        except asymmetric.InvalidInput as error:
            raise e.ValidationException(str(error)) from None

    def _open(
        self,
        ctx: RequestContext,
        blob: bytes | None,
        context: Mapping[str, str] | None,
        key_id: str | None,
        algorithm: str,
    ) -> tuple[KmsKey, bytes]:
        if blob is None:
            # The model makes CiphertextBlob optional (for DryRunModifiers); decrypting needs it.
            raise e.ValidationException(
                "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
                "constraint: Member must not be null"
            )
        named = self._resolve(ctx, key_id) if key_id is not None else None
        if named is None or named.key_spec == SYMMETRIC_DEFAULT:
            key, material = self._key_for(ctx, blob, named, algorithm)
            try:
                return key, ciphertext.open_blob(blob, material, context)
            except IntegrityError:
                raise e.InvalidCiphertextException("") from None
        # An RSA ciphertext names no key: KeyId says which one.
        key, material = self._usable_key(ctx, named.arn, ENCRYPT_DECRYPT, algorithm)
        if context:
            raise e.ValidationException(_NO_CONTEXT_MESSAGE)
        plaintext = asymmetric.rsa_decrypt(self._rsa_key(material), algorithm, blob)
        if plaintext is None:
            raise e.InvalidCiphertextException("")
        return key, plaintext

    def _key_for(
        self, ctx: RequestContext, blob: bytes, named: KmsKey | None, algorithm: str
    ) -> tuple[KmsKey, bytes]:
        """The symmetric key (and the material) a ciphertext names, if the caller may use it
        now with `algorithm`; when the request `named` a key, it must be that one."""
        if named is not None:
            self._require_usable(ctx, named, ENCRYPT_DECRYPT, algorithm)
        try:
            header = ciphertext.read_header(blob)
        except ciphertext.MalformedCiphertext:
            raise e.InvalidCiphertextException("") from None
        if named is not None and named.key_id != header.key_id:
            raise e.IncorrectKeyException(
                "The key ID in the request does not identify a KMS key that can perform this "
                "operation."
            )
        found, material_blob = self._keys.key_with_material(
            storage_id(header.key_id, ctx.region), header.material_version
        )
        key = self._verified(found)
        if key is None or key.region != ctx.region:
            raise e.AccessDeniedException(_INACCESSIBLE_KEY)
        if key.account_id == ctx.account_id:
            ctx.note_resource(KEY_RESOURCE, key.arn)
            self._authorize_key(ctx, key)
        else:
            try:
                if ctx.operation not in CROSS_ACCOUNT_OPERATIONS:
                    raise e.AccessDeniedException(_INACCESSIBLE_KEY)
                self._authorize_key(ctx, key)
            except AwsError:
                # Refused another account's key: the same words, naming nothing of the key.
                raise PolicyDenial("AccessDeniedException", _INACCESSIBLE_KEY) from None
            ctx.note_resource(KEY_RESOURCE, key.arn)
        self._require_usable(ctx, key, ENCRYPT_DECRYPT, algorithm)
        return key, self._material(key, header.material_version, material_blob)

    def _rsa_key(self, material: bytes) -> rsa.RSAPrivateKey:
        private_key = self._private_key(material)
        assert isinstance(private_key, rsa.RSAPrivateKey)  # ENCRYPT_DECRYPT keys are RSA
        return private_key

    # Data keys

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
            raise e.UnsupportedOperationException(_RECIPIENT_MESSAGE)
        return self._data_key(
            ctx,
            "GenerateDataKey",
            KeyId,
            EncryptionContext,
            NumberOfBytes,
            KeySpec,
            GrantTokens,
            DryRun,
        )

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
        result = self._data_key(
            ctx,
            "GenerateDataKeyWithoutPlaintext",
            KeyId,
            EncryptionContext,
            NumberOfBytes,
            KeySpec,
            GrantTokens,
            DryRun,
        )
        del result["Plaintext"]
        return result

    def _data_key(
        self,
        ctx: RequestContext,
        operation: str,
        key_id: str,
        context: Mapping[str, str] | None,
        number_of_bytes: int | None,
        key_spec: str | None,
        grant_tokens: list[str] | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        if (number_of_bytes is None) == (key_spec is None):
            raise e.ValidationException("Please specify either number of bytes or key spec.")
        plaintext = os.urandom(number_of_bytes or _DATA_KEY_BYTES[key_spec or "AES_256"])
        key, blob = self._wrap(ctx, operation, key_id, plaintext, context, grant_tokens, dry_run)
        return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}

    def generate_data_key_pair(
        self,
        ctx: RequestContext,
        KeyId: str,
        KeyPairSpec: str,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: list[str] | None = None,
        Recipient: dict[str, Any] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        if Recipient is not None:
            raise e.UnsupportedOperationException(_RECIPIENT_MESSAGE)
        return self._data_key_pair(
            ctx, "GenerateDataKeyPair", KeyId, KeyPairSpec, EncryptionContext, GrantTokens, DryRun
        )

    def generate_data_key_pair_without_plaintext(
        self,
        ctx: RequestContext,
        KeyId: str,
        KeyPairSpec: str,
        EncryptionContext: Mapping[str, str] | None = None,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        result = self._data_key_pair(
            ctx,
            "GenerateDataKeyPairWithoutPlaintext",
            KeyId,
            KeyPairSpec,
            EncryptionContext,
            GrantTokens,
            DryRun,
        )
        del result["PrivateKeyPlaintext"]
        return result

    def _data_key_pair(
        self,
        ctx: RequestContext,
        operation: str,
        key_id: str,
        key_pair_spec: str,
        context: Mapping[str, str] | None,
        grant_tokens: list[str] | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        if key_pair_spec not in keyspecs.DATA_KEY_PAIR_SPECS:
            raise e.UnsupportedOperationException(f"KeyPairSpec {key_pair_spec} is not supported.")
        # Checked before the (slow) key generation; _wrap checks again, cheaply.
        ctx = with_request_keys(ctx, DataKeyPairSpec=key_pair_spec)
        self._usable_key(
            with_request_keys(ctx, context), key_id, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT
        )
        private_key = keyspecs.new_private_key(key_pair_spec)
        private_der = asymmetric.private_key_der(private_key)
        key, blob = self._wrap(ctx, operation, key_id, private_der, context, grant_tokens, dry_run)
        return {
            "PrivateKeyCiphertextBlob": blob,
            "PrivateKeyPlaintext": private_der,
            "PublicKey": asymmetric.public_key_der(private_key),
            "KeyId": key.arn,
            "KeyPairSpec": key_pair_spec,
        }

    def _wrap(
        self,
        ctx: RequestContext,
        operation: str,
        key_id: str,
        plaintext: bytes,
        context: Mapping[str, str] | None,
        grant_tokens: list[str] | None,
        dry_run: bool,
    ) -> tuple[KmsKey, bytes]:
        """Encrypt a new data key under a symmetric key (the data key operations)."""
        self._check_grant_tokens(grant_tokens)
        ctx = with_request_keys(ctx, context)
        key, material = self._usable_key(ctx, key_id, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT)
        _check_dry_run(dry_run)
        blob = ciphertext.seal(
            key.key_id, key.current_material_version, material, plaintext, context
        )
        self._note_use(ctx, key, operation)
        return key, blob

    def generate_random(
        self,
        ctx: RequestContext,
        NumberOfBytes: int | None = None,
        CustomKeyStoreId: str | None = None,
        Recipient: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        ctx.authorize()
        if CustomKeyStoreId is not None:
            raise e.CustomKeyStoreNotFoundException("The custom key store does not exist.")
        if Recipient is not None:
            raise e.UnsupportedOperationException(_RECIPIENT_MESSAGE)
        if NumberOfBytes is None:
            raise e.ValidationException("Please specify the number of bytes.")
        return {"Plaintext": os.urandom(NumberOfBytes)}

    # Signatures

    def sign(
        self,
        ctx: RequestContext,
        KeyId: str,
        Message: bytes,
        SigningAlgorithm: str,
        MessageType: str = asymmetric.RAW,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, SigningAlgorithm=SigningAlgorithm, MessageType=MessageType)
        key, material = self._usable_key(ctx, KeyId, SIGN_VERIFY, SigningAlgorithm)
        try:
            signature = asymmetric.sign(
                self._private_key(material), SigningAlgorithm, Message, MessageType
            )
        except asymmetric.InvalidInput as error:
            raise e.ValidationException(str(error)) from None
        _check_dry_run(DryRun)
        self._note_use(ctx, key, "Sign")
        return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": SigningAlgorithm}

    def verify(
        self,
        ctx: RequestContext,
        KeyId: str,
        Message: bytes,
        Signature: bytes,
        SigningAlgorithm: str,
        MessageType: str = asymmetric.RAW,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, SigningAlgorithm=SigningAlgorithm, MessageType=MessageType)
        key, material = self._usable_key(ctx, KeyId, SIGN_VERIFY, SigningAlgorithm)
        try:
            valid = asymmetric.verify(
                self._private_key(material), SigningAlgorithm, Message, MessageType, Signature
            )
        except asymmetric.InvalidInput as error:
            raise e.ValidationException(str(error)) from None
        _check_dry_run(DryRun)
        if not valid:
            raise e.KMSInvalidSignatureException("")
        self._note_use(ctx, key, "Verify")
        return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": SigningAlgorithm}

    def get_public_key(
        self, ctx: RequestContext, KeyId: str, GrantTokens: list[str] | None = None
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        key, material = self._checked_key(ctx, KeyId, self._require_enabled)
        if not keyspecs.is_asymmetric(key.key_spec):
            raise e.UnsupportedOperationException(
                f"{key.arn} is a {key.key_spec} key; only asymmetric keys have a public key."
            )
        return {
            "KeyId": key.arn,
            "PublicKey": asymmetric.public_key_der(self._private_key(material)),
            "CustomerMasterKeySpec": key.key_spec,
            "KeySpec": key.key_spec,
            "KeyUsage": key.key_usage,
            ALGORITHMS_MEMBER[key.key_usage]: list(
                keyspecs.ALGORITHMS[key.key_spec][key.key_usage]
            ),
        }

    # MACs

    def generate_mac(
        self,
        ctx: RequestContext,
        Message: bytes,
        KeyId: str,
        MacAlgorithm: str,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, MacAlgorithm=MacAlgorithm)
        key, material = self._usable_key(ctx, KeyId, GENERATE_VERIFY_MAC, MacAlgorithm)
        _check_dry_run(DryRun)
        mac = asymmetric.mac(material, MacAlgorithm, Message)
        self._note_use(ctx, key, "GenerateMac")
        return {"Mac": mac, "MacAlgorithm": MacAlgorithm, "KeyId": key.arn}

    def verify_mac(
        self,
        ctx: RequestContext,
        Message: bytes,
        KeyId: str,
        MacAlgorithm: str,
        Mac: bytes,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
    ) -> dict[str, Any]:
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, MacAlgorithm=MacAlgorithm)
        key, material = self._usable_key(ctx, KeyId, GENERATE_VERIFY_MAC, MacAlgorithm)
        _check_dry_run(DryRun)
        if not asymmetric.mac_matches(material, MacAlgorithm, Message, Mac):
            raise e.KMSInvalidMacException("")
        self._note_use(ctx, key, "VerifyMac")
        return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": MacAlgorithm}

    # Key agreement

    def derive_shared_secret(
        self,
        ctx: RequestContext,
        KeyId: str,
        KeyAgreementAlgorithm: str,
        PublicKey: bytes,
        GrantTokens: list[str] | None = None,
        DryRun: bool = False,
        Recipient: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if Recipient is not None:
            raise e.UnsupportedOperationException(_RECIPIENT_MESSAGE)
        self._check_grant_tokens(GrantTokens)
        ctx = with_request_keys(ctx, KeyAgreementAlgorithm=KeyAgreementAlgorithm)
        key, material = self._usable_key(ctx, KeyId, KEY_AGREEMENT, KeyAgreementAlgorithm)
        private_key = self._private_key(material)
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)  # KEY_AGREEMENT keys are EC
        try:
            secret = asymmetric.shared_secret(private_key, PublicKey)
        except asymmetric.InvalidInput as error:
            raise e.ValidationException(str(error)) from None
        _check_dry_run(DryRun)
        self._note_use(ctx, key, "DeriveSharedSecret")
        return {
            "KeyId": key.arn,
            "SharedSecret": secret,
            "KeyAgreementAlgorithm": ECDH,
            "KeyOrigin": key.origin,
        }


def _check_dry_run(dry_run: bool) -> None:
    if dry_run:
        raise e.DryRunOperationException(DRY_RUN_MESSAGE)
