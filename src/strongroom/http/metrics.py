"""Prometheus metrics for operators: GET /metrics, in Prometheus's text format.

Counters and histograms use prometheus_client's multiprocess mode: each worker process adds to
memory-mapped files of its own in `<data dir>/metrics` (emptied at each start), and a scrape,
which reaches one worker, sums the files of all of them. Gauges are read when scraped by the
worker that answers: seal and storage state after it has polled storage (so a seal anywhere
shows), its own audit writer (the audit store is shared: a failing store fails every worker),
and the backlogs of the leader's queues from storage.

Labels name services, operations, HTTP status classes and AWS error codes only: never an
account, a secret, a key or an access key id, and never anything a request names that is not
an operation of the service's model (the label set stays bounded).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from botocore.model import ServiceModel
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from strongroom.core import Core
from strongroom.storage.engine import StorageUnavailable

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNKNOWN = "unknown"

REQUESTS = Counter(
    "strongroom_requests",
    "AWS API requests answered, by service, operation, HTTP status class and AWS error code.",
    ["service", "operation", "status_class", "error_code"],
    registry=None,
)
LATENCY = Histogram(
    "strongroom_request_duration_seconds",
    "Time from a request's arrival to its answer (its audit record stored), by operation.",
    ["service", "operation"],
    # Cached reads answer in about a millisecond; a commit or a rotation takes tens or more.
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)


def use_directory(path: Path) -> None:
    """Keep every process's counters in `path`, emptied now: call once at server start,
    before workers are forked and before any request is counted."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROCESS_VARIABLE] = str(path)
    # prometheus_client picks where values live from this variable when it is first imported,
    # which the server's modules do before the data directory is known: pick again.
    values.ValueClass = values.MultiProcessValue()


def process_stopped(pid: int) -> None:
    """A worker ended: its live gauges go. Its counters stay in the sums, so that totals never
    go down."""
    mark_process_dead(pid)


class RequestMetrics:
    """Counts and times the AWS API requests of this process (on its event loop only)."""

    def __init__(self) -> None:
        # The labelled children by label values: cheaper than prometheus_client's labels().
        self._children: dict[tuple[str, str, int, str], tuple[Counter, Histogram]] = {}

    def observe(
        self,
        model: ServiceModel | None,
        operation: str,
        status: int,
        error_code: str,
        seconds: float,
    ) -> None:
        service = model.service_name if model is not None else UNKNOWN
        if model is None or operation not in _operations(model):
            operation = UNKNOWN  # a request names it: only the model's names become labels
        key = (service, operation, status, error_code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                REQUESTS.labels(service, operation, f"{status // 100}xx", error_code),
                LATENCY.labels(service, operation),
            )
        children[0].inc()
        children[1].observe(seconds)


@functools.cache
def _operations(model: ServiceModel) -> frozenset[str]:
    return frozenset(model.operation_names)


def exposition(core: Core) -> bytes:
    """The text a scrape gets (it reads storage: call it off the event loop)."""
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry)
    registry.register(_ServerState(core))
    return generate_latest(registry)


class _ServerState:
    """The gauges, read at each scrape."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def collect(self) -> Iterator[Metric]:
        health = self._core.health()
        audit = health["audit"]
        yield _gauge("strongroom_sealed", "1 while the server is sealed.", health["sealed"])
        yield _gauge(
            "strongroom_storage_available",
            "1 while storage answers.",
            health["storage_available"],
        )
        yield _gauge(
            "strongroom_audit_writable",
            "1 while audit records can be stored (calls fail closed otherwise).",
            audit["writable"],
        )
        yield _gauge(
            "strongroom_audit_records_waiting",
            "Audit records waiting for the writer of the worker that answered.",
            audit["waiting"],
        )
        yield _gauge(
            "strongroom_audit_failing_seconds",
            "How long the audit store has been failing or stalled (0 when it is not).",
            audit.get("failing_for_seconds", 0),
        )
        if not health["storage_available"]:
            return
        try:
            backlogs = self._core.job_backlogs()
        except StorageUnavailable:
            return
        now = self._core.clock.time()
        waiting = GaugeMetricFamily(
            "strongroom_job_backlog",
            "Items a background job has to work: due, or waiting for a retry.",
            labels=["job"],
        )
        lag = GaugeMetricFamily(
            "strongroom_job_lag_seconds",
            "Age of the oldest item due and not done, per background job (0: none).",
            labels=["job"],
        )
        for backlog in backlogs:
            if backlog.waiting is not None:
                waiting.add_metric([backlog.job], backlog.waiting)
            oldest = backlog.oldest_due
            lag.add_metric([backlog.job], max(0.0, now - oldest) if oldest is not None else 0.0)
        yield waiting
        yield lag


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))
