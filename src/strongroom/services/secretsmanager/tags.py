"""Tags on Secrets Manager secrets, and GetRandomPassword (which needs no secret)."""

from __future__ import annotations

from typing import Any

from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager import rules
from strongroom.services.secretsmanager.base import SecretsManagerBase, request_keys
from strongroom.services.secretsmanager.passwords import InvalidParameter, random_password


class TagsAndPasswords(SecretsManagerBase):
    def tag_resource(self, ctx: RequestContext, SecretId: str, Tags: list[dict[str, str]]) -> None:
        secret = self._find_primary(ctx, SecretId, conditions=request_keys(Tags))
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

    def get_random_password(self, ctx: RequestContext, **options: Any) -> dict[str, Any]:
        ctx.authorize()
        try:
            return {"RandomPassword": random_password(**options)}
        except InvalidParameter as error:
            raise e.InvalidParameterException(str(error)) from None
