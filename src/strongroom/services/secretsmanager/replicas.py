"""Secrets Manager replication requests: adding and removing replica regions, making a replica
a standalone secret, and the background sync (replication.py makes and updates the copies)."""

from __future__ import annotations

from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager.base import SecretsManagerBase
from strongroom.services.secretsmanager.model import FAILED


class Replicas(SecretsManagerBase):
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
