"""Hostile and malformed Secrets Manager requests, built by Hypothesis from botocore's input
shapes and sent hand-signed to a real server: every one must get a 400 with the right error
type, and none may change anything.

Each example takes a request that is valid except for exactly one thing: a required member
missing, a value over or under its length or range, of the wrong JSON type, outside its enum,
breaking its pattern, bad base64 in a blob, or a body that is not a JSON object at all. Explicit
cases follow for input the service rather than the shape refuses (filters, page tokens, recovery
windows, secret names, values that are both string and binary), each with the error AWS gives.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.protocol.registry import load_model
from tests.support import signing

MODEL = load_model("secretsmanager")
TARGET_PREFIX = MODEL.metadata["targetPrefix"]
# Resource policies, replication and rotation join this list as they are built.
OPERATIONS = [
    "CreateSecret",
    "GetSecretValue",
    "BatchGetSecretValue",
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "DescribeSecret",
    "ListSecrets",
    "ListSecretVersionIds",
    "DeleteSecret",
    "RestoreSecret",
    "GetRandomPassword",
    "TagResource",
    "UntagResource",
]
# Optional members every request of the operation carries, so that the base request does
# something (and a wrongly accepted one would show up as a change).
BASE_EXTRAS = {
    "CreateSecret": ["SecretString"],
    "PutSecretValue": ["SecretString"],  # the service needs SecretString or SecretBinary
    "UpdateSecret": ["SecretString"],
    "UpdateSecretVersionStage": ["RemoveFromVersionId", "MoveToVersionId"],
    "BatchGetSecretValue": ["SecretIdList"],  # the service needs SecretIdList or Filters
}
# Members that cannot go together: a defect in one drops the others from the request.
EXCLUSIVE = [
    {"SecretString", "SecretBinary"},
    {"SecretIdList", "Filters"},
    {"RecoveryWindowInDays", "ForceDeleteWithoutRecovery"},
]
# Members that need another: a defect in the first brings the second (BatchGetSecretValue
# pages only through a Filters listing).
NEEDS = {
    ("BatchGetSecretValue", "MaxResults"): "Filters",
    ("BatchGetSecretValue", "NextToken"): "Filters",
}
# Valid values of structures whose members the model leaves optional but the service needs.
STRUCTURE_VALUES: dict[str, dict[str, Any]] = {
    "Filter": {"Key": "name", "Values": ["bad-input"]},
    "Tag": {"Key": "bad-input", "Value": "v"},
}
LABEL = "BADINPUT"
SERIALIZATION = "SerializationException"
VALIDATION = "ValidationException"
INVALID_PARAMETER = "InvalidParameterException"
INVALID_REQUEST = "InvalidRequestException"
INVALID_NEXT_TOKEN = "InvalidNextTokenException"
NOT_FOUND = "ResourceNotFoundException"
# Characters at least one model pattern refuses: space, punctuation, beyond Latin-1, control.
PATTERN_BREAKERS = [" ", "!", "é", "\u0100", "\u2603", "\U0001f600", "\x00", "\x7f", "\n"]
WRONG_TYPES = {
    "string": [1, 1.5, True, [], {}, ["a"]],
    "blob": [1, True, [], {}, 1.5],
    "integer": ["1", 1.5, True, [], {}, 2**31, -(2**31) - 1, 10**30],
    "long": ["1", 1.5, True, [], {}, 2**63],
    "boolean": ["true", "false", 0, 1, [], {}],
    "list": ["a", 1, True, {}],
    "map": ["a", 1, True, []],
    "structure": ["a", 1, True, []],
}
BAD_BASE64 = ["!!!!", "YQ=", "Y", "é", "YQ==YQ==", "====", "Y Q=="]


@dataclass(frozen=True)
class World:
    """Secrets a request may name validly, owned by this module."""

    prefix: str
    name: str  # three versions: AWSPREVIOUS, AWSCURRENT, and one holding LABEL
    deleted: str  # scheduled for deletion
    current_version: str
    labelled_version: str

    def new_name(self) -> str:
        return f"{self.prefix}/new-{uuid.uuid4()}"


@dataclass(frozen=True)
class BadRequest:
    kind: str
    body: bytes | str
    expected: frozenset[str]
    secret: str | None = None  # a sensitive value that must never come back in the message

    def __repr__(self) -> str:  # keep Hypothesis' failure report readable
        shown = self.body if len(self.body) < 300 else self.body[:300] + "..."
        return f"BadRequest({self.kind!r}, {shown!r})"


def call(server: Any, operation: str, body: Any) -> tuple[int, dict[str, Any]]:
    """Sign and send one Secrets Manager JSON call; `body` may be any JSON value or raw text."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    request = signing.signed_request(
        server, f"{TARGET_PREFIX}.{operation}", body, service="secretsmanager"
    )
    return signing.send(server, request)


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


def make_world(sm: Any) -> World:
    prefix = f"bad-input/{uuid.uuid4().hex[:12]}"
    name, deleted = f"{prefix}/secret", f"{prefix}/deleted"
    sm.create_secret(
        Name=name,
        SecretString="one",
        Description="bad input",
        Tags=[{"Key": "owner", "Value": "bad-input"}],
    )
    current = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    labelled = sm.put_secret_value(SecretId=name, SecretString="three", VersionStages=[LABEL])
    sm.create_secret(Name=deleted, SecretString="gone")
    sm.delete_secret(SecretId=deleted, RecoveryWindowInDays=7)
    sm.get_secret_value(SecretId=name)  # LastAccessedDate is set once, not by the snapshots
    return World(prefix, name, deleted, current, labelled["VersionId"])


@pytest.fixture(scope="module")
def world(sm) -> World:
    return make_world(sm)


@pytest.fixture
def fresh_world(sm) -> World:
    """A world of the test's own: a wrongly accepted request cannot spoil the next case."""
    return make_world(sm)


# What a test can see of the service


def _plain(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}


def snapshot(sm: Any, world: World) -> dict[str, Any]:
    """Every secret of the account, and the value, metadata and versions of the module's own."""
    value = _plain(sm.get_secret_value(SecretId=world.name))
    listed: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sm.list_secrets(
            IncludePlannedDeletion=True, MaxResults=100, **({"NextToken": token} if token else {})
        )
        listed.extend(page["SecretList"])
        token = page.get("NextToken")
        if not token:
            break
    own = (world.name, world.deleted)
    return {
        "value": value,
        "listed": sorted(listed, key=lambda entry: entry["ARN"]),
        "described": {n: _plain(sm.describe_secret(SecretId=n)) for n in own},
        "versions": {
            n: _plain(sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)) for n in own
        },
    }


# Valid values


def _pattern(shape: Shape) -> re.Pattern[str] | None:
    text = shape.metadata.get("pattern")
    if text is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(text)


def _fits_pattern(shape: Shape, value: str) -> bool:
    pattern = _pattern(shape)
    return pattern is None or pattern.fullmatch(value) is not None


def _valid_string(shape: Shape, length: int | None = None) -> str:
    """A value of the given length (else the shortest one) that fits the shape's pattern."""
    if shape.metadata.get("enum"):
        return str(shape.metadata["enum"][0])
    shortest = max(shape.metadata.get("min", 1), 1)
    for n in [length] if length is not None else range(shortest, shortest + 8):
        for candidate in ("a" * n, "a" * (n - 2) + "-1"):  # the second fits e.g. us-east-1
            if len(candidate) == n and _fits_pattern(shape, candidate):
                return candidate
    raise AssertionError(f"no valid value of length {length} for {shape.name}")


def valid_value(shape: Shape) -> Any:
    """A small value that satisfies every constraint of the shape."""
    kind, low = shape.type_name, shape.metadata.get("min")
    if shape.name in STRUCTURE_VALUES:
        return copy.deepcopy(STRUCTURE_VALUES[shape.name])
    if kind == "string":
        return _valid_string(shape)
    if kind == "blob":
        return base64.b64encode(b"x" * max(low or 1, 1)).decode()
    if kind in ("integer", "long"):
        return max(low or 1, 1)
    if kind == "boolean":
        return False
    if isinstance(shape, ListShape):
        return [valid_value(shape.member) for _ in range(max(low or 1, 1))]
    if isinstance(shape, MapShape):
        return {"k": valid_value(shape.value)}
    if isinstance(shape, StructureShape):
        return {name: valid_value(shape.members[name]) for name in shape.required_members}
    raise AssertionError(f"unexpected shape type {kind}")


def top_level_value(name: str, shape: Shape, operation: str, world: World) -> Any:
    """A valid value that names the module's own secrets, so a wrongly accepted request
    would show up as a change."""
    changed = "changed by a bad request"
    values: dict[str, Callable[[], Any]] = {
        "SecretId": lambda: world.deleted if operation == "RestoreSecret" else world.name,
        "Name": world.new_name,
        "SecretIdList": lambda: [world.name],
        "Filters": lambda: [{"Key": "name", "Values": [world.prefix]}],
        "ClientRequestToken": lambda: str(uuid.uuid4()),
        "SecretString": lambda: changed,
        "SecretBinary": lambda: base64.b64encode(changed.encode()).decode(),
        "Description": lambda: changed,
        "VersionId": lambda: world.current_version,
        "VersionStage": lambda: LABEL if operation == "UpdateSecretVersionStage" else "AWSCURRENT",
        "RemoveFromVersionId": lambda: world.labelled_version,
        "MoveToVersionId": lambda: world.current_version,
        "VersionStages": lambda: ["AWSCURRENT"],
        "Tags": lambda: [{"Key": "owner", "Value": "changed"}],
        "TagKeys": lambda: ["owner"],
        "RecoveryWindowInDays": lambda: 7,
    }
    return values[name]() if name in values else valid_value(shape)


# One defect at one place


@dataclass(frozen=True)
class Spot:
    """A place in the request: a path of member names and list/map steps, and its shape."""

    path: tuple[str, ...]
    shape: Shape
    required: bool
    sensitive: bool


def spots(
    shape: StructureShape, prefix: tuple[str, ...] = (), depth: int = 0, sensitive: bool = False
) -> list[Spot]:
    found: list[Spot] = []
    for name, member in shape.members.items():
        path = (*prefix, name)
        secret = sensitive or bool(member.metadata.get("sensitive"))
        found.append(Spot(path, member, name in shape.required_members, secret))
        if depth < 3:
            found += _inner_spots(member, path, depth, secret)
    return found


def _inner_spots(shape: Shape, path: tuple[str, ...], depth: int, sensitive: bool) -> list[Spot]:
    if isinstance(shape, StructureShape) and not shape.metadata.get("document"):
        return spots(shape, path, depth + 1, sensitive)
    if isinstance(shape, ListShape):
        item = (*path, "[0]")
        return [
            Spot(item, shape.member, False, sensitive),
            *_inner_spots(shape.member, item, depth + 1, sensitive),
        ]
    if isinstance(shape, MapShape):
        value = (*path, "{k}")
        return [
            Spot(value, shape.value, False, sensitive),
            *_inner_spots(shape.value, value, depth + 1, sensitive),
        ]
    return []


def defects(spot: Spot) -> list[tuple[str, str]]:
    """(kind, expected error) of every defect this spot can carry."""
    shape, metadata = spot.shape, spot.shape.metadata
    kind = shape.type_name
    found = [("wrong type", SERIALIZATION)]
    if spot.required:
        found.append(("missing", VALIDATION))
    if kind in ("string", "blob", "list"):
        if metadata.get("min", 0) > 0:
            found.append(("too short", VALIDATION))
        if "max" in metadata:
            found.append(("too long", VALIDATION))
    if kind in ("integer", "long"):
        if "min" in metadata:
            found.append(("too small", VALIDATION))
        if "max" in metadata:
            found.append(("too large", VALIDATION))
    if kind == "string" and metadata.get("enum"):
        found.append(("not in enum", VALIDATION))
    if kind == "string" and "pattern" in metadata and not metadata.get("enum"):
        found.append(("breaks pattern", VALIDATION))
    if kind == "blob":
        found.append(("bad base64", SERIALIZATION))
    return found


@st.composite
def bad_value(draw: st.DrawFn, shape: Shape, kind: str) -> Any:
    metadata = shape.metadata
    low, high = metadata.get("min", 0), metadata.get("max")
    if kind == "wrong type":
        return draw(st.sampled_from(WRONG_TYPES[shape.type_name]))
    if kind == "bad base64":
        return draw(st.sampled_from(BAD_BASE64))
    if kind in ("too short", "too long"):
        length = (
            draw(st.integers(0, low - 1)) if kind == "too short" else high + draw(st.integers(1, 3))
        )
        if shape.type_name == "string":
            return _valid_string(shape, length) if length else ""
        if shape.type_name == "blob":
            return base64.b64encode(b"x" * length).decode()
        assert isinstance(shape, ListShape)
        return [valid_value(shape.member) for _ in range(length)]
    if kind == "too small":
        return draw(st.integers(max(low - 1000, -(2**31)), low - 1))
    if kind == "too large":
        return draw(st.integers(high + 1, min(high + 1000, 2**31 - 1)))
    if kind == "not in enum":
        enum = metadata["enum"]
        near_misses = [v.upper() for v in enum] + [v + " " for v in enum] + ["", "X"]
        return draw(
            (st.sampled_from(near_misses) | st.text(max_size=12)).filter(
                lambda value: value not in enum
            )
        )
    if kind == "breaks pattern":
        base = _valid_string(shape)
        breaking = [base + c for c in PATTERN_BREAKERS if not _fits_pattern(shape, base + c)]
        return draw(st.sampled_from(breaking))
    raise AssertionError(kind)


def _container(request: dict[str, Any], parent: tuple[str, ...]) -> Any:
    """The list, map or structure at `parent` (which _ensure_path has made present)."""
    current: Any = request
    for step in parent:
        if step == "[0]":
            current = current[0]
        elif step == "{k}":
            current = current["k"]
        else:
            current = current[step]
    return current


def _place(request: dict[str, Any], spot: Spot, value: Any, remove: bool) -> None:
    container = _container(request, spot.path[:-1])
    last = spot.path[-1]
    key: Any = 0 if last == "[0]" else "k" if last == "{k}" else last
    if remove:
        del container[key]
    else:
        container[key] = value


def _ensure_path(request: dict[str, Any], operation: Any, spot: Spot, world: World) -> None:
    """Make every ancestor of the spot present with a valid value (a one-element list, ...)."""
    name = spot.path[0]
    if name not in request:
        request[name] = top_level_value(
            name, operation.input_shape.members[name], operation.name, world
        )
    container: Any = request[name]
    shape: Shape = operation.input_shape.members[name]
    for step in spot.path[1:]:
        if step == "[0]":
            assert isinstance(shape, ListShape)
            if not container:
                container.append(valid_value(shape.member))
            container, shape = container[0], shape.member
        elif step == "{k}":
            assert isinstance(shape, MapShape)
            container.setdefault("k", valid_value(shape.value))
            container, shape = container["k"], shape.value
        else:
            assert isinstance(shape, StructureShape)
            shape = shape.members[step]
            if step not in container:
                container[step] = valid_value(shape)
            container = container[step]


def _fit_companions(request: dict[str, Any], operation: Any, member: str, world: World) -> None:
    """Bring what the defective member needs, and drop what it cannot go with."""
    needed = NEEDS.get((operation.name, member))
    if needed is not None and needed not in request:
        shape = operation.input_shape.members[needed]
        request[needed] = top_level_value(needed, shape, operation.name, world)
    for chosen in (member, needed):
        for group in EXCLUSIVE:
            if chosen in group:
                for other in group - {chosen}:
                    request.pop(other, None)


def base_request(operation: Any, world: World) -> dict[str, Any]:
    shape = operation.input_shape
    names = [*shape.required_members, *BASE_EXTRAS.get(operation.name, [])]
    return {
        name: top_level_value(name, shape.members[name], operation.name, world) for name in names
    }


MALFORMED = "malformed body"


@st.composite
def bad_request(draw: st.DrawFn, operation: Any, world: World) -> BadRequest:
    """One defect: first its kind (so rare kinds are drawn as often as common ones), then where."""
    by_kind: dict[str, list[tuple[Spot, str]]] = {}
    for spot in spots(operation.input_shape):
        for kind, expected in defects(spot):
            by_kind.setdefault(kind, []).append((spot, expected))
    kind = draw(st.sampled_from([*sorted(by_kind), MALFORMED]))
    if kind == MALFORMED:
        return draw(malformed_body(operation, world))
    spot, expected = draw(st.sampled_from(by_kind[kind]))
    request = base_request(operation, world)
    _fit_companions(request, operation, spot.path[0], world)
    _ensure_path(request, operation, spot, world)
    value = None
    if kind == "missing":
        _place(request, spot, None, remove=True)
    else:
        value = draw(bad_value(spot.shape, kind))
        _place(request, spot, value, remove=False)
    secret = value if spot.sensitive and isinstance(value, str) and len(value) >= 8 else None
    label = f"{kind} at {'.'.join(spot.path)}"
    return BadRequest(label, json.dumps(request), frozenset({expected}), secret)


@st.composite
def malformed_body(draw: st.DrawFn, operation: Any, world: World) -> BadRequest:
    valid = json.dumps(base_request(operation, world) or {"MaxResults": 1})
    kind = draw(st.sampled_from(["truncated", "not an object", "garbage", "deep nesting"]))
    if kind == "truncated":
        body: bytes | str = valid[: draw(st.integers(1, len(valid) - 1))]
    elif kind == "not an object":
        body = draw(st.sampled_from(["[]", "null", "1", '"text"', "true", "[{}]", f"[{valid}]"]))
    elif kind == "garbage":
        body = draw(st.binary(min_size=1, max_size=64).filter(_not_a_json_object))
    else:
        depth = draw(st.integers(1_000, 200_000))
        body = draw(st.sampled_from(["[" * depth, '{"a":' * depth, '{"SecretId":' + "[" * depth]))
    return BadRequest(f"{MALFORMED}: {kind}", body, frozenset({SERIALIZATION}))


def _not_a_json_object(body: bytes) -> bool:
    if not body.strip():
        return False  # an empty body means {}, a valid request for some operations
    try:
        return not isinstance(json.loads(body), dict)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return True


def _error_fields_ok(payload: dict[str, Any]) -> bool:
    # Model errors carry "Message"; ValidationException and SerializationException "message".
    return set(payload) in ({"__type", "message"}, {"__type", "Message"})


@pytest.mark.parametrize("operation_name", OPERATIONS)
def test_bad_requests_get_400_and_change_nothing(dev_server, sm, world, operation_name):
    operation = MODEL.operation_model(operation_name)
    before = snapshot(sm, world)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(bad=bad_request(operation, world))
    def check(bad: BadRequest) -> None:
        status, payload = call(dev_server, operation_name, bad.body)
        assert status == 400, (status, payload)
        # Exactly the error the defect calls for (never merely some model error).
        assert payload.get("__type") in bad.expected, payload
        assert _error_fields_ok(payload), payload
        if bad.secret is not None:
            assert bad.secret not in json.dumps(payload, ensure_ascii=False)

    check()
    assert snapshot(sm, world) == before


# Input the service refuses rather than the shape. Each body is built from a world of the
# test's own; the expected error is AWS's (a set where AWS does not document which it gives).

Body = Callable[[World], Any]
INVALID_NAMES = ["bad name", "bad*name?", "a\x00b"]


def _case(operation: str, body: Body, expected: str | set[str], case_id: str) -> Any:
    return pytest.param(
        operation,
        body,
        frozenset({expected} if isinstance(expected, str) else expected),
        id=case_id,
    )


WRITES = ["CreateSecret", "PutSecretValue", "UpdateSecret"]


def _writes(operation: str, w: World, **members: Any) -> dict[str, Any]:
    """A request that writes a value: to a new secret (CreateSecret) or to the world's secret.
    A member given as None is left out."""
    target = {"Name": w.new_name()} if operation == "CreateSecret" else {"SecretId": w.name}
    request = {**target, "SecretString": "x", **members}
    return {k: v for k, v in request.items() if v is not None}


SERVICE_CASES = [
    # ListSecrets filters: the key is a model enum; a filter without Key or Values is refused by
    # the service, an empty Values list by the model (min 1).
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "bogus", "Values": ["a"]}]},
        VALIDATION,
        "filter key outside the enum",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": []}]},
        VALIDATION,
        "filter with empty values",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name"}]},
        INVALID_PARAMETER,
        "filter without values",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Values": ["a"]}]},
        INVALID_PARAMETER,
        "filter without key",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": ["a"]}] * 11},
        VALIDATION,
        "eleven filters",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": ["caf\u00e9"]}]},
        VALIDATION,
        "filter value outside the pattern",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": ["a\x00"]}]},
        VALIDATION,
        "filter value with NUL",
    ),
    _case(
        "BatchGetSecretValue",
        lambda w: {"Filters": [{"Key": "name"}]},
        INVALID_PARAMETER,
        "batch filter without values",
    ),
    # Page tokens the service never issued.
    _case("ListSecrets", lambda w: {"NextToken": "garbage"}, INVALID_NEXT_TOKEN, "list token"),
    _case(
        "ListSecretVersionIds",
        lambda w: {"SecretId": w.name, "NextToken": "garbage"},
        INVALID_NEXT_TOKEN,
        "versions token",
    ),
    _case(
        "ListSecretVersionIds",
        lambda w: {"SecretId": w.name, "NextToken": "\u0661"},  # ARABIC-INDIC DIGIT ONE
        INVALID_NEXT_TOKEN,
        "versions token of a non-ASCII digit",
    ),
    _case(
        "BatchGetSecretValue",
        lambda w: {"Filters": [{"Key": "name", "Values": [w.prefix]}], "NextToken": "garbage"},
        INVALID_NEXT_TOKEN,
        "batch token",
    ),
    # SecretIdList and Filters: exactly one; MaxResults only with Filters.
    _case(
        "BatchGetSecretValue",
        lambda w: {"SecretIdList": [w.name], "Filters": [{"Key": "name", "Values": [w.prefix]}]},
        INVALID_PARAMETER,
        "batch ids and filters",
    ),
    _case(
        "BatchGetSecretValue",
        lambda w: {"SecretIdList": [w.name], "MaxResults": 5},
        INVALID_PARAMETER,
        "batch ids with MaxResults",
    ),
    # ClientRequestToken: 32 to 64 characters. Secret values: at most 65536 bytes, and string
    # or binary but not both.
    *(
        _case(
            op,
            lambda w, op=op, n=n: _writes(op, w, ClientRequestToken="a" * n),
            VALIDATION,
            f"{op} token of {n} characters",
        )
        for n in (31, 65)
        for op in WRITES
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(op, w, SecretString="a" * 65537),
            VALIDATION,
            f"{op} string over 65536",
        )
        for op in WRITES
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(
                op, w, SecretString=None, SecretBinary=base64.b64encode(b"a" * 65537).decode()
            ),
            VALIDATION,
            f"{op} binary over 65536",
        )
        for op in WRITES
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(op, w, SecretBinary="eA=="),
            INVALID_PARAMETER,
            f"{op} string and binary",
        )
        for op in WRITES
    ),
    # AWS: "InvalidRequestException: You must provide either SecretString or SecretBinary."
    _case("PutSecretValue", lambda w: {"SecretId": w.name}, INVALID_REQUEST, "put no value"),
    # Recovery windows: 7 to 30 days, and not together with ForceDeleteWithoutRecovery.
    *(
        _case(
            "DeleteSecret",
            lambda w, days=days: {"SecretId": w.name, "RecoveryWindowInDays": days},
            INVALID_PARAMETER,
            f"recovery window of {days} days",
        )
        for days in (6, 31, 0, -1)
    ),
    _case(
        "DeleteSecret",
        lambda w: {
            "SecretId": w.name,
            "RecoveryWindowInDays": 7,
            "ForceDeleteWithoutRecovery": True,
        },
        INVALID_PARAMETER,
        "recovery window and force delete",
    ),
    _case(
        "DeleteSecret",
        lambda w: {
            "SecretId": w.name,
            "RecoveryWindowInDays": 31,
            "ForceDeleteWithoutRecovery": True,
        },
        INVALID_PARAMETER,
        "long recovery window and force delete",
    ),
    # Passwords that cannot be made.
    _case(
        "GetRandomPassword",
        lambda w: {
            "ExcludeNumbers": True,
            "ExcludePunctuation": True,
            "ExcludeUppercase": True,
            "ExcludeLowercase": True,
        },
        INVALID_PARAMETER,
        "password of no characters",
    ),
    _case(
        "GetRandomPassword",
        lambda w: {"PasswordLength": 3},
        INVALID_PARAMETER,
        "password shorter than the required types",
    ),
    # Secret names: ASCII letters, digits and -/_+=.@! only, in a new name and in a SecretId
    # (AWS answers ValidationException "Invalid name. Must be a valid name containing
    # alphanumeric characters, or any of the following: -/_+=.@!").
    *(
        _case(
            "CreateSecret",
            lambda w, bad=bad: {"Name": f"{w.prefix}/{bad}", "SecretString": "x"},
            VALIDATION,
            f"create name {bad!r}",
        )
        for bad in INVALID_NAMES
    ),
    *(
        _case(op, body, VALIDATION, f"{op} of secret id {bad!r}")
        for bad in INVALID_NAMES[::2]
        for op, body in [
            ("DescribeSecret", lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}"}),
            ("GetSecretValue", lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}"}),
            (
                "ListSecretVersionIds",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "IncludeDeprecated": True},
            ),
            (
                "PutSecretValue",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "SecretString": "x"},
            ),
            (
                "UpdateSecret",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "Description": "x"},
            ),
            (
                "DeleteSecret",
                lambda w, bad=bad: {
                    "SecretId": f"{w.prefix}/{bad}",
                    "ForceDeleteWithoutRecovery": True,
                },
            ),
            (
                "TagResource",
                lambda w, bad=bad: {
                    "SecretId": f"{w.prefix}/{bad}",
                    "Tags": [{"Key": "k", "Value": "v"}],
                },
            ),
            (
                "UntagResource",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "TagKeys": ["k"]},
            ),
        ]
    ),
]
# Stored text with NUL in it. PostgreSQL cannot hold or even compare such text, so every
# backend must refuse it the same way; AWS documents no error for these, so any client error
# AWS might give passes, but never a 500 and never a change.
NUL_REFUSED = {VALIDATION, INVALID_PARAMETER}
NUL_CASES = [
    _case(
        "CreateSecret",
        lambda w: {"Name": w.new_name(), "SecretString": "x", "Description": "a\x00b"},
        NUL_REFUSED,
        "NUL in create description",
    ),
    _case(
        "UpdateSecret",
        lambda w: {"SecretId": w.name, "Description": "a\x00b"},
        NUL_REFUSED,
        "NUL in update description",
    ),
    _case(
        "CreateSecret",
        lambda w: {"Name": w.new_name(), "Tags": [{"Key": "k\x00", "Value": "v"}]},
        NUL_REFUSED,
        "NUL in create tag key",
    ),
    _case(
        "TagResource",
        lambda w: {"SecretId": w.name, "Tags": [{"Key": "k\x00", "Value": "v"}]},
        NUL_REFUSED,
        "NUL in tag key",
    ),
    _case(
        "TagResource",
        lambda w: {"SecretId": w.name, "Tags": [{"Key": "k", "Value": "v\x00"}]},
        NUL_REFUSED,
        "NUL in tag value",
    ),
    _case(
        "UntagResource",
        lambda w: {"SecretId": w.name, "TagKeys": ["owner\x00"]},
        NUL_REFUSED,
        "NUL in untag key",
    ),
    _case(
        "PutSecretValue",
        lambda w: {"SecretId": w.name, "SecretString": "x", "VersionStages": ["a\x00"]},
        NUL_REFUSED,
        "NUL in put stage",
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(op, w, ClientRequestToken="a" * 31 + "\x00"),
            NUL_REFUSED,
            f"NUL in {op} token",
        )
        for op in WRITES
    ),
    _case(
        "UpdateSecretVersionStage",
        lambda w: {
            "SecretId": w.name,
            "VersionStage": "a\x00",
            "MoveToVersionId": w.current_version,
        },
        NUL_REFUSED,
        "NUL in move stage",
    ),
    _case(
        "UpdateSecretVersionStage",
        lambda w: {"SecretId": w.name, "VersionStage": LABEL, "MoveToVersionId": "a" * 31 + "\x00"},
        NUL_REFUSED | {NOT_FOUND},
        "NUL in move to version",
    ),
    _case(
        "GetSecretValue",
        lambda w: {"SecretId": w.name, "VersionId": "a" * 31 + "\x00"},
        NUL_REFUSED | {NOT_FOUND},
        "NUL in get version",
    ),
    _case(
        "GetSecretValue",
        lambda w: {"SecretId": w.name, "VersionStage": "a\x00"},
        NUL_REFUSED | {NOT_FOUND},
        "NUL in get stage",
    ),
]
# JSON escapes of unpaired UTF-16 surrogates parse, but are no text any storage holds.
SURROGATE_CASES = [
    _case(
        "CreateSecret",
        lambda w: {"Name": w.new_name(), "SecretString": "\ud800"},
        SERIALIZATION,
        "surrogate in create value",
    ),
    _case(
        "CreateSecret",
        lambda w: {"Name": f"{w.prefix}/\udfff"},
        SERIALIZATION,
        "surrogate in create name",
    ),
    _case(
        "UpdateSecret",
        lambda w: {"SecretId": w.name, "Description": "\udfff"},
        SERIALIZATION,
        "surrogate in update description",
    ),
    _case(
        "TagResource",
        lambda w: {"SecretId": w.name, "Tags": [{"Key": "\ud83d", "Value": "v"}]},
        SERIALIZATION,
        "surrogate in tag key",
    ),
    _case(
        "DescribeSecret",
        lambda w: {"SecretId": "\ud800"},
        SERIALIZATION,
        "surrogate in describe id",
    ),
]


@pytest.mark.parametrize(("operation", "body", "expected"), SERVICE_CASES)
def test_service_level_bad_input(dev_server, sm, fresh_world, operation, body, expected):
    world = fresh_world
    before = snapshot(sm, world)
    status, payload = call(dev_server, operation, body(world))
    assert (status, payload.get("__type")) in {(400, code) for code in expected}, (status, payload)
    assert _error_fields_ok(payload), payload
    assert snapshot(sm, world) == before


@pytest.mark.parametrize(("operation", "body", "expected"), NUL_CASES + SURROGATE_CASES)
def test_text_no_storage_can_hold_is_refused(
    dev_server, sm, fresh_world, operation, body, expected
):
    world = fresh_world
    before = snapshot(sm, world)
    status, payload = call(dev_server, operation, body(world))
    assert (status, payload.get("__type")) in {(400, code) for code in expected}, (status, payload)
    assert snapshot(sm, world) == before


def test_batch_get_of_an_id_no_secret_can_have(dev_server, sm, fresh_world):
    """A SecretId with NUL names no secret: an error for it (in Errors, or the whole call
    refused), never a 500."""
    world = fresh_world
    before = snapshot(sm, world)
    status, payload = call(dev_server, "BatchGetSecretValue", {"SecretIdList": ["a\x00b"]})
    if status == 200:
        assert payload["SecretValues"] == []
        assert [e["ErrorCode"] for e in payload["Errors"]] in ([NOT_FOUND], [VALIDATION]), payload
    else:
        assert (status, payload.get("__type")) == (400, VALIDATION), payload
    assert snapshot(sm, world) == before


def test_surrogate_pairs_are_text(dev_server, sm, world):
    name = world.new_name()
    body = f'{{"Name": "{name}", "SecretString": "smile \\ud83d\\ude00"}}'
    status, payload = call(dev_server, "CreateSecret", body)
    assert status == 200, payload
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "smile \U0001f600"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize(
    "target",
    [
        f"{TARGET_PREFIX}.NoSuchOperation",
        f"{TARGET_PREFIX}.",
        f"{TARGET_PREFIX}X.GetSecretValue",
        "GetSecretValue",
    ],
)
def test_unknown_operations_and_targets(dev_server, target):
    request = signing.signed_request(dev_server, target, {}, service="secretsmanager")
    status, payload = signing.send(dev_server, request)
    assert (status, payload.get("__type")) == (400, "UnknownOperationException"), payload
