"""`CloudWatch.series`, the in-process evaluation the alarm evaluator calls, on real SQLite
storage: the points GetMetricData answers, for every Id (ReturnData or not), oldest first, and
GetMetricData's errors; `check_queries` refuses what GetMetricData refuses, before reading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from strongroom.auth.principal import Principal
from strongroom.clock import Clock
from strongroom.protocol.errors import AwsError
from strongroom.services.cloudwatch.service import CloudWatch
from strongroom.services.context import RequestContext
from strongroom.storage.cloudwatch import CloudWatchRepository
from strongroom.storage.cloudwatch_alarms import AlarmRepository
from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url

ACCOUNT, REGION = "111122223333", "us-east-1"


@pytest.fixture
def cloudwatch(tmp_path) -> CloudWatch:
    engine = create_storage_engine(sqlite_url(tmp_path / "db.sqlite"))
    migrate(engine)
    return CloudWatch(CloudWatchRepository(engine), AlarmRepository(engine), Clock())


def queries() -> list[dict]:
    stat = {"Metric": {"Namespace": "App", "MetricName": "Requests"}, "Period": 60, "Stat": "Sum"}
    return [
        {"Id": "e1", "Expression": "FILL(m1, 0) * 2"},
        {"Id": "m1", "MetricStat": stat, "ReturnData": False},
        {"Id": "e2", "Expression": "METRICS()"},
    ]


def test_series_are_what_get_metric_data_answers(cloudwatch):
    start = (Clock().time() // 60 - 20) * 60
    for minute, value in ((0, 1.0), (2, 3.0)):
        cloudwatch.put_datum(
            ACCOUNT, REGION, "App", "Requests", {}, value, "Count", start + 60 * minute
        )
    series = cloudwatch.series(ACCOUNT, REGION, queries(), start, start + 240)
    assert series == {
        "m1": [(int(start), 1.0), (int(start) + 120, 3.0)],
        "e1": [(int(start) + 60 * m, v) for m, v in enumerate([2.0, 0.0, 6.0, 0.0])],
    }  # e2, an array of series, has none
    ctx = RequestContext("r", Principal(ACCOUNT, "admin", "AIDA", "AKIA"), REGION, "127.0.0.1", "")
    answer = cloudwatch.get_metric_data(
        ctx,
        MetricDataQueries=queries(),
        StartTime=datetime.fromtimestamp(start, UTC),
        EndTime=datetime.fromtimestamp(start + 240, UTC),
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in answer] == [
        ("e1", [v for _, v in series["e1"]]),
        ("e2", [v for _, v in series["m1"]]),
    ]
    assert cloudwatch.series("444455556666", REGION, queries(), start, start + 240)["m1"] == []


def test_series_and_check_queries_raise_get_metric_datas_errors(cloudwatch):
    faulty = [*queries(), {"Id": "e3", "Expression": "e3 + 1"}]
    for call in (
        lambda: cloudwatch.check_queries(faulty),
        lambda: cloudwatch.series(ACCOUNT, REGION, faulty, 0, 60),
    ):
        with pytest.raises(AwsError) as info:
            call()
        assert (info.value.code, info.value.message) == (
            "ValidationError",
            "Error in expression e3: Circular reference: e3 -> e3.",
        )
    with pytest.raises(AwsError, match="StartTime must be less than the parameter EndTime"):
        cloudwatch.series(ACCOUNT, REGION, queries(), 60, 60)
    cloudwatch.check_queries(queries())
