"""CloudWatch metric alarms through a real `--dev` server on SQLite and PostgreSQL: the alarm
API (PutMetricAlarm, DescribeAlarms and its filters, DescribeAlarmsForMetric, history,
SetAlarmState, actions on and off, tags, DeleteAlarms) and CloudWatch's errors for bad input;
then the real evaluator, driven by the dev clock: M out of N, each TreatMissingData mode,
percentiles and their low-sample rule, and notifications to SNS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS
from tests.integration.test_rotation_scheduling import advance_clock
from tests.integration.test_sns import confirmed_http_subscription
from tests.support.notifications import Endpoint
from tests.support.server import REGION, Server, dev_server_for

ACCOUNT = "123456789012"
BREACHING, CALM = 15.0, 5.0  # against a threshold of 10


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[Server]:
    """A dev server of this module's own: its clock is moved on."""
    with dev_server_for(request, tmp_path_factory.mktemp("alarms") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def cloudwatch(server):
    return server.client("cloudwatch")


def unique(prefix: str = "alarm") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def alarm_of(cloudwatch: Any, name: str) -> dict[str, Any]:
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm


def put_alarm(cloudwatch: Any, name: str, metric: str, **settings: Any) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="Strongroom/Alarms",
        MetricName=metric,
        Period=settings.pop("Period", 60),
        ComparisonOperator="GreaterThanThreshold",
        Threshold=10.0,
        **({"Statistic": "Maximum"} if "ExtendedStatistic" not in settings else {}),
        **settings,
    )


def put_values(cloudwatch: Any, metric: str, minute: float, *values: float) -> None:
    cloudwatch.put_metric_data(
        Namespace="Strongroom/Alarms",
        MetricData=[
            {
                "MetricName": metric,
                "Timestamp": datetime.fromtimestamp(minute + 5, UTC),
                "Values": list(values),
            }
        ],
    )


def current_minute(server: Server) -> float:
    """The start of the dev server's current minute (epoch seconds)."""
    return advance_clock(server, 0).timestamp() // 60 * 60


def evaluate_at(server: Server, moment: float) -> None:
    """Move the dev clock to just after `moment` (a minute start), where alarms evaluate."""
    now = advance_clock(server, 0).timestamp()
    advance_clock(server, moment + 1 - now)


def wait_for_state(cloudwatch: Any, name: str, state: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        alarm = alarm_of(cloudwatch, name)
        if alarm["StateValue"] == state:
            return alarm
        assert time.monotonic() < deadline, (alarm["StateValue"], alarm["StateReason"])
        time.sleep(0.2)


def settle() -> None:
    """Long enough for the evaluator (a job of every one-second tick) to have run."""
    time.sleep(3)


# The API


def test_alarms_are_created_described_updated_tagged_and_deleted(cloudwatch):
    name, metric = unique(), unique("metric")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('topic')}"
    put_alarm(
        cloudwatch,
        name,
        metric,
        AlarmDescription="reads",
        AlarmActions=[topic],
        Dimensions=[{"Name": "Secret", "Value": "alphavox"}],
        Tags=[{"Key": "team", "Value": "security"}],
    )
    alarm = alarm_of(cloudwatch, name)
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["EvaluationPeriods"] == 1  # the documented default
    assert alarm["ActionsEnabled"] is True
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == []
    assert alarm["Dimensions"] == [{"Name": "Secret", "Value": "alphavox"}]

    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="by hand")
    put_alarm(cloudwatch, name, metric, AlarmDescription="changed", EvaluationPeriods=3)
    updated = alarm_of(cloudwatch, name)
    assert updated["AlarmDescription"] == "changed" and updated["EvaluationPeriods"] == 3
    assert updated["StateValue"] == "ALARM"  # an update leaves the state alone
    assert updated["AlarmActions"] == []

    by_metric = cloudwatch.describe_alarms_for_metric(
        Namespace="Strongroom/Alarms", MetricName=metric
    )["MetricAlarms"]
    assert [a["AlarmName"] for a in by_metric] == [name]
    by_state = cloudwatch.describe_alarms(AlarmNamePrefix=name, StateValue="OK")
    assert by_state["MetricAlarms"] == []

    arn = updated["AlarmArn"]
    assert cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "security"}
    ]
    cloudwatch.tag_resource(ResourceARN=arn, Tags=[{"Key": "tier", "Value": "1"}])
    cloudwatch.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "tier", "Value": "1"}
    ]

    cloudwatch.disable_alarm_actions(AlarmNames=[name])
    assert alarm_of(cloudwatch, name)["ActionsEnabled"] is False
    cloudwatch.enable_alarm_actions(AlarmNames=[name])
    assert alarm_of(cloudwatch, name)["ActionsEnabled"] is True

    history = cloudwatch.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")
    items = [(i["HistoryItemType"], i["HistorySummary"]) for i in history["AlarmHistoryItems"]]
    assert items == [
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
    ]
    state_data = json.loads(history["AlarmHistoryItems"][1]["HistoryData"])
    assert state_data["newState"] == {"stateValue": "ALARM", "stateReason": "by hand"}

    code, status = error_of(lambda: cloudwatch.delete_alarms(AlarmNames=[name, unique()]))
    assert (code, status) == ("ResourceNotFound", 404)
    assert alarm_of(cloudwatch, name)  # nothing was deleted
    cloudwatch.delete_alarms(AlarmNames=[name])
    assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_describe_alarms_pages_in_name_order(cloudwatch):
    prefix = unique("paged")
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    for name in reversed(names):
        put_alarm(cloudwatch, name, unique("metric"))
    seen, token = [], None
    while True:
        page = cloudwatch.describe_alarms(
            AlarmNamePrefix=prefix, MaxRecords=3, **({"NextToken": token} if token else {})
        )
        seen += [a["AlarmName"] for a in page["MetricAlarms"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == names
    composite = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, AlarmTypes=["CompositeAlarm"])
    assert composite["MetricAlarms"] == [] and composite["CompositeAlarms"] == []
    code, _ = error_of(lambda: cloudwatch.describe_alarms(NextToken="%%%"))
    assert code == "InvalidNextToken"


def _math_alarm(expression: str, returned: bool = True) -> dict[str, Any]:
    """PutMetricAlarm members for an alarm on `expression` over one metric, m1."""
    stat = {"Metric": {"Namespace": "Strongroom/Alarms", "MetricName": "m"}, "Period": 60}
    return {
        "Namespace": None,
        "MetricName": None,
        "Period": None,
        "Statistic": None,
        "Metrics": [
            {"Id": "m1", "MetricStat": stat | {"Stat": "Sum"}, "ReturnData": False},
            {"Id": "e1", "Expression": expression, "ReturnData": returned},
        ],
    }


BAD_ALARMS = [
    ({"Period": 45}, "ValidationError"),
    ({"ExtendedStatistic": "p99", "Statistic": "Sum"}, "InvalidParameterCombination"),
    ({"ExtendedStatistic": "p1000"}, "InvalidParameterValue"),
    ({"EvaluationPeriods": 2, "DatapointsToAlarm": 3}, "ValidationError"),
    ({"EvaluationPeriods": 25, "Period": 3600}, "ValidationError"),
    ({"TreatMissingData": "sometimes"}, "ValidationError"),
    ({"EvaluateLowSampleCountPercentile": "ignore"}, "ValidationError"),
    ({"AlarmActions": ["arn:aws:automate:us-east-1:ec2:stop"]}, "ValidationError"),
    ({"AlarmActions": [f"arn:aws:sns:eu-west-1:{ACCOUNT}:elsewhere"]}, "ValidationError"),
    ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "InvalidParameterValue"),
    ({"Threshold": None}, "MissingParameter"),
    ({"MetricName": None}, "MissingParameter"),
    ({"Tags": [{"Key": "aws:reserved", "Value": "x"}]}, "InvalidParameterValue"),
    (
        {"Metrics": [{"Id": "m1", "Expression": "1", "ReturnData": False}]},
        "InvalidParameterCombination",
    ),
    (_math_alarm("METRICS()"), "ValidationError"),  # an array of series, not one
    (_math_alarm("m1 +"), "ValidationError"),
    (_math_alarm("m1 * 2", returned=False), "ValidationError"),  # nothing to compare
]


@pytest.mark.parametrize(("change", "code"), BAD_ALARMS)
def test_bad_alarms_get_cloudwatchs_errors_and_change_nothing(cloudwatch, change, code):
    name = unique("bad")
    settings: dict[str, Any] = {
        "AlarmName": name,
        "Namespace": "Strongroom/Alarms",
        "MetricName": "m",
        "Period": 60,
        "Statistic": "Sum",
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0,
    }
    settings.update(change)
    if "ExtendedStatistic" in change and "Statistic" not in change:
        del settings["Statistic"]
    settings = {k: v for k, v in settings.items() if v is not None}
    got, status = error_of(lambda: cloudwatch.put_metric_alarm(**settings))
    assert (got, status) == (code, 400)
    assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_set_alarm_state_checks_its_input(cloudwatch):
    name = unique()
    put_alarm(cloudwatch, name, unique("metric"))
    code, status = error_of(
        lambda: cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{not json"
        )
    )
    assert (code, status) == ("InvalidFormat", 400)
    code, status = error_of(
        lambda: cloudwatch.set_alarm_state(AlarmName=unique(), StateValue="OK", StateReason="x")
    )
    assert (code, status) == ("ResourceNotFound", 404)
    assert alarm_of(cloudwatch, name)["StateValue"] == "INSUFFICIENT_DATA"


# The evaluator


def test_m_out_of_n_goes_to_alarm_and_back(server, cloudwatch):
    name, metric = unique("m-of-n"), unique("metric")
    put_alarm(cloudwatch, name, metric, EvaluationPeriods=3, DatapointsToAlarm=2)
    base = current_minute(server)
    put_values(cloudwatch, metric, base - 180, BREACHING)
    put_values(cloudwatch, metric, base - 120, CALM)
    put_values(cloudwatch, metric, base - 60, BREACHING)
    evaluate_at(server, base + 60)
    alarm = wait_for_state(cloudwatch, name, "ALARM")
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints")
    reason = json.loads(alarm["StateReasonData"])
    assert reason["recentDatapoints"] == [BREACHING, CALM, BREACHING]
    assert reason["threshold"] == 10.0 and reason["period"] == 60

    put_values(cloudwatch, metric, base, CALM)
    put_values(cloudwatch, metric, base + 60, CALM)
    evaluate_at(server, base + 120)
    wait_for_state(cloudwatch, name, "OK")


def test_each_way_of_treating_missing_data(server, cloudwatch):
    metric = unique("silent")  # a metric that never reports
    names = {mode: unique(mode) for mode in ("breaching", "notBreaching", "missing", "ignore")}
    for mode, name in names.items():
        put_alarm(cloudwatch, name, metric, EvaluationPeriods=2, TreatMissingData=mode)
    evaluate_at(server, current_minute(server) + 60)
    wait_for_state(cloudwatch, names["breaching"], "ALARM")
    wait_for_state(cloudwatch, names["notBreaching"], "OK")
    wait_for_state(cloudwatch, names["missing"], "INSUFFICIENT_DATA")
    for mode in ("missing", "ignore"):
        cloudwatch.set_alarm_state(AlarmName=names[mode], StateValue="OK", StateReason="test")
    evaluate_at(server, current_minute(server) + 60)
    missing = wait_for_state(cloudwatch, names["missing"], "INSUFFICIENT_DATA")
    assert missing["StateReason"] == "Insufficient Data: 2 datapoints were unknown."
    settle()
    assert alarm_of(cloudwatch, names["ignore"])["StateValue"] == "OK"  # ignore: kept


def test_percentile_alarms_and_their_low_sample_rule(server, cloudwatch):
    metric = unique("latency")
    evaluated, ignoring = unique("p90"), unique("p90-ignore")
    put_alarm(cloudwatch, evaluated, metric, ExtendedStatistic="p90")
    put_alarm(
        cloudwatch,
        ignoring,
        metric,
        ExtendedStatistic="p90",
        EvaluateLowSampleCountPercentile="ignore",
    )
    base = current_minute(server)
    # 20 values, 18 of them calm: p90 is calm though the maximum breaches.
    put_values(cloudwatch, metric, base - 60, *([CALM] * 18 + [BREACHING] * 2))
    evaluate_at(server, base + 60)
    wait_for_state(cloudwatch, evaluated, "OK")
    settle()
    # p90 wants 100 samples before it counts for an alarm that ignores low samples.
    assert alarm_of(cloudwatch, ignoring)["StateValue"] == "INSUFFICIENT_DATA"

    put_values(cloudwatch, metric, base, *([BREACHING] * 100))
    evaluate_at(server, base + 120)
    wait_for_state(cloudwatch, evaluated, "ALARM")
    wait_for_state(cloudwatch, ignoring, "ALARM")


def test_a_state_change_notifies_the_alarms_topic(server, cloudwatch):
    sns = server.client("sns")
    endpoint = Endpoint().start()
    try:
        topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
        confirmed_http_subscription(sns, endpoint, topic)
        name, metric = unique("notify"), unique("metric")
        put_alarm(cloudwatch, name, metric, AlarmActions=[topic], OKActions=[topic])
        base = current_minute(server)
        put_values(cloudwatch, metric, base - 60, BREACHING)
        evaluate_at(server, base + 60)
        wait_for_state(cloudwatch, name, "ALARM")
        _, body = endpoint.next(timeout=30)
        envelope = json.loads(body)
        assert envelope["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
        message = json.loads(envelope["Message"])
        assert message["AlarmName"] == name and message["NewStateValue"] == "ALARM"
        assert message["OldStateValue"] == "INSUFFICIENT_DATA"
        assert message["AWSAccountId"] == ACCOUNT and message["Region"] == "US East (N. Virginia)"
        assert message["Trigger"]["MetricName"] == metric
        assert message["Trigger"]["Statistic"] == "MAXIMUM"
        assert message["Trigger"]["Threshold"] == 10.0

        deadline = time.monotonic() + 15
        while True:
            actions = cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="Action")
            if actions["AlarmHistoryItems"]:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        (action,) = actions["AlarmHistoryItems"]
        assert action["HistorySummary"] == f"Successfully executed action {topic}"

        # With actions disabled, a transition notifies nobody.
        cloudwatch.disable_alarm_actions(AlarmNames=[name])
        put_values(cloudwatch, metric, base, CALM)
        evaluate_at(server, base + 120)
        wait_for_state(cloudwatch, name, "OK")
        settle()
        assert endpoint.received.empty()
    finally:
        endpoint.stop()


def test_an_alarm_on_a_metric_math_expression(server, cloudwatch):
    errors, calls = unique("errors"), unique("calls")
    name = unique("error-rate")

    def stat(metric: str) -> dict[str, Any]:
        return {
            "Metric": {"Namespace": "Strongroom/Alarms", "MetricName": metric},
            "Period": 60,
            "Stat": "Sum",
        }

    cloudwatch.put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="GreaterThanThreshold",
        Threshold=10.0,
        EvaluationPeriods=1,
        Metrics=[
            {"Id": "e", "MetricStat": stat(errors), "ReturnData": False},
            {"Id": "c", "MetricStat": stat(calls), "ReturnData": False},
            {"Id": "rate", "Expression": "100 * e / c", "Label": "Error %", "ReturnData": True},
        ],
    )
    described = alarm_of(cloudwatch, name)
    assert [q["Id"] for q in described["Metrics"]] == ["e", "c", "rate"]
    assert "MetricName" not in described and "Dimensions" not in described
    base = current_minute(server)
    put_values(cloudwatch, calls, base - 60, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    put_values(cloudwatch, errors, base - 60, 2.0)  # 20 %
    evaluate_at(server, base + 60)
    alarm = wait_for_state(cloudwatch, name, "ALARM")
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [20.0]
