"""Hostile and malformed KMS requests, built by Hypothesis from botocore's input shapes and sent
hand-signed to a real server: every one must get a 400 with the right error type, and none may
change anything.

Each example takes a request that is valid except for exactly one thing: a required member
missing, a value over or under its length or range, of the wrong JSON type, outside its enum,
breaking its pattern, bad base64 in a blob, or a body that is not a JSON object at all.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.protocol.registry import load_model
from tests.support import kms as state
from tests.support import signing

MODEL = load_model("kms")
OPERATIONS = [
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "UpdateKeyDescription",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "EnableKey",
    "DisableKey",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
]
# Members the model leaves optional but the operation cannot do without.
SERVICE_REQUIRED = {
    "Decrypt": ["CiphertextBlob"],
    "ReEncrypt": ["CiphertextBlob"],
    "GenerateRandom": ["NumberOfBytes"],
}
KEY_MEMBERS = {"KeyId", "TargetKeyId", "SourceKeyId"}
SERIALIZATION = "SerializationException"
VALIDATION = "ValidationException"
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
    """Resources a request may name validly, owned by this module."""

    key_id: str
    other_key_id: str
    alias_name: str
    blob: str


@dataclass(frozen=True)
class BadRequest:
    kind: str
    body: bytes | str
    expected: frozenset[str]

    def __repr__(self) -> str:  # keep Hypothesis' failure report readable
        shown = self.body if len(self.body) < 300 else self.body[:300] + "..."
        return f"BadRequest({self.kind!r}, {shown!r})"


@pytest.fixture(scope="module")
def world(kms) -> World:
    key_id = kms.create_key(Tags=[{"TagKey": "owner", "TagValue": "bad-input"}])["KeyMetadata"][
        "KeyId"
    ]
    other_key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias_name = f"alias/bad-input-{uuid.uuid4()}"
    kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bad input")["CiphertextBlob"]
    return World(key_id, other_key_id, alias_name, base64.b64encode(blob).decode())


# Valid values


def _pattern(shape: Shape) -> re.Pattern[str] | None:
    text = shape.metadata.get("pattern")
    if text is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "[0-9-_]" is a FutureWarning in Python
        return re.compile(text)


def _fits_pattern(shape: Shape, value: str) -> bool:
    pattern = _pattern(shape)
    return pattern is None or pattern.fullmatch(value) is not None


def _valid_string(shape: Shape, length: int | None = None) -> str:
    if shape.metadata.get("enum"):
        return str(shape.metadata["enum"][0])
    length = length if length is not None else max(shape.metadata.get("min", 1), 1)
    for candidate in ("a" * length, "alias/" + "a" * max(length - 6, 1)):
        if len(candidate) == length and _fits_pattern(shape, candidate):
            return candidate
    raise AssertionError(f"no valid value of length {length} for {shape.name}")


def valid_value(shape: Shape) -> Any:
    """A small value that satisfies every constraint of the shape."""
    kind, low = shape.type_name, shape.metadata.get("min")
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
    """A valid value that names the module's own resources, so a wrongly accepted request
    would show up as a change."""
    if name in KEY_MEMBERS:
        return world.key_id
    if name == "DestinationKeyId":
        return world.other_key_id
    if name == "AliasName":
        return f"alias/bad-input-{uuid.uuid4()}" if operation == "CreateAlias" else world.alias_name
    if name == "CiphertextBlob":
        return world.blob
    if name == "Description":
        return "changed by a bad request"
    if name == "Tags":
        return [{"TagKey": "owner", "TagValue": "changed"}]
    if name == "TagKeys":
        return ["owner"]
    return valid_value(shape)


# One defect at one place


@dataclass(frozen=True)
class Spot:
    """A place in the request: a path of member names and list/map steps, and its shape."""

    path: tuple[str, ...]
    shape: Shape
    required: bool


def spots(shape: StructureShape, prefix: tuple[str, ...] = (), depth: int = 0) -> list[Spot]:
    found: list[Spot] = []
    for name, member in shape.members.items():
        path = (*prefix, name)
        found.append(Spot(path, member, name in shape.required_members))
        if depth < 3:
            found += _inner_spots(member, path, depth)
    return found


def _inner_spots(shape: Shape, path: tuple[str, ...], depth: int) -> list[Spot]:
    if isinstance(shape, StructureShape) and not shape.metadata.get("document"):
        return spots(shape, path, depth + 1)
    if isinstance(shape, ListShape):
        item = (*path, "[0]")
        return [Spot(item, shape.member, False), *_inner_spots(shape.member, item, depth + 1)]
    if isinstance(shape, MapShape):
        value = (*path, "{k}")
        return [Spot(value, shape.value, False), *_inner_spots(shape.value, value, depth + 1)]
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
        near_misses = [v.lower() for v in enum] + [v + " " for v in enum] + ["", "X"]
        return draw(
            (st.sampled_from(near_misses) | st.text(max_size=12)).filter(
                lambda value: value not in enum
            )
        )
    if kind == "breaks pattern":
        # Every patterned member allows far more than one character beyond the minimum.
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


def base_request(operation: Any, world: World) -> dict[str, Any]:
    shape = operation.input_shape
    return {
        name: top_level_value(name, shape.members[name], operation.name, world)
        for name in shape.required_members
    }


MALFORMED = "malformed body"


@st.composite
def bad_request(draw: st.DrawFn, operation: Any, world: World) -> BadRequest:
    """One defect: first its kind (so rare kinds are drawn as often as common ones), then where."""
    by_kind: dict[str, list[tuple[Spot, str]]] = {}
    for spot in spots(operation.input_shape):
        for kind, expected in defects(spot):
            by_kind.setdefault(kind, []).append((spot, expected))
    for name in SERVICE_REQUIRED.get(operation.name, []):
        spot = Spot((name,), operation.input_shape.members[name], True)
        by_kind.setdefault("missing", []).append((spot, VALIDATION))
    kind = draw(st.sampled_from([*sorted(by_kind), MALFORMED]))
    if kind == MALFORMED:
        return draw(malformed_body(operation, world))
    spot, expected = draw(st.sampled_from(by_kind[kind]))
    request = base_request(operation, world)
    _ensure_path(request, operation, spot, world)
    if kind == "missing":
        _place(request, spot, None, remove=True)
    else:
        _place(request, spot, draw(bad_value(spot.shape, kind)), remove=False)
    label = f"{kind} at {'.'.join(spot.path)}"
    return BadRequest(label, json.dumps(request), frozenset({expected}))


@st.composite
def malformed_body(draw: st.DrawFn, operation: Any, world: World) -> BadRequest:
    valid = json.dumps(base_request(operation, world) or {"Limit": 1})
    kind = draw(st.sampled_from(["truncated", "not an object", "garbage", "deep nesting"]))
    if kind == "truncated":
        body: bytes | str = valid[: draw(st.integers(1, len(valid) - 1))]
    elif kind == "not an object":
        body = draw(st.sampled_from(["[]", "null", "1", '"text"', "true", "[{}]", f"[{valid}]"]))
    elif kind == "garbage":
        body = draw(st.binary(min_size=1, max_size=64).filter(_not_a_json_object))
    else:
        depth = draw(st.integers(1_000, 200_000))
        body = draw(st.sampled_from(["[" * depth, '{"a":' * depth, '{"KeyId":' + "[" * depth]))
    return BadRequest(f"{MALFORMED}: {kind}", body, frozenset({SERIALIZATION}))


def _not_a_json_object(body: bytes) -> bool:
    if not body.strip():
        return False  # an empty body means {}, a valid request for some operations
    try:
        return not isinstance(json.loads(body), dict)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return True


@pytest.mark.parametrize("operation_name", OPERATIONS)
def test_bad_requests_get_400_and_change_nothing(dev_server, kms, world, operation_name):
    operation = MODEL.operation_model(operation_name)
    before = state.snapshot(kms, [world.key_id, world.other_key_id])

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
        status, payload = signing.call(dev_server, operation_name, bad.body)
        assert status == 400, (status, payload)
        # Exactly the error the defect calls for (never merely some model error).
        assert payload.get("__type") in bad.expected, payload
        assert set(payload) == {"__type", "message"}, payload

    check()
    assert state.snapshot(kms, [world.key_id, world.other_key_id]) == before


@pytest.mark.parametrize(
    ("operation", "body", "expected"),
    [
        # JSON escapes of unpaired UTF-16 surrogates parse, but are no text any storage holds.
        ("CreateKey", '{"Description": "\\ud800"}', SERIALIZATION),
        ("DescribeKey", '{"KeyId": "\\udfff"}', SERIALIZATION),
        (
            "Encrypt",
            '{"KeyId": "%(key)s", "Plaintext": "YQ==", "EncryptionContext": {"\\ud83d": "x"}}',
            SERIALIZATION,
        ),
        # PostgreSQL cannot hold or even compare text with NUL in it.
        ("CreateKey", '{"Description": "a\\u0000b"}', VALIDATION),
        ("UpdateKeyDescription", '{"KeyId": "%(key)s", "Description": "\\u0000"}', VALIDATION),
        (
            "TagResource",
            '{"KeyId": "%(key)s", "Tags": [{"TagKey": "k\\u0000", "TagValue": ""}]}',
            "TagException",
        ),
        (
            "TagResource",
            '{"KeyId": "%(key)s", "Tags": [{"TagKey": "k", "TagValue": "\\u0000"}]}',
            "TagException",
        ),
        ("UntagResource", '{"KeyId": "%(key)s", "TagKeys": ["\\u0000"]}', "TagException"),
        ("DescribeKey", '{"KeyId": "alias/a\\u0000"}', "NotFoundException"),
        (
            "DescribeKey",
            '{"KeyId": "arn:aws:kms:us-east-1:%(account)s:key/\\u0000"}',
            "NotFoundException",
        ),
        (
            "DescribeKey",
            '{"KeyId": "arn:aws:kms:us-east-1:%(account)s:alias/\\u0000"}',
            "NotFoundException",
        ),
        ("Encrypt", '{"KeyId": "alias/\\u0000", "Plaintext": "YQ=="}', "NotFoundException"),
    ],
)
def test_text_no_storage_can_hold_is_refused(dev_server, kms, world, operation, body, expected):
    account = kms.describe_key(KeyId=world.key_id)["KeyMetadata"]["AWSAccountId"]
    before = state.snapshot(kms, [world.key_id])
    status, payload = signing.call(
        dev_server, operation, body % {"key": world.key_id, "account": account}
    )
    assert (status, payload.get("__type")) == (400, expected), payload
    assert state.snapshot(kms, [world.key_id]) == before


def test_surrogate_pairs_are_text(dev_server, kms, world):
    status, payload = signing.call(
        dev_server,
        "UpdateKeyDescription",
        f'{{"KeyId": "{world.key_id}", "Description": "smile \\ud83d\\ude00"}}',
    )
    assert status == 200, payload
    assert kms.describe_key(KeyId=world.key_id)["KeyMetadata"]["Description"] == "smile \U0001f600"


@pytest.mark.parametrize(
    "target",
    [
        "TrentService.NoSuchOperation",
        "TrentService.",
        "NoSuchService_20240101.Encrypt",
        "TrentServiceX.Encrypt",
        "Encrypt",
    ],
)
def test_unknown_operations_and_targets(dev_server, target):
    request = signing.signed_request(dev_server, target, {})
    status, payload = signing.send(dev_server, request)
    assert (status, payload.get("__type")) == (400, "UnknownOperationException"), payload
