"""Secrets Manager: secrets and versions on the encrypted store.

Every version is envelope-encrypted: KMS issues a data key under the secret's KMS key (the
account's `aws/secretsmanager` key unless the secret names another), bound to the secret ARN
and version id as encryption context; the value is sealed with that data key and the same
binding as associated data, so rows cannot be swapped between secrets or versions.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from strongroom.barrier import aead, envelope
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.protocol.errors import AwsError, NotImplementedYet
from strongroom.services.context import RequestContext
from strongroom.services.kms.service import KMS
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import listing, staging
from strongroom.services.secretsmanager.model import (
    AWSCURRENT,
    DEFAULT_KEY_ALIAS,
    DEFAULT_KEY_DESCRIPTION,
    Secret,
    SecretVersion,
    parse_arn,
    secret_arn,
)
from strongroom.services.secretsmanager.passwords import InvalidParameter, random_password
from strongroom.storage.secretsmanager import SecretExists, SecretsRepository

log = logging.getLogger("strongroom.secretsmanager")
_DAY = 86400
_MAX_TAGS = 50
_NOT_FOUND = "Secrets Manager can't find the specified secret."
_MARKED_FOR_DELETION = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
_ENCRYPTION_FAILURE = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
    "Check that the KMS key is available, enabled, and not in an invalid state."
)
_DECRYPTION_FAILURE = (
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
)


class SecretsManager:
    def __init__(
        self, repository: SecretsRepository, kms: KMS, barrier: Barrier, clock: Clock
    ) -> None:
        self._secrets = repository
        self._kms = kms
        self._barrier = barrier
        self._clock = clock

    # Secrets

    def create_secret(
        self,
        ctx: RequestContext,
        Name: str,
        ClientRequestToken: str | None = None,
        Description: str | None = None,
        KmsKeyId: str | None = None,
        SecretBinary: bytes | None = None,
        SecretString: str | None = None,
        Tags: list[dict[str, str]] | None = None,
        AddReplicaRegions: list[dict[str, str]] | None = None,
        ForceOverwriteReplicaSecret: bool = False,
        Type: str | None = None,
    ) -> dict[str, Any]:
        if AddReplicaRegions:
            raise NotImplementedYet("Strongroom does not replicate secrets yet.")
        if Type is not None:
            raise NotImplementedYet("Strongroom does not support secret types yet.")
        value = _value(SecretString, SecretBinary)
        tags = _checked_tags(Tags or [])
        token = ClientRequestToken or str(uuid.uuid4())
        existing = self._secrets.by_name(ctx.account_id, ctx.region, Name)
        if existing is not None:
            return self._repeated_create(existing, token, value)
        now = self._clock.time()
        secret = Secret(
            arn=secret_arn(ctx.region, ctx.account_id, Name),
            account_id=ctx.account_id,
            region=ctx.region,
            name=Name,
            description=Description,
            kms_key_id=KmsKeyId or None,
            created_date=now,
            last_changed_date=now,
            last_accessed_date=None,
            deleted_date=None,
        )
        first = self._seal(ctx, secret, token, value) if value is not None else None
        try:
            self._secrets.create(secret, tags, first)
        except SecretExists:
            raise e.ResourceExistsException(
                f"The operation failed because the secret {Name} already exists."
            ) from None
        result = {"ARN": secret.arn, "Name": Name}
        return result | ({"VersionId": token} if first else {})

    def _repeated_create(
        self, existing: Secret, token: str, value: tuple[bool, bytes] | None
    ) -> dict[str, Any]:
        """A retried CreateSecret (same token and value) succeeds again; anything else clashes."""
        if existing.deleted_date is not None:
            raise e.InvalidRequestException(
                "You can't create this secret because a secret with this name is already "
                "scheduled for deletion."
            )
        version = self._secrets.version(existing.arn, token)
        if value is not None and version is not None and self._same_value(existing, version, value):
            return {"ARN": existing.arn, "Name": existing.name, "VersionId": token}
        raise e.ResourceExistsException(
            f"The operation failed because the secret {existing.name} already exists."
        )

    def describe_secret(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find(ctx, SecretId, allow_deleted=True)
        tags, stages = self._secrets.tags(secret.arn), self._secrets.stages(secret.arn)
        return _secret_fields(secret, tags, stages, "VersionIdsToStages")

    def update_secret(
        self,
        ctx: RequestContext,
        SecretId: str,
        ClientRequestToken: str | None = None,
        Description: str | None = None,
        KmsKeyId: str | None = None,
        SecretBinary: bytes | None = None,
        SecretString: str | None = None,
        Type: str | None = None,
    ) -> dict[str, Any]:
        if KmsKeyId is not None or Type is not None:
            raise NotImplementedYet("Strongroom does not change a secret's KmsKeyId or Type yet.")
        secret = self._find(ctx, SecretId)
        value = _value(SecretString, SecretBinary)
        result = {"ARN": secret.arn, "Name": secret.name}
        if value is not None:
            put = self._put(ctx, secret, ClientRequestToken, value, [AWSCURRENT])
            result["VersionId"] = put["VersionId"]
        if Description is not None:
            with self._secrets.locked(secret.arn, self._clock.time()) as locked:
                locked.update(description=Description)
        return result

    def delete_secret(
        self,
        ctx: RequestContext,
        SecretId: str,
        RecoveryWindowInDays: int | None = None,
        ForceDeleteWithoutRecovery: bool | None = None,
    ) -> dict[str, Any]:
        if RecoveryWindowInDays is not None and ForceDeleteWithoutRecovery:
            raise e.InvalidParameterException(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        window = 30 if RecoveryWindowInDays is None else RecoveryWindowInDays
        if not 7 <= window <= 30:
            raise e.InvalidParameterException(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            )
        secret = self._find(ctx, SecretId, allow_deleted=True)
        now = self._clock.time()
        if ForceDeleteWithoutRecovery:
            self._secrets.destroy(secret.arn)
            return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": now}
        if secret.deleted_date is not None:
            raise e.InvalidRequestException(_MARKED_FOR_DELETION)
        deletion_date = now + window * _DAY
        with self._secrets.locked(secret.arn, now) as locked:
            locked.update(deleted_date=deletion_date)
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": deletion_date}

    def purge_due_deletions(self) -> None:
        """Background job: destroy every secret whose recovery window has ended."""
        now = self._clock.time()
        for arn in self._secrets.due_for_deletion(now):
            if self._secrets.destroy(arn, due_by=now):
                log.info("purged secret %s: its recovery window ended", arn)

    def restore_secret(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find(ctx, SecretId, allow_deleted=True)
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            locked.update(deleted_date=None)
        return {"ARN": secret.arn, "Name": secret.name}

    def list_secrets(
        self,
        ctx: RequestContext,
        IncludePlannedDeletion: bool = False,
        MaxResults: int = 100,
        NextToken: str | None = None,
        Filters: list[dict[str, Any]] | None = None,
        SortOrder: str = "asc",
        SortBy: str | None = None,
    ) -> dict[str, Any]:
        chosen, next_token = self._listed(
            ctx, Filters or [], IncludePlannedDeletion, MaxResults, NextToken, SortOrder, SortBy
        )
        entries = [_secret_fields(*item, "SecretVersionsToStages") for item in chosen]
        result: dict[str, Any] = {"SecretList": entries}
        return result | ({"NextToken": next_token} if next_token else {})

    def batch_get_secret_value(
        self,
        ctx: RequestContext,
        SecretIdList: list[str] | None = None,
        Filters: list[dict[str, Any]] | None = None,
        MaxResults: int | None = None,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        if (SecretIdList is None) == (Filters is None):
            raise e.InvalidParameterException(
                "Either SecretIdList or Filters must be provided, but not both."
            )
        next_token = None
        if SecretIdList is None:
            chosen, next_token = self._listed(
                ctx, Filters or [], False, MaxResults or 20, NextToken, "asc", None
            )
            secret_ids = [secret.arn for secret, _, _ in chosen]
        elif MaxResults is not None or NextToken is not None:
            raise e.InvalidParameterException(
                "MaxResults and NextToken go with Filters, not with SecretIdList."
            )
        else:
            secret_ids = SecretIdList
        values, failures = [], []
        for secret_id in secret_ids:
            try:
                values.append(self.get_secret_value(ctx, SecretId=secret_id))
            except AwsError as error:
                failures.append(
                    {"SecretId": secret_id, "ErrorCode": error.code, "Message": error.message}
                )
        result: dict[str, Any] = {"SecretValues": values, "Errors": failures}
        return result | ({"NextToken": next_token} if next_token else {})

    def _listed(
        self,
        ctx: RequestContext,
        filters: list[dict[str, Any]],
        include_planned_deletion: bool,
        size: int,
        token: str | None,
        sort_order: str,
        sort_by: str | None,
    ) -> tuple[list[listing.Listed], str | None]:
        candidates = [
            item
            for item in self._secrets.listing(ctx.account_id, ctx.region)
            if (include_planned_deletion or item[0].deleted_date is None)
            and listing.matches(filters, item)
        ]
        key = listing.sort_key(sort_by)
        return listing.page(candidates, key, sort_order == "desc", token, size)

    # Values and versions

    def get_secret_value(
        self,
        ctx: RequestContext,
        SecretId: str,
        VersionId: str | None = None,
        VersionStage: str | None = None,
    ) -> dict[str, Any]:
        secret = self._find(ctx, SecretId)
        stages = self._secrets.stages(secret.arn)
        version_id = VersionId or stages.get(VersionStage or AWSCURRENT)
        version = self._secrets.version(secret.arn, version_id) if version_id else None
        if version is None and VersionId is not None:
            raise e.ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret value for VersionId: {VersionId}"
            )
        if version is None or (VersionStage and stages.get(VersionStage) != version.version_id):
            raise e.ResourceNotFoundException(
                "Secrets Manager can't find the specified secret value for staging label: "
                f"{VersionStage or AWSCURRENT}"
            )
        is_binary, value = self._open(ctx, secret, version)
        self._note_access(secret)
        result = {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version.version_id,
            "VersionStages": staging.stages_by_version(stages).get(version.version_id, []),
            "CreatedDate": version.created_date,
        }
        if is_binary:
            return result | {"SecretBinary": value}
        return result | {"SecretString": value.decode()}

    def put_secret_value(
        self,
        ctx: RequestContext,
        SecretId: str,
        ClientRequestToken: str | None = None,
        SecretBinary: bytes | None = None,
        SecretString: str | None = None,
        VersionStages: list[str] | None = None,
        RotationToken: str | None = None,
    ) -> dict[str, Any]:
        value = _value(SecretString, SecretBinary)
        if value is None:
            raise e.InvalidParameterException(
                "You must provide either SecretString or SecretBinary."
            )
        secret = self._find(ctx, SecretId)
        return self._put(ctx, secret, ClientRequestToken, value, VersionStages or [AWSCURRENT])

    def list_secret_version_ids(
        self,
        ctx: RequestContext,
        SecretId: str,
        MaxResults: int = 100,
        NextToken: str | None = None,
        IncludeDeprecated: bool = False,
    ) -> dict[str, Any]:
        secret = self._find(ctx, SecretId, allow_deleted=True)
        by_version = staging.stages_by_version(self._secrets.stages(secret.arn))
        versions = [
            v
            for v in self._secrets.versions(secret.arn)
            if IncludeDeprecated or v.version_id in by_version
        ]
        start = _page_start(NextToken, len(versions))
        page = versions[start : start + MaxResults]
        result: dict[str, Any] = {
            "ARN": secret.arn,
            "Name": secret.name,
            "Versions": [
                {
                    "VersionId": v.version_id,
                    "VersionStages": by_version.get(v.version_id, []),
                    "CreatedDate": v.created_date,
                    "KmsKeyIds": [v.kms_key_arn],
                }
                for v in page
            ],
        }
        if start + MaxResults < len(versions):
            result["NextToken"] = str(start + MaxResults)
        return result

    def update_secret_version_stage(
        self,
        ctx: RequestContext,
        SecretId: str,
        VersionStage: str,
        RemoveFromVersionId: str | None = None,
        MoveToVersionId: str | None = None,
    ) -> dict[str, Any]:
        secret = self._find(ctx, SecretId)
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            holder = locked.stages().get(VersionStage)
            if MoveToVersionId is not None and locked.version(MoveToVersionId) is None:
                raise e.ResourceNotFoundException(
                    f"Secrets Manager can't find the specified secret version: {MoveToVersionId}"
                )
            if holder is not None and holder not in (RemoveFromVersionId, MoveToVersionId):
                raise e.InvalidParameterException(
                    f"The staging label {VersionStage} is currently attached to version "
                    f"{holder}, so you must explicitly reference that version in "
                    "RemoveFromVersionId."
                )
            if RemoveFromVersionId is not None and holder != RemoveFromVersionId:
                raise e.InvalidParameterException(
                    f"The staging label {VersionStage} is not attached to version "
                    f"{RemoveFromVersionId}."
                )
            if MoveToVersionId is None:
                if VersionStage == AWSCURRENT:
                    raise e.InvalidParameterException(
                        "You can only move staging label AWSCURRENT to a different secret "
                        "version. It can't be completely removed."
                    )
                locked.remove_stage(VersionStage)
            else:
                staging.attach(locked, VersionStage, MoveToVersionId)
        return {"ARN": secret.arn, "Name": secret.name}

    # Tags and passwords

    def tag_resource(self, ctx: RequestContext, SecretId: str, Tags: list[dict[str, str]]) -> None:
        secret = self._find(ctx, SecretId)
        tags = _checked_tags(Tags)
        if len(self._secrets.tags(secret.arn) | tags) > _MAX_TAGS:
            raise e.InvalidParameterException(f"A secret can have at most {_MAX_TAGS} tags.")
        self._secrets.put_tags(secret.arn, tags)

    def untag_resource(self, ctx: RequestContext, SecretId: str, TagKeys: list[str]) -> None:
        secret = self._find(ctx, SecretId)
        self._secrets.delete_tags(secret.arn, TagKeys)

    def get_random_password(self, ctx: RequestContext, **options: Any) -> dict[str, Any]:
        try:
            return {"RandomPassword": random_password(**options)}
        except InvalidParameter as error:
            raise e.InvalidParameterException(str(error)) from None

    # Internals

    def _find(self, ctx: RequestContext, secret_id: str, allow_deleted: bool = False) -> Secret:
        """The secret a SecretId names (name, full ARN or partial ARN) in the caller's account."""
        secret: Secret | None
        parsed = parse_arn(secret_id)
        if parsed is None:
            secret = self._secrets.by_name(ctx.account_id, ctx.region, secret_id)
        elif parsed[:2] != (ctx.region, ctx.account_id):
            secret = None
        else:
            # A full ARN names the secret exactly; without the random suffix it is a name.
            secret = self._secrets.by_arn(secret_id) or self._secrets.by_name(
                ctx.account_id, ctx.region, parsed[2]
            )
        if secret is None:
            raise e.ResourceNotFoundException(_NOT_FOUND)
        if secret.deleted_date is not None and not allow_deleted:
            raise e.InvalidRequestException(_MARKED_FOR_DELETION)
        return secret

    def _put(
        self,
        ctx: RequestContext,
        secret: Secret,
        token: str | None,
        value: tuple[bool, bytes],
        stages: list[str],
    ) -> dict[str, Any]:
        version_id = token or str(uuid.uuid4())
        existing = self._secrets.version(secret.arn, version_id)
        if existing is None:
            sealed = self._seal(ctx, secret, version_id, value)
            with self._secrets.locked(secret.arn, self._clock.time()) as locked:
                existing = locked.version(version_id)  # a concurrent retry of the same token
                if existing is None:
                    locked.add_version(sealed)
                    for stage in stages:
                        staging.attach(locked, stage, version_id)
                    staging.prune(locked)
        if existing is not None and not self._same_value(secret, existing, value):
            raise e.ResourceExistsException(
                "You can't modify an existing version, you can only create a new version."
            )
        held = staging.stages_by_version(self._secrets.stages(secret.arn)).get(version_id, [])
        return {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version_id,
            "VersionStages": held,
        }

    def _key_arn(self, ctx: RequestContext, secret: Secret) -> str:
        if secret.kms_key_id is None:
            return self._kms.aws_managed_key(ctx, DEFAULT_KEY_ALIAS, DEFAULT_KEY_DESCRIPTION)
        return secret.kms_key_id

    def _seal(
        self, ctx: RequestContext, secret: Secret, version_id: str, value: tuple[bool, bytes]
    ) -> SecretVersion:
        is_binary, plaintext = value
        context = _encryption_context(secret, version_id)
        try:
            data_key = self._kms.generate_data_key(
                ctx, KeyId=self._key_arn(ctx, secret), KeySpec="AES_256", EncryptionContext=context
            )
        except AwsError:
            raise e.EncryptionFailure(_ENCRYPTION_FAILURE) from None
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

    def _open(
        self, ctx: RequestContext, secret: Secret, version: SecretVersion
    ) -> tuple[bool, bytes]:
        blob = version.value_blob
        context = _encryption_context(secret, version.version_id)
        try:
            data_key = self._kms.decrypt(
                ctx, CiphertextBlob=envelope.wrapped_key(blob), EncryptionContext=context
            )
            plaintext = envelope.open_blob(
                data_key["Plaintext"], blob, _aad(secret, version.version_id)
            )
        except (AwsError, aead.IntegrityError):
            raise e.DecryptionFailure(_DECRYPTION_FAILURE) from None
        return version.is_binary, plaintext

    def _value_mac(self, secret: Secret, version_id: str, value: tuple[bool, bytes]) -> bytes:
        # Lets a retry with the same token be compared with the stored value without decrypting.
        is_binary, plaintext = value
        return self._barrier.mac(_aad(secret, version_id) + bytes([is_binary]) + plaintext)

    def _same_value(
        self, secret: Secret, version: SecretVersion, value: tuple[bool, bytes]
    ) -> bool:
        try:
            self._barrier.verify(
                _aad(secret, version.version_id) + bytes([value[0]]) + value[1], version.value_mac
            )
        except aead.IntegrityError:
            return False
        return True

    def _note_access(self, secret: Secret) -> None:
        # AWS reports LastAccessedDate by day: one write per secret per day, not per read.
        day = math.floor(self._clock.time() / _DAY) * _DAY
        if secret.last_accessed_date != day:
            self._secrets.set_last_accessed(secret.arn, day)


def _secret_fields(
    secret: Secret, tags: dict[str, str], stages: dict[str, str], stages_member: str
) -> dict[str, Any]:
    """What DescribeSecret and ListSecrets report of a secret (they name the labels apart)."""
    entry: dict[str, Any] = {
        "ARN": secret.arn,
        "Name": secret.name,
        "Description": secret.description,
        "KmsKeyId": secret.kms_key_id,
        "RotationEnabled": False,
        "LastChangedDate": secret.last_changed_date,
        "LastAccessedDate": secret.last_accessed_date,
        "DeletedDate": secret.deleted_date,
        stages_member: staging.stages_by_version(stages),
        "CreatedDate": secret.created_date,
    }
    if tags:
        entry["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return entry


def _value(string: str | None, binary: bytes | None) -> tuple[bool, bytes] | None:
    if string is not None and binary is not None:
        raise e.InvalidParameterException(
            "You can't specify both a binary secret value and a string secret value in the same "
            "secret."
        )
    if string is not None:
        return False, string.encode()
    if binary is not None:
        return True, binary
    return None


def _aad(secret: Secret, version_id: str) -> bytes:
    return f"{secret.arn}/{version_id}".encode()


def _encryption_context(secret: Secret, version_id: str) -> dict[str, str]:
    return {"SecretARN": secret.arn, "SecretVersionId": version_id}


def _page_start(token: str | None, total: int) -> int:
    if token is None:
        return 0
    if not token.isdigit() or int(token) > total:
        raise e.InvalidNextTokenException("The NextToken value is invalid.")
    return int(token)


def _checked_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for tag in tags:
        key, value = tag.get("Key"), tag.get("Value", "")
        if not key:
            raise e.InvalidParameterException("A tag key must not be empty.")
        if key.lower().startswith("aws:"):
            raise e.InvalidParameterException("Tag keys beginning with 'aws:' are reserved.")
        result[key] = value
    if len(result) > _MAX_TAGS:
        raise e.InvalidParameterException(f"A secret can have at most {_MAX_TAGS} tags.")
    return result
