"""CloudWatch's aggregates: percentiles from the sketch are within 1 % of a value of the data
at that rank, statistics are exact, sketches merge as their data would; and `put_datum`, the
in-process way other services emit a datapoint, stores what GetMetricStatistics reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.auth.principal import Principal
from strongroom.clock import Clock
from strongroom.services.cloudwatch.model import RELATIVE_ACCURACY, Aggregate, stored
from strongroom.services.cloudwatch.service import CloudWatch
from strongroom.services.context import RequestContext
from strongroom.storage.cloudwatch import CloudWatchRepository
from strongroom.storage.cloudwatch_alarms import AlarmRepository
from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url

VALUES = st.lists(st.floats(min_value=1e-6, max_value=1e9) | st.just(0.0), min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(VALUES, st.floats(min_value=0.1, max_value=99.9))
def test_percentiles_are_within_the_sketchs_accuracy(values, rank):
    aggregate = Aggregate()
    aggregate.add_values((v, 1.0) for v in values)
    ordered = sorted(values)
    estimate = aggregate.percentile(rank)
    assert estimate is not None
    # The value at the rank (nearest-rank definition), within the relative accuracy.
    true = ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]
    assert abs(estimate - true) <= RELATIVE_ACCURACY * true + 1e-12
    assert aggregate.sample_count == len(values)
    assert aggregate.total == sum(values)
    assert (aggregate.minimum, aggregate.maximum) == (ordered[0], ordered[-1])


@given(VALUES, VALUES)
def test_stored_sketches_merge_as_their_data(first, second):
    whole, parts = Aggregate(), Aggregate()
    whole.add_values((v, 1.0) for v in first + second)
    for values in (first, second):
        part = Aggregate()
        part.add_values((v, 1.0) for v in values)
        parts.merge(
            stored(part.sample_count, part.total, part.minimum, part.maximum, part.sketch_text())
        )
    assert parts.sketch == whole.sketch
    assert parts.percentile(50) == whole.percentile(50)


def test_negative_values_and_statistic_sets_have_no_percentiles():
    negative = Aggregate()
    negative.add_values([(-1.0, 1.0), (2.0, 1.0)])
    assert negative.percentile(50) is None
    assert negative.statistic("Average") == 0.5
    summary = Aggregate()
    summary.add_statistics(4, 10, 1, 4)
    assert summary.percentile(50) is None
    assert stored(4, 10, 1, 4, summary.sketch_text()).percentile(50) is None
    same = Aggregate()
    same.add_statistics(3, 6, 2, 2)  # three values of 2: known
    assert (same.percentile(99), same.total) == (2.0, 6.0)


def test_put_datum_is_read_by_get_metric_statistics(tmp_path):
    engine = create_storage_engine(sqlite_url(tmp_path / "db.sqlite"))
    migrate(engine)
    clock = Clock()
    cloudwatch = CloudWatch(CloudWatchRepository(engine), AlarmRepository(engine), clock)
    moment = clock.time()
    for value in (1.0, 3.0):
        cloudwatch.put_datum(
            "111122223333", "us-east-1", "AWS/Logs", "Matches", {"Group": "g"}, value, "Count"
        )
    ctx = RequestContext(
        "r", Principal("111122223333", "admin", "AIDA", "AKIA"), "us-east-1", "127.0.0.1", ""
    )
    start = datetime.fromtimestamp(moment, UTC) - timedelta(minutes=1)
    result = cloudwatch.get_metric_statistics(
        ctx,
        Namespace="AWS/Logs",
        MetricName="Matches",
        Dimensions=[{"Name": "Group", "Value": "g"}],
        StartTime=start,
        EndTime=start + timedelta(minutes=3),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )
    assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in result["Datapoints"]] in (
        [(4.0, 2.0, "Count")],
        [(1.0, 1.0, "Count"), (3.0, 1.0, "Count")],
    )
    other = RequestContext(
        "r", Principal("444455556666", "admin", "AIDA", "AKIA"), "us-east-1", "127.0.0.1", ""
    )
    assert cloudwatch.list_metrics(other)["Metrics"] == []
    assert cloudwatch.list_metrics(ctx)["Metrics"] == [
        {
            "Namespace": "AWS/Logs",
            "MetricName": "Matches",
            "Dimensions": [{"Name": "Group", "Value": "g"}],
        }
    ]
