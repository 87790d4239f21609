"""Secrets Manager acting by itself on a secret of an account (no caller, no policy decision,
no audit record of its own): what the built-in rotators reach the secret through."""

from __future__ import annotations

from collections.abc import Callable

from strongroom.clock import Clock
from strongroom.services.context import RequestContext
from strongroom.services.secretsmanager import staging
from strongroom.services.secretsmanager.model import AWSCURRENT, AWSPENDING, Secret
from strongroom.services.secretsmanager.replication import service_context
from strongroom.services.secretsmanager.rotators.base import RotationFailure
from strongroom.services.secretsmanager.sealing import Sealer, Value
from strongroom.storage.secretsmanager import SecretsRepository

# Stores a new version: (context, secret, version id, value, labels).
Put = Callable[[RequestContext, Secret, str, Value, list[str]], object]


class ServiceAccess:
    def __init__(self, secrets: SecretsRepository, sealer: Sealer, clock: Clock, put: Put) -> None:
        self._secrets = secrets
        self._sealer = sealer
        self._clock = clock
        self._put = put

    def value(
        self, secret: Secret, *, stage: str | None = None, version_id: str | None = None
    ) -> str | None:
        opened = self._open(secret, stage, version_id)
        if opened is None:
            return None
        is_binary, plaintext = opened
        if is_binary:
            raise RotationFailure("the secret holds binary data, not text")
        return plaintext.decode()

    def copy_current(self, secret: Secret, version_id: str) -> None:
        """The current value again, as the AWSPENDING version `version_id` (what a test-only
        rotation gives the testSecret step)."""
        current = self._open(secret, AWSCURRENT, None)
        if current is None:
            raise RotationFailure("the secret has no current value")
        self._put(service_context(secret), secret, version_id, current, [AWSPENDING])

    def _open(self, secret: Secret, stage: str | None, version_id: str | None) -> Value | None:
        if version_id is None:
            version_id = self._secrets.stages(secret.arn).get(stage or AWSCURRENT)
        version = self._secrets.version(secret.arn, version_id) if version_id else None
        if version is None:
            return None
        return self._sealer.open(service_context(secret), secret, version)

    def value_of(self, arn: str, owner: Secret) -> str:
        other = self._secrets.by_arn(arn)
        if other is None or (other.account_id, other.region) != (owner.account_id, owner.region):
            raise RotationFailure("masterarn names no secret of this account and Region")
        value = self.value(other)
        if value is None:
            raise RotationFailure("the secret masterarn names has no current value")
        return value

    def put_pending(self, secret: Secret, version_id: str, value: str) -> None:
        self._put(
            service_context(secret), secret, version_id, (False, value.encode()), [AWSPENDING]
        )

    def make_current(self, secret: Secret, version_id: str) -> None:
        with self._secrets.locked(secret.arn, self._clock.time()) as locked:
            if locked.version(version_id) is None:
                raise RotationFailure("the new version has no value")
            staging.attach(locked, AWSCURRENT, version_id)

    def tags(self, secret: Secret) -> dict[str, str]:
        return self._secrets.tags(secret.arn)
