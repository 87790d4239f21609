"""Metric math in GetMetricData through a real server, on SQLite and PostgreSQL, with boto3:
expressions over PutMetricData's data (arithmetic with a division by zero, METRICS(), FILL in
each mode, IF, RATE, RUNNING_SUM, arrays), references between queries in any order,
ReturnData, labels and periods, MaxDatapoints' pages, the errors of faulty expressions; and
the same answers in each protocol of CloudWatch's model (awsQuery, rpc-v2-cbor, awsJson1.0)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import REGION, Server

MINUTE = timedelta(minutes=1)
# Requests and Errors at minutes 0..4 of the range; "-" (None) where none was put.
REQUESTS = [10.0, 20.0, 30.0, 40.0, 50.0]
ERRORS = [2.0, 0.0, None, 8.0, None]


@pytest.fixture
def cloudwatch(dev_server: Server) -> Any:
    return dev_server.client("cloudwatch")


@pytest.fixture
def data(cloudwatch) -> dict[str, Any]:
    """Requests and Errors of a namespace of the test's own, put 30 minutes ago."""
    namespace = f"Strongroom/Math-{uuid.uuid4().hex[:10]}"
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    for name, values in (("Requests", REQUESTS), ("Errors", ERRORS)):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": name, "Timestamp": at + m * MINUTE, "Value": value}
                for m, value in enumerate(values)
                if value is not None
            ],
        )
    return {"namespace": namespace, "at": at}


def metric(data: dict[str, Any], name: str, period: int = 60, **query: Any) -> dict[str, Any]:
    stat = {"Metric": {"Namespace": data["namespace"], "MetricName": name}, "Period": period}
    return {"MetricStat": {**stat, "Stat": "Sum"}, **query}


def queries(data: dict[str, Any], *expressions: str | dict[str, Any]) -> list[dict[str, Any]]:
    """m1 (Requests) and m2 (Errors), not returned, and expressions e1, e2... after them."""
    listed = [
        {"Id": "m1", **metric(data, "Requests"), "ReturnData": False},
        {"Id": "m2", **metric(data, "Errors"), "ReturnData": False},
    ]
    for index, expression in enumerate(expressions, 1):
        query = {"Expression": expression} if isinstance(expression, str) else expression
        listed.append({"Id": f"e{index}", **query})
    return listed


def get(cloudwatch: Any, data: dict[str, Any], listed: list[dict[str, Any]], **extra: Any) -> Any:
    params = {
        "MetricDataQueries": listed,
        "StartTime": data["at"],
        "EndTime": data["at"] + 5 * MINUTE,
        "ScanBy": "TimestampAscending",
    }
    return cloudwatch.get_metric_data(**params | extra)


def minutes(data: dict[str, Any], result: dict[str, Any]) -> list[float | None]:
    """A result's values on the range's five minutes, None where it has none."""
    pairs = zip(result["Timestamps"], result["Values"], strict=True)
    at = {int((t - data["at"]) / MINUTE): v for t, v in pairs}
    return [at.get(m) for m in range(5)]


def values(cloudwatch, data, *expressions: str | dict[str, Any]) -> list[list[float | None]]:
    results = get(cloudwatch, data, queries(data, *expressions))["MetricDataResults"]
    return [minutes(data, r) for r in results]


def error_of(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_arithmetic_between_metrics(cloudwatch, data):
    answer = get(cloudwatch, data, queries(data, "m1 + m2", "m1 / m2 * 100", "m1 * 2 - 5"))
    added, ratio, scaled = answer["MetricDataResults"]
    # A missing value counts as 0; division by zero drops the point, as AWS reports it.
    assert minutes(data, added) == [12, 20, 30, 48, 50]
    assert minutes(data, ratio) == [500, None, None, 500, None]
    assert ratio["Messages"] == [
        {
            "Code": "ArithmeticError",
            "Value": "One or more data-points have been dropped due to non-numeric values "
            "(NaN, -Infinite, +Infinite)",
        }
    ]
    assert ratio["StatusCode"] == "Complete"
    assert minutes(data, scaled) == [15, 35, 55, 75, 95]
    assert "Messages" not in added
    assert [(r["Id"], r["Label"]) for r in (added, ratio)] == [("e1", "e1"), ("e2", "e2")]


def test_functions_of_all_metrics(cloudwatch, data):
    summed, averaged, counted = values(
        cloudwatch, data, "SUM(METRICS())", "AVG(METRICS())", "DATAPOINT_COUNT(METRICS())"
    )
    assert summed == [12, 20, 30, 48, 50]
    assert averaged == [6, 10, 15, 24, 25]  # a missing value counts as 0
    assert counted == [2, 2, 1, 2, 1]


def test_fill_in_each_mode(cloudwatch, data):
    assert values(
        cloudwatch,
        data,
        "FILL(m2, 0)",
        "FILL(m2, REPEAT)",
        "FILL(m2, LINEAR)",
        "FILL(m2, m1)",
        "FILL(m2, MAX(m1))",
    ) == [
        [2, 0, 0, 8, 0],
        [2, 0, 0, 8, 8],
        [2, 0, 4, 8, None],  # nothing after the last value to draw a line to
        [2, 0, 30, 8, 50],
        [2, 0, 50, 8, 50],
    ]


def test_if_rate_and_running_sum(cloudwatch, data):
    chosen, rate, running, difference = values(
        cloudwatch, data, "IF(m2 > 1, m1, 0)", "RATE(m1)", "RUNNING_SUM(m1)", "DIFF(m2)"
    )
    assert chosen == [10, 0, None, 40, None]
    assert rate == [None] + [pytest.approx(10 / 60)] * 4  # per second
    assert running == [10, 30, 60, 100, 150]
    assert difference == [None, -2, None, 8, None]


def test_a_chain_of_references_in_any_order(cloudwatch, data):
    listed = [
        {"Id": "e1", "Expression": "e2 * 10", "Label": "ten times"},
        {"Id": "e2", "Expression": "m1 + 1", "ReturnData": False},
        {"Id": "m1", **metric(data, "Requests"), "ReturnData": False},
    ]
    (result,) = get(cloudwatch, data, listed)["MetricDataResults"]
    assert (result["Id"], result["Label"]) == ("e1", "ten times")
    assert minutes(data, result) == [110, 210, 310, 410, 510]


def test_metrics_and_expressions_side_by_side(cloudwatch, data):
    listed = [
        {"Id": "m1", **metric(data, "Requests")},
        {"Id": "m2", **metric(data, "Errors"), "Label": "errors"},
        {"Id": "e1", "Expression": "METRICS() * 2", "Label": "double"},
        {"Id": "e2", "Expression": "METRICS('2')"},
    ]
    results = get(cloudwatch, data, listed, ScanBy="TimestampDescending")["MetricDataResults"]
    assert [(r["Id"], r["Label"]) for r in results] == [
        ("m1", "Requests"),
        ("m2", "errors"),
        ("e1", "double Requests"),
        ("e1", "double errors"),
        ("e2", "errors"),
    ]
    assert minutes(data, results[3]) == [4, 0, None, 16, None]
    for result in results:
        assert result["Timestamps"] == sorted(result["Timestamps"], reverse=True)


def test_an_expression_has_its_inputs_period(cloudwatch, data):
    listed = [
        {"Id": "m1", **metric(data, "Requests", period=300), "ReturnData": False},
        {"Id": "e1", "Expression": "m1 / PERIOD(m1)"},
        {"Id": "e2", "Expression": "FILL(m1, 0)"},
    ]
    rate, filled = get(cloudwatch, data, listed, EndTime=data["at"] + 15 * MINUTE)[
        "MetricDataResults"
    ]
    assert rate["Timestamps"] == [data["at"]]
    assert rate["Values"] == [150 / 300]
    assert filled["Timestamps"] == [data["at"] + m * MINUTE for m in (0, 5, 10)]
    assert filled["Values"] == [150, 0, 0]


def test_max_datapoints_pages(cloudwatch, data):
    listed = [
        {"Id": "m1", **metric(data, "Requests")},
        {"Id": "m2", **metric(data, "Errors")},
    ]
    pages, token = [], None
    while True:
        extra = {"MaxDatapoints": 3} | ({"NextToken": token} if token else {})
        answer = get(cloudwatch, data, listed, **extra)
        pages.append([(r["Id"], r["Values"], r["StatusCode"]) for r in answer["MetricDataResults"]])
        token = answer.get("NextToken")
        if token is None:
            break
    assert pages == [
        [("m1", [10, 20, 30], "PartialData")],
        [("m1", [40, 50], "Complete"), ("m2", [2], "PartialData")],
        [("m2", [0, 8], "Complete")],
    ]
    paginator = cloudwatch.get_paginator("get_metric_data")
    params = {"StartTime": data["at"], "EndTime": data["at"] + 5 * MINUTE}
    walked = paginator.paginate(MetricDataQueries=listed, MaxDatapoints=2, **params)
    assert sum(len(r["Values"]) for page in walked for r in page["MetricDataResults"]) == 8
    code, _, status = error_of(lambda: get(cloudwatch, data, listed, NextToken="x"))
    assert (code, status) == ("InvalidNextToken", 400)


def test_a_token_is_for_its_own_request(cloudwatch, data):
    listed = [{"Id": "m1", **metric(data, "Requests")}]
    token = get(cloudwatch, data, listed, MaxDatapoints=2)["NextToken"]
    other = [{"Id": "m1", **metric(data, "Errors")}]
    code, _, status = error_of(lambda: get(cloudwatch, data, other, NextToken=token))
    assert (code, status) == ("InvalidNextToken", 400)


def test_no_next_token_with_math(cloudwatch, data):
    answer = get(cloudwatch, data, queries(data, "m1 + 1", "m2 + 1"), MaxDatapoints=3)
    assert "NextToken" not in answer
    assert [(r["Values"], r["StatusCode"]) for r in answer["MetricDataResults"]] == [
        ([11, 21, 31], "PartialData"),
        ([], "PartialData"),
    ]


FAULTY = [
    ("m1 +", "Error in expression e1: Unexpected end of expression at position 5."),
    ("m1 + m9", "Error in expression e1: Unrecognized Id m9."),
    ("FOO(m1)", "Error in expression e1: Unknown function FOO."),
    ("AVG(m1)", "Error in expression e1: The expression must produce a time series"),
    ("ABS(m1, m2)", "Error in expression e1: Invalid arguments for function ABS: TS, TS."),
    ("SEARCH('{Strongroom} Requests', 'Sum', 60)", "does not evaluate the function SEARCH."),
    ("SELECT SUM(Requests) FROM Strongroom", "does not evaluate Metrics Insights queries"),
    ("e1 + m1", "Error in expression e1: Circular reference: e1 -> e1."),
]


@pytest.mark.parametrize(("expression", "message"), FAULTY, ids=[f[0] for f in FAULTY])
def test_faulty_expressions(cloudwatch, data, expression, message):
    code, text, status = error_of(lambda: get(cloudwatch, data, queries(data, expression)))
    assert (code, status) == ("ValidationError", 400)
    assert message in text


def test_faulty_queries(cloudwatch, data):
    both = {"Id": "e1", "Expression": "m1", **metric(data, "Requests")}
    assert error_of(lambda: get(cloudwatch, data, [both]))[0] == "InvalidParameterCombination"
    assert error_of(lambda: get(cloudwatch, data, [{"Id": "e1"}])) == (
        "ValidationError",
        "The parameter MetricDataQueries.member.1.MetricStat is required.\n",
        400,
    )
    upper = [{"Id": "M1", **metric(data, "Requests")}]
    assert error_of(lambda: get(cloudwatch, data, upper)) == (
        "InvalidParameterValue",
        "The value M1 for parameter MetricDataQueries.member.1.Id is invalid.",
        400,
    )
    code, _, status = error_of(lambda: get(cloudwatch, data, queries(data, "m1" + " " * 2047)))
    assert (code, status) == ("ValidationError", 400)  # 2048 characters at most
    code, _, _ = error_of(lambda: get(cloudwatch, data, queries(data, "m1"), MaxDatapoints=0))
    assert code == "InvalidParameterValue"
    period = {"Id": "e1", "Expression": "m1", "Period": 61}
    code, text, _ = error_of(lambda: get(cloudwatch, data, queries(data, period)))
    assert (code, text) == (
        "InvalidParameterValue",
        "The parameter MetricDataQueries.member.3.Period must be a multiple of 60.",
    )
    # Errors change nothing: the same data answer the same.
    assert values(cloudwatch, data, "m1 + m2") == [[12, 20, 30, 48, 50]]


@pytest.fixture(params=["query", "smithy-rpc-v2-cbor", "json"])
def any_protocol(request, dev_server: Server, tmp_path: Path) -> Any:
    """boto3's CloudWatch client speaking one protocol of the model's list: botocore speaks
    the one protocol a model lists."""
    loader = botocore.loaders.Loader()
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = [request.param]
    directory = tmp_path / "cloudwatch" / model["metadata"]["apiVersion"]
    directory.mkdir(parents=True)
    (directory / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    access_key_id, secret = dev_server.credentials()
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=dev_server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        verify=dev_server.ca_bundle or True,
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.meta.service_model.resolved_protocol == request.param
    return client


def test_every_protocol_carries_messages_and_tokens(any_protocol, data):
    ratio = get(any_protocol, data, queries(data, "m1 / m2"))["MetricDataResults"]
    assert [r["Messages"][0]["Code"] for r in ratio] == ["ArithmeticError"]
    listed = [{"Id": "m1", **metric(data, "Requests")}]
    first = get(any_protocol, data, listed, MaxDatapoints=4)
    rest = get(any_protocol, data, listed, NextToken=first["NextToken"])
    assert [r["StatusCode"] for r in first["MetricDataResults"] + rest["MetricDataResults"]] == [
        "PartialData",
        "Complete",
    ]
    assert first["MetricDataResults"][0]["Values"] + rest["MetricDataResults"][0]["Values"] == (
        REQUESTS
    )
    code, text, status = error_of(lambda: get(any_protocol, data, queries(data, "m1 +")))
    assert (code, status) == ("ValidationError", 400)
    assert text.startswith("Error in expression e1: Unexpected end of expression")
