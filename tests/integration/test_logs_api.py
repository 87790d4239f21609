"""CloudWatch Logs through a real server with boto3 and the aws CLI, on SQLite and PostgreSQL:
log groups, streams, PutLogEvents' rules, GetLogEvents' and FilterLogEvents' pages and time
ranges, retention (reads and the background job), metric filters, tags, every filter pattern
example of tests/support/filter_patterns.py, and event messages that never reach storage in
the clear."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.filter_patterns import CASES, GENERIC_MESSAGE, INVALID_CASES
from tests.support.kms import aws_error
from tests.support.server import REGION, Server, strongroom
from tests.support.storage import overwrite, storage, storage_dump, storage_view

ACCOUNT = "123456789012"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."
INVALID = "InvalidParameterException"
NOT_FOUND = "ResourceNotFoundException"
EXISTS = "ResourceAlreadyExistsException"
RETENTION_VALUES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731]
RETENTION_VALUES += [1096, 1827, 2192, 2557, 2922, 3288, 3653]
RETENTION_ENUM = ", ".join(map(str, RETENTION_VALUES))


def now_ms() -> int:
    return int(time.time() * 1000)


def unique(prefix: str = "/strongroom-test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def pages(call: Callable[..., dict[str, Any]], member: str, **params: Any) -> list[list[Any]]:
    """Every page of a nextToken listing."""
    found: list[list[Any]] = []
    token: str | None = None
    while True:
        page = call(**params, **({"nextToken": token} if token else {}))
        found.append(page[member])
        token = page.get("nextToken")
        if token is None:
            return found


def every(call: Callable[..., dict[str, Any]], member: str, **params: Any) -> list[Any]:
    return [item for page in pages(call, member, **params) for item in page]


@pytest.fixture(scope="module")
def logs(dev_server):
    return dev_server.client("logs")


@pytest.fixture
def group(logs):
    name = unique()
    logs.create_log_group(logGroupName=name)
    return name


def put(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> dict[str, Any]:
    reply: dict[str, Any] = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )
    return reply


def described(logs: Any, name: str) -> dict[str, Any]:
    (entry,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return entry


# Log groups


def test_log_group_lifecycle(logs):
    name = unique()
    before = now_ms()
    logs.create_log_group(logGroupName=name, tags={"team": "records"})
    entry = described(logs, name)
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    assert entry == {
        "logGroupName": name,
        "creationTime": entry["creationTime"],
        "metricFilterCount": 0,
        "arn": f"{arn}:*",
        "storedBytes": 0,
        "logGroupClass": "STANDARD",
        "logGroupArn": arn,
    }
    assert before - 1000 <= entry["creationTime"] <= now_ms() + 1000
    with aws_error(EXISTS, message="The specified log group already exists"):
        logs.create_log_group(logGroupName=name)

    logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.delete_log_group(logGroupName=name)
    logs.create_log_group(logGroupName=name)  # the name is free again
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {}


@pytest.mark.parametrize("name", ["aws/app", "AWS/app", "Aws/lambda/x"])
def test_names_starting_with_aws_are_reserved(logs, name):
    with aws_error(INVALID, message="Log groups starting with AWS/ are reserved for AWS."):
        logs.create_log_group(logGroupName=name)


def test_the_model_is_enforced_with_invalid_parameter(logs):
    # CloudWatch Logs words model violations as Coral does, but as InvalidParameterException.
    message = (
        "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"
    )
    with aws_error(INVALID, message=message):
        logs.create_log_group(logGroupName="bad name")


def test_groups_are_per_account_region(dev_server, logs):
    name = unique()
    logs.create_log_group(logGroupName=name)
    elsewhere = dev_server.client("logs", region_name="eu-west-1")
    assert elsewhere.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    with aws_error(NOT_FOUND, message=NO_GROUP):
        elsewhere.create_log_stream(logGroupName=name, logStreamName="s")
    elsewhere.create_log_group(logGroupName=name)  # the same name, another Region
    assert described(elsewhere, name)["arn"].startswith("arn:aws:logs:eu-west-1:")


def test_describe_log_groups_prefix_pattern_class_and_pages(logs):
    base = unique()
    # ASCII order: '#' < '-' < '.' < '/' < digits < upper case < '_' < lower case.
    suffixes = ["b", "_x", "B", "9", "/a", "#h", "Data", "data", "-d", ".d", "aDatab"]
    for suffix in suffixes:
        logs.create_log_group(logGroupName=f"{base}{suffix}")
    logs.create_log_group(logGroupName=f"{base}ia", logGroupClass="INFREQUENT_ACCESS")
    names = [f"{base}{s}" for s in [*suffixes, "ia"]]
    listed = every(logs.describe_log_groups, "logGroups", logGroupNamePrefix=base)
    assert [g["logGroupName"] for g in listed] == sorted(names)

    paged = pages(logs.describe_log_groups, "logGroups", logGroupNamePrefix=base, limit=5)
    assert [len(page) for page in paged] == [5, 5, 2]
    assert [g for page in paged for g in page] == listed

    # A token is a position: groups added behind it do not shift the next page.
    first = logs.describe_log_groups(logGroupNamePrefix=base, limit=3)
    logs.create_log_group(logGroupName=f"{base}#a")  # sorts first
    second = logs.describe_log_groups(
        logGroupNamePrefix=base, limit=3, nextToken=first["nextToken"]
    )
    assert [g["logGroupName"] for g in second["logGroups"]] == sorted(names)[3:6]

    # A pattern is a case-sensitive substring; its entries carry three members only.
    found = logs.describe_log_groups(logGroupNamePattern=f"{base.split('/')[-1]}Data")
    assert [g["logGroupName"] for g in found["logGroups"]] == [f"{base}Data"]
    assert set(found["logGroups"][0]) == {"logGroupName", "creationTime", "arn"}
    found = every(logs.describe_log_groups, "logGroups", logGroupNamePattern="Data")
    assert {f"{base}Data", f"{base}aDatab"} <= {g["logGroupName"] for g in found}
    assert f"{base}data" not in {g["logGroupName"] for g in found}

    classed = logs.describe_log_groups(logGroupNamePrefix=base, logGroupClass="INFREQUENT_ACCESS")
    assert [g["logGroupName"] for g in classed["logGroups"]] == [f"{base}ia"]
    assert classed["logGroups"][0]["logGroupClass"] == "INFREQUENT_ACCESS"

    with aws_error(
        INVALID,
        message="LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
    ):
        logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern="Data")
    for token in ["garbage", "W10", first["nextToken"] + "x", "\u0661"]:
        with aws_error(INVALID, message="The specified nextToken is invalid."):
            logs.describe_log_groups(nextToken=token)


# Log streams


def test_log_stream_lifecycle(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="app/1 [main]")
    with aws_error(EXISTS, message="The specified log stream already exists"):
        logs.create_log_stream(logGroupName=group, logStreamName="app/1 [main]")
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.create_log_stream(logGroupName=unique(), logStreamName="s")
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream == {
        "logStreamName": "app/1 [main]",
        "creationTime": stream["creationTime"],
        "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:app/1 [main]",
        "storedBytes": 0,
    }
    put(logs, group, "app/1 [main]", [(now_ms(), "one")])
    logs.delete_log_stream(logGroupName=group, logStreamName="app/1 [main]")
    with aws_error(NOT_FOUND, message=NO_STREAM):
        logs.delete_log_stream(logGroupName=group, logStreamName="app/1 [main]")
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    # Its events went with it: a new stream of the same name starts empty.
    logs.create_log_stream(logGroupName=group, logStreamName="app/1 [main]")
    assert logs.filter_log_events(logGroupName=group)["events"] == []


def test_describe_log_streams_orders_and_pages(logs, group):
    now = now_ms()
    last_events = {"c": now - 3000, "a": now - 1000, "b": now - 2000, "é": None, "B": now}
    for name, last in last_events.items():
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        if last is not None:
            put(logs, group, name, [(last - 10, "first"), (last, "last")])
    by_name = every(logs.describe_log_streams, "logStreams", logGroupName=group, limit=2)
    assert [s["logStreamName"] for s in by_name] == ["B", "a", "b", "c", "é"]  # code points
    descending = every(logs.describe_log_streams, "logStreams", logGroupName=group, descending=True)
    assert [s["logStreamName"] for s in descending] == ["é", "c", "b", "a", "B"]
    by_time = every(
        logs.describe_log_streams,
        "logStreams",
        logGroupName=group,
        orderBy="LastEventTime",
        descending=True,
        limit=2,
    )
    assert [s["logStreamName"] for s in by_time] == ["B", "a", "b", "c", "é"]
    newest = by_time[0]
    assert newest["firstEventTimestamp"] == now - 10
    assert newest["lastEventTimestamp"] == now
    assert abs(newest["lastIngestionTime"] - now_ms()) < 60_000
    assert "lastEventTimestamp" not in by_time[-1]

    prefixed = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b")
    assert [s["logStreamName"] for s in prefixed["logStreams"]] == ["b"]
    with aws_error(INVALID, message="Cannot order by LastEventTime with a logStreamNamePrefix."):
        logs.describe_log_streams(
            logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="b"
        )
    token = logs.describe_log_streams(logGroupName=group, limit=1)["nextToken"]
    with aws_error(INVALID, message="The specified nextToken is invalid."):
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", nextToken=token)

    # The group by ARN (without `:*`, which the model refuses) or by name.
    arn = described(logs, group)["logGroupArn"]
    for identifier in (arn, group):
        found = logs.describe_log_streams(logGroupIdentifier=identifier)["logStreams"]
        assert [s["logStreamName"] for s in found] == ["B", "a", "b", "c", "é"]
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.describe_log_streams(logGroupIdentifier=arn.replace(REGION, "eu-west-1"))
    with aws_error(
        "ValidationException",
        message="LogGroup name and LogGroup ARN are mutually exclusive parameters.",
    ):
        logs.describe_log_streams(logGroupName=group, logGroupIdentifier=arn)
    with aws_error(INVALID):
        logs.describe_log_streams()


# PutLogEvents


def test_put_log_events_answers_and_counts(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    reply = put(logs, group, "s", [(now - 5, "héllo"), (now, "world")])
    assert re.fullmatch(r"[0-9]{56}", reply["nextSequenceToken"])
    assert "rejectedLogEventsInfo" not in reply
    # The sequence token is ignored: any value, or an old one, is accepted.
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "again"}],
        sequenceToken="49039859",
    )
    assert described(logs, group)["storedBytes"] == len("héllo".encode()) + 5 + 5
    with aws_error(NOT_FOUND, message=NO_STREAM):
        put(logs, group, "missing", [(now, "x")])
    with aws_error(NOT_FOUND, message=NO_GROUP):
        put(logs, unique(), "s", [(now, "x")])


def test_put_log_events_limits(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    with aws_error(
        INVALID,
        message="Log events in a single PutLogEvents request must be in chronological order.",
    ):
        put(logs, group, "s", [(now, "b"), (now - 1, "a")])
    # 1,048,576 bytes: messages in UTF-8 and 26 bytes per event.
    exactly = [(now, "x" * (524_288 - 26)), (now, "é" * ((524_288 - 26) // 2))]
    put(logs, group, "s", exactly)
    over = [(now, "x" * (524_288 - 26)), (now, "é" * ((524_288 - 26) // 2) + "y")]
    with aws_error(INVALID, message="Upload too large: 1048577 bytes exceeds limit of 1048576"):
        put(logs, group, "s", over)
    with aws_error(
        INVALID,
        message="The batch of log events in a single PutLogEvents request cannot span more "
        "than 24 hours.",
    ):
        put(logs, group, "s", [(now - DAY_MS - 1, "a"), (now, "b")])
    put(logs, group, "s", [(now - DAY_MS + 60_000, "a"), (now, "b")])  # within a day
    put(logs, group, "s", [(now - i, f"{i}") for i in range(10_000)][::-1])  # 10,000 events
    with aws_error(INVALID):
        put(logs, group, "s", [(now, f"{i}") for i in range(10_001)])
    events = every(logs.filter_log_events, "events", logGroupName=group)
    assert len(events) == 2 + 2 + 10_000


def test_put_log_events_rejects_old_new_and_expired_events(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    batch = [
        (now - 15 * DAY_MS, "too old"),
        (now - 15 * DAY_MS + 1, "too old too"),
        (now - HOUR_MS, "kept"),
        (now + 3 * HOUR_MS, "too new"),
    ]
    reply = put(logs, group, "s", batch)
    assert reply["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 2,
        "tooNewLogEventStartIndex": 3,
    }
    logs.put_retention_policy(logGroupName=group, retentionInDays=3)
    reply = put(
        logs,
        group,
        "s",
        [(now - 20 * DAY_MS, "too old"), (now - 5 * DAY_MS, "expired"), (now, "kept too")],
    )
    assert reply["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1,
        "expiredLogEventEndIndex": 2,
    }
    # Nothing accepted: no sequence token either.
    reply = put(logs, group, "s", [(now + 3 * HOUR_MS, "too new")])
    assert reply["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}
    assert "nextSequenceToken" not in reply
    kept = every(logs.filter_log_events, "events", logGroupName=group)
    assert [e["message"] for e in kept] == ["kept", "kept too"]


# Reading events


def test_get_log_events_pages_both_ways(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.create_log_stream(logGroupName=group, logStreamName="other")
    base = now_ms() - 60_000
    # Two events share a timestamp: they keep the order they were put in.
    events = [(base + i, f"event {i}") for i in range(24)] + [(base + 23, "event 24")]
    put(logs, group, "s", events)
    put(logs, group, "other", [(base + 5, "not this stream")])
    messages = [m for _, m in events]

    # From the head, forward: pages of 10, then the same token again at the end.
    reply = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True, limit=10)
    seen = [e["message"] for e in reply["events"]]
    assert seen == messages[:10]
    assert reply["events"][0] == {
        "timestamp": base,
        "message": "event 0",
        "ingestionTime": reply["events"][0]["ingestionTime"],
    }
    while True:
        token = reply["nextForwardToken"]
        reply = logs.get_log_events(
            logGroupName=group, logStreamName="s", nextToken=token, limit=10
        )
        if not reply["events"]:
            assert reply["nextForwardToken"] == token
            break
        seen += [e["message"] for e in reply["events"]]
    assert seen == messages

    # From the tail (the default), backward.
    reply = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10)
    assert [e["message"] for e in reply["events"]] == messages[-10:]
    seen = [e["message"] for e in reply["events"]]
    while True:
        token = reply["nextBackwardToken"]
        reply = logs.get_log_events(
            logGroupName=group, logStreamName="s", nextToken=token, limit=10
        )
        if not reply["events"]:
            assert reply["nextBackwardToken"] == token
            break
        seen = [e["message"] for e in reply["events"]] + seen
    assert seen == messages
    # Forward again from where backward reading ended.
    reply = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=reply["nextForwardToken"], limit=3
    )
    assert [e["message"] for e in reply["events"]] == messages[:3]

    # New events show up behind a forward token.
    last = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    put(logs, group, "s", [(base + 30, "later")])
    more = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=last["nextForwardToken"]
    )
    assert [e["message"] for e in more["events"]] == ["later"]

    # Time range: startTime included, endTime not.
    ranged = logs.get_log_events(
        logGroupName=group, logStreamName="s", startTime=base + 3, endTime=base + 6
    )
    assert [e["message"] for e in ranged["events"]] == ["event 3", "event 4", "event 5"]

    with aws_error(NOT_FOUND, message=NO_STREAM):
        logs.get_log_events(logGroupName=group, logStreamName="missing")
    for token in ["garbage", "f/123", "x/" + "0" * 56, "f/" + "\u0661" * 56]:
        with aws_error(INVALID, message="The specified nextToken is invalid."):
            logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token)


def test_get_log_events_of_an_empty_stream(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    reply = logs.get_log_events(logGroupName=group, logStreamName="s")
    assert reply["events"] == []
    put(logs, group, "s", [(now_ms(), "first")])
    # The forward token of an empty stream reads what arrives later.
    later = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=reply["nextForwardToken"]
    )
    assert [e["message"] for e in later["events"]] == ["first"]


def test_filter_log_events(logs, group):
    base = now_ms() - 60_000
    for stream in ("web-1", "web-2", "worker"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    put(logs, group, "web-1", [(base, "GET /a 200"), (base + 20, "GET /b 500 ERROR")])
    put(logs, group, "web-2", [(base + 10, "POST /c 201"), (base + 20, "ERROR boom")])
    put(logs, group, "worker", [(base + 5, '{"level": "error", "job": 7}')])

    everything = logs.filter_log_events(logGroupName=group, interleaved=False)
    assert [(e["logStreamName"], e["timestamp"]) for e in everything["events"]] == [
        ("web-1", base),
        ("worker", base + 5),
        ("web-2", base + 10),
        ("web-1", base + 20),
        ("web-2", base + 20),
    ]
    assert everything["searchedLogStreams"] == []
    assert "nextToken" not in everything
    ids = [e["eventId"] for e in everything["events"]]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"[0-9]{56}", i) for i in ids)
    first = everything["events"][0]
    assert set(first) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}

    def messages(**params: Any) -> list[str]:
        return [e["message"] for e in every(logs.filter_log_events, "events", **params)]

    assert messages(logGroupName=group, filterPattern="ERROR") == [
        "GET /b 500 ERROR",
        "ERROR boom",
    ]
    assert messages(logGroupName=group, filterPattern='{ $.level = "error" }') == [
        '{"level": "error", "job": 7}'
    ]
    assert messages(logGroupName=group, filterPattern="") == messages(logGroupName=group)
    assert messages(logGroupName=group, logStreamNames=["web-2", "missing"]) == [
        "POST /c 201",
        "ERROR boom",
    ]
    assert messages(logGroupName=group, logStreamNamePrefix="web-") == [
        "GET /a 200",
        "POST /c 201",
        "GET /b 500 ERROR",
        "ERROR boom",
    ]
    # startTime and endTime are both included.
    assert messages(logGroupName=group, startTime=base + 5, endTime=base + 10) == [
        '{"level": "error", "job": 7}',
        "POST /c 201",
    ]
    arn = described(logs, group)["logGroupArn"]
    assert messages(logGroupIdentifier=arn, filterPattern="POST") == ["POST /c 201"]

    paged = pages(logs.filter_log_events, "events", logGroupName=group, limit=2)
    assert [len(page) for page in paged] == [2, 2, 1]
    assert [e for page in paged for e in page] == everything["events"]

    with aws_error(INVALID, message="Invalid filter pattern"):
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = ")
    with aws_error(INVALID, message="Invalid character(s) in term ':'"):
        logs.filter_log_events(logGroupName=group, filterPattern="ERROR:")
    with aws_error(INVALID):
        logs.filter_log_events(
            logGroupName=group, logStreamNames=["web-1"], logStreamNamePrefix="web"
        )
    with aws_error(INVALID, message="The specified nextToken is invalid."):
        logs.filter_log_events(logGroupName=group, nextToken="garbage")
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.filter_log_events(logGroupName=unique())


def test_filter_log_events_answers_partial_pages_over_large_groups(logs, group):
    """A rare match deep in a large group: AWS answers partial (even empty) pages with a
    nextToken rather than searching without end; following the tokens finds it."""
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    base = now_ms() - HOUR_MS
    for batch in range(3):
        start = base + batch * 10_000
        put(logs, group, "s", [(start + i, f"noise {i}") for i in range(10_000)])
    put(logs, group, "s", [(base + 40_000, "NEEDLE")])
    found, empty_pages = [], 0
    token = None
    while True:
        page = logs.filter_log_events(
            logGroupName=group, filterPattern="NEEDLE", **({"nextToken": token} if token else {})
        )
        found += page["events"]
        empty_pages += not page["events"]
        token = page.get("nextToken")
        if token is None:
            break
    assert [e["message"] for e in found] == ["NEEDLE"]
    assert empty_pages >= 1


# Retention


def test_retention_policy_values(logs, group):
    for days in (0, 2, 4000, -1):
        message = (
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{RETENTION_ENUM}]"
        )
        with aws_error(INVALID, message=message):
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    assert "retentionInDays" not in described(logs, group)
    for days in RETENTION_VALUES:
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert described(logs, group)["retentionInDays"] == days
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in described(logs, group)
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.put_retention_policy(logGroupName=unique(), retentionInDays=1)
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.delete_retention_policy(logGroupName=unique())


def stored_events(server: Server, group: str) -> list[tuple[int, bytes]]:
    """(timestamp, message_blob) of the group's events, as storage holds them."""
    query = sa.text(
        "SELECT e.timestamp, e.message_blob FROM logs_events e"
        " JOIN logs_groups g ON g.id = e.group_id WHERE g.name = :name ORDER BY e.seq"
    )
    with storage(storage_view(server)) as engine, engine.connect() as connection:
        return [(t, bytes(b)) for t, b in connection.execute(query, {"name": group})]


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background job never got there"
        time.sleep(0.2)


def test_retention_hides_then_deletes_expired_events(own_dev_server):
    server = own_dev_server
    logs = server.client("logs")
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    put(logs, group, "s", [(now - 10 * DAY_MS, "ten days old")])
    put(logs, group, "s", [(now - HOUR_MS, "fresh")])  # a batch spans a day at most
    assert described(logs, group)["storedBytes"] == len("ten days old") + len("fresh")

    # A shorter retention hides the older event at once; the job then deletes it.
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]] == ["fresh"]
    reply = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in reply["events"]] == ["fresh"]
    wait_for(lambda: len(stored_events(server, group)) == 1)
    assert described(logs, group)["storedBytes"] == len("fresh")

    # Eight days on (the dev clock), the other one expires too.
    strongroom("dev", "advance-clock", str(8 * 86400), "--endpoint", server.endpoint)
    assert logs.filter_log_events(logGroupName=group)["events"] == []
    assert logs.get_log_events(logGroupName=group, logStreamName="s")["events"] == []
    wait_for(lambda: stored_events(server, group) == [])
    assert described(logs, group)["storedBytes"] == 0
    # Without a retention policy nothing expires.
    other = unique()
    logs.create_log_group(logGroupName=other)
    logs.create_log_stream(logGroupName=other, logStreamName="s")
    clock_now = now_ms() + 8 * DAY_MS
    put(logs, other, "s", [(clock_now - 13 * DAY_MS, "old but kept")])
    time.sleep(2)  # two ticks of the job
    assert len(stored_events(server, other)) == 1


# Messages at rest


def put_phi(server: Server) -> tuple[Any, str, str]:
    """A group whose two events carry a made-up patient's data, with a unique marker."""
    logs = server.client("logs")
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="ward-7")
    marker = uuid.uuid4().hex
    phi = [f"patient MRN-{marker} glucose 312 mg/dL", f"patient MRN-{marker} discharged"]
    now = now_ms()
    put(logs, group, "ward-7", [(now - 1, phi[0]), (now, phi[1])])
    assert [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]] == phi
    return logs, group, marker


def test_messages_are_sealed_in_storage(own_dev_server):
    server = own_dev_server
    logs, group, marker = put_phi(server)
    rows = stored_events(server, group)
    assert len(rows) == 2
    for _, blob in rows:
        assert marker.encode() not in blob and b"glucose" not in blob
    assert marker not in server.log_text()

    # A message moved to another event's row does not decrypt there: both are left out,
    # never served under the wrong event, and the server says where (not what).
    query = (
        "UPDATE logs_events SET message_blob = :blob WHERE group_id ="
        " (SELECT id FROM logs_groups WHERE name = :name) AND timestamp = :timestamp"
    )
    view = storage_view(server)
    timestamps = [t for t, _ in rows]
    overwrite(view, query, blob=rows[1][1], name=group, timestamp=timestamps[0])
    overwrite(view, query, blob=rows[0][1], name=group, timestamp=timestamps[1])
    assert logs.filter_log_events(logGroupName=group)["events"] == []
    assert "failed authentication" in server.log_text()
    assert marker not in server.log_text()


def test_messages_are_nowhere_in_storage_in_the_clear(own_dev_server):
    _, _, marker = put_phi(own_dev_server)
    assert marker.encode() not in storage_dump(storage_view(own_dev_server))


# Metric filters


def transformation(**extra: Any) -> dict[str, Any]:
    return {"metricName": "SecretAccess", "metricNamespace": "AlphaVox", "metricValue": "1"} | extra


def test_metric_filters_are_stored_with_every_field(logs, group):
    before = now_ms()
    full = transformation(
        metricValue="$.latency",
        dimensions={"Secret": "$.requestParameters.secretId", "User": "$.userIdentity.arn"},
        unit="Milliseconds",
    )
    with_default = transformation(metricName="Errors", defaultValue=0.0)  # never with dimensions
    logs.put_metric_filter(
        logGroupName=group,
        filterName="SecretAccess",
        filterPattern="{ $.eventName = GetSecretValue }",
        metricTransformations=[full],
    )
    logs.put_metric_filter(
        logGroupName=group,
        filterName="Errors",
        filterPattern="ERROR",
        metricTransformations=[with_default],
    )
    listed = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in listed] == ["Errors", "SecretAccess"]
    assert listed[0]["metricTransformations"] == [with_default]
    secret_access = listed[1]
    assert secret_access == {
        "filterName": "SecretAccess",
        "filterPattern": "{ $.eventName = GetSecretValue }",
        "metricTransformations": [full],
        "creationTime": secret_access["creationTime"],
        "logGroupName": group,
    }
    assert before - 1000 <= secret_access["creationTime"] <= now_ms() + 1000
    assert described(logs, group)["metricFilterCount"] == 2

    # Replacing a filter keeps its creation time.
    logs.put_metric_filter(
        logGroupName=group,
        filterName="SecretAccess",
        filterPattern="{ $.eventName = GetSecretValue && $.readOnly IS TRUE }",
        metricTransformations=[transformation()],
    )
    replaced = logs.describe_metric_filters(logGroupName=group, filterNamePrefix="Secret")
    (entry,) = replaced["metricFilters"]
    assert entry["creationTime"] == secret_access["creationTime"]
    assert entry["metricTransformations"] == [transformation()]
    assert "&& $.readOnly IS TRUE" in entry["filterPattern"]

    # By metric, across the account's groups.
    other = unique()
    logs.create_log_group(logGroupName=other)
    metric = {"metricName": f"M{uuid.uuid4().hex}", "metricNamespace": "AlphaVox"}
    for name in (group, other):
        logs.put_metric_filter(
            logGroupName=name,
            filterName="Same",
            filterPattern="",
            metricTransformations=[transformation(**metric)],
        )
    found = every(logs.describe_metric_filters, "metricFilters", limit=1, **metric)
    assert [(f["filterName"], f["logGroupName"]) for f in found] == sorted(
        [("Same", group), ("Same", other)]
    )

    logs.delete_metric_filter(logGroupName=group, filterName="Errors")
    with aws_error(NOT_FOUND, message="The specified metric filter does not exist."):
        logs.delete_metric_filter(logGroupName=group, filterName="Errors")
    assert described(logs, group)["metricFilterCount"] == 2


def test_metric_filter_refusals(logs, group):
    def put_filter(name: str = "f", pattern: str = "ERROR", **extra: Any) -> None:
        logs.put_metric_filter(
            logGroupName=group,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[transformation(**extra)],
        )

    with aws_error(INVALID, message="Invalid metric filter pattern"):
        put_filter(pattern="{ $.a = ")
    with aws_error(INVALID, message="Invalid character(s) in term ':'"):
        put_filter(pattern="ERROR:")
    with aws_error(INVALID):
        put_filter(dimensions={f"d{i}": f"$.d{i}" for i in range(4)})
    with aws_error(INVALID):
        put_filter(metricValue="lots")
    with aws_error(INVALID):
        put_filter(name="nul\x00name")
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.put_metric_filter(
            logGroupName=unique(),
            filterName="f",
            filterPattern="",
            metricTransformations=[transformation()],
        )
    with aws_error(INVALID):
        logs.describe_metric_filters(metricName="SecretAccess")
    with aws_error(NOT_FOUND, message=NO_GROUP):
        logs.describe_metric_filters(logGroupName=unique())
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []

    # Five regular expressions per log group, over all its filters.
    put_filter("r1", "%a% %b%")
    put_filter("r2", "%c% %d%")
    with aws_error("LimitExceededException"):
        put_filter("r3", "%e% %f%")
    put_filter("r3", "%e%")
    put_filter("r2", "%c% %d%")  # replacing a filter counts its own expressions once
    # And a hundred filters.
    for i in range(97):
        put_filter(f"n{i:03d}")
    with aws_error("LimitExceededException"):
        put_filter("one-too-many")
    assert len(every(logs.describe_metric_filters, "metricFilters", logGroupName=group)) == 100


def test_test_metric_filter(logs):
    # AWS's documented example: a space-delimited pattern, and the values it extracts.
    line = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    reply = logs.test_metric_filter(
        filterPattern="[ip, user, username, timestamp, request, status_code = 4*, bytes]",
        logEventMessages=[line, line.replace(" 404 ", " 200 "), "too few fields"],
    )
    assert reply["matches"] == [
        {
            "eventNumber": 1,
            "eventMessage": line,
            "extractedValues": {
                "$ip": "127.0.0.1",
                "$user": "Prod",
                "$username": "frank",
                "$timestamp": "10/Oct/2000:13:25:15 -0700",
                "$request": "GET /index.html HTTP/1.0",
                "$status_code": "404",
                "$bytes": "1534",
            },
        }
    ]
    terms = logs.test_metric_filter(filterPattern="ERROR", logEventMessages=["ok", "ERROR x"])
    assert terms["matches"] == [
        {"eventNumber": 2, "eventMessage": "ERROR x", "extractedValues": {}}
    ]
    with aws_error(INVALID, message="Invalid metric filter pattern"):
        logs.test_metric_filter(filterPattern="[a, b", logEventMessages=["x"])


# Every filter pattern example, through the API


PATTERNS = sorted({case.pattern for case in CASES})


def test_filter_pattern_cases_through_test_metric_filter(logs):
    wrong = []
    for pattern in PATTERNS:
        cases = [case for case in CASES if case.pattern == pattern]
        for start in range(0, len(cases), 50):
            chunk = cases[start : start + 50]
            reply = logs.test_metric_filter(
                filterPattern=pattern, logEventMessages=[case.message for case in chunk]
            )
            matched = {m["eventNumber"]: m for m in reply["matches"]}
            for number, case in enumerate(chunk, 1):
                match = matched.get(number)
                if (match is not None) != case.matches:
                    wrong.append((pattern, case.message[:80], case.matches))
                elif match is not None and case.extracted not in (None, match["extractedValues"]):
                    wrong.append((pattern, case.message[:80], match["extractedValues"]))
    assert wrong == []


def test_filter_pattern_cases_through_filter_log_events(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="cases")
    messages = sorted({case.message for case in CASES})
    now = now_ms()
    put(logs, group, "cases", [(now - len(messages) + i, m) for i, m in enumerate(messages)])
    wrong = []
    for pattern in PATTERNS:
        found = {
            e["message"]
            for e in every(
                logs.filter_log_events, "events", logGroupName=group, filterPattern=pattern
            )
        }
        for case in CASES:
            if case.pattern == pattern and (case.message in found) != case.matches:
                wrong.append((pattern, case.message[:80], case.matches))
    assert wrong == []


def test_invalid_filter_patterns_through_the_api(logs, group):
    wrong = []
    for case in INVALID_CASES:
        if len(case.pattern) > 1024:
            continue  # the model refuses it first (its own validation message)
        metric_message = (
            "Invalid metric filter pattern" if case.message == GENERIC_MESSAGE else case.message
        )
        for call, expected in (
            (
                lambda p: logs.test_metric_filter(filterPattern=p, logEventMessages=["x"]),
                metric_message,
            ),
            (lambda p: logs.filter_log_events(logGroupName=group, filterPattern=p), case.message),
        ):
            try:
                call(case.pattern)
                wrong.append((case.pattern, "accepted"))
            except logs.exceptions.InvalidParameterException as error:
                if error.response["Error"]["Message"] != expected:
                    wrong.append((case.pattern, error.response["Error"]["Message"]))
    assert wrong == []


# Tags


def test_tags(logs):
    name = unique()
    logs.create_log_group(logGroupName=name, tags={"team": "records", "env": "test"})
    arn = described(logs, name)["logGroupArn"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "records",
        "env": "test",
    }
    logs.tag_resource(resourceArn=arn, tags={"team": "billing", "cost": "7"})
    logs.untag_resource(resourceArn=arn, tagKeys=["env", "absent"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "billing",
        "cost": "7",
    }
    # The older log-group-name operations see the same tags.
    logs.tag_log_group(logGroupName=name, tags={"old": "api"})
    logs.untag_log_group(logGroupName=name, tags=["cost"])
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {
        "team": "billing",
        "old": "api",
    }
    with aws_error("TooManyTagsException"):
        logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(49)})
    assert len(logs.list_tags_log_group(logGroupName=name)["tags"]) == 2
    logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(48)})  # 50 in all
    for missing in (
        arn.replace(name, unique()),
        arn.replace(REGION, "eu-west-1"),
        f"arn:aws:logs:{REGION}:{ACCOUNT}:destination:d",
    ):
        with aws_error(NOT_FOUND):
            logs.list_tags_for_resource(resourceArn=missing)


# The aws CLI


CLI_SCRIPT = r"""
aws logs create-log-group --log-group-name "$GROUP"
aws logs create-log-stream --log-group-name "$GROUP" --log-stream-name trail
aws logs put-log-events --log-group-name "$GROUP" --log-stream-name trail \
    --log-events "$EVENTS"
# Alert on secret access
aws logs put-metric-filter \
    --log-group-name "$GROUP" \
    --filter-name "SecretAccess" \
    --filter-pattern "{ $.eventName = GetSecretValue }" \
    --metric-transformations \
        metricName=SecretAccess,metricNamespace=AlphaVox,metricValue=1
# Review access logs
aws logs filter-log-events \
    --log-group-name "$GROUP" \
    --start-time $(date -d '24 hours ago' +%s)000 \
    --filter-pattern "{ $.eventName = GetSecretValue }"
"""


def test_the_aws_cli(dev_server, logs):
    group = unique()
    now = now_ms()
    events = [
        {"timestamp": now - 2000, "message": json.dumps({"eventName": "GetSecretValue", "n": 1})},
        {"timestamp": now - 1000, "message": json.dumps({"eventName": "ListSecrets", "n": 2})},
        {"timestamp": now, "message": json.dumps({"eventName": "GetSecretValue", "n": 3})},
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | dev_server.env()
    env |= {"GROUP": group, "EVENTS": json.dumps(events)}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", CLI_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The last command's output: the two GetSecretValue events.
    output = json.loads(done.stdout[done.stdout.rindex('{\n    "events"') :])
    assert [json.loads(e["message"])["n"] for e in output["events"]] == [1, 3]
    (metric_filter,) = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert metric_filter["filterPattern"] == "{ $.eventName = GetSecretValue }"
    assert metric_filter["metricTransformations"] == [
        {"metricName": "SecretAccess", "metricNamespace": "AlphaVox", "metricValue": "1"}
    ]
