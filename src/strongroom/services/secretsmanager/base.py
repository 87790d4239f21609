"""What every group of Secrets Manager operations shares: construction, finding the secret a
caller names (and may act on, from another account too), storing a new version, listing secrets
a page at a time, and passing a primary's changes on to its replicas."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.iam.conditions import ContextValue
from strongroom.services.awslambda.service import Lambda
from strongroom.services.context import RequestContext, ServiceEvents
from strongroom.services.kms.service import KMS
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import listing, rules, staging
from strongroom.services.secretsmanager.model import (
    AWSCURRENT,
    AWSPENDING,
    SECRET_RESOURCE,
    Secret,
    parse_arn,
)
from strongroom.services.secretsmanager.replication import Replication
from strongroom.services.secretsmanager.rotation import RotationRunner
from strongroom.services.secretsmanager.sealing import Sealer, Value
from strongroom.services.secretsmanager.service_access import ServiceAccess
from strongroom.storage.secretsmanager import SecretsRepository, SecretTransaction

DAY = 86400
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
MARKED_FOR_DELETION = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)


class SecretsManagerBase:
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
            raise e.InvalidRequestException(MARKED_FOR_DELETION)
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
            raise e.InvalidParameterException(ON_REPLICA)
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


def request_keys(tags: list[dict[str, str]]) -> dict[str, ContextValue]:
    """The condition keys of the tags a request sets: aws:RequestTag/<key> and aws:TagKeys."""
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in tags}
    keys["aws:TagKeys"] = [t["Key"] for t in tags]
    return keys
