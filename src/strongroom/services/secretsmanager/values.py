"""Secrets Manager values and versions: reading one value or a batch of them, storing a new
version, listing versions and moving staging labels between them."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from strongroom.iam.conditions import ContextValue
from strongroom.protocol.errors import AwsError
from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import rules, staging
from strongroom.services.secretsmanager.base import DAY, SecretsManagerBase
from strongroom.services.secretsmanager.model import AWSCURRENT, Secret


class Values(SecretsManagerBase):
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

    def _note_access(self, ctx: RequestContext, secret: Secret) -> None:
        # AWS reports LastAccessedDate by day: one write per secret per day, not per read.
        day = math.floor(self._clock.time() / DAY) * DAY
        if secret.last_accessed_date != day:
            ctx.when_recorded(lambda: self._secrets.note_access(secret.arn, day))
