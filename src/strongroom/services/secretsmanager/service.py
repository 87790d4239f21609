"""Secrets Manager: secrets and versions on the encrypted store (every version sealed under
the secret's KMS key, see sealing.py), with resource policies and replicas in other regions."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam.conditions import ContextValue
from strongroom.iam.public import grants_public_access
from strongroom.jobs.schedule_expressions import InvalidRotationRules
from strongroom.protocol.errors import AwsError
from strongroom.services.awslambda.errors import InvocationRefused
from strongroom.services.awslambda.service import Lambda
from strongroom.services.context import RequestContext, ServiceEvent, ServiceEvents
from strongroom.services.kms.service import KMS
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import listing, rotation, rules, staging
from strongroom.services.secretsmanager.model import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    FAILED,
    SECRET_RESOURCE,
    ReplicaStatus,
    Rotation,
    Secret,
    parse_arn,
    secret_arn,
)
from strongroom.services.secretsmanager.passwords import InvalidParameter, random_password
from strongroom.services.secretsmanager.replication import Replication
from strongroom.services.secretsmanager.rotation import RotationRunner
from strongroom.services.secretsmanager.sealing import Sealer, Value
from strongroom.services.secretsmanager.service_access import ServiceAccess
from strongroom.storage.secretsmanager import SecretExists, SecretsRepository, SecretTransaction

log = logging.getLogger("strongroom.secretsmanager")
_DAY = 86400
# What a principal of another account may do to a secret (named by its ARN) when both the
# secret's resource policy and the caller's identity policies allow it (AWS's list).
CROSS_ACCOUNT_OPERATIONS = frozenset(
    {
        "CancelRotateSecret",
        "DeleteResourcePolicy",
        "DeleteSecret",
        "DescribeSecret",
        "GetResourcePolicy",
        "GetSecretValue",
        "ListSecretVersionIds",
        "PutResourcePolicy",
        "PutSecretValue",
        "RemoveRegionsFromReplication",
        "ReplicateSecretToRegions",
        "RestoreSecret",
        "RotateSecret",
        "StopReplicationToReplica",
        "TagResource",
        "UntagResource",
        "UpdateSecret",
        "UpdateSecretVersionStage",
        "ValidateResourcePolicy",
    }
)
_LISTING_BATCH = 200
_NOT_FOUND = "Secrets Manager can't find the specified secret."
_MARKED_FOR_DELETION = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
_ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
_PUBLIC_POLICY = (
    "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent "
    "broad access to the secret."
)
_BROAD_ACCESS = "The resource policy grants broad access to the secret."


class SecretsManager:
    def __init__(
        self,
        repository: SecretsRepository,
        kms: KMS,
        barrier: Barrier,
        clock: Clock,
        regions: frozenset[str],
        events: ServiceEvents,
        functions: Lambda,
    ) -> None:
        self._secrets = repository
        self._events = events
        self._regions = regions  # where replicas may go: the regions this server serves
        self._clock = clock
        self._sealer = Sealer(kms, barrier, clock)
        self._replication = Replication(repository, self._sealer, clock)
        self._rotation = RotationRunner(
            repository,
            functions,
            clock,
            events,
            ServiceAccess(repository, self._sealer, clock, self._put),
        )

    def forget_values(self) -> None:
        """Called on seal: drop every decrypted value this process keeps."""
        self._sealer.forget()

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
        rules.check_name(Name)
        rules.refuse_nul(ClientRequestToken=ClientRequestToken, Description=Description, Type=Type)
        value = rules.secret_value(SecretString, SecretBinary)
        tags = rules.checked_tags(Tags or [])
        if AddReplicaRegions:
            self._check_replica_regions(ctx, AddReplicaRegions)
        arn = secret_arn(ctx.region, ctx.account_id, Name)
        ctx.authorize(
            arn,
            conditions=_request_keys(Tags or [])
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
            raise e.InvalidParameterException(_ON_REPLICA)  # a replica's own key may change
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
        ctx.authorize()
        next_token = None
        if SecretIdList is None:
            ctx.authorize(action="secretsmanager:ListSecrets")
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
        each = replace(ctx, operation="GetSecretValue")  # each secret needs GetSecretValue
        for secret_id in secret_ids:
            try:
                values.append(self.get_secret_value(each, SecretId=secret_id))
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
        listing.check(filters)
        field = listing.sort_field(sort_by)
        after = listing.decode_token(field, token) if token is not None else None
        descending = sort_order == "desc"
        # Unfiltered, a page and one more (to know whether another page follows) is enough.
        batch_size = _LISTING_BATCH if filters else size + 1
        chosen: list[listing.Listed] = []
        while True:
            # Filters are matched here, on batches read in listing order, so that a page costs
            # the same whether the account holds a thousand secrets or a hundred thousand.
            batch = self._secrets.listing_batch(
                ctx.account_id,
                ctx.region,
                include_planned_deletion,
                field,
                descending,
                after,
                batch_size,
                listing.name_prefixes(filters),
            )
            for item in batch:
                if listing.matches(filters, item):
                    if len(chosen) == size:
                        last = listing.position(field, chosen[-1])
                        return chosen, listing.encode_token(field, last)
                    chosen.append(item)
            if len(batch) < batch_size:
                return chosen, None
            after = listing.position(field, batch[-1])

    # Values and versions

    def get_secret_value(
        self,
        ctx: RequestContext,
        SecretId: str,
        VersionId: str | None = None,
        VersionStage: str | None = None,
    ) -> dict[str, Any]:
        rules.refuse_nul(VersionId=VersionId, VersionStage=VersionStage)
        asked: dict[str, ContextValue] = {}
        if VersionId is not None:
            asked["secretsmanager:VersionId"] = VersionId
        if VersionStage is not None:
            asked["secretsmanager:VersionStage"] = VersionStage
        secret = self._find(ctx, SecretId, conditions=asked)
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
        is_binary, value = self._sealer.open(ctx, secret, version)
        self._note_access(ctx, secret)
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
        rules.refuse_nul(ClientRequestToken=ClientRequestToken, VersionStages=VersionStages)
        value = rules.secret_value(SecretString, SecretBinary)
        if value is None:
            raise e.InvalidRequestException("You must provide either SecretString or SecretBinary.")
        secret = self._find_primary(ctx, SecretId)
        result = self._put(ctx, secret, ClientRequestToken, value, VersionStages or [AWSCURRENT])
        self._replicate(ctx, secret)
        return result

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
        start = rules.page_start(NextToken, len(versions))
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
        rules.refuse_nul(
            VersionStage=VersionStage,
            RemoveFromVersionId=RemoveFromVersionId,
            MoveToVersionId=MoveToVersionId,
        )
        secret = self._find_primary(ctx, SecretId)
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
        self._replicate(ctx, secret)
        return {"ARN": secret.arn, "Name": secret.name}

    # Rotation (see rotation.py)

    def rotate_secret(
        self,
        ctx: RequestContext,
        SecretId: str,
        ClientRequestToken: str | None = None,
        RotationLambdaARN: str | None = None,
        RotationRules: dict[str, Any] | None = None,
        RotateImmediately: bool = True,
    ) -> dict[str, Any]:
        rules.refuse_nul(ClientRequestToken=ClientRequestToken, RotationLambdaARN=RotationLambdaARN)
        secret = self._find_primary(ctx, SecretId)
        function_arn = RotationLambdaARN or secret.rotation_lambda_arn
        if function_arn is None:
            raise e.InvalidRequestException(rotation.NO_FUNCTION)
        stored_rules = json.loads(secret.rotation_rules) if secret.rotation_rules else {}
        rotation_rules = stored_rules if RotationRules is None else RotationRules
        if rotation_rules:
            try:
                rotation.schedule_of(rotation_rules)
            except InvalidRotationRules as invalid:
                raise e.InvalidParameterException(invalid.message) from None
        ctx.authorize(function_arn, action="lambda:InvokeFunction")
        try:
            self._rotation.check_function(secret, function_arn)
        except InvocationRefused:
            raise e.AccessDeniedException(rotation.CANNOT_INVOKE) from None
        version_id = ClientRequestToken or str(uuid.uuid4())
        now = self._clock.time()
        with self._secrets.locked(secret.arn, now) as locked:
            stages = locked.stages()
            pending = stages.get(AWSPENDING)
            in_progress = pending is not None and pending != stages.get(AWSCURRENT)
            if in_progress:
                under_way = locked.rotation()
                if under_way is not None:  # try it again now, as AWS's answer promises
                    locked.start_rotation(replace(under_way, next_attempt=now))
            else:
                locked.update(
                    rotation_enabled=True,
                    rotation_lambda_arn=function_arn,
                    rotation_rules=json.dumps(rotation_rules),
                )
                configured = locked.secret()
                if RotateImmediately:
                    locked.set_stage(AWSPENDING, version_id)
                else:
                    opening = rotation.next_window_opening(configured, now)
                    locked.update(next_rotation_date=opening)
                locked.start_rotation(Rotation(version_id, not RotateImmediately, now, 0, now))
        self._rotation.kick(secret.arn)
        if in_progress:
            raise e.InvalidRequestException(rotation.IN_PROGRESS)
        return {"ARN": secret.arn, "Name": secret.name, "VersionId": version_id}

    def cancel_rotate_secret(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find_primary(ctx, SecretId)
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            under_way = locked.rotation()
            locked.end_rotation()
            locked.update(rotation_enabled=False, next_rotation_date=None)
        result = {"ARN": secret.arn, "Name": secret.name}
        if under_way is not None and not under_way.test_only:
            result["VersionId"] = under_way.version_id
        return result

    def rotate_due(self) -> None:
        """Background job: rotations whose windows opened, and retries that are due."""
        self._rotation.run_due()

    def stop_rotations(self) -> None:
        """On stop: no new attempts (one cut short is retried when its lease ends)."""
        self._rotation.shutdown()

    # Tags and passwords

    def tag_resource(self, ctx: RequestContext, SecretId: str, Tags: list[dict[str, str]]) -> None:
        secret = self._find_primary(ctx, SecretId, conditions=_request_keys(Tags))
        tags = rules.checked_tags(Tags)
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            rules.check_tag_count(len(locked.tags() | tags))
            locked.put_tags(tags)
        self._replicate(ctx, secret)

    def untag_resource(self, ctx: RequestContext, SecretId: str, TagKeys: list[str]) -> None:
        rules.refuse_nul(TagKeys=TagKeys)
        secret = self._find_primary(ctx, SecretId, conditions={"aws:TagKeys": TagKeys})
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            locked.delete_tags(TagKeys)
        self._replicate(ctx, secret)

    # Resource policies (stored and validated here; enforced with the rest of IAM)

    def put_resource_policy(
        self,
        ctx: RequestContext,
        SecretId: str,
        ResourcePolicy: str,
        BlockPublicPolicy: bool = False,
    ) -> dict[str, Any]:
        secret = self._find_primary(
            ctx, SecretId, conditions={"secretsmanager:BlockPublicPolicy": BlockPublicPolicy}
        )
        parsed = rules.parsed_policy(ResourcePolicy)
        if BlockPublicPolicy and grants_public_access(parsed):
            raise e.PublicPolicyException(_PUBLIC_POLICY)
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            locked.update(resource_policy=ResourcePolicy)
        self._replicate(ctx, secret)
        return {"ARN": secret.arn, "Name": secret.name}

    def get_resource_policy(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find(ctx, SecretId)
        result = {"ARN": secret.arn, "Name": secret.name}
        return result | (
            {"ResourcePolicy": secret.resource_policy} if secret.resource_policy else {}
        )

    def delete_resource_policy(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find_primary(ctx, SecretId)
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            locked.update(resource_policy=None)
        self._replicate(ctx, secret)
        return {"ARN": secret.arn, "Name": secret.name}

    def validate_resource_policy(
        self, ctx: RequestContext, ResourcePolicy: str, SecretId: str | None = None
    ) -> dict[str, Any]:
        if SecretId is not None:
            self._find(ctx, SecretId)
        else:
            ctx.authorize()
        if grants_public_access(rules.parsed_policy(ResourcePolicy)):
            broad = {"CheckName": "BROAD_ACCESS", "ErrorMessage": _BROAD_ACCESS}
            return {"PolicyValidationPassed": False, "ValidationErrors": [broad]}
        return {"PolicyValidationPassed": True, "ValidationErrors": []}

    # Replication

    def replicate_secret_to_regions(
        self,
        ctx: RequestContext,
        SecretId: str,
        AddReplicaRegions: list[dict[str, str]],
        ForceOverwriteReplicaSecret: bool = False,
    ) -> dict[str, Any]:
        secret = self._find_primary(ctx, SecretId)
        self._check_replica_regions(ctx, AddReplicaRegions)
        current = {r.region for r in self._secrets.replicas(secret.arn) if r.status != FAILED}
        for wanted in AddReplicaRegions:
            if wanted["Region"] in current:
                raise e.InvalidParameterException(
                    f"The secret is already replicated to region {wanted['Region']}."
                )
        self._replication.add(ctx, secret, AddReplicaRegions, ForceOverwriteReplicaSecret)
        return {"ARN": secret.arn, "ReplicationStatus": self._replication.statuses(secret)}

    def remove_regions_from_replication(
        self, ctx: RequestContext, SecretId: str, RemoveReplicaRegions: list[str]
    ) -> dict[str, Any]:
        secret = self._find_primary(ctx, SecretId)
        replicated = {r.region for r in self._secrets.replicas(secret.arn)}
        for region in RemoveReplicaRegions:
            if region not in replicated:
                raise e.InvalidParameterException(
                    f"The secret isn't replicated to region {region}."
                )
        self._replication.remove(secret, RemoveReplicaRegions)
        return {"ARN": secret.arn, "ReplicationStatus": self._replication.statuses(secret)}

    def stop_replication_to_replica(self, ctx: RequestContext, SecretId: str) -> dict[str, Any]:
        secret = self._find(ctx, SecretId)
        if not secret.is_replica:
            raise e.InvalidRequestException("The secret is not a replica secret.")
        self._replication.stop(secret)
        return {"ARN": secret.arn}

    def sync_replicas(self) -> None:
        """Background job: bring every replica a change has not reached up to date."""
        self._replication.sync_out_of_date()

    def get_random_password(self, ctx: RequestContext, **options: Any) -> dict[str, Any]:
        ctx.authorize()
        try:
            return {"RandomPassword": random_password(**options)}
        except InvalidParameter as error:
            raise e.InvalidParameterException(str(error)) from None

    # Internals

    def _find(
        self,
        ctx: RequestContext,
        secret_id: str,
        allow_deleted: bool = False,
        conditions: Mapping[str, ContextValue] | None = None,
    ) -> Secret:
        """The secret a SecretId names (a name in the caller's account, or a full or partial
        ARN, which may name another account's secret), if the caller may do this call's
        operation on it (across accounts: if the secret's resource policy allows it too)."""
        secret: Secret | None
        parsed = parse_arn(secret_id)
        owner = ctx.account_id
        if parsed is None:
            rules.check_name(secret_id)
            secret = self._secrets.by_name(owner, ctx.region, secret_id)
        # Another region's; and no ARN holds NUL (PostgreSQL cannot compare it).
        elif parsed[0] != ctx.region or "\0" in secret_id:
            secret = None
        else:
            owner = parsed[1]
            if owner != ctx.account_id and ctx.operation not in CROSS_ACCOUNT_OPERATIONS:
                secret = None
            else:
                # A full ARN names the secret exactly; without the random suffix it is a name.
                secret = self._secrets.by_arn(secret_id) or self._secrets.by_name(
                    owner, ctx.region, parsed[2]
                )
        if secret is None:
            # Only a caller who may act on such a secret learns that it does not exist.
            named = (
                secret_id
                if parsed is not None
                else f"arn:aws:secretsmanager:{ctx.region}:{owner}:secret:{secret_id}"
            )
            ctx.authorize(
                named, resource_account=owner, conditions={"secretsmanager:SecretId": secret_id}
            )
            raise e.ResourceNotFoundException(_NOT_FOUND)
        keys: dict[str, ContextValue] = {"secretsmanager:SecretId": secret.arn}
        for key, value in self._secrets.tags(secret.arn).items():
            keys[f"secretsmanager:ResourceTag/{key}"] = keys[f"aws:ResourceTag/{key}"] = value
        ctx.authorize(
            secret.arn,
            resource_policy=secret.resource_policy,
            resource_account=secret.account_id,
            conditions=keys | dict(conditions or {}),
        )
        ctx.note_resource(SECRET_RESOURCE, secret.arn)
        if secret.deleted_date is not None and not allow_deleted:
            raise e.InvalidRequestException(_MARKED_FOR_DELETION)
        return secret

    def _find_primary(
        self,
        ctx: RequestContext,
        secret_id: str,
        allow_deleted: bool = False,
        conditions: Mapping[str, ContextValue] | None = None,
    ) -> Secret:
        """The secret a change names: replicas change only through their primary."""
        secret = self._find(ctx, secret_id, allow_deleted, conditions)
        if secret.is_replica:
            raise e.InvalidParameterException(_ON_REPLICA)
        return secret

    def _check_replica_regions(self, ctx: RequestContext, regions: list[dict[str, str]]) -> None:
        for wanted in regions:
            rules.refuse_nul(KmsKeyId=wanted.get("KmsKeyId"))
        names = [wanted.get("Region") for wanted in regions]
        if len(set(names)) != len(names):
            raise e.InvalidParameterException("Duplicate regions in AddReplicaRegions.")
        for name in names:
            if name not in self._regions or name == ctx.region:
                raise e.InvalidParameterException("Invalid replica region.")

    def _replicate(self, ctx: RequestContext, secret: Secret) -> None:
        if not secret.is_replica:
            self._replication.sync_all(ctx, secret)

    def _put(
        self,
        ctx: RequestContext,
        secret: Secret,
        token: str | None,
        value: Value,
        stages: list[str],
    ) -> dict[str, Any]:
        version_id = token or str(uuid.uuid4())
        existing = self._secrets.version(secret.arn, version_id)
        abandoned = False
        if existing is None:
            sealed = self._sealer.seal(ctx, secret, version_id, value)
            now = self._clock.time()
            with self._secrets.locked(secret.arn, now) as locked:
                existing = locked.version(version_id)  # a concurrent retry of the same token
                if existing is None:
                    if AWSCURRENT in stages:
                        abandoned = _abandon_rotation(locked, version_id)
                    locked.add_version(sealed)
                    for stage in stages:
                        staging.attach(locked, stage, version_id)
                    staging.prune(locked, now)
        if abandoned:
            self._rotation.abandoned(secret)
        if existing is not None and not self._sealer.same_value(secret, existing, value):
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

    def _note_access(self, ctx: RequestContext, secret: Secret) -> None:
        # AWS reports LastAccessedDate by day: one write per secret per day, not per read.
        day = math.floor(self._clock.time() / _DAY) * _DAY
        if secret.last_accessed_date != day:
            ctx.when_recorded(lambda: self._secrets.note_access(secret.arn, day))


def _abandon_rotation(locked: SecretTransaction, new_current: str) -> bool:
    """A new value made current by hand ends any rotation under way, as AWS does: AWSPENDING
    comes off (so that the next rotation can start). True when a rotation was abandoned."""
    stages = locked.stages()
    pending = stages.get(AWSPENDING)
    if pending is None or pending == new_current:
        return False
    locked.remove_stage(AWSPENDING)
    if pending == stages.get(AWSCURRENT):
        return False  # the last rotation's finished version: nothing was under way
    locked.end_rotation()
    return True


def _request_keys(tags: list[dict[str, str]]) -> dict[str, ContextValue]:
    """The condition keys of the tags a request sets: aws:RequestTag/<key> and aws:TagKeys."""
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in tags}
    keys["aws:TagKeys"] = [t["Key"] for t in tags]
    return keys
