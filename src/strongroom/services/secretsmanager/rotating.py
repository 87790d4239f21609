"""Secrets Manager rotation requests: RotateSecret and CancelRotateSecret, and the background
jobs (rotation.py's runner takes each rotation through the rotation function's steps)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from strongroom.jobs.schedule_expressions import InvalidRotationRules
from strongroom.services.awslambda.errors import InvocationRefused
from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import rotation, rules
from strongroom.services.secretsmanager.base import SecretsManagerBase
from strongroom.services.secretsmanager.model import AWSCURRENT, AWSPENDING, Rotation


class Rotating(SecretsManagerBase):
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
