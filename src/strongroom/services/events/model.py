"""EventBridge entities, limits and the event pattern language's rules; no storage, no wire
format. Times are seconds since the epoch."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_BUS = "default"
MAX_TARGETS = 5  # per rule (AWS quota)
MAX_RULES = 300  # per event bus (AWS quota)
MAX_TAGS = 50
DEFAULT_LIMIT = 100  # ListRules, ListTargetsByRule, ListRuleNamesByTarget without a Limit
DISABLED = "DISABLED"
_TARGET_ARN = re.compile(r"arn:[\w:\-/]*")  # what EventBridge takes for an ARN
_RULE_ARN = re.compile(r"arn:aws[\w-]*:events:([\w-]+):([0-9]{12}):rule/(?:default/)?([\w.\-]+)")
_BUS_ARN = re.compile(r"arn:aws[\w-]*:events:([\w-]+):([0-9]{12}):event-bus/(.+)")


@dataclass(frozen=True)
class Rule:
    id: int
    account_id: str
    region: str
    event_bus_name: str
    name: str
    description: str | None
    schedule_expression: str | None
    event_pattern: str | None
    state: str
    role_arn: str | None
    managed_by: str | None
    created: float
    schedule_anchor: float | None  # when the schedule started: rates count from it
    next_due: float | None  # the next firing while enabled with a schedule, else None
    last_fired: float | None

    @property
    def arn(self) -> str:
        return rule_arn(self.region, self.account_id, self.event_bus_name, self.name)


@dataclass(frozen=True)
class Target:
    target_id: str
    arn: str
    definition: str  # the Target structure as given (JSON): Input, InputPath, RoleArn...


def rule_arn(region: str, account_id: str, bus: str, name: str) -> str:
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:aws:events:{region}:{account_id}:rule/{path}"


def parse_rule_arn(text: str) -> tuple[str, str, str] | None:
    """(region, account id, name) of a rule ARN on the default bus."""
    match = _RULE_ARN.fullmatch(text)
    return (match[1], match[2], match[3]) if match else None


def bus_name(text: str, region: str, account_id: str) -> str:
    """The event bus an EventBusName member names (a name, or an ARN in this account)."""
    match = _BUS_ARN.fullmatch(text)
    if match is None:
        return text
    if (match[1], match[2]) != (region, account_id):
        return text  # another account's or Region's bus: none here
    return match[3]


def valid_target_arn(text: str) -> bool:
    return _TARGET_ARN.match(text) is not None


# Event patterns (docs: "Amazon EventBridge event patterns", "Content filtering")

_PATTERN_ERROR = "Event pattern is not valid. Reason: "
_NUMERIC_OPERATORS = ("<", "<=", "=", ">", ">=")
_MATCH_TYPES = (
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "equals-ignore-case",
    "wildcard",
)


class InvalidPattern(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(_PATTERN_ERROR + reason)
        self.message = _PATTERN_ERROR + reason


def check_event_pattern(text: str) -> None:
    """Raise InvalidPattern unless `text` is an event pattern: a JSON object whose fields are
    objects (nested fields) or non-empty arrays of values and match expressions."""
    try:
        pattern = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidPattern("Filter is not valid JSON") from None
    if not isinstance(pattern, dict):
        raise InvalidPattern("Filter is not an object")
    _check_fields(pattern)


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def _check_fields(pattern: dict[str, Any]) -> None:
    for key, value in pattern.items():
        if isinstance(value, dict):
            _check_fields(value)
        elif isinstance(value, list):
            if not value:
                raise InvalidPattern("Empty arrays are not allowed")
            if key == "$or":
                for alternative in value:
                    if not isinstance(alternative, dict):
                        raise InvalidPattern('"$or" must be an array of objects')
                    _check_fields(alternative)
            else:
                for match in value:
                    _check_match(match)
        else:
            raise InvalidPattern(f'"{key}" must be an object or an array')


def _check_match(match: Any) -> None:
    if match is None or isinstance(match, str | bool | int | float):
        return
    if not isinstance(match, dict):
        raise InvalidPattern("Match value must be String, number, true, false, or null")
    if len(match) != 1:
        raise InvalidPattern("Only one key allowed in match expression")
    ((kind, value),) = match.items()
    if kind not in _MATCH_TYPES:
        raise InvalidPattern(f"Unrecognized match type {kind}")
    if kind == "exists":
        if not isinstance(value, bool):
            raise InvalidPattern("exists match pattern must be either true or false.")
    elif kind == "numeric":
        _check_numeric(value)
    elif kind == "anything-but":
        _check_anything_but(value)
    elif kind in ("prefix", "suffix"):
        if isinstance(value, dict) and set(value) == {"equals-ignore-case"}:
            value = value["equals-ignore-case"]
        if not isinstance(value, str):
            raise InvalidPattern(f"{kind} match pattern must be a string")
    elif not isinstance(value, str):  # cidr, equals-ignore-case, wildcard
        raise InvalidPattern(f"{kind} match pattern must be a string")


def _check_anything_but(value: Any) -> None:
    if isinstance(value, list):
        if not value or not all(isinstance(v, str | int | float) for v in value):
            raise InvalidPattern("Inside anything but list, start|null|boolean is not supported.")
        return
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in (
            "prefix",
            "suffix",
            "equals-ignore-case",
            "wildcard",
        ):
            raise InvalidPattern(f"Unsupported anything-but pattern: {next(iter(value), '')}")
        inner = next(iter(value.values()))
        if not isinstance(inner, str) and not (
            isinstance(inner, list) and inner and all(isinstance(v, str) for v in inner)
        ):
            raise InvalidPattern(f"{next(iter(value))} match pattern must be a string")
        return
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidPattern(
            "Value of anything-but must be an array or single string/number value."
        )


def _check_numeric(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise InvalidPattern("Value of numeric must be an array.")
    terms = list(value)
    bounds: list[tuple[str, float]] = []
    while terms:
        operator = terms.pop(0)
        if not isinstance(operator, str) or operator not in _NUMERIC_OPERATORS:
            raise InvalidPattern(f"Unrecognized numeric range operator: {operator}")
        if not terms or not _is_number(terms[0]):
            name = "equals" if operator == "=" else operator
            raise InvalidPattern(f"Value of {name} must be numeric")
        bounds.append((operator, float(terms.pop(0))))
    if len(bounds) > 2 or (len(bounds) == 2 and "=" in (bounds[0][0], bounds[1][0])):
        raise InvalidPattern("Too many elements in numeric expression")
    if len(bounds) == 2:
        (low_op, low), (high_op, high) = bounds
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise InvalidPattern(f"Bad numeric range operator: {high_op}")
        if high <= low:
            raise InvalidPattern("Bottom must be less than top")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
