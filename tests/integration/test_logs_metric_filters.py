"""Metric filters turning log events into CloudWatch metrics, through real servers on SQLite
and PostgreSQL: events stored by PutLogEvents and logged by Lambda functions (constant values
per minute, JSON and space-delimited field values, dimensions, default values, no retroactive
counting, deleted and replaced filters, filters changed through another worker); and the audit
trail's log group, whose records a leader job matches: the source document's SecretAccess
filter counts exactly the account's GetSecretValue calls, never another account's, and no
secret value reaches a metric."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import BACKENDS
from tests.integration.test_lambda_api import new_function
from tests.integration.test_rotation_scheduling import advance_clock
from tests.support.accounts import Account, client, new_account, tls_server
from tests.support.functions import LAMBDA_TRUST, unique
from tests.support.kms import aws_error
from tests.support.server import Server
from tests.support.storage import storage

AUDIT_GROUP = "CloudTrail/AlphaVoxSecrets"
SECRET_ACCESS = {"metricName": "SecretAccess", "metricNamespace": "AlphaVox", "metricValue": "1"}
INVALID = "InvalidParameterException"
STATISTICS = ["Sum", "SampleCount", "Average", "Minimum", "Maximum"]
ACCESS_LOG = (
    '127.0.0.1 Prod {user} [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 200 {bytes}'
)


def namespace() -> str:
    return f"MetricFilters/{uuid.uuid4().hex[:10]}"


def next_minutes(count: int) -> list[int]:
    """The starts (epoch ms) of `count` whole minutes from the next one on: events there are
    newer than any filter made now."""
    first = (int(time.time()) // 60 + 1) * 60
    return [(first + 60 * i) * 1000 for i in range(count)]


def datapoints(
    cloudwatch: Any,
    namespace: str,
    name: str,
    minutes: list[int],
    dimensions: dict[str, str] | None = None,
) -> dict[int, dict[str, Any]]:
    """The metric's datapoints per minute (epoch ms of its start) over `minutes`."""
    reply = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": n, "Value": v} for n, v in (dimensions or {}).items()],
        StartTime=datetime.fromtimestamp(minutes[0] / 1000, UTC),
        EndTime=datetime.fromtimestamp(minutes[-1] / 1000 + 60, UTC),
        Period=60,
        Statistics=STATISTICS,
    )
    return {int(p["Timestamp"].timestamp() * 1000): p for p in reply["Datapoints"]}


def sums(points: dict[int, dict[str, Any]]) -> dict[int, tuple[float, float]]:
    return {minute: (p["Sum"], p["SampleCount"]) for minute, p in points.items()}


class Group:
    """A log group with one stream, and its metric filters."""

    def __init__(self, server: Server, name: str | None = None) -> None:
        self.logs = server.client("logs")
        self.name = name or f"/metric-filters/{uuid.uuid4().hex[:12]}"
        self.logs.create_log_group(logGroupName=self.name)
        self.logs.create_log_stream(logGroupName=self.name, logStreamName="s")

    def put_filter(self, pattern: str, name: str = "f", **transformation: Any) -> None:
        self.logs.put_metric_filter(
            logGroupName=self.name,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[transformation],
        )

    def put(self, *events: tuple[int, Any]) -> None:
        """Events (timestamp, message: text, or an object sent as JSON) in one batch."""
        reply = self.logs.put_log_events(
            logGroupName=self.name,
            logStreamName="s",
            logEvents=[
                {"timestamp": t, "message": m if isinstance(m, str) else json.dumps(m)}
                for t, m in events
            ],
        )
        assert "rejectedLogEventsInfo" not in reply


@pytest.fixture(scope="module")
def cloudwatch(dev_server):
    return dev_server.client("cloudwatch")


def test_a_constant_value_counts_the_matches_of_each_minute(dev_server, cloudwatch):
    group, ns = Group(dev_server), namespace()
    group.put_filter("ERROR", metricName="Errors", metricNamespace=ns, metricValue="1")
    first, second, third = next_minutes(3)
    group.put((first, "ERROR one"), (first + 1, "INFO"), (first + 2, "ERROR two"))
    group.put((first + 3, "ERROR three"), (second + 5, "ERROR four"), (third, "nothing"))
    points = datapoints(cloudwatch, ns, "Errors", [first, second, third])
    assert sums(points) == {first: (3.0, 3.0), second: (1.0, 1.0)}
    assert points[first]["Unit"] == "None"


def test_json_field_values(dev_server, cloudwatch):
    group, ns = Group(dev_server), namespace()
    group.put_filter(
        "{ $.latency = * }",
        metricName="Latency",
        metricNamespace=ns,
        metricValue="$.latency",
        unit="Milliseconds",
    )
    (minute,) = next_minutes(1)
    group.put(
        (minute, {"latency": 10}),
        (minute, {"latency": 30.5}),
        (minute, {"latency": "20"}),  # a string: no value
        (minute, {"latency": None}),
        (minute, {"other": 1}),
        (minute, "latency 99, not JSON"),
        (minute, {"latency": 20}),
    )
    (point,) = datapoints(cloudwatch, ns, "Latency", [minute]).values()
    assert (point["SampleCount"], point["Sum"]) == (3.0, 60.5)
    assert (point["Minimum"], point["Maximum"], point["Unit"]) == (10.0, 30.5, "Milliseconds")
    assert point["Average"] == pytest.approx(60.5 / 3)


def test_space_delimited_field_values(dev_server, cloudwatch):
    group, ns = Group(dev_server), namespace()
    pattern = "[ip, env, user, timestamp, request, status_code = 2*, bytes]"
    group.put_filter(pattern, metricName="Bytes", metricNamespace=ns, metricValue="$bytes")
    group.put_filter(
        pattern, "by-position", metricName="Bytes7", metricNamespace=ns, metricValue="$7"
    )
    (minute,) = next_minutes(1)
    group.put(
        (minute, ACCESS_LOG.format(user="frank", bytes=1534)),
        (minute, ACCESS_LOG.format(user="mary", bytes=100)),
        (minute, ACCESS_LOG.format(user="joe", bytes="-")),  # not a number: no value
        (minute, ACCESS_LOG.format(user="ann", bytes=5).replace(" 200 ", " 404 ")),
    )
    for name in ("Bytes", "Bytes7"):
        assert sums(datapoints(cloudwatch, ns, name, [minute])) == {minute: (1634.0, 2.0)}


def test_dimensions_come_from_the_event_and_an_event_without_one_emits_nothing(
    dev_server, cloudwatch
):
    group, ns = Group(dev_server), namespace()
    group.put_filter(
        "{ $.eventName = GetSecretValue }",
        metricName="Reads",
        metricNamespace=ns,
        metricValue="1",
        dimensions={"SecretId": "$.requestParameters.secretId", "User": "$.user"},
    )
    group.put_filter(
        "[ip, env, user, ...]",
        "spaced",
        metricName="Lines",
        metricNamespace=ns,
        metricValue="1",
        dimensions={"User": "$user"},
    )
    (minute,) = next_minutes(1)

    def read(secret: str | None, user: str = "dev") -> dict[str, Any]:
        event: dict[str, Any] = {"eventName": "GetSecretValue", "user": user}
        if secret is not None:
            event["requestParameters"] = {"secretId": secret}
        return event

    group.put(
        (minute, read("alphavox/db")),
        (minute, read("alphavox/db")),
        (minute, read("alphavox/jwt")),
        (minute, read(None)),  # no secretId: nothing
        (minute, {"eventName": "GetSecretValue", "requestParameters": {"secretId": "x"}}),
        (minute, ACCESS_LOG.format(user="frank", bytes=1)),
        (minute, ACCESS_LOG.format(user="frank", bytes=2)),
    )

    def reads(**dimensions: str) -> dict[int, tuple[float, float]]:
        return sums(datapoints(cloudwatch, ns, "Reads", [minute], dimensions))

    assert reads(SecretId="alphavox/db", User="dev") == {minute: (2.0, 2.0)}
    assert reads(SecretId="alphavox/jwt", User="dev") == {minute: (1.0, 1.0)}
    assert reads() == {}
    assert sums(datapoints(cloudwatch, ns, "Lines", [minute], {"User": "frank"})) == {
        minute: (2.0, 2.0)
    }
    listed = cloudwatch.list_metrics(Namespace=ns, MetricName="Reads")["Metrics"]
    assert sorted(
        tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed
    ) == [
        (("SecretId", "alphavox/db"), ("User", "dev")),
        (("SecretId", "alphavox/jwt"), ("User", "dev")),
    ]


def test_events_from_before_a_filter_are_never_counted(dev_server, cloudwatch):
    group, ns = Group(dev_server), namespace()
    first, second = next_minutes(2)
    group.put((first, "ERROR ingested before the filter"))
    now = int(time.time() * 1000)
    group.put_filter("ERROR", metricName="Errors", metricNamespace=ns, metricValue="1")
    group.put((now - 60_000, "ERROR stamped before the filter"), (first + 1, "ERROR counted"))
    group.put((second, "ERROR counted"))
    assert sums(datapoints(cloudwatch, ns, "Errors", [first, second])) == {
        first: (1.0, 1.0),
        second: (1.0, 1.0),
    }


def test_a_deleted_filter_stops_and_a_replaced_one_changes_at_once(dev_server, cloudwatch):
    group, ns = Group(dev_server), namespace()
    group.put_filter("ERROR", metricName="Errors", metricNamespace=ns, metricValue="1")
    first, second = next_minutes(2)
    group.put((first, "ERROR a"), (first, "ERROR b"))
    group.put_filter("ERROR", metricName="Errors", metricNamespace=ns, metricValue="5")
    group.put((first, "ERROR c"))
    group.logs.delete_metric_filter(logGroupName=group.name, filterName="f")
    group.put((first, "ERROR d"), (second, "ERROR e"))
    assert sums(datapoints(cloudwatch, ns, "Errors", [first, second])) == {first: (7.0, 3.0)}


def test_what_a_lambda_function_logs_is_counted(dev_server, cloudwatch):
    lam, ns = dev_server.client("lambda"), namespace()
    role = dev_server.client("iam").create_role(
        RoleName=unique("metric-filter-role"), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    source = 'def handler(event, context):\n    print("ERROR payment", event["n"])\n'
    name = new_function(lam, role, source)["FunctionName"]
    group = f"/aws/lambda/{name}"
    logs = dev_server.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="[level = ERROR, what, n]",
        metricTransformations=[{"metricName": "N", "metricNamespace": ns, "metricValue": "$n"}],
    )
    start = int(time.time()) // 60 * 60 * 1000
    for n in (3, 4):
        assert lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))["StatusCode"] == 200
    points = datapoints(cloudwatch, ns, "N", [start, start + 60_000, start + 120_000])
    assert sum(p["Sum"] for p in points.values()) == 7.0
    assert sum(p["SampleCount"] for p in points.values()) == 2.0


def test_put_metric_filter_refusals_about_dimensions(dev_server):
    group = Group(dev_server)
    json_pattern = "{ $.eventName = GetSecretValue }"
    dimensions = {"SecretId": "$.requestParameters.secretId"}
    cases = [
        (
            json_pattern,
            {"defaultValue": 0.0, "dimensions": dimensions},
            "Invalid metric transformation: dimensions and default value are mutually "
            "exclusive properties",
        ),
        (
            "ERROR",
            {"dimensions": dimensions},
            "The specified filter pattern does not support dimensions",
        ),
        (
            json_pattern,
            {"dimensions": {"Env": "production"}},
            "Invalid metric transformation: dimension value must be valid selector",
        ),
    ]
    for pattern, extra, message in cases:
        with aws_error(INVALID, message=message):
            group.put_filter(
                pattern, metricName="M", metricNamespace="NS", metricValue="1", **extra
            )
    assert group.logs.describe_metric_filters(logGroupName=group.name)["metricFilters"] == []


# Default values: a dev server of each backend's own, whose clock the test moves on.


def test_default_value_once_for_each_minute_with_events_but_no_match(own_dev_server):
    group, ns = Group(own_dev_server), namespace()
    cloudwatch = own_dev_server.client("cloudwatch")
    group.put_filter(
        "{ $.status = 500 }",
        metricName="Failures",
        metricNamespace=ns,
        metricValue="1",
        defaultValue=0.0,
        unit="Count",
    )
    ok, failed = {"status": 200}, {"status": 500}
    quiet, mixed, _empty, failing = minutes = next_minutes(4)
    group.put((quiet, ok))
    group.put((quiet + 1, ok), (mixed, ok))  # two batches for the quiet minute
    group.put((mixed + 1, failed), (failing, failed))
    advance_clock(own_dev_server, 5 * 60 + 30)  # every minute above is over
    deadline = time.monotonic() + 20
    while quiet not in (points := datapoints(cloudwatch, ns, "Failures", minutes)):
        assert time.monotonic() < deadline, "no default value was reported"
        time.sleep(0.25)
    time.sleep(2.5)  # later runs of the job change nothing
    points = datapoints(cloudwatch, ns, "Failures", minutes)
    assert sums(points) == {quiet: (0.0, 1.0), mixed: (1.0, 1.0), failing: (1.0, 1.0)}
    assert {p["Unit"] for p in points.values()} == {"Count"}


# Several workers: a filter put or deleted through one worker applies to the other's next batch.


@pytest.mark.parametrize("backend", BACKENDS)
def test_filters_changed_through_one_worker_apply_on_the_other_at_once(make_server, backend):
    server = make_server(backend, "--workers", "2")
    group, ns = Group(server), namespace()
    (minute,) = next_minutes(1)

    def put_fresh(count: int) -> None:
        # A new client opens a new connection, which the kernel gives to either worker.
        for i in range(count):
            server.client("logs").put_log_events(
                logGroupName=group.name,
                logStreamName="s",
                logEvents=[{"timestamp": minute + i, "message": "ERROR"}],
            )

    put_fresh(4)
    server.client("logs").put_metric_filter(
        logGroupName=group.name,
        filterName="f",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "E", "metricNamespace": ns, "metricValue": "1"}],
    )
    put_fresh(12)
    server.client("logs").delete_metric_filter(logGroupName=group.name, filterName="f")
    put_fresh(12)
    cloudwatch = server.client("cloudwatch")
    assert sums(datapoints(cloudwatch, ns, "E", [minute])) == {minute: (12.0, 12.0)}


# The audit trail's log group: each account's GetSecretValue calls, counted by the leader's job.


@pytest.fixture(scope="module", params=BACKENDS)
def audited(request, tmp_path_factory) -> Iterator[Server]:
    with tls_server(request.param, tmp_path_factory.mktemp("audit-metrics"), request) as server:
        yield server


def secret_access_sum(server: Server, account: Account, since: int) -> float:
    reply = client(server, "cloudwatch", account).get_metric_statistics(
        Namespace="AlphaVox",
        MetricName="SecretAccess",
        StartTime=datetime.fromtimestamp(since - 60, UTC),
        EndTime=datetime.fromtimestamp(time.time() + 120, UTC),
        Period=3600,
        Statistics=["Sum"],
    )
    return float(sum(p["Sum"] for p in reply["Datapoints"]))


def wait_for_sum(server: Server, account: Account, since: int, expected: float) -> None:
    """Polls until the account's SecretAccess sum is `expected` (the job runs every tick),
    then makes sure later ticks add nothing."""
    deadline = time.monotonic() + 30
    while (found := secret_access_sum(server, account, since)) < expected:
        assert time.monotonic() < deadline, f"SecretAccess is {found}, not {expected}"
        time.sleep(0.25)
    time.sleep(2.5)
    assert secret_access_sum(server, account, since) == expected


def put_secret_access_filter(server: Server, account: Account) -> None:
    client(server, "logs", account).put_metric_filter(
        logGroupName=AUDIT_GROUP,
        filterName="SecretAccess",
        filterPattern="{ $.eventName = GetSecretValue }",
        metricTransformations=[SECRET_ACCESS],
    )


def test_the_source_documents_filter_counts_each_accounts_secret_reads(audited):
    since = int(time.time())
    a, b, c = new_account(audited), new_account(audited), new_account(audited)
    for account in (a, b):
        put_secret_access_filter(audited, account)
    reads = {a: 7, b: 3, c: 5}  # c has no filter
    for account, count in reads.items():
        secrets = client(audited, "secretsmanager", account)
        name = f"alphavox/{uuid.uuid4().hex[:8]}"
        secrets.create_secret(Name=name, SecretString='{"password": "p"}')
        for _ in range(count - 1):
            secrets.get_secret_value(SecretId=name)
        with pytest.raises(secrets.exceptions.ResourceNotFoundException):
            secrets.get_secret_value(SecretId="alphavox/missing")  # a refused read is a read
        secrets.describe_secret(SecretId=name)
        secrets.list_secrets()
        secrets.put_secret_value(SecretId=name, SecretString='{"password": "q"}')
    wait_for_sum(audited, a, since, 7.0)
    wait_for_sum(audited, b, since, 3.0)
    assert secret_access_sum(audited, c, since) == 0.0
    names = client(audited, "cloudwatch", c).list_metrics(Namespace="AlphaVox")["Metrics"]
    assert names == []


def test_audit_records_give_dimensions_and_never_a_secret_value(audited):
    since = int(time.time())
    account = new_account(audited)
    logs = client(audited, "logs", account)
    logs.put_metric_filter(
        logGroupName=AUDIT_GROUP,
        filterName="ReadsPerSecret",
        filterPattern="{ $.eventName = GetSecretValue && $.errorCode NOT EXISTS }",
        metricTransformations=[
            {
                "metricName": "ReadsPerSecret",
                "metricNamespace": "AlphaVox",
                "metricValue": "1",
                "dimensions": {"SecretId": "$.requestParameters.secretId"},
            }
        ],
    )
    secrets = client(audited, "secretsmanager", account)
    value = f"value-{uuid.uuid4().hex}"
    arn = secrets.create_secret(Name="alphavox/admin-credentials", SecretString=value)["ARN"]
    for secret_id in ("alphavox/admin-credentials", arn, "alphavox/admin-credentials"):
        assert secrets.get_secret_value(SecretId=secret_id)["SecretString"] == value
    cloudwatch = client(audited, "cloudwatch", account)

    def reads(secret_id: str) -> float:
        reply = cloudwatch.get_metric_statistics(
            Namespace="AlphaVox",
            MetricName="ReadsPerSecret",
            Dimensions=[{"Name": "SecretId", "Value": secret_id}],
            StartTime=datetime.fromtimestamp(since - 60, UTC),
            EndTime=datetime.fromtimestamp(time.time() + 120, UTC),
            Period=3600,
            Statistics=["Sum"],
        )
        return float(sum(p["Sum"] for p in reply["Datapoints"]))

    deadline = time.monotonic() + 30
    while reads("alphavox/admin-credentials") < 2.0:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    assert reads(arn) == 1.0
    listed = cloudwatch.list_metrics(Namespace="AlphaVox")
    assert value not in json.dumps(listed, default=str)
    with storage(audited) as engine, engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT dimensions FROM cw_metrics")).scalars().all()
    assert any("alphavox/admin-credentials" in text for text in stored)
    assert not any(value in text for text in stored)
