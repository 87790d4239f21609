"""What a metric filter makes of a log event: the metric value (a number, or a JSON field, or a
named or numbered field of a space-delimited event), the dimensions from the event's fields,
nothing when a field is missing or not a number; and which events a filter counts at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.services.cloudwatch.model import Datum
from strongroom.services.logs.filter_pattern import Message, parse
from strongroom.services.logs.metric_filters import Tally, compiled
from strongroom.services.logs.model import MetricFilter

CREATED = 1_700_000_000_000
ACCESS_LOG = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
SPACED = "[ip, env, user, timestamp, request, status_code, bytes]"
CLOUDTRAIL = json.dumps(
    {
        "eventName": "GetSecretValue",
        "requestParameters": {"secretId": "alphavox/admin-credentials"},
        "userIdentity": {"userName": "dev"},
        "latency": 12.5,
        "status": 404,
        "flag": True,
        "list": [1, 2],
        "text": "50",
        "huge": 0,  # 1e999 below: JSON has the number, Python only infinity
        "empty": "",
        "long": "x" * 1025,
    }
).replace('"huge": 0', '"huge": 1e999')
GET_SECRET = "{ $.eventName = GetSecretValue }"


def metric_filter(
    pattern: str, value: str, dimensions: dict[str, str] | None = None, **extra: Any
) -> MetricFilter:
    fields: dict[str, Any] = {
        "group_id": 1,
        "filter_name": "f",
        "filter_pattern": pattern,
        "metric_name": extra.pop("name", "M"),
        "metric_namespace": "NS",
        "metric_value": value,
        "default_value": None,
        "dimensions": json.dumps(dimensions) if dimensions is not None else None,
        "unit": None,
        "creation_time": CREATED,
        "regex_count": 0,
    }
    return MetricFilter(**fields | extra)


CASES = [
    # (pattern, metric value, dimensions, message) -> (value, dimensions) or None
    (GET_SECRET, "1", None, CLOUDTRAIL, (1.0, {})),
    (GET_SECRET, "2.5", None, CLOUDTRAIL, (2.5, {})),
    (GET_SECRET, "-3", None, CLOUDTRAIL, (-3.0, {})),
    (GET_SECRET, "$.latency", None, CLOUDTRAIL, (12.5, {})),
    (GET_SECRET, "$.status", None, CLOUDTRAIL, (404.0, {})),
    (GET_SECRET, "$.text", None, CLOUDTRAIL, None),  # a string, even one of digits
    (GET_SECRET, "$.flag", None, CLOUDTRAIL, None),
    (GET_SECRET, "$.list", None, CLOUDTRAIL, None),
    (GET_SECRET, "$.huge", None, CLOUDTRAIL, None),  # beyond what CloudWatch takes
    (GET_SECRET, "$.missing", None, CLOUDTRAIL, None),
    (GET_SECRET, "$latency", None, CLOUDTRAIL, None),  # a space-delimited reference
    ("{ $.eventName = DeleteSecret }", "1", None, CLOUDTRAIL, None),  # no match
    (
        GET_SECRET,
        "1",
        {"SecretId": "$.requestParameters.secretId", "User": "$.userIdentity.userName"},
        CLOUDTRAIL,
        (1.0, {"SecretId": "alphavox/admin-credentials", "User": "dev"}),
    ),
    (GET_SECRET, "1", {"Status": "$.status"}, CLOUDTRAIL, (1.0, {"Status": "404"})),
    (GET_SECRET, "1", {"Latency": "$.latency"}, CLOUDTRAIL, (1.0, {"Latency": "12.5"})),
    (GET_SECRET, "1", {"Flag": "$.flag"}, CLOUDTRAIL, (1.0, {"Flag": "true"})),
    (GET_SECRET, "1", {"Missing": "$.missing"}, CLOUDTRAIL, None),
    (GET_SECRET, "1", {"Secret": "$.requestParameters.secretId", "No": "$.no"}, CLOUDTRAIL, None),
    (GET_SECRET, "1", {"Empty": "$.empty"}, CLOUDTRAIL, None),
    (GET_SECRET, "1", {"Long": "$.long"}, CLOUDTRAIL, None),
    (GET_SECRET, "1", {"Object": "$.requestParameters"}, CLOUDTRAIL, None),
    (SPACED, "$bytes", None, ACCESS_LOG, (1534.0, {})),
    (SPACED, "$7", None, ACCESS_LOG, (1534.0, {})),
    (SPACED, "$status_code", {"User": "$user"}, ACCESS_LOG, (404.0, {"User": "frank"})),
    (SPACED, "1", {"Request": "$5"}, ACCESS_LOG, (1.0, {"Request": "GET /index.html HTTP/1.0"})),
    (SPACED, "$user", None, ACCESS_LOG, None),  # not a number
    (SPACED, "$bytes", None, ACCESS_LOG.replace("1534", "-"), None),
    (SPACED, "$bytes", {"Missing": "$referrer"}, ACCESS_LOG, None),
    ("[ip, ..., bytes = *]", "$bytes", None, ACCESS_LOG, (1534.0, {})),
    ("404", "1", None, ACCESS_LOG, (1.0, {})),  # terms: constant values only
    ("404", "$bytes", None, ACCESS_LOG, None),
    ("", "1", None, "anything at all", (1.0, {})),
]


@pytest.mark.parametrize(
    ("pattern", "value", "dimensions", "message", "expected"),
    CASES,
    ids=[f"{i}:{case[0][:12]}:{case[1]}" for i, case in enumerate(CASES)],
)
def test_transformation(pattern, value, dimensions, message, expected):
    observed = compiled(metric_filter(pattern, value, dimensions)).observe(Message(message))
    if expected is None:
        assert observed is None
    else:
        assert observed == (expected[0], tuple(expected[1].items()))


def test_values_are_counted_per_minute_with_the_filter_s_unit():
    latency = compiled(metric_filter(GET_SECRET, "$.latency", unit="Milliseconds"))
    count = compiled(metric_filter(GET_SECRET, "1", name="Reads"))
    minute = CREATED // 60_000 * 60 + 60
    tally = Tally()
    for timestamp in (minute * 1000, minute * 1000 + 59_999, minute * 1000 + 60_000):
        tally.add([latency, count], Message(CLOUDTRAIL), timestamp, timestamp)
    tally.add([latency, count], Message("not JSON"), minute * 1000, minute * 1000)
    assert sorted(tally.data(), key=lambda d: (d.name, d.timestamp)) == [
        Datum("NS", "M", {}, 12.5, "Milliseconds", minute, 2),
        Datum("NS", "M", {}, 12.5, "Milliseconds", minute + 60, 1),
        Datum("NS", "Reads", {}, 1.0, "None", minute, 2),
        Datum("NS", "Reads", {}, 1.0, "None", minute + 60, 1),
    ]


def test_a_filter_counts_only_events_from_after_its_creation():
    counts = compiled(metric_filter(GET_SECRET, "1")).counts
    assert counts(CREATED, CREATED)
    assert counts(CREATED + 5, CREATED + 10)
    assert not counts(CREATED + 5, CREATED - 1)  # ingested before the filter existed
    assert not counts(CREATED - 1, CREATED + 10)  # ingested later, but from before it


def test_a_filter_is_compiled_once_per_row():
    row = metric_filter(GET_SECRET, "1")
    assert compiled(row) is compiled(metric_filter(GET_SECRET, "1"))
    assert compiled(row) is not compiled(metric_filter(GET_SECRET, "2"))


def test_patterns_sharing_a_message_parse_it_once(monkeypatch):
    import strongroom.services.logs.filter_pattern as filter_pattern

    parsed = []
    load = filter_pattern._load_json
    monkeypatch.setattr(filter_pattern, "_load_json", lambda text: parsed.append(1) or load(text))
    message = Message(CLOUDTRAIL)
    for value in ("1", "$.latency", "$.status"):
        assert compiled(metric_filter(GET_SECRET, value)).observe(message) is not None
    assert len(parsed) == 1


@pytest.mark.parametrize(
    ("pattern", "decided"),
    [
        (GET_SECRET, True),
        ("{ $.eventName = GetSecretValue && $.eventSource = secretsmanager.amazonaws.com }", True),
        ("{ $.eventName = Get* }", False),  # a wildcard: other strings match too
        ("{ $.eventName = GetSecretValue && $.errorCode NOT EXISTS }", False),
        ("{ $.eventName = A || $.eventName = B }", False),
        ("{ $.eventName = A && $.eventName = B }", False),
        ("{ $.status = 500 }", False),  # a number matches its text too
        ("{ $.tags[*] = a }", False),
        ("GetSecretValue", False),
    ],
)
def test_patterns_decided_by_their_required_equalities(pattern, decided):
    """The audit job counts such a pattern's matches from indexed columns, without parsing."""
    assert parse(pattern).decided_by_equalities() is decided
