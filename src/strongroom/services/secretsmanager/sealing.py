"""Sealing secret versions: envelope encryption under the secret's KMS key.

KMS issues a data key under the secret's key (the account's `aws/secretsmanager` key in the
secret's region unless the secret names another), bound to the secret ARN and version id as
encryption context; the value is sealed with that data key and the same binding as associated
data, so rows cannot be swapped between secrets, versions or regions.
"""

from __future__ import annotations

from dataclasses import replace

from strongroom.auth.authorizer import PolicyDenial
from strongroom.barrier import aead, envelope
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.protocol.errors import AwsError
from strongroom.services.context import RequestContext
from strongroom.services.kms.model import qualified_key_reference
from strongroom.services.kms.service import KMS
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager.model import (
    DEFAULT_KEY_ALIAS,
    DEFAULT_KEY_DESCRIPTION,
    Secret,
    SecretVersion,
)

# A secret value: whether it is SecretBinary, and its bytes.
Value = tuple[bool, bytes]

_OPENED_CACHE_BYTES = 16 * 2**20  # decrypted values kept per process, at most
_ENCRYPTION_FAILURE = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
    "Check that the KMS key is available, enabled, and not in an invalid state."
)
_DECRYPTION_FAILURE = (
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
)


class Sealer:
    def __init__(self, kms: KMS, barrier: Barrier, clock: Clock) -> None:
        self._kms = kms
        self._barrier = barrier
        self._clock = clock
        self._opened: dict[tuple[bytes, bytes], bytes] = {}  # see `open`
        self._opened_bytes = 0

    def seal(
        self, ctx: RequestContext, secret: Secret, version_id: str, value: Value
    ) -> SecretVersion:
        """A new version of `secret` holding `value`, created now."""
        is_binary, plaintext = value
        key_context = _kms_context(ctx, secret, "GenerateDataKey")
        try:
            data_key = self._kms.generate_data_key(
                key_context,
                KeyId=self._key_id(key_context, secret),
                KeySpec="AES_256",
                EncryptionContext=_encryption_context(secret, version_id),
            )
        except AwsError as error:
            raise _kms_failure(error, e.EncryptionFailure(_ENCRYPTION_FAILURE)) from None
        blob = envelope.seal(
            data_key["Plaintext"], data_key["CiphertextBlob"], plaintext, _aad(secret, version_id)
        )
        return SecretVersion(
            version_id=version_id,
            created_date=self._clock.time(),
            kms_key_arn=data_key["KeyId"],
            is_binary=is_binary,
            value_blob=blob,
            value_mac=self._value_mac(secret, version_id, value),
        )

    def open(self, ctx: RequestContext, secret: Secret, version: SecretVersion) -> Value:
        blob = version.value_blob
        aad = _aad(secret, version.version_id)
        try:
            # The KMS key's state and the caller's account are checked on every read...
            data_key = self._kms.unwrap_data_key(
                _kms_context(ctx, secret, "Decrypt"),
                envelope.wrapped_key(blob),
                _encryption_context(secret, version.version_id),
            )
            # ...while the value, like its data key, is decrypted once. Keyed by the binding
            # and the exact stored bytes: a moved or altered row is never served from here.
            plaintext = self._opened.get((aad, blob))
            if plaintext is None:
                plaintext = envelope.open_blob(data_key, blob, aad)
                self._remember(aad, blob, plaintext)
        except AwsError as error:
            raise _kms_failure(error, e.DecryptionFailure(_DECRYPTION_FAILURE)) from None
        except aead.IntegrityError:
            raise e.DecryptionFailure(_DECRYPTION_FAILURE) from None
        return version.is_binary, plaintext

    def forget(self) -> None:
        """Called on seal: no decrypted value may outlive the unsealed barrier."""
        self._opened.clear()
        self._opened_bytes = 0

    def _remember(self, aad: bytes, blob: bytes, plaintext: bytes) -> None:
        if self._opened_bytes + len(plaintext) > _OPENED_CACHE_BYTES:
            self.forget()
        self._opened[aad, blob] = plaintext
        self._opened_bytes += len(plaintext)

    def same_value(self, secret: Secret, version: SecretVersion, value: Value) -> bool:
        """Whether `version` holds `value`, told without decrypting it (for idempotent retries)."""
        try:
            self._barrier.verify(
                _aad(secret, version.version_id) + bytes([value[0]]) + value[1], version.value_mac
            )
        except aead.IntegrityError:
            return False
        return True

    def _key_id(self, ctx: RequestContext, secret: Secret) -> str:
        if secret.account_id != ctx.account_id:
            # Another account's secret: its key is named in the secret's account, where AWS
            # managed keys refuse every other account.
            return qualified_key_reference(
                secret.kms_key_id or DEFAULT_KEY_ALIAS, ctx.region, secret.account_id
            )
        if secret.kms_key_id is None:
            return self._kms.aws_managed_key(ctx, DEFAULT_KEY_ALIAS, DEFAULT_KEY_DESCRIPTION)
        return secret.kms_key_id

    def _value_mac(self, secret: Secret, version_id: str, value: Value) -> bytes:
        is_binary, plaintext = value
        return self._barrier.mac(_aad(secret, version_id) + bytes([is_binary]) + plaintext)


def _aad(secret: Secret, version_id: str) -> bytes:
    return f"{secret.arn}/{version_id}".encode()


def _encryption_context(secret: Secret, version_id: str) -> dict[str, str]:
    return {"SecretARN": secret.arn, "SecretVersionId": version_id}


def _kms_failure(error: AwsError, otherwise: AwsError) -> AwsError:
    """KMS's policies refusing the caller, as Secrets Manager words it; any other KMS error
    (a deleted or disabled key among them) as `otherwise`."""
    if isinstance(error, PolicyDenial):
        return e.AccessDeniedException("Access to KMS is not allowed")
    return otherwise


def _kms_context(ctx: RequestContext, secret: Secret, operation: str) -> RequestContext:
    """The call's context for its use of KMS: in the secret's region (a replica's key is in
    its region), with resources of its own, so the key does not count as what the Secrets
    Manager call acted on, and authorized as KMS's `operation` through Secrets Manager
    (kms:ViaService, which AWS managed keys' policies require)."""
    return replace(
        ctx,
        region=secret.region,
        resources=[],
        operation=operation,
        service_prefix="kms",
        conditions={"kms:ViaService": f"secretsmanager.{secret.region}.amazonaws.com"},
    )
