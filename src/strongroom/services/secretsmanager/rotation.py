"""Rotation, as Secrets Manager does it: a rotation function (a Lambda function) takes a new
version through four steps — createSecret, setSecret, testSecret, finishSecret — each invoked
with {"Step", "SecretId", "ClientRequestToken", "RotationToken"}.

RotateSecret only stores the rotation under way (the new version's id carries AWSPENDING);
the runner does the steps in the background, in whichever process claims the rotation in
storage first (a lease, so a crashed runner's rotation is taken up again and no rotation runs
twice at once). A failed attempt leaves AWSCURRENT where it was and is retried later; every
start, success and failure is an AwsServiceEvent in the audit trail.
"""

from __future__ import annotations

import json
import logging
import secrets as _random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from strongroom.clock import Clock
from strongroom.jobs.schedule_expressions import RotationSchedule, rotation_schedule
from strongroom.services.awslambda.errors import InvocationRefused
from strongroom.services.awslambda.service import Lambda
from strongroom.services.context import ServiceEvent, ServiceEvents
from strongroom.services.secretsmanager.model import (
    AWSCURRENT,
    AWSPENDING,
    SECRET_RESOURCE,
    Rotation,
    Secret,
)
from strongroom.services.secretsmanager.rotators import BuiltInRotator, built_in
from strongroom.services.secretsmanager.rotators.base import RotationFailure
from strongroom.services.secretsmanager.service_access import ServiceAccess
from strongroom.storage.secretsmanager import SecretsRepository

log = logging.getLogger("strongroom.secretsmanager")

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
SERVICE_PRINCIPAL = "secretsmanager.amazonaws.com"
IN_PROGRESS = "A previous rotation isn't complete. That rotation will be reattempted."
NO_FUNCTION = "No Lambda rotation function ARN is associated with this secret."
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)
# A runner holds a rotation this long at most: four steps of the longest function timeout.
LEASE_SECONDS = 4 * 900 + 60
_BATCH = 100
_FIRST_RETRY_SECONDS = 60
_LAST_RETRY_SECONDS = 24 * 3600


def schedule_of(rules: dict[str, Any]) -> RotationSchedule:
    """The schedule RotationRules describe (InvalidRotationRules when Secrets Manager refuses
    them)."""
    return rotation_schedule(
        rules.get("AutomaticallyAfterDays"), rules.get("ScheduleExpression"), rules.get("Duration")
    )


def next_window_opening(secret: Secret, after: float) -> float | None:
    """When the secret's next rotation window opens, rotating last at `after`."""
    if not secret.rotation_enabled or secret.rotation_rules is None:
        return None
    rules = json.loads(secret.rotation_rules)
    if not rules:
        return None
    window = schedule_of(rules).next_window(datetime.fromtimestamp(after, UTC))
    return window[0].timestamp() if window else None


def retry_delay(attempts: int) -> float:
    """How long a rotation that failed `attempts` times waits before its next attempt."""
    return float(min(_FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), _LAST_RETRY_SECONDS))


class RotationRunner:
    """Takes rotations under way through their function's steps, in a few background threads."""

    def __init__(
        self,
        secrets: SecretsRepository,
        functions: Lambda,
        clock: Clock,
        events: ServiceEvents,
        access: ServiceAccess,
    ) -> None:
        self._secrets = secrets
        self._functions = functions
        self._clock = clock
        self._events = events
        self._access = access
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="strongroom-rotation")
        # Secrets waiting in this process's pool: each due rotation is queued once, however
        # many ticks find it due before a thread claims it.
        self._queued: set[str] = set()
        self._queued_lock = threading.Lock()

    def check_function(self, secret: Secret, function_arn: str) -> None:
        """Raise InvocationRefused unless Secrets Manager may invoke the function for the
        secret (RotateSecret checks this before it stores anything); a built-in rotator
        always may."""
        if self._built_in(secret, function_arn) is None:
            self._functions.permitted_function(
                secret.account_id, secret.region, function_arn, SERVICE_PRINCIPAL, secret.arn
            )

    def _built_in(self, secret: Secret, function_arn: str) -> BuiltInRotator | None:
        return built_in(function_arn, secret.account_id, secret.region, self._access)

    def kick(self, arn: str) -> None:
        """Attempt the secret's rotation now, in this process (when no other runner holds it)."""
        with self._queued_lock:
            if arn in self._queued:
                return
            self._queued.add(arn)
        self._pool.submit(self._attempt, arn)

    def run_due(self) -> None:
        """Background job (the leader's): start the rotations whose windows have opened, and
        attempt those that are due."""
        now = self._clock.time()
        for arn in self._secrets.windows_open(now, _BATCH):
            self._start_scheduled(arn, now)
        for arn in self._secrets.rotations_due(now, _BATCH):
            self.kick(arn)

    def abandoned(self, secret: Secret) -> None:
        """A value made current by hand ended the rotation under way."""
        self._event(secret, "RotationAbandoned")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start_scheduled(self, arn: str, now: float) -> None:
        with self._secrets.locked(arn, now) as locked:
            secret = locked.secret()
            due = secret.next_rotation_date
            if not secret.rotation_enabled or due is None or due > now or locked.rotation():
                return  # changed since it was listed
            stages = locked.stages()
            if stages.get(AWSPENDING, stages.get(AWSCURRENT)) != stages.get(AWSCURRENT):
                # A version someone left AWSPENDING: rotate at the next window instead.
                locked.update(next_rotation_date=next_window_opening(secret, now))
                return
            version_id = str(uuid.uuid4())
            locked.set_stage(AWSPENDING, version_id)
            locked.start_rotation(Rotation(version_id, False, now, 0, now))
        self.kick(arn)

    def _attempt(self, arn: str) -> None:
        with self._queued_lock:
            self._queued.discard(arn)
        try:
            self._run(arn)
        except Exception:  # a runner thread must outlive any one rotation
            log.exception("rotation of %s: the attempt broke off; it is retried later", arn)

    def _run(self, arn: str) -> None:
        now = self._clock.time()
        rotation = self._secrets.claim_rotation(arn, now, now + LEASE_SECONDS)
        if rotation is None:
            return  # another runner holds it, or it is not due
        secret = self._secrets.by_arn(arn)
        if secret is None or secret.rotation_lambda_arn is None:
            return
        if rotation.attempts == 0 and not rotation.test_only:
            self._event(secret, "RotationStarted")
        if rotation.test_only:
            self._access.copy_current(secret, rotation.version_id)
        steps = ("testSecret",) if rotation.test_only else STEPS
        token = _random.token_hex(16)  # names this attempt to the function's calls back
        for step in steps:
            failure = self._step(secret, rotation, step, token)
            if failure is not None:
                self._failed(secret, rotation, step, failure)
                return
        self._succeeded(secret, rotation)

    def _step(self, secret: Secret, rotation: Rotation, step: str, token: str) -> str | None:
        """Invoke one step; what went wrong, if anything (never the function's message,
        which may quote a secret)."""
        event = {
            "Step": step,
            "SecretId": secret.arn,
            "ClientRequestToken": rotation.version_id,
            "RotationToken": token,
        }
        assert secret.rotation_lambda_arn is not None
        rotator = self._built_in(secret, secret.rotation_lambda_arn)
        if rotator is not None:
            try:
                rotator.step(step, secret, rotation.version_id)
            except RotationFailure as failure:
                return str(failure)
            except Exception as error:  # a database's or KMS's: its type, never its message
                return type(error).__name__
            return None
        try:
            invocation = self._functions.invoke_for_service(
                secret.account_id,
                secret.region,
                secret.rotation_lambda_arn,
                event,
                SERVICE_PRINCIPAL,
                secret.arn,
            )
        except InvocationRefused as refused:
            return type(refused).__name__
        if invocation.function_error is not None:
            return invocation.error_type or invocation.function_error
        return None

    def _succeeded(self, secret: Secret, rotation: Rotation) -> None:
        now = self._clock.time()
        with self._secrets.locked(secret.arn, now) as locked:
            stages = locked.stages()
            if rotation.test_only:
                if stages.get(AWSPENDING) == rotation.version_id:
                    locked.remove_stage(AWSPENDING)
                locked.end_rotation()
                return
            if stages.get(AWSCURRENT) != rotation.version_id:
                failure = "finishSecret left AWSCURRENT on another version"
            else:
                current = locked.secret()
                locked.end_rotation()
                locked.update(
                    last_rotated_date=now, next_rotation_date=next_window_opening(current, now)
                )
                failure = None
        if failure is not None:
            self._failed(secret, rotation, "finishSecret", failure)
            return
        log.info("rotated secret %s", secret.arn)
        self._event(secret, "RotationSucceeded")

    def _failed(self, secret: Secret, rotation: Rotation, step: str, failure: str) -> None:
        log.warning("rotation of %s failed at %s: %s", secret.arn, step, failure)
        if rotation.test_only:
            # A test is not retried: its AWSPENDING copy goes, the schedule stays.
            with self._secrets.locked(secret.arn, self._clock.time()) as locked:
                if locked.stages().get(AWSPENDING) == rotation.version_id:
                    locked.remove_stage(AWSPENDING)
                locked.end_rotation()
            self._event(secret, "TestRotationFailed")
            return
        next_attempt = self._clock.time() + retry_delay(rotation.attempts + 1)
        self._secrets.rotation_failed(secret.arn, rotation.version_id, next_attempt)
        self._event(secret, "RotationFailed")

    def _event(self, secret: Secret, name: str) -> None:
        self._events(
            ServiceEvent(
                secret.account_id,
                secret.region,
                SERVICE_PRINCIPAL,
                name,
                ((SECRET_RESOURCE, secret.arn),),
                {"SecretId": secret.arn},
            )
        )
