"""Datapoint retention on real SQLite storage: high-resolution data goes after 3 hours,
one-minute data is rolled up into hours after 15 days (statistics and percentiles kept, still
read by queries with one-minute periods), hourly data and idle metrics go after 455 days."""

from __future__ import annotations

import pytest

from strongroom.clock import Clock
from strongroom.services.cloudwatch.model import Aggregate
from strongroom.services.cloudwatch.retention import DatapointRetention
from strongroom.storage.cloudwatch import CloudWatchRepository, Contribution, MetricId
from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url

ACCOUNT, REGION = "111122223333", "us-east-1"
DAY = 86400
METRIC = MetricId("App", "Latency", "[]")


@pytest.fixture
def repository(tmp_path) -> CloudWatchRepository:
    engine = create_storage_engine(sqlite_url(tmp_path / "db.sqlite"))
    migrate(engine)
    return CloudWatchRepository(engine)


def put(repository: CloudWatchRepository, resolution: int, start: int, *values: float) -> None:
    aggregate = Aggregate()
    aggregate.add_values([(v, 1.0) for v in values])
    contribution = Contribution(METRIC, "Milliseconds", resolution, start, aggregate)
    repository.put(ACCOUNT, REGION, [contribution], Clock().time())


def read(repository: CloudWatchRepository, resolution: int, start: float, end: float) -> list:
    row = repository.find(ACCOUNT, REGION, METRIC)
    assert row is not None
    return sorted(repository.datapoints(row, resolution, int(start), int(end), None))


def test_old_data_is_rolled_up_and_expired(repository):
    now = Clock().time()
    hour = int((now - 20 * DAY) // 3600 * 3600)
    for minute in range(60):  # a whole hour of minutes, 20 days ago
        put(repository, 60, hour + minute * 60, float(minute + 1))
    recent = int(now // 60 * 60 - DAY)
    put(repository, 60, recent, 7.0)
    put(repository, 1, int(now - 4 * 3600), 9.0)  # high resolution, 4 hours old
    put(repository, 3600, int(now - 500 * DAY) // 3600 * 3600, 3.0)

    DatapointRetention(repository, Clock()).expire()

    (rolled,) = read(repository, 60, hour, hour + 3600)
    moment, unit, aggregate = rolled
    assert (moment, unit) == (hour, "Milliseconds")
    assert aggregate.sample_count == 60 and aggregate.total == sum(range(1, 61))
    assert (aggregate.minimum, aggregate.maximum) == (1.0, 60.0)
    assert aggregate.percentile(50) == pytest.approx(30.0, rel=0.02)  # the sketch survives
    assert [p[0] for p in read(repository, 60, recent, recent + 60)] == [recent]
    assert read(repository, 1, now - 5 * 3600, now) == []
    assert read(repository, 60, now - 600 * DAY, now - 400 * DAY) == []


def test_a_metric_idle_for_455_days_goes(repository):
    put(repository, 60, int(Clock().time() // 60 * 60), 1.0)
    DatapointRetention(repository, Clock(offset_seconds=456 * DAY)).expire()
    assert repository.find(ACCOUNT, REGION, METRIC) is None
