"""Secrets Manager resource policies: stored and validated here; enforced with the rest of IAM
(see base.py's `_find`)."""

from __future__ import annotations

from typing import Any

from strongroom.iam.public import grants_public_access
from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import rules
from strongroom.services.secretsmanager.base import SecretsManagerBase

_PUBLIC_POLICY = (
    "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent "
    "broad access to the secret."
)
_BROAD_ACCESS = "The resource policy grants broad access to the secret."


class Policies(SecretsManagerBase):
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
