"""Bad requests for a JSON-protocol service, built by Hypothesis from botocore's input shapes,
for the tests that send them to a real server and expect a 400 that changes nothing.

Each request is valid except for exactly one thing: a required member missing, a value over or
under its length or range, of the wrong JSON type, outside its enum, breaking its pattern, bad
base64 in a blob, or a body that is not a JSON object at all. What differs between services
(which of its own resources a valid request names, which members it needs beyond the model)
the test module tells `bad_request` through a `Service`.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from strongroom.protocol.java_regex import compile_java_pattern

SERIALIZATION = "SerializationException"
VALIDATION = "ValidationException"
MALFORMED = "malformed body"
# Characters at least one model pattern refuses: space, punctuation, beyond Latin-1, control,
# and the separators of ARN-like names (CloudWatch Logs' names refuse only ':' and '*').
PATTERN_BREAKERS = [
    " ", "!", "é", "\u0100", "\u2603", "\U0001f600", "\x00", "\x7f", "\n", ":", "*"
]  # fmt: skip
WRONG_TYPES: dict[str, list[Any]] = {
    "string": [1, 1.5, True, [], {}, ["a"]],
    "blob": [1, True, [], {}, 1.5],
    "integer": ["1", 1.5, True, [], {}, 2**31, -(2**31) - 1, 10**30],
    "long": ["1", 1.5, True, [], {}, 2**63],
    "double": ["1", True, [], {}],
    "boolean": ["true", "false", 0, 1, [], {}],
    "list": ["a", 1, True, {}],
    "map": ["a", 1, True, []],
    "structure": ["a", 1, True, []],
    "timestamp": [True, [], {}, "yesterday", 1e400],
}
BAD_BASE64 = ["!!!!", "YQ=", "Y", "é", "YQ==YQ==", "====", "Y Q=="]
# How each operation's bad requests are drawn: a test runs `check` under these settings.
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

World = TypeVar("World")  # the test module's resources that a valid request may name
Structures = Mapping[str, dict[str, Any]]


@dataclass(frozen=True)
class Service(Generic[World]):
    """What the machinery must be told of one service."""

    # A valid value of a top-level member (name, shape, operation name, world) that names the
    # world's own resources, so that a wrongly accepted request would show up as a change.
    top_level_value: Callable[[str, Shape, str, World], Any]
    minimal_request: dict[str, Any]  # a malformed body's start where nothing is required
    id_member: str  # the member a deeply nested malformed body opens with
    # Valid values of structures (by shape name) whose required members are not enough.
    structures: Structures = field(default_factory=dict)
    # Optional members every request of the operation carries.
    base_extras: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Members the model leaves optional but the operation cannot do without.
    also_required: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Members that cannot go together (the one made defective stays, the others go)...
    exclusive: Sequence[frozenset[str]] = ()
    # ...and members another needs, by (operation, member): that one comes along.
    needs: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class BadRequest:
    kind: str
    body: bytes | str
    expected: frozenset[str]
    secret: str | None = None  # a sensitive value that must never come back in the message

    def __repr__(self) -> str:  # keep Hypothesis' failure report readable
        shown = repr(self.body) if len(self.body) < 300 else f"{self.body[:300]!r}..."
        return f"BadRequest({self.kind!r}, {shown})"


# Valid values


def _pattern(shape: Shape) -> re.Pattern[str] | None:
    text = shape.metadata.get("pattern")
    if text is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "[0-9-_]" is a FutureWarning in Python
        try:
            return re.compile(text)
        except re.error:  # Java-only syntax such as \p{L}: translated as the server does
            return compile_java_pattern(text)


def _fits_pattern(shape: Shape, value: str) -> bool:
    pattern = _pattern(shape)
    return pattern is None or pattern.fullmatch(value) is not None


def _valid_string(shape: Shape, length: int | None = None) -> str:
    """A value of the given length (else the shortest one) that fits the shape's pattern."""
    if shape.metadata.get("enum"):
        return str(shape.metadata["enum"][0])
    shortest = max(shape.metadata.get("min", 1), 1)
    for n in [length] if length is not None else range(shortest, shortest + 16):
        # The second fits patterns like aws-1, the third Region names like us-east-1, the
        # last account ids.
        for candidate in ("a" * n, "a" * (n - 2) + "-1", "us-east-" + "1" * (n - 8), "1" * n):
            if len(candidate) == n and _fits_pattern(shape, candidate):
                return candidate
    raise AssertionError(f"no valid value of length {length} for {shape.name}")


def valid_value(shape: Shape, structures: Structures | None = None) -> Any:
    """A small value that satisfies every constraint of the shape."""
    structures = structures or {}
    kind, low = shape.type_name, shape.metadata.get("min")
    if shape.name in structures:
        return copy.deepcopy(structures[shape.name])
    if kind == "string":
        return _valid_string(shape)
    if kind == "blob":
        return base64.b64encode(b"x" * max(low or 1, 1)).decode()
    if kind in ("integer", "long"):
        return max(low or 1, 1)
    if kind in ("double", "float"):
        return float(max(low or 1, 1))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return 4_102_444_800  # 2100-01-01, in epoch seconds
    if isinstance(shape, ListShape):
        return [valid_value(shape.member, structures) for _ in range(max(low or 1, 1))]
    if isinstance(shape, MapShape):
        return {"k": valid_value(shape.value, structures)}
    if isinstance(shape, StructureShape):
        return {n: valid_value(shape.members[n], structures) for n in shape.required_members}
    raise AssertionError(f"unexpected shape type {kind}")


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
def bad_value(draw: st.DrawFn, shape: Shape, kind: str, structures: Structures) -> Any:
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
            try:
                return _valid_string(shape, length) if length else ""
            except AssertionError:  # a fixed-length pattern (account ids): no length but its own
                return "1" * length
        if shape.type_name == "blob":
            return base64.b64encode(b"x" * length).decode()
        assert isinstance(shape, ListShape)
        return [valid_value(shape.member, structures) for _ in range(length)]
    if kind == "too small":
        return draw(st.integers(max(low - 1000, -(2**31)), low - 1))
    if kind == "too large":
        return draw(st.integers(high + 1, min(high + 1000, 2**31 - 1)))
    if kind == "not in enum":
        enum = metadata["enum"]
        other_case = [v.lower() if v.isupper() else v.upper() for v in enum]
        near_misses = other_case + [v + " " for v in enum] + ["", "X"]
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


def _ensure_path(
    request: dict[str, Any],
    operation: OperationModel,
    spot: Spot,
    world: World,
    service: Service[World],
) -> None:
    """Make every ancestor of the spot present with a valid value (a one-element list, ...)."""
    name = spot.path[0]
    shape: Shape = operation.input_shape.members[name]
    if name not in request:
        request[name] = service.top_level_value(name, shape, operation.name, world)
    container: Any = request[name]
    for step in spot.path[1:]:
        if step == "[0]":
            assert isinstance(shape, ListShape)
            if not container:
                container.append(valid_value(shape.member, service.structures))
            container, shape = container[0], shape.member
        elif step == "{k}":
            assert isinstance(shape, MapShape)
            container.setdefault("k", valid_value(shape.value, service.structures))
            container, shape = container["k"], shape.value
        else:
            assert isinstance(shape, StructureShape)
            shape = shape.members[step]
            if step not in container:
                container[step] = valid_value(shape, service.structures)
            container = container[step]


def _fit_companions(
    request: dict[str, Any],
    operation: OperationModel,
    member: str,
    world: World,
    service: Service[World],
) -> None:
    """Bring what the defective member needs, and drop what it cannot go with."""
    needed = service.needs.get((operation.name, member))
    if needed is not None and needed not in request:
        shape = operation.input_shape.members[needed]
        request[needed] = service.top_level_value(needed, shape, operation.name, world)
    for chosen in (member, needed):
        for group in service.exclusive:
            if chosen in group:
                for other in group - {chosen}:
                    request.pop(other, None)


def base_request(
    operation: OperationModel, world: World, service: Service[World]
) -> dict[str, Any]:
    shape = operation.input_shape
    names = [*shape.required_members, *service.base_extras.get(operation.name, [])]
    return {
        name: service.top_level_value(name, shape.members[name], operation.name, world)
        for name in names
    }


@st.composite
def bad_request(
    draw: st.DrawFn, operation: OperationModel, world: World, service: Service[World]
) -> BadRequest:
    """One defect: first its kind (so rare kinds are drawn as often as common ones), then where."""
    by_kind: dict[str, list[tuple[Spot, str]]] = {}
    for spot in spots(operation.input_shape):
        for kind, expected in defects(spot):
            by_kind.setdefault(kind, []).append((spot, expected))
    for name in service.also_required.get(operation.name, []):
        member = operation.input_shape.members[name]
        spot = Spot((name,), member, True, bool(member.metadata.get("sensitive")))
        by_kind.setdefault("missing", []).append((spot, VALIDATION))
    kind = draw(st.sampled_from([*sorted(by_kind), MALFORMED]))
    if kind == MALFORMED:
        return draw(malformed_body(operation, world, service))
    spot, expected = draw(st.sampled_from(by_kind[kind]))
    request = base_request(operation, world, service)
    _fit_companions(request, operation, spot.path[0], world, service)
    _ensure_path(request, operation, spot, world, service)
    value = None
    if kind == "missing":
        _place(request, spot, None, remove=True)
    else:
        value = draw(bad_value(spot.shape, kind, service.structures))
        _place(request, spot, value, remove=False)
    secret = value if spot.sensitive and isinstance(value, str) and len(value) >= 8 else None
    label = f"{kind} at {'.'.join(spot.path)}"
    return BadRequest(label, json.dumps(request), frozenset({expected}), secret)


@st.composite
def malformed_body(
    draw: st.DrawFn, operation: OperationModel, world: World, service: Service[World]
) -> BadRequest:
    valid = json.dumps(base_request(operation, world, service) or service.minimal_request)
    kind = draw(st.sampled_from(["truncated", "not an object", "garbage", "deep nesting"]))
    if kind == "truncated":
        body: bytes | str = valid[: draw(st.integers(1, len(valid) - 1))]
    elif kind == "not an object":
        body = draw(st.sampled_from(["[]", "null", "1", '"text"', "true", "[{}]", f"[{valid}]"]))
    elif kind == "garbage":
        body = draw(st.binary(min_size=1, max_size=64).filter(_not_a_json_object))
    else:
        depth = draw(st.integers(1_000, 200_000))
        nested = f'{{"{service.id_member}":' + "[" * depth
        body = draw(st.sampled_from(["[" * depth, '{"a":' * depth, nested]))
    return BadRequest(f"{MALFORMED}: {kind}", body, frozenset({SERIALIZATION}))


def _not_a_json_object(body: bytes) -> bool:
    if not body.strip():
        return False  # an empty body means {}, a valid request for some operations
    try:
        return not isinstance(json.loads(body), dict)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return True
