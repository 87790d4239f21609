"""What every built-in rotator shares: the four steps, each idempotent as AWS's rotation
templates are, over a small interface to the secret (`SecretAccess`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from strongroom.services.secretsmanager.model import Secret


class RotationFailure(Exception):
    """A step that cannot succeed; its message is safe to log (it never quotes a value)."""


class SecretAccess(Protocol):
    """Secrets Manager, as a built-in rotator reaches it (acting by itself, in the secret's
    account)."""

    def value(
        self, secret: Secret, *, stage: str | None = None, version_id: str | None = None
    ) -> str | None:
        """The text of a version (by label or id), None when there is none."""

    def value_of(self, arn: str, owner: Secret) -> str:
        """The AWSCURRENT text of another secret of the owner's account (a superuser's)."""

    def put_pending(self, secret: Secret, version_id: str, value: str) -> None:
        """Store `value` as the version `version_id`, labelled AWSPENDING."""

    def make_current(self, secret: Secret, version_id: str) -> None:
        """Move AWSCURRENT (and AWSPREVIOUS with it) to the version."""

    def tags(self, secret: Secret) -> dict[str, str]: ...


class BuiltInRotator(ABC):
    def __init__(self, access: SecretAccess) -> None:
        self.access = access

    def step(self, step: str, secret: Secret, version_id: str) -> None:
        """Run one step of the rotation that makes version `version_id`; raise
        RotationFailure (or any error: the runner records it) when it fails."""
        if step == "createSecret":
            if self.access.value(secret, version_id=version_id) is None:
                current = self.access.value(secret, stage="AWSCURRENT")
                if current is None:
                    raise RotationFailure("the secret has no current value to rotate from")
                self.access.put_pending(secret, version_id, self.new_value(secret, current))
        elif step == "setSecret":
            self.set_secret(secret, version_id)
        elif step == "testSecret":
            self.test_secret(secret, version_id)
        elif step == "finishSecret":
            self.access.make_current(secret, version_id)
        else:
            raise RotationFailure(f"unknown step {step}")

    def pending(self, secret: Secret, version_id: str) -> str:
        pending = self.access.value(secret, version_id=version_id)
        if pending is None:
            raise RotationFailure("the new version has no value")
        return pending

    @abstractmethod
    def new_value(self, secret: Secret, current: str) -> str:
        """The next value, made from the current one."""

    def set_secret(self, secret: Secret, version_id: str) -> None:  # noqa: B027 - optional
        """Make the service that uses the secret accept the new version (nothing to do for a
        value no service checks)."""

    def test_secret(self, secret: Secret, version_id: str) -> None:
        self.pending(secret, version_id)
