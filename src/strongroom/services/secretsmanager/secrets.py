"""Secrets Manager secrets: creating, describing, updating (re-encrypting the labelled versions
when the KMS key changes), deleting after a recovery window or at once, restoring and listing."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace
from typing import Any

from strongroom.services.context import RequestContext, ServiceEvent
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import rules, staging
from strongroom.services.secretsmanager.base import (
    DAY,
    MARKED_FOR_DELETION,
    ON_REPLICA,
    SecretsManagerBase,
    request_keys,
)
from strongroom.services.secretsmanager.model import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    SECRET_RESOURCE,
    ReplicaStatus,
    Secret,
    parse_arn,
    secret_arn,
)
from strongroom.services.secretsmanager.sealing import Value
from strongroom.storage.secretsmanager import SecretExists

log = logging.getLogger("strongroom.secretsmanager")


class Secrets(SecretsManagerBase):
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
        rules.check_name(Name)
        rules.refuse_nul(ClientRequestToken=ClientRequestToken, Description=Description, Type=Type)
        value = rules.secret_value(SecretString, SecretBinary)
        tags = rules.checked_tags(Tags or [])
        if AddReplicaRegions:
            self._check_replica_regions(ctx, AddReplicaRegions)
        arn = secret_arn(ctx.region, ctx.account_id, Name)
        ctx.authorize(
            arn,
            conditions=request_keys(Tags or [])
            | {"secretsmanager:Name": Name, "secretsmanager:KmsKeyId": KmsKeyId or ""},
        )
        token = ClientRequestToken or str(uuid.uuid4())
        existing = self._secrets.by_name(ctx.account_id, ctx.region, Name)
        if existing is not None:
            ctx.note_resource(SECRET_RESOURCE, existing.arn)
            return self._repeated_create(existing, token, value)
        now = self._clock.time()
        secret = Secret(
            arn=arn,
            account_id=ctx.account_id,
            region=ctx.region,
            name=Name,
            description=Description,
            kms_key_id=KmsKeyId or None,
            created_date=now,
            last_changed_date=now,
            last_accessed_date=None,
            deleted_date=None,
            secret_type=Type or None,
        )
        ctx.note_resource(SECRET_RESOURCE, secret.arn)
        first = self._sealer.seal(ctx, secret, token, value) if value is not None else None
        try:
            self._secrets.create(secret, tags, first)
        except SecretExists:
            raise e.ResourceExistsException(
                f"The operation failed because the secret {Name} already exists."
            ) from None
        result: dict[str, Any] = {"ARN": secret.arn, "Name": Name}
        if AddReplicaRegions:
            self._replication.add(ctx, secret, AddReplicaRegions, ForceOverwriteReplicaSecret)
            result["ReplicationStatus"] = self._replication.statuses(secret)
        return result | ({"VersionId": token} if first else {})

    def _repeated_create(self, existing: Secret, token: str, value: Value | None) -> dict[str, Any]:
        """A retried CreateSecret (same token and value) succeeds again; anything else clashes."""
        if existing.deleted_date is not None:
            raise e.InvalidRequestException(
                "You can't create this secret because a secret with this name is already "
                "scheduled for deletion."
            )
        version = self._secrets.version(existing.arn, token)
        if (
            value is not None
            and version is not None
            and self._sealer.same_value(existing, version, value)
        ):
            return {"ARN": existing.arn, "Name": existing.name, "VersionId": token}
        raise e.ResourceExistsException(
            f"The operation failed because the secret {existing.name} already exists."
        )

    def describe_secret(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find(ctx, SecretId, allow_deleted=True)
        tags, stages = self._secrets.tags(secret.arn), self._secrets.stages(secret.arn)
        replicas = self._secrets.replicas(secret.arn)
        return self._secret_fields(secret, tags, stages, "VersionIdsToStages", replicas)

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
        rules.refuse_nul(ClientRequestToken=ClientRequestToken, Description=Description, Type=Type)
        secret = self._find(ctx, SecretId)
        value = rules.secret_value(SecretString, SecretBinary)
        if secret.is_replica and (value or Description is not None or Type is not None):
            raise e.InvalidParameterException(ON_REPLICA)  # a replica's own key may change
        result = {"ARN": secret.arn, "Name": secret.name}
        changes: dict[str, Any] = {}
        if Description is not None:
            changes["description"] = Description
        if Type is not None:
            changes["secret_type"] = Type or None
        if KmsKeyId is not None and (KmsKeyId or None) != secret.kms_key_id:
            secret = self._change_key(ctx, secret, KmsKeyId or None)
            if secret.is_replica:
                self._replication.key_changed(secret)
        if changes:
            with self._secrets.locked(secret.arn, self._clock.time()) as locked:
                locked.update(**changes)
        if value is not None:
            put = self._put(ctx, secret, ClientRequestToken, value, [AWSCURRENT])
            result["VersionId"] = put["VersionId"]
        self._replicate(ctx, secret)
        return result

    def _change_key(self, ctx: RequestContext, secret: Secret, kms_key_id: str | None) -> Secret:
        """Encrypt new versions, and the labelled versions there are, under another key."""
        changed = replace(secret, kms_key_id=kms_key_id)
        stages = self._secrets.stages(secret.arn)
        resealed = []
        for stage in (AWSCURRENT, AWSPENDING, AWSPREVIOUS):
            version = self._secrets.version(secret.arn, stages.get(stage, ""))
            if version is not None:
                value = self._sealer.open(ctx, secret, version)
                resealed.append(self._sealer.seal(ctx, changed, version.version_id, value))
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            locked.update(kms_key_id=kms_key_id)
            for version in resealed:
                locked.replace_version(version)
        return changed

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
        secret = self._find_primary(ctx, SecretId, allow_deleted=True)
        replicas = self._secrets.replicas(secret.arn)
        if replicas:
            raise e.InvalidParameterException(
                f"You can't delete secret {SecretId} that still has replica regions "
                f"[{', '.join(r.region for r in replicas)}]."
            )
        now = self._clock.time()
        if ForceDeleteWithoutRecovery:
            self._secrets.destroy(secret.arn)
            return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": now}
        if secret.deleted_date is not None:
            raise e.InvalidRequestException(MARKED_FOR_DELETION)
        deletion_date = now + window * DAY
        with self._secrets.locked(secret.arn, now) as locked:
            locked.update(deleted_date=deletion_date)
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": deletion_date}

    def purge_due_deletions(self) -> None:
        """Background job: destroy every secret whose recovery window has ended."""
        now = self._clock.time()
        for arn in self._secrets.due_for_deletion(now):
            if self._secrets.destroy(arn, due_by=now):
                log.info("purged secret %s: its recovery window ended", arn)
                region, account_id, _ = parse_arn(arn) or ("", "", "")
                self._events(
                    ServiceEvent(
                        account_id,
                        region,
                        "secretsmanager.amazonaws.com",
                        "EndSecretVersionDelete",  # CloudTrail's name for the final deletion
                        ((SECRET_RESOURCE, arn),),
                    )
                )

    def restore_secret(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find_primary(ctx, SecretId, allow_deleted=True)
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
        ctx.authorize()
        chosen, next_token = self._listed(
            ctx, Filters or [], IncludePlannedDeletion, MaxResults, NextToken, SortOrder, SortBy
        )
        replicas = self._secrets.replicas_of([secret.arn for secret, _, _ in chosen])
        entries = [
            self._secret_fields(*item, "SecretVersionsToStages", replicas.get(item[0].arn, []))
            for item in chosen
        ]
        result: dict[str, Any] = {"SecretList": entries}
        return result | ({"NextToken": next_token} if next_token else {})

    def _secret_fields(
        self,
        secret: Secret,
        tags: dict[str, str],
        stages: dict[str, str],
        stages_member: str,
        replicas: list[ReplicaStatus],
    ) -> dict[str, Any]:
        """What DescribeSecret and ListSecrets report of a secret (they name the labels apart)."""
        entry: dict[str, Any] = {
            "ARN": secret.arn,
            "Name": secret.name,
            "Type": secret.secret_type,
            "Description": secret.description,
            "KmsKeyId": secret.kms_key_id,
            "RotationEnabled": secret.rotation_enabled,
            "RotationLambdaARN": secret.rotation_lambda_arn,
            "RotationRules": json.loads(secret.rotation_rules) if secret.rotation_rules else None,
            "LastRotatedDate": secret.last_rotated_date,
            "NextRotationDate": secret.next_rotation_date if secret.rotation_enabled else None,
            "LastChangedDate": secret.last_changed_date,
            "LastAccessedDate": secret.last_accessed_date,
            "DeletedDate": secret.deleted_date,
            stages_member: staging.stages_by_version(stages),
            "CreatedDate": secret.created_date,
        }
        if tags:
            entry["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if secret.is_replica:
            entry["PrimaryRegion"] = parse_arn(secret.primary_arn or "")[0]
        elif replicas:
            entry["PrimaryRegion"] = secret.region
            entry["ReplicationStatus"] = self._replication.statuses(secret, replicas)
        return entry
