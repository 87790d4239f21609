"""CloudWatch metrics through a real server, on SQLite and PostgreSQL: boto3 in awsJson1.0
(which botocore prefers of the protocols CloudWatch's model lists) and in smithy-rpc-v2-cbor
(which the model lists first), the aws CLI, and the awsQuery form of the same API;
PutMetricData's kinds of data and AWS's limits; GetMetricStatistics (statistics, percentiles,
periods, units), GetMetricData and ListMetrics; authentication failures in the protocol's
words; isolation between Regions and between accounts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.accounts import client, new_account, tls_server
from tests.support.audit import aws, raw_call
from tests.support.server import REGION, Server

BACKENDS = ["sqlite", "postgresql"]
CBOR = "smithy-rpc-v2-cbor"
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


def unique(prefix: str = "Strongroom/Test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call: Any) -> tuple[str, str]:
    """(code, message) of the call's error, as botocore reports them."""
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def cbor_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """botocore's CloudWatch model listing rpc-v2-cbor alone. botocore prefers awsJson1.0 of
    the protocols the model lists (its own order: json, rest-json, rest-xml, rpc-v2-cbor,
    query); other SDKs pick rpc-v2-cbor, which this model makes botocore speak too."""
    loader = botocore.loaders.Loader()
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = [CBOR]
    root = tmp_path_factory.mktemp("models")
    directory = root / "cloudwatch" / model["metadata"]["apiVersion"]
    directory.mkdir(parents=True)
    (directory / "service-2.json").write_text(json.dumps(model))
    return root


def cbor_client(server: Server, models: Path, **overrides: Any) -> Any:
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(models))
    access_key_id, secret = server.credentials()
    settings: dict[str, Any] = {
        "endpoint_url": server.endpoint,
        "region_name": REGION,
        "aws_access_key_id": access_key_id,
        "aws_secret_access_key": secret,
        "verify": server.ca_bundle or True,
        "config": Config(retries={"max_attempts": 1}),
    }
    client = boto3.Session(botocore_session=session).client("cloudwatch", **settings | overrides)
    assert client.meta.service_model.resolved_protocol == CBOR
    return client


@pytest.fixture(params=["json", CBOR])
def cloudwatch(request: pytest.FixtureRequest, dev_server: Server) -> Any:
    """boto3's CloudWatch client, as botocore speaks it (awsJson1.0) and in rpc-v2-cbor."""
    if request.param == "json":
        return dev_server.client("cloudwatch")
    return cbor_client(dev_server, request.getfixturevalue("cbor_models"))


def statistics(cloudwatch: Any, namespace: str, name: str, **extra: Any) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "Namespace": namespace,
        "MetricName": name,
        "StartTime": now() - timedelta(minutes=10),
        "EndTime": now() + timedelta(minutes=2),
        "Period": 60,
    }
    if "ExtendedStatistics" not in extra:
        params["Statistics"] = ["SampleCount", "Sum", "Average", "Minimum", "Maximum"]
    params.update(extra)
    return sorted(
        cloudwatch.get_metric_statistics(**params)["Datapoints"], key=lambda p: p["Timestamp"]
    )


def merged(points: list[dict[str, Any]]) -> dict[str, float]:
    """The statistics of all the points together (the data may straddle a minute)."""
    count = sum(p["SampleCount"] for p in points)
    total = sum(p["Sum"] for p in points)
    return {
        "SampleCount": count,
        "Sum": total,
        "Minimum": min(p["Minimum"] for p in points),
        "Maximum": max(p["Maximum"] for p in points),
    }


# The protocol botocore picks


def test_boto3_speaks_rpc_v2_cbor_and_the_server_answers_in_it(dev_server, cbor_models):
    cloudwatch = cbor_client(dev_server, cbor_models)
    assert cloudwatch.meta.service_model.resolved_protocol == CBOR
    seen: list[tuple[str, dict[str, str]]] = []
    cloudwatch.meta.events.register(
        "before-send.cloudwatch.*", lambda request, **_: seen.append((request.url, {}))
    )
    answers: list[dict[str, str]] = []
    cloudwatch.meta.events.register(
        "after-call.cloudwatch.*",
        lambda http_response, **_: answers.append(dict(http_response.headers)),
    )
    cloudwatch.list_metrics(Namespace=unique())
    assert seen[0][0].endswith(CBOR_PATH + "ListMetrics")
    headers = {k.lower(): v for k, v in answers[0].items()}
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["content-type"] == "application/cbor"


def test_put_metric_data_then_statistics(cloudwatch):
    namespace, name = unique(), "Latency"
    dimensions = [{"Name": "Service", "Value": "api"}]
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions, "Value": v, "Unit": "Milliseconds"}
            for v in (10.0, 20.0, 30.0)
        ],
    )
    # Dimensions are part of the metric: without them, another metric (with no data).
    assert statistics(cloudwatch, namespace, name) == []
    points = statistics(cloudwatch, namespace, name, Dimensions=dimensions)
    assert merged(points) == {"SampleCount": 3.0, "Sum": 60.0, "Minimum": 10.0, "Maximum": 30.0}
    assert {p["Unit"] for p in points} == {"Milliseconds"}
    for point in points:
        assert point["Average"] == pytest.approx(point["Sum"] / point["SampleCount"])
        assert point["Timestamp"].second == 0  # one-minute periods
    # A unit the data does not have: no datapoints (CloudWatch converts no units).
    assert statistics(cloudwatch, namespace, name, Dimensions=dimensions, Unit="Seconds") == []
    labelled = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now() - timedelta(minutes=10),
        EndTime=now() + timedelta(minutes=2),
        Period=600,
        Statistics=["Sum"],
        Unit="Milliseconds",
    )
    assert labelled["Label"] == name
    assert [p["Sum"] for p in labelled["Datapoints"]] in ([60.0], [10.0, 50.0], [30.0, 30.0])


def test_values_with_counts_statistic_sets_and_percentiles(cloudwatch):
    namespace = unique()
    at = now() - timedelta(minutes=30)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Spread",
                "Timestamp": at,
                "Values": [float(v) for v in range(1, 101)],
                "Counts": [1.0] * 99 + [101.0],
            },
            {
                "MetricName": "Summary",
                "Timestamp": at,
                "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4},
            },
        ],
    )
    window = {"StartTime": at - timedelta(minutes=1), "EndTime": at + timedelta(minutes=1)}
    (point,) = statistics(cloudwatch, namespace, "Spread", **window)
    assert point["SampleCount"] == 200.0
    assert point["Sum"] == sum(range(1, 100)) + 100 * 101
    (point,) = statistics(
        cloudwatch,
        namespace,
        "Spread",
        ExtendedStatistics=["p10", "p50", "p99.9", "p100"],
        **window,
    )
    extended = point["ExtendedStatistics"]
    assert extended["p10"] == pytest.approx(20, rel=0.02)
    assert extended["p50"] == pytest.approx(100, rel=0.02)
    assert extended["p99.9"] == pytest.approx(100, rel=0.02)
    assert extended["p100"] == 100.0
    # A statistic set's values are unknown: its statistics but no percentiles.
    (point,) = statistics(cloudwatch, namespace, "Summary", **window)
    assert merged([point]) == {"SampleCount": 4.0, "Sum": 10.0, "Minimum": 1.0, "Maximum": 4.0}
    (point,) = statistics(cloudwatch, namespace, "Summary", ExtendedStatistics=["p50"], **window)
    assert point["ExtendedStatistics"] == {}


def test_high_resolution_data_has_one_second_periods(cloudwatch):
    namespace = unique()
    at = now().replace(microsecond=0) - timedelta(minutes=5)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Fast",
                "Timestamp": at + timedelta(seconds=s),
                "Value": 1.0,
                "StorageResolution": 1,
            }
            for s in (0, 1, 2, 10)
        ],
    )
    window = {"StartTime": at, "EndTime": at + timedelta(seconds=20)}
    points = statistics(cloudwatch, namespace, "Fast", Period=1, **window)
    assert [p["Timestamp"] for p in points] == [at + timedelta(seconds=s) for s in (0, 1, 2, 10)]
    points = statistics(cloudwatch, namespace, "Fast", Period=10, **window)
    assert [p["SampleCount"] for p in points] == [3.0, 1.0]
    # The same data, by the minute.
    points = statistics(
        cloudwatch,
        namespace,
        "Fast",
        StartTime=at - timedelta(minutes=2),
        EndTime=at + timedelta(minutes=2),
    )
    assert sum(p["SampleCount"] for p in points) == 4.0


def test_get_metric_data_metric_stat(cloudwatch):
    namespace = unique()
    at = now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Requests", "Timestamp": at + timedelta(minutes=m), "Value": float(m)}
            for m in range(5)
        ],
    )
    metric = {"Namespace": namespace, "MetricName": "Requests"}
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": "sums", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}},
            {
                "Id": "hidden",
                "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
                "ReturnData": False,
            },
            {
                "Id": "avg",
                "Label": "five minutes",
                "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Average"},
            },
        ],
        StartTime=at,
        EndTime=at + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    assert [r["Id"] for r in result] == ["sums", "avg"]
    sums, average = result
    assert sums["Label"] == "Requests" and sums["StatusCode"] == "Complete"
    assert sums["Timestamps"] == [at + timedelta(minutes=m) for m in range(5)]
    assert sums["Values"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert (average["Label"], average["Values"]) == ("five minutes", [2.0])
    descending = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": "m1", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Maximum"}}
        ],
        StartTime=at,
        EndTime=at + timedelta(minutes=5),
    )["MetricDataResults"][0]
    assert descending["Values"] == [4.0, 3.0, 2.0, 1.0, 0.0]


def test_list_metrics_filters_and_pages(cloudwatch):
    namespace = unique()
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Errors", "Value": 1.0, "Dimensions": [{"Name": "Env", "Value": env}]}
            for env in ("prod", "test")
        ]
        + [{"MetricName": "Calls", "Value": 1.0}],
    )

    def listed(**params: Any) -> list[tuple[str, list[dict[str, str]]]]:
        pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace, **params)
        metrics = [m for page in pages for m in page["Metrics"]]
        return sorted(((m["MetricName"], m["Dimensions"]) for m in metrics), key=str)

    everything = listed()
    assert everything == [
        ("Calls", []),
        ("Errors", [{"Name": "Env", "Value": "prod"}]),
        ("Errors", [{"Name": "Env", "Value": "test"}]),
    ]
    assert listed(RecentlyActive="PT3H") == everything
    assert listed(MetricName="Errors") == everything[1:]
    assert listed(Dimensions=[{"Name": "Env"}]) == everything[1:]
    assert listed(Dimensions=[{"Name": "Env", "Value": "test"}]) == everything[2:]
    assert listed(Dimensions=[{"Name": "Other"}]) == []
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException):
        cloudwatch.list_metrics(NextToken="not-a-token")


def test_list_metrics_pages_of_500(cloudwatch):
    namespace = unique()
    for start in range(0, 1200, 1000):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": f"m{i:04d}", "Value": 1.0}
                for i in range(start, min(start + 1000, 1200))
            ],
        )
    first = cloudwatch.list_metrics(Namespace=namespace)
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace)
    names = [m["MetricName"] for page in pages for m in page["Metrics"]]
    assert sorted(names) == [f"m{i:04d}" for i in range(1200)]


# Bad input: AWS's errors, and nothing stored


def put_error(cloudwatch: Any, namespace: str, *data: dict[str, Any]) -> tuple[str, str]:
    return error_of(lambda: cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data)))


def test_put_metric_data_refuses_what_aws_refuses(cloudwatch):
    namespace = unique()
    invalid = "InvalidParameterValue"
    assert put_error(cloudwatch, "AWS/EC2", {"MetricName": "m", "Value": 1.0}) == (
        invalid,
        "The value AWS/EC2 for parameter Namespace is invalid.",
    )
    too_many = [{"MetricName": "m", "Value": 1.0}] * 1001
    assert put_error(cloudwatch, namespace, *too_many) == (
        invalid,
        "The collection MetricData must not have a size greater than 1000.",
    )
    old = now() - timedelta(days=15)
    assert put_error(
        cloudwatch, namespace, {"MetricName": "m", "Value": 1.0, "Timestamp": old}
    ) == (
        invalid,
        "The parameter MetricData.member.1.Timestamp must specify a time within the past two "
        "weeks.",
    )
    future = now() + timedelta(hours=3)
    assert put_error(
        cloudwatch,
        namespace,
        {"MetricName": "m", "Value": 1.0},
        {"MetricName": "m", "Value": 2.0, "Timestamp": future},
    ) == (
        invalid,
        "The parameter MetricData.member.2.Timestamp must specify a time no more than two hours "
        "in the future.",
    )
    both = {
        "MetricName": "m",
        "Value": 1.0,
        "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
    }
    assert put_error(cloudwatch, namespace, both) == (
        "InvalidParameterCombination",
        "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are "
        "mutually exclusive and you have specified both.",
    )
    assert put_error(cloudwatch, namespace, {"MetricName": "m", "Value": float("nan")}) == (
        invalid,
        "The value nan for parameter MetricData.member.1.Value is invalid.",
    )
    assert put_error(
        cloudwatch, namespace, {"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]}
    ) == (
        invalid,
        "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of "
        "the same size.",
    )
    assert put_error(
        cloudwatch, namespace, {"MetricName": "m", "Value": 1.0, "StorageResolution": 5}
    ) == (
        invalid,
        "The value 5 for parameter MetricData.member.1.StorageResolution is invalid.",
    )
    code, message = put_error(
        cloudwatch,
        namespace,
        {
            "MetricName": "m",
            "Value": 1.0,
            "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)],
        },
    )
    assert code == "ValidationError"
    assert (
        message
        == (
            "1 validation error detected: Value '[...]' at 'metricData.1.member.dimensions' failed "
            "to satisfy constraint: Member must have length less than or equal to 30"
        )
        or "Member must have length less than or equal to 30" in message
    )
    # Nothing of the refused calls was stored.
    assert cloudwatch.list_metrics(Namespace=namespace)["Metrics"] == []


def test_get_metric_statistics_refuses_what_aws_refuses(cloudwatch):
    base = {"Namespace": unique(), "MetricName": "m", "Statistics": ["Sum"], "Period": 60}
    window = {"StartTime": now() - timedelta(hours=1), "EndTime": now()}

    def error(**params: Any) -> tuple[str, str]:
        merged = {k: v for k, v in {**base, **window, **params}.items() if v is not None}
        return error_of(lambda: cloudwatch.get_metric_statistics(**merged))

    assert error(StartTime=now(), EndTime=now() - timedelta(hours=1)) == (
        "InvalidParameterValue",
        "The parameter StartTime must be less than the parameter EndTime.",
    )
    assert error(Period=7) == (
        "InvalidParameterValue",
        "The parameter Period must be a multiple of 60.",
    )
    moment = now().replace(microsecond=0)
    assert error(StartTime=moment - timedelta(days=2), EndTime=moment) == (
        "InvalidParameterCombination",
        "You have requested up to 2,880 datapoints, which exceeds the limit of 1,440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range.",
    )
    assert error(ExtendedStatistics=["p99"]) == (
        "InvalidParameterCombination",
        "Must specify either Statistics or ExtendedStatistics, but not both.",
    )
    assert error(Statistics=None, ExtendedStatistics=["p101"])[0] == "InvalidParameterValue"
    assert error(Statistics=["Median"])[0] == "ValidationError"
    # 1,440 datapoints exactly are fine.
    cloudwatch.get_metric_statistics(
        **{**base, "StartTime": now() - timedelta(days=1), "EndTime": now() - timedelta(seconds=1)}
    )


def test_get_metric_data_errors(cloudwatch):
    metric = {"Namespace": unique(), "MetricName": "m"}
    query = {"Id": "a", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}
    window = {"StartTime": now() - timedelta(hours=1), "EndTime": now()}
    code, _ = error_of(
        lambda: cloudwatch.get_metric_data(MetricDataQueries=[query], NextToken="x", **window)
    )
    assert code == "InvalidNextToken"
    code, _ = error_of(
        lambda: cloudwatch.get_metric_data(MetricDataQueries=[query, query], **window)
    )
    assert code == "InvalidParameterValue"


# The aws CLI


def test_the_aws_cli(dev_server):
    namespace = unique("AlphaVox")
    put = aws(
        dev_server,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        namespace,
        "--metric-name",
        "FailedLogins",
        "--value",
        "3",
        "--unit",
        "Count",
        "--dimensions",
        "Service=auth",
    )
    assert put.returncode == 0, put.stderr
    start = (now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now() + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = aws(
        dev_server,
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        namespace,
        "--metric-name",
        "FailedLogins",
        "--dimensions",
        "Name=Service,Value=auth",
        "--start-time",
        start,
        "--end-time",
        end,
        "--period",
        "300",
        "--statistics",
        "Sum",
        "Maximum",
    )
    assert got.returncode == 0, got.stderr
    result = json.loads(got.stdout)
    assert result["Label"] == "FailedLogins"
    assert sum(p["Sum"] for p in result["Datapoints"]) == 3.0
    assert {p["Unit"] for p in result["Datapoints"]} == {"Count"}
    bad = aws(
        dev_server,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "AWS/Lambda",
        "--metric-name",
        "x",
        "--value",
        "1",
    )
    assert bad.returncode != 0
    assert "InvalidParameterValue" in bad.stderr


# The other protocols CloudWatch's model lists, and authentication failures


def signed(
    server: Server, path: str, body: bytes, headers: dict[str, str], secret: str | None = None
):
    import urllib.error
    import urllib.request

    url = server.endpoint + path
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    access_key_id, real_secret = server.credentials()
    SigV4Auth(Credentials(access_key_id, secret or real_secret), "monitoring", REGION).add_auth(
        request
    )
    prepared = urllib.request.Request(  # noqa: S310 - the test server's own endpoint
        url, data=body, method="POST", headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as reply:  # noqa: S310
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_json_and_query_forms_reach_the_same_metrics(dev_server, cloudwatch):
    namespace = unique()
    body = json.dumps(
        {"Namespace": namespace, "MetricData": [{"MetricName": "viaJson", "Value": 2.5}]}
    ).encode()
    reply = raw_call(
        dev_server,
        "GraniteServiceVersion20100801.PutMetricData",
        body,
        signing_name="monitoring",
        content_type="application/x-amz-json-1.0",
    )
    assert reply.status == 200, reply.body
    status, _, text = signed(
        dev_server,
        "/",
        f"Action=ListMetrics&Version=2010-08-01&Namespace={namespace}".encode(),
        {"content-type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, text
    assert b"<ListMetricsResponse" in text and b"<MetricName>viaJson</MetricName>" in text
    # Errors of the JSON form carry the query code too.
    reply = raw_call(
        dev_server,
        "GraniteServiceVersion20100801.PutMetricData",
        json.dumps(
            {"Namespace": "AWS/x", "MetricData": [{"MetricName": "m", "Value": 1}]}
        ).encode(),
        signing_name="monitoring",
        content_type="application/x-amz-json-1.0",
    )
    assert reply.status == 400
    assert json.loads(reply.body)["__type"] == "InvalidParameterValueException"
    assert reply.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    points = statistics(cloudwatch, namespace, "viaJson")
    assert sum(p["Sum"] for p in points) == 2.5


def test_cbor_errors_and_authentication_failures(dev_server):
    status, headers, body = signed(
        dev_server,
        CBOR_PATH + "ListMetrics",
        cbor2.dumps({"Namespace": 5}),
        {"smithy-protocol": "rpc-v2-cbor", "content-type": "application/cbor"},
    )
    assert status == 400
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor2.loads(body)["__type"] == "SerializationException"
    status, headers, body = signed(
        dev_server,
        CBOR_PATH + "ListMetrics",
        b"\xa1\x61",  # cut short
        {"smithy-protocol": "rpc-v2-cbor"},
    )
    assert (status, cbor2.loads(body)["__type"]) == (400, "SerializationException")
    status, headers, body = signed(
        dev_server,
        CBOR_PATH + "NoSuchOperation",
        cbor2.dumps({}),
        {"smithy-protocol": "rpc-v2-cbor"},
    )
    assert cbor2.loads(body)["__type"] == "UnknownOperationException"
    status, headers, body = signed(
        dev_server,
        CBOR_PATH + "ListMetrics",
        cbor2.dumps({}),
        {"smithy-protocol": "rpc-v2-cbor"},
        secret="wrong" * 8,
    )
    assert status == 403
    assert cbor2.loads(body)["__type"] == "InvalidSignatureException"
    assert headers["x-amzn-query-error"] == "SignatureDoesNotMatch;Sender"
    # botocore reads the query code.
    wrong = dev_server.client("cloudwatch", aws_secret_access_key="wrong" * 8)
    assert error_of(lambda: wrong.list_metrics())[0] == "SignatureDoesNotMatch"
    unknown = dev_server.client("cloudwatch", aws_access_key_id="AKIAUNKNOWNUNKNOWN00")
    assert error_of(lambda: unknown.list_metrics())[0] == "InvalidClientTokenId"


# Isolation


def test_regions_are_apart(dev_server, cloudwatch):
    namespace = unique()
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "m", "Value": 1.0}])
    other = dev_server.client("cloudwatch", region_name="eu-west-1")
    assert other.list_metrics(Namespace=namespace)["Metrics"] == []
    assert statistics(other, namespace, "m") == []


@pytest.fixture(scope="module", params=BACKENDS)
def two_accounts(request, tmp_path_factory) -> Iterator[tuple[Any, Any, Any]]:
    with tls_server(request.param, tmp_path_factory.mktemp("cw"), request) as server:
        a, b = new_account(server), new_account(server)
        yield server, client(server, "cloudwatch", a), client(server, "cloudwatch", b)


def test_accounts_are_apart(two_accounts):
    _, a, b = two_accounts
    namespace = unique()
    a.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert len(a.list_metrics(Namespace=namespace)["Metrics"]) == 1
    assert b.list_metrics(Namespace=namespace)["Metrics"] == []
    assert b.list_metrics()["Metrics"] == []
    assert statistics(b, namespace, "m") == []
    assert sum(p["SampleCount"] for p in statistics(a, namespace, "m")) == 1.0
