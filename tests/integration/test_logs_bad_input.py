"""Hostile and malformed CloudWatch Logs requests, built by Hypothesis from botocore's input
shapes and sent hand-signed to a real server: every one must get a 400 with the right error
type, and none may change anything.

CloudWatch Logs answers a request that breaks the model's constraints (a required member
missing, a value too long, outside its enum or pattern) with InvalidParameterException, in
Coral's wording, where other services answer ValidationException; a body of the wrong JSON
types gets SerializationException. Explicit cases follow for input the service refuses rather
than the model, each with AWS's error.

"Nothing changed" covers the module's log group (its streams, events, retention, metric
filter and tags) and every group under the module's prefix, in this Region and another.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import given

from strongroom.protocol.registry import load_model
from tests.support import bad_requests, signing
from tests.support.bad_requests import SERIALIZATION, VALIDATION
from tests.support.server import REGION

MODEL = load_model("logs")
TARGET_PREFIX = MODEL.metadata["targetPrefix"]
OPERATIONS = [
    "CreateLogGroup",
    "DeleteLogGroup",
    "DescribeLogGroups",
    "CreateLogStream",
    "DeleteLogStream",
    "DescribeLogStreams",
    "PutLogEvents",
    "GetLogEvents",
    "FilterLogEvents",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "PutMetricFilter",
    "DescribeMetricFilters",
    "DeleteMetricFilter",
    "TestMetricFilter",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TagLogGroup",
    "UntagLogGroup",
    "ListTagsLogGroup",
]
OTHER_REGION = "eu-west-1"
INVALID = "InvalidParameterException"
NOT_FOUND = "ResourceNotFoundException"
EXISTS = "ResourceAlreadyExistsException"
CHANGED = "changed by a bad request"
NOW = int(time.time() * 1000)
TRANSFORMATION = {"metricName": "Bad", "metricNamespace": "BadInput", "metricValue": "1"}
# The model's error for a constraint violation, as CloudWatch Logs names it.
EXPECTED = {VALIDATION: INVALID, SERIALIZATION: SERIALIZATION}
STRUCTURE_VALUES: dict[str, dict[str, Any]] = {
    "InputLogEvent": {"timestamp": NOW, "message": CHANGED},
    "MetricTransformation": TRANSFORMATION,
}
# Optional members every request of the operation carries, so that it names the module's
# group (and a wrongly accepted request would show up as a change).
BASE_EXTRAS = {
    "DescribeLogStreams": ["logGroupName"],
    "GetLogEvents": ["logGroupName"],
    "FilterLogEvents": ["logGroupName"],
    "DescribeMetricFilters": ["logGroupName"],
}
EXCLUSIVE = [
    {"logGroupName", "logGroupIdentifier"},
    {"logStreamNames", "logStreamNamePrefix"},
    {"logGroupNamePrefix", "logGroupNamePattern"},
    {"logStreamNamePrefix", "orderBy"},
]
# Members that need another: metric name and namespace go together.
NEEDS = {
    ("DescribeMetricFilters", "metricName"): "metricNamespace",
    ("DescribeMetricFilters", "metricNamespace"): "metricName",
}


@dataclass(frozen=True)
class World:
    prefix: str
    group: str  # a stream "s" with events, retention 30 days, a metric filter, a tag
    arn: str

    def new_name(self) -> str:
        return f"{self.prefix}/new-{uuid.uuid4().hex[:8]}"


def call(
    server: Any, operation: str, body: Any, region: str = REGION
) -> tuple[int, dict[str, Any]]:
    """Sign and send one CloudWatch Logs call; `body` may be any JSON value or raw text."""
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    request = signing.signed_request(
        server, f"{TARGET_PREFIX}.{operation}", body, service="logs", region=region
    )
    return signing.send(server, request)


@pytest.fixture(scope="module")
def logs(dev_server):
    return dev_server.client("logs")


@pytest.fixture(scope="module")
def other_logs(dev_server):
    return dev_server.client("logs", region_name=OTHER_REGION)


@pytest.fixture(scope="module")
def world(logs) -> World:
    prefix = f"/bad-input/{uuid.uuid4().hex[:12]}"
    group = f"{prefix}/group"
    logs.create_log_group(logGroupName=group, tags={"owner": "bad-input"})
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": NOW - 1000 + i, "message": f"event {i}"} for i in range(3)],
    )
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[TRANSFORMATION],
    )
    (entry,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return World(prefix, group, entry["logGroupArn"])


def _plain(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}


def snapshot(logs: Any, other_logs: Any, world: World) -> dict[str, Any]:
    """Every group under the prefix in both Regions, and everything of the module's group."""
    group = world.group
    return {
        "groups": _plain(logs.describe_log_groups(logGroupNamePrefix=world.prefix)),
        "elsewhere": _plain(other_logs.describe_log_groups(logGroupNamePrefix=world.prefix)),
        "streams": _plain(logs.describe_log_streams(logGroupName=group)),
        "events": _plain(
            logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
        ),
        "filters": _plain(logs.describe_metric_filters(logGroupName=group)),
        "tags": _plain(logs.list_tags_for_resource(resourceArn=world.arn)),
    }


def top_level_value(name: str, shape: Shape, operation: str, world: World) -> Any:
    """A valid value naming the module's own resources."""
    creates = operation == "CreateLogGroup"
    values: dict[str, Callable[[], Any]] = {
        "logGroupName": lambda: world.new_name() if creates else world.group,
        "logGroupIdentifier": lambda: world.arn,
        "logGroupNamePrefix": lambda: world.prefix,
        "logStreamName": lambda: "new-stream" if operation == "CreateLogStream" else "s",
        "logStreamNames": lambda: ["s"],
        "logEvents": lambda: [{"timestamp": NOW, "message": CHANGED}],
        "retentionInDays": lambda: 1,
        "filterName": lambda: "errors",
        "filterPattern": lambda: "ERROR",
        "metricTransformations": lambda: [dict(TRANSFORMATION, metricName="Changed")],
        "resourceArn": lambda: world.arn,
        "tags": lambda: ["owner"] if operation == "UntagLogGroup" else {"owner": "changed"},
        "tagKeys": lambda: ["owner"],
    }
    return values[name]() if name in values else bad_requests.valid_value(shape, STRUCTURE_VALUES)


SERVICE = bad_requests.Service(
    top_level_value,
    minimal_request={"limit": 1},
    id_member="logGroupName",
    structures=STRUCTURE_VALUES,
    base_extras=BASE_EXTRAS,
    exclusive=[frozenset(group) for group in EXCLUSIVE],
    needs=NEEDS,
)


def _error_fields_ok(payload: dict[str, Any]) -> bool:
    return set(payload) == {"__type", "message"}


@pytest.mark.parametrize("operation_name", OPERATIONS)
def test_bad_requests_get_400_and_change_nothing(
    dev_server, logs, other_logs, world, operation_name
):
    operation = MODEL.operation_model(operation_name)
    before = snapshot(logs, other_logs, world)

    @bad_requests.SETTINGS
    @given(bad=bad_requests.bad_request(operation, world, SERVICE))
    def check(bad: bad_requests.BadRequest) -> None:
        status, payload = call(dev_server, operation_name, bad.body)
        assert status == 400, (status, payload)
        assert payload.get("__type") in {EXPECTED[code] for code in bad.expected}, payload
        assert _error_fields_ok(payload), payload

    check()
    assert snapshot(logs, other_logs, world) == before


# Input the service refuses rather than the model.

Body = Callable[[World], Any]
RETENTION_ENUM = (
    "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, "
    "545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"
)


def _case(
    operation: str,
    body: Body,
    expected: str,
    case_id: str,
    *,
    message: str | None = None,
    region: str = REGION,
) -> Any:
    return pytest.param(operation, body, expected, message, region, id=case_id)


def _events(*events: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"timestamp": t, "message": m} for t, m in events]


SERVICE_CASES = [
    _case(
        "CreateLogGroup",
        lambda w: {"logGroupName": "aws/reserved"},
        INVALID,
        "reserved name",
        message="Log groups starting with AWS/ are reserved for AWS.",
    ),
    _case(
        "CreateLogGroup",
        lambda w: {"logGroupName": w.group, "tags": {"owner": "changed"}},
        EXISTS,
        "existing group",
        message="The specified log group already exists",
    ),
    _case("DeleteLogGroup", lambda w: {"logGroupName": w.new_name()}, NOT_FOUND, "delete none"),
    _case(
        "DescribeLogGroups",
        lambda w: {"logGroupNamePrefix": w.prefix, "logGroupNamePattern": "group"},
        INVALID,
        "prefix and pattern",
    ),
    _case("DescribeLogGroups", lambda w: {"nextToken": "garbage"}, INVALID, "groups token"),
    _case(
        "CreateLogStream",
        lambda w: {"logGroupName": w.group, "logStreamName": "s"},
        EXISTS,
        "existing stream",
        message="The specified log stream already exists",
    ),
    _case(
        "CreateLogStream",
        lambda w: {"logGroupName": w.group, "logStreamName": "a\x00b"},
        INVALID,
        "NUL in a stream name",
    ),
    _case(
        "CreateLogStream",
        lambda w: {"logGroupName": w.group, "logStreamName": "s"},
        NOT_FOUND,
        "stream in another Region's missing group",
        region=OTHER_REGION,
    ),
    _case(
        "DeleteLogStream",
        lambda w: {"logGroupName": w.group, "logStreamName": "missing"},
        NOT_FOUND,
        "delete no stream",
        message="The specified log stream does not exist.",
    ),
    _case(
        "DescribeLogStreams",
        lambda w: {"logGroupName": w.group, "orderBy": "LastEventTime", "logStreamNamePrefix": "s"},
        INVALID,
        "order by time with a prefix",
        message="Cannot order by LastEventTime with a logStreamNamePrefix.",
    ),
    _case(
        "DescribeLogStreams",
        lambda w: {"logGroupName": w.group, "logGroupIdentifier": w.arn},
        "ValidationException",
        "name and identifier",
    ),
    _case("DescribeLogStreams", lambda w: {}, INVALID, "neither name nor identifier"),
    _case(
        "DescribeLogStreams",
        lambda w: {"logGroupName": w.group, "nextToken": "garbage"},
        INVALID,
        "streams token",
    ),
    _case(
        "PutLogEvents",
        lambda w: {
            "logGroupName": w.group,
            "logStreamName": "s",
            "logEvents": _events((NOW, CHANGED), (NOW - 1, CHANGED)),
        },
        INVALID,
        "events out of order",
        message="Log events in a single PutLogEvents request must be in chronological order.",
    ),
    _case(
        "PutLogEvents",
        lambda w: {
            "logGroupName": w.group,
            "logStreamName": "s",
            "logEvents": _events((NOW, "x" * (1_048_576 - 25))),
        },
        INVALID,
        "upload too large",
        message="Upload too large: 1048577 bytes exceeds limit of 1048576",
    ),
    _case(
        "PutLogEvents",
        lambda w: {
            "logGroupName": w.group,
            "logStreamName": "s",
            "logEvents": _events((NOW - 25 * 3_600_000, CHANGED), (NOW, CHANGED)),
        },
        INVALID,
        "batch over a day",
    ),
    _case(
        "PutLogEvents",
        lambda w: {"logGroupName": w.group, "logStreamName": "missing", "logEvents": _events()},
        INVALID,
        "no events",
    ),
    _case(
        "PutLogEvents",
        lambda w: {
            "logGroupName": w.group,
            "logStreamName": "missing",
            "logEvents": _events((NOW, CHANGED)),
        },
        NOT_FOUND,
        "put to no stream",
        message="The specified log stream does not exist.",
    ),
    _case(
        "PutLogEvents",
        lambda w: {
            "logGroupName": w.new_name(),
            "logStreamName": "s",
            "logEvents": _events((NOW, CHANGED)),
        },
        NOT_FOUND,
        "put to no group",
        message="The specified log group does not exist.",
    ),
    *(
        _case(
            "GetLogEvents",
            lambda w, token=token: {
                "logGroupName": w.group,
                "logStreamName": "s",
                "nextToken": token,
            },
            INVALID,
            f"events token {token[:12]!r}",
            message="The specified nextToken is invalid.",
        )
        for token in ("garbage", "f/1", "b/" + "0" * 55 + "x", "f/" + "\u0661" * 56)
    ),
    _case(
        "GetLogEvents",
        lambda w: {"logGroupName": w.group, "logStreamName": "missing"},
        NOT_FOUND,
        "events of no stream",
    ),
    _case(
        "FilterLogEvents",
        lambda w: {"logGroupName": w.group, "logStreamNames": ["s"], "logStreamNamePrefix": "s"},
        INVALID,
        "names and prefix",
    ),
    _case(
        "FilterLogEvents",
        lambda w: {"logGroupName": w.group, "filterPattern": "{ $.a = "},
        INVALID,
        "bad filter pattern",
        message="Invalid filter pattern",
    ),
    _case(
        "FilterLogEvents",
        lambda w: {"logGroupName": w.group, "nextToken": "garbage"},
        INVALID,
        "filter token",
    ),
    *(
        _case(
            "PutRetentionPolicy",
            lambda w, days=days: {"logGroupName": w.group, "retentionInDays": days},
            INVALID,
            f"retention of {days} days",
            message=f"1 validation error detected: Value '{days}' at 'retentionInDays' failed "
            f"to satisfy constraint: {RETENTION_ENUM}",
        )
        for days in (0, 2, 4000, -7)
    ),
    _case(
        "PutMetricFilter",
        lambda w: {
            "logGroupName": w.group,
            "filterName": "errors",
            "filterPattern": "[a, b",
            "metricTransformations": [TRANSFORMATION],
        },
        INVALID,
        "bad metric filter pattern",
        message="Invalid metric filter pattern",
    ),
    _case(
        "PutMetricFilter",
        lambda w: {
            "logGroupName": w.group,
            "filterName": "errors",
            "filterPattern": "ERROR",
            "metricTransformations": [
                dict(TRANSFORMATION, dimensions={f"d{i}": f"$.d{i}" for i in range(4)})
            ],
        },
        INVALID,
        "four dimensions",
    ),
    _case(
        "PutMetricFilter",
        lambda w: {
            "logGroupName": w.group,
            "filterName": "errors",
            "filterPattern": "ERROR",
            "metricTransformations": [dict(TRANSFORMATION, metricValue="lots")],
        },
        INVALID,
        "metric value neither number nor field",
    ),
    _case(
        "PutMetricFilter",
        lambda w: {
            "logGroupName": w.group,
            "filterName": "errors\x00",
            "filterPattern": "ERROR",
            "metricTransformations": [TRANSFORMATION],
        },
        INVALID,
        "NUL in a filter name",
    ),
    _case(
        "DescribeMetricFilters",
        lambda w: {"metricName": "Bad"},
        INVALID,
        "metric name without namespace",
    ),
    _case(
        "DeleteMetricFilter",
        lambda w: {"logGroupName": w.group, "filterName": "missing"},
        NOT_FOUND,
        "delete no metric filter",
        message="The specified metric filter does not exist.",
    ),
    _case(
        "TestMetricFilter",
        lambda w: {"filterPattern": "ERROR:", "logEventMessages": ["x"]},
        INVALID,
        "bad test pattern",
        message="Invalid character(s) in term ':'",
    ),
    _case(
        "TagResource",
        lambda w: {"resourceArn": w.arn, "tags": {f"k{i}": "v" for i in range(50)}},
        "TooManyTagsException",
        "fifty-one tags",
    ),
    _case(
        "TagResource",
        lambda w: {"resourceArn": w.arn.replace(REGION, OTHER_REGION), "tags": {"a": "b"}},
        NOT_FOUND,
        "tag another Region's ARN",
    ),
    _case(
        "UntagResource",
        lambda w: {"resourceArn": w.arn + "-missing", "tagKeys": ["owner"]},
        NOT_FOUND,
        "untag no group",
    ),
]


@pytest.mark.parametrize(("operation", "body", "expected", "message", "region"), SERVICE_CASES)
def test_service_level_bad_input(
    dev_server, logs, other_logs, world, operation, body, expected, message, region
):
    before = snapshot(logs, other_logs, world)
    status, payload = call(dev_server, operation, body(world), region)
    assert (status, payload.get("__type")) == (400, expected), payload
    assert _error_fields_ok(payload), payload
    if message is not None:
        assert payload["message"] == message
    assert snapshot(logs, other_logs, world) == before


@pytest.mark.parametrize(
    "target", [f"{TARGET_PREFIX}.NoSuchOperation", f"{TARGET_PREFIX}X.PutLogEvents"]
)
def test_unknown_operations_and_targets(dev_server, target):
    request = signing.signed_request(dev_server, target, {}, service="logs")
    status, payload = signing.send(dev_server, request)
    assert (status, payload.get("__type")) == (400, "UnknownOperationException"), payload
