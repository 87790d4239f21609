"""Strongroom's own metrics in CloudWatch, in the namespaces, names and dimensions AWS uses.

- `AWS/Usage` `CallCount` (CloudWatch User Guide, "AWS API usage metrics"): every call to an
  operation by an authenticated caller, per account (the caller's: AWS counts a cross-account
  call against the caller's quotas) and Region, whatever its outcome (like its CloudTrail
  record, a refused or failed call is still a call). Dimensions Service (AWS's name for the
  service), Type "API", Resource (the operation), Class "None"; one sample of 1 per call, so
  Sum and SampleCount are the calls of the minute. AWS publishes no usage metrics for IAM, STS
  and EventBridge, so neither does Strongroom. Strongroom does not throttle: no ThrottleCount.
- `AWS/SecretsManager` `ResourceCount` (Secrets Manager User Guide, "Monitor with CloudWatch"):
  hourly, the secrets of each account and Region, those scheduled for deletion included.
  Dimensions Service "Secrets Manager", Type "Resource", Resource "SecretCount", Class "None".
  AWS publishes no KMS key count, so neither does Strongroom.

Calls are counted in memory by each process (the dispatcher is the hot path) and published by a
thread of that process about once a minute; datapoints of several processes add up in storage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.services.cloudwatch.model import Datum
from strongroom.services.cloudwatch.service import CloudWatch
from strongroom.storage.cloudwatch import CloudWatchRepository
from strongroom.storage.engine import StorageUnavailable
from strongroom.storage.secretsmanager import SecretsRepository
from strongroom.storage.system import SystemStateRepository

log = logging.getLogger("strongroom.metrics")

USAGE_NAMESPACE = "AWS/Usage"
# Each service's value of the Service dimension (keyed by botocore's service name), for the
# services that publish API usage metrics.
USAGE_SERVICES = {
    "cloudtrail": "CloudTrail",
    "cloudwatch": "CloudWatch",
    "kms": "KMS",
    "lambda": "Lambda",
    "logs": "Logs",
    "s3": "S3",
    "secretsmanager": "Secrets Manager",
    "sns": "SNS",
}
SECRETS_NAMESPACE = "AWS/SecretsManager"
RESOURCE_COUNT = "ResourceCount"
SECRET_COUNT_DIMENSIONS = {
    "Service": "Secrets Manager",
    "Type": "Resource",
    "Resource": "SecretCount",
    "Class": "None",
}
PUBLISHED_HOUR = "cloudwatch.secret_count_hour"  # system_state: the hour last published

# account, region, Service dimension, operation, minute
_CallKey = tuple[str, str, str, str, int]


class CallCounter:
    """This process's calls not yet published, per account, Region, service, operation and
    minute. A lock, not contention: it is held for one dictionary update."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[_CallKey, int] = {}

    def count(
        self, account_id: str, region: str, service_name: str, operation: str, moment: float
    ) -> None:
        service = USAGE_SERVICES.get(service_name)
        if service is None:
            return
        key = (account_id, region, service, operation, int(moment // 60) * 60)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def take(self) -> dict[_CallKey, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def give_back(self, counts: Mapping[_CallKey, int]) -> None:
        """Counts that could not be published, for the next attempt."""
        with self._lock:
            for key, n in counts.items():
                self._counts[key] = self._counts.get(key, 0) + n


class UsagePublisher:
    """A thread of each process that publishes its CallCount about every `interval` seconds,
    and once more when the process stops cleanly. A sealed server publishes nothing: what it
    counted before the seal waits for the unseal."""

    def __init__(
        self, counter: CallCounter, cloudwatch: CloudWatch, barrier: Barrier, interval: float
    ) -> None:
        self._counter = counter
        self._cloudwatch = cloudwatch
        self._barrier = barrier
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="strongroom-usage", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._publish_logged()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._publish_logged()

    def _publish_logged(self) -> None:
        try:
            self.publish()
        except StorageUnavailable as outage:
            log.warning("API usage metrics wait for storage: %s", outage)
        except Exception:  # the counts are kept: the next attempt publishes them
            log.exception("API usage metrics could not be published")

    def publish(self) -> None:
        if self._barrier.sealed:
            return
        by_owner: dict[tuple[str, str], dict[_CallKey, int]] = {}
        for key, n in self._counter.take().items():
            by_owner.setdefault(key[:2], {})[key] = n
        while by_owner:
            (account_id, region), counts = by_owner.popitem()
            try:
                data = [_call_count(key, n) for key, n in counts.items()]
                self._cloudwatch.put_data(account_id, region, data)  # one transaction
            except BaseException:
                # What was not stored waits for the next attempt (what was must not: it would
                # count twice).
                for unpublished in [counts, *by_owner.values()]:
                    self._counter.give_back(unpublished)
                raise


def _call_count(key: _CallKey, calls: int) -> Datum:
    """A minute's calls of an operation: each a sample of 1, as AWS's CallCount."""
    _, _, service, operation, minute = key
    dimensions = {"Service": service, "Type": "API", "Resource": operation, "Class": "None"}
    return Datum(USAGE_NAMESPACE, "CallCount", dimensions, 1.0, timestamp=minute, count=calls)


class SecretCounts:
    """The leader's housekeeping job: once an hour (by service time), ResourceCount for every
    account and Region that has secrets, or had them when it was last published (so a count
    that fell to none says 0 rather than stopping)."""

    def __init__(
        self,
        secrets: SecretsRepository,
        metrics: CloudWatchRepository,
        state: SystemStateRepository,
        cloudwatch: CloudWatch,
        clock: Clock,
    ) -> None:
        self._secrets = secrets
        self._metrics = metrics
        self._state = state
        self._cloudwatch = cloudwatch
        self._clock = clock

    def publish_due(self) -> None:
        hour = int(self._clock.time() // 3600) * 3600
        marker = str(hour).encode()
        # "Not this hour" rather than "an earlier hour": a dev reset moves the clock back.
        if self._state.get(PUBLISHED_HOUR) == marker:
            return
        counts = self._secrets.counts()
        for owner in self._metrics.owners(SECRETS_NAMESPACE, RESOURCE_COUNT):
            counts.setdefault(owner, 0)
        for (account_id, region), n in counts.items():
            self._cloudwatch.put_datum(
                account_id,
                region,
                SECRETS_NAMESPACE,
                RESOURCE_COUNT,
                SECRET_COUNT_DIMENSIONS,
                float(n),
                unit="Count",
                timestamp=hour,
            )
        self._state.put(PUBLISHED_HOUR, marker)
