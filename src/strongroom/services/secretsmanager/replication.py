"""Replicas: real copies of a primary secret in other regions of this server.

A replica is a secret row of its own in the replica region, with the primary's name, the
primary's ARN with the region changed, and `primary_arn` set. Its versions are the primary's
values sealed again under the replica region's KMS key. `sync` makes a replica equal to its
primary (versions, labels, tags, description, policy); every change of a primary marks its
replicas InProgress in the change's own commit (see SecretsRepository.locked) and syncs them
at once, and the background job finishes any sync a crash interrupted.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from strongroom.auth.principal import Principal
from strongroom.clock import Clock
from strongroom.protocol.errors import AwsError
from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager.model import (
    FAILED,
    IN_PROGRESS,
    IN_SYNC,
    ReplicaStatus,
    Secret,
    SecretVersion,
    replica_arn,
)
from strongroom.services.secretsmanager.sealing import Sealer
from strongroom.storage.secretsmanager import SecretsRepository

log = logging.getLogger("strongroom.secretsmanager")
_SUCCEEDED = "Replication succeeded"


class Replication:
    def __init__(self, repository: SecretsRepository, sealer: Sealer, clock: Clock) -> None:
        self._secrets = repository
        self._sealer = sealer
        self._clock = clock

    def add(
        self, ctx: RequestContext, primary: Secret, regions: list[dict[str, str]], force: bool
    ) -> None:
        """Start replicas of `primary` in `regions` (already checked); a region where another
        secret has the name gets a Failed status unless `force` replaces that secret."""
        for wanted in regions:
            region, kms_key_id = wanted["Region"], wanted.get("KmsKeyId") or None
            taken = self._secrets.by_name(primary.account_id, region, primary.name)
            if taken is not None and taken.primary_arn != primary.arn:
                if not force:
                    message = (
                        f"Replication failed: Secret name {primary.name} already exists in "
                        f"region {region}."
                    )
                    self._secrets.set_replica(
                        primary.arn, ReplicaStatus(region, kms_key_id, FAILED, message)
                    )
                    continue
                self._secrets.destroy(taken.arn)
            replica = self._replica_of(primary, region, kms_key_id)
            if taken is None or taken.primary_arn != primary.arn:
                self._secrets.create(replica, {}, None)
            self._secrets.set_replica(
                primary.arn, ReplicaStatus(region, kms_key_id, IN_PROGRESS, None)
            )
            failure = self.sync(ctx, primary.arn, region)
            if failure is not None:
                # A replica whose key cannot seal its first copy is not made; a key that
                # fails later is retried (see sync_out_of_date).
                self._secrets.destroy(replica.arn)
                message = f"Replication failed: {failure}"
                self._secrets.set_replica(
                    primary.arn, ReplicaStatus(region, kms_key_id, FAILED, message)
                )

    def remove(self, primary: Secret, regions: list[str]) -> None:
        for region in regions:
            self._secrets.destroy(replica_arn(primary.arn, region))
            self._secrets.remove_replica(primary.arn, region)

    def statuses(
        self, primary: Secret, replicas: list[ReplicaStatus] | None = None
    ) -> list[dict[str, object]]:
        """ReplicationStatus of `primary` (from `replicas` when the caller has them)."""
        entries = []
        for replica in self._secrets.replicas(primary.arn) if replicas is None else replicas:
            entry: dict[str, object] = {"Region": replica.region, "Status": replica.status}
            entry["KmsKeyId"] = replica.kms_key_id or "alias/aws/secretsmanager"
            if replica.status_message:
                entry["StatusMessage"] = replica.status_message
            copy = self._secrets.by_arn(replica_arn(primary.arn, replica.region))
            if copy is not None and copy.last_accessed_date is not None:
                entry["LastAccessedDate"] = copy.last_accessed_date
            entries.append(entry)
        return entries

    def sync_all(self, ctx: RequestContext, primary: Secret) -> None:
        for replica in self._secrets.replicas(primary.arn):
            if replica.status != FAILED:
                self.sync(ctx, primary.arn, replica.region)

    def sync(self, ctx: RequestContext, primary_arn: str, region: str) -> str | None:
        """Make the replica in `region` equal to its primary and record how that went; the
        reason when the replica's key could not seal the copies."""
        primary = self._secrets.by_arn(primary_arn)
        replica = self._secrets.by_arn(replica_arn(primary_arn, region))
        if primary is None or replica is None:
            return None
        try:
            copies = self._copies(ctx, primary, replica)
        except AwsError as error:
            log.warning("replica of %s in %s is behind: %s", primary_arn, region, error.code)
            self._set_status(primary_arn, region, IN_PROGRESS, error.message)
            return error.message
        with self._secrets.syncing(primary_arn, replica.arn, self._clock.time()) as (
            source,
            target,
        ):
            versions = {v.version_id for v in source.versions()}
            held = {v.version_id for v in target.versions()}
            if not versions - held <= copies.keys():
                return None  # versions were added meanwhile: the sync they started copies them
            target.delete_versions(sorted(held - versions))
            for version_id in sorted(versions - held):
                target.add_version(copies[version_id])
            for stage in target.stages():
                target.remove_stage(stage)
            for stage, version_id in source.stages().items():
                target.set_stage(stage, version_id)
            target.delete_tags(list(target.tags()))
            target.put_tags(source.tags())
            current = source.secret()
            target.update(
                description=current.description,
                secret_type=current.secret_type,
                resource_policy=current.resource_policy,
            )
        self._set_status(primary_arn, region, IN_SYNC, _SUCCEEDED)
        return None

    def sync_out_of_date(self) -> None:
        """Background job: finish every replica sync that a crash or a KMS failure left."""
        for primary_arn, region in self._secrets.replicas_out_of_date():
            primary = self._secrets.by_arn(primary_arn)
            if primary is not None:
                self.sync(service_context(primary), primary_arn, region)

    def key_changed(self, replica: Secret) -> None:
        """Report a replica's new KMS key (the one thing a replica changes by itself)."""
        assert replica.primary_arn is not None
        for status in self._secrets.replicas(replica.primary_arn):
            if status.region == replica.region:
                changed = replace(status, kms_key_id=replica.kms_key_id)
                self._secrets.set_replica(replica.primary_arn, changed)

    def stop(self, replica: Secret) -> None:
        """Promote `replica` to a standalone secret; its primary forgets the region."""
        assert replica.primary_arn is not None
        with self._secrets.locked(replica.arn, self._clock.time()) as locked:
            locked.update(primary_arn=None)
        self._secrets.remove_replica(replica.primary_arn, replica.region)

    def _copies(
        self, ctx: RequestContext, primary: Secret, replica: Secret
    ) -> dict[str, SecretVersion]:
        """The primary's versions the replica lacks, sealed for the replica (outside any lock:
        sealing may create the region's `aws/secretsmanager` key)."""
        held = {v.version_id for v in self._secrets.versions(replica.arn)}
        copies = {}
        for version in self._secrets.versions(primary.arn):
            if version.version_id not in held:
                value = self._sealer.open(ctx, primary, version)
                copy = self._sealer.seal(ctx, replica, version.version_id, value)
                copies[version.version_id] = replace(copy, created_date=version.created_date)
        return copies

    def _set_status(self, primary_arn: str, region: str, status: str, message: str) -> None:
        for replica in self._secrets.replicas(primary_arn):
            if replica.region == region and replica.status != FAILED:
                changed = replace(replica, status=status, status_message=message)
                self._secrets.set_replica(primary_arn, changed)

    @staticmethod
    def _replica_of(primary: Secret, region: str, kms_key_id: str | None) -> Secret:
        return replace(
            primary,
            arn=replica_arn(primary.arn, region),
            region=region,
            kms_key_id=kms_key_id,
            last_accessed_date=None,
            primary_arn=primary.arn,
            rotation_enabled=False,  # a replica changes only with its primary (and is never
            next_rotation_date=None,  # found by the scheduler's search for open windows)
        )


def service_context(secret: Secret) -> RequestContext:
    """Secrets Manager acting by itself on an account's behalf (no caller)."""
    principal = Principal(
        account_id=secret.account_id,
        user_name="secretsmanager.amazonaws.com",
        user_id="secretsmanager.amazonaws.com",
        access_key_id="",
    )
    return RequestContext(
        request_id="", principal=principal, region=secret.region, source_ip="", user_agent=""
    )
