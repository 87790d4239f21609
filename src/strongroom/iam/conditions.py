"""Condition blocks: the request context and every condition operator of the IAM reference.

`compile_condition` turns one operator/key/values entry of a Condition block into an object whose
`holds(context)` answers for a request. Everything that depends only on the policy is done at
compile time: the operator is resolved to a matcher, numbers, dates, networks and base64 are
parsed and wildcard patterns become regexes; values holding policy variables are resolved per
request (and their matchers cached by the resolved values).

Semantics, from "IAM JSON policy elements: Condition operators" and "Conditions with multiple
context keys or values":

- Condition keys are case-insensitive (the context stores them lower-cased); values are compared
  as each operator says (String* case-sensitively unless ...IgnoreCase).
- Several values for a key: OR for positive operators, NOR for negated ones (StringNotEquals,
  StringNotEqualsIgnoreCase, StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress,
  ArnNotEquals, ArnNotLike): a negated operator holds when no request value matches any value.
- A key absent from the request (or holding no values): positive operators are false, negated
  ones true; ...IfExists forms are true; ForAllValues is true and ForAnyValue false.
- Several request values (a multivalued key): ForAnyValue needs one to satisfy the operator,
  ForAllValues needs every one to. Without a qualifier a positive operator needs one request
  value to match and a negated one needs none to (unsure: AWS only documents single-valued use).
- A value that does not parse as the operator's type (a number, a date, an address, base64, a
  boolean, an ARN), on either side, makes the condition false, whatever the operator; so does a
  policy variable that cannot be resolved.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import TypeVar

from strongroom.iam.patterns import (
    Context,
    Parts,
    Pieces,
    arn_regex,
    compiled,
    glob_pieces,
    has_variables,
    like_regex,
    parse_parts,
    resolve_pattern,
    resolve_text,
)

# What the caller may put in a request context; every value becomes a tuple of strings.
ContextValue = str | bool | int | datetime | bytes | Sequence[str] | AbstractSet[str]
# One request value against all of a condition's values (positive sense); None: unreadable.
Matcher = Callable[[str], bool | None]


def request_context(values: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    """The context in the form conditions read it: lower-cased keys, tuples of strings.
    Booleans become "true"/"false", datetimes ISO 8601 in UTC, bytes base64."""
    return {key.lower(): _strings(value) for key, value in values.items()}


def _strings(value: ContextValue) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, int):
        return (str(value),)
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return (utc.strftime("%Y-%m-%dT%H:%M:%SZ"),)
    if isinstance(value, bytes):
        return (base64.b64encode(value).decode("ascii"),)
    return tuple(value)


T = TypeVar("T")


def _every(items: tuple[T | None, ...]) -> tuple[T, ...] | None:
    resolved = tuple(item for item in items if item is not None)
    return resolved if len(resolved) == len(items) else None


class Qualifier(Enum):
    NONE = ""
    FOR_ANY_VALUE = "ForAnyValue:"
    FOR_ALL_VALUES = "ForAllValues:"


@dataclass(frozen=True)
class _Operator:
    negated: bool
    # Exactly one is set: operators on plain text, or on wildcard patterns.
    text: Callable[[tuple[str, ...]], Matcher | None] | None = None
    pattern: Callable[[tuple[Pieces, ...]], Matcher | None] | None = None


# Readers for each type; None means "does not parse".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EPOCH = re.compile(r"[0-9]+")


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


def _timestamp(text: str) -> float | None:
    """ISO 8601 (date, date-time, with or without zone: UTC assumed) or epoch seconds."""
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _boolean(text: str) -> bool | None:
    lowered = text.lower()
    return True if lowered == "true" else False if lowered == "false" else None


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> _Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)  # a bare address is a /32 (or /128)
    except ValueError:
        return None


# Matchers for each operator family, built from the policy's values.
def _equals(values: tuple[str, ...]) -> Matcher:
    return frozenset(values).__contains__


def _equals_ignore_case(values: tuple[str, ...]) -> Matcher:
    folded = frozenset(v.casefold() for v in values)
    return lambda value: value.casefold() in folded


def _like(values: tuple[Pieces, ...]) -> Matcher:
    regex = compiled("|".join(f"(?:{like_regex(pieces)})" for pieces in values))
    return lambda value: regex.fullmatch(value) is not None


def _arn(values: tuple[Pieces, ...]) -> Matcher | None:
    regexes = _every(tuple(arn_regex(pieces) for pieces in values))
    if regexes is None:
        return None
    regex = compiled("|".join(f"(?:{r})" for r in regexes))
    return lambda value: regex.fullmatch(value) is not None if value.count(":") >= 5 else None


def _ordered(
    read: Callable[[str], float | None], compare: Callable[[float, float], bool]
) -> Callable[[tuple[str, ...]], Matcher | None]:
    def prepare(values: tuple[str, ...]) -> Matcher | None:
        bounds = _every(tuple(read(v) for v in values))
        if bounds is None:
            return None

        def match(value: str) -> bool | None:
            number = read(value)
            return None if number is None else any(compare(number, b) for b in bounds)

        return match

    return prepare


def _bool(values: tuple[str, ...]) -> Matcher | None:
    wanted = {_boolean(v) for v in values}
    if None in wanted:
        return None

    def match(value: str) -> bool | None:
        given = _boolean(value)
        return None if given is None else given in wanted

    return match


def _binary_equals(values: tuple[str, ...]) -> Matcher | None:
    wanted = {_binary(v) for v in values}
    if None in wanted:
        return None

    def match(value: str) -> bool | None:
        given = _binary(value)
        return None if given is None else given in wanted

    return match


def _ip(values: tuple[str, ...]) -> Matcher | None:
    networks: tuple[_Network, ...] | None = _every(tuple(_network(v) for v in values))
    if networks is None:
        return None

    def match(value: str) -> bool | None:
        address = _address(value)
        return None if address is None else any(address in n for n in networks)

    return match


def _numeric(compare: Callable[[float, float], bool]) -> _Operator:
    return _Operator(negated=False, text=_ordered(_number, compare))


def _date(compare: Callable[[float, float], bool]) -> _Operator:
    return _Operator(negated=False, text=_ordered(_timestamp, compare))


_OPERATORS: dict[str, _Operator] = {
    "StringEquals": _Operator(negated=False, text=_equals),
    "StringNotEquals": _Operator(negated=True, text=_equals),
    "StringEqualsIgnoreCase": _Operator(negated=False, text=_equals_ignore_case),
    "StringNotEqualsIgnoreCase": _Operator(negated=True, text=_equals_ignore_case),
    "StringLike": _Operator(negated=False, pattern=_like),
    "StringNotLike": _Operator(negated=True, pattern=_like),
    "NumericEquals": _numeric(operator.eq),
    "NumericNotEquals": _Operator(negated=True, text=_ordered(_number, operator.eq)),
    "NumericLessThan": _numeric(operator.lt),
    "NumericLessThanEquals": _numeric(operator.le),
    "NumericGreaterThan": _numeric(operator.gt),
    "NumericGreaterThanEquals": _numeric(operator.ge),
    "DateEquals": _date(operator.eq),
    "DateNotEquals": _Operator(negated=True, text=_ordered(_timestamp, operator.eq)),
    "DateLessThan": _date(operator.lt),
    "DateLessThanEquals": _date(operator.le),
    "DateGreaterThan": _date(operator.gt),
    "DateGreaterThanEquals": _date(operator.ge),
    "Bool": _Operator(negated=False, text=_bool),
    "BinaryEquals": _Operator(negated=False, text=_binary_equals),
    "IpAddress": _Operator(negated=False, text=_ip),
    "NotIpAddress": _Operator(negated=True, text=_ip),
    # ArnEquals and ArnLike are the same test: both take wildcards in each component.
    "ArnEquals": _Operator(negated=False, pattern=_arn),
    "ArnLike": _Operator(negated=False, pattern=_arn),
    "ArnNotEquals": _Operator(negated=True, pattern=_arn),
    "ArnNotLike": _Operator(negated=True, pattern=_arn),
}


# Values holding policy variables resolve to the same few values request after request.
@lru_cache(maxsize=4096)
def _text_matcher(base: str, values: tuple[str, ...]) -> Matcher | None:
    prepare = _OPERATORS[base].text
    assert prepare is not None
    return prepare(values)


@lru_cache(maxsize=4096)
def _pattern_matcher(base: str, values: tuple[Pieces, ...]) -> Matcher | None:
    prepare = _OPERATORS[base].pattern
    assert prepare is not None
    return prepare(values)


class ValueCondition:
    """Every operator but Null."""

    __slots__ = ("_all", "_base", "_matcher", "_negated", "_op", "_parts", "_when_absent", "key")

    def __init__(
        self,
        base: str,
        qualifier: Qualifier,
        if_exists: bool,
        key: str,
        values: tuple[str, ...],
        variables: bool,
    ) -> None:
        op = _OPERATORS[base]
        self.key = key.lower()
        self._base = base
        self._op = op
        self._negated = op.negated
        # A key absent from the request (or empty): IfExists and ForAllValues hold, ForAnyValue
        # fails, plain operators hold when negated.
        self._when_absent = (
            if_exists
            or qualifier is Qualifier.FOR_ALL_VALUES
            or (qualifier is Qualifier.NONE and op.negated)
        )
        # Plain negated operators need every request value to miss (NOR), as ForAllValues does.
        self._all = qualifier is Qualifier.FOR_ALL_VALUES or (
            qualifier is Qualifier.NONE and op.negated
        )
        self._parts: tuple[Parts, ...] | None = None
        self._matcher: Matcher | None = None
        if variables and any(has_variables(v) for v in values):
            self._parts = tuple(parse_parts(v) for v in values)
        elif op.text is not None:
            self._matcher = op.text(values)
        else:
            assert op.pattern is not None
            self._matcher = op.pattern(tuple(glob_pieces(v) for v in values))

    def holds(self, context: Context) -> bool:
        values = context.get(self.key)
        if not values:
            return self._when_absent
        matcher = self._matcher if self._parts is None else self._resolved(self._parts, context)
        if matcher is None:
            return False
        if len(values) == 1:
            found = matcher(values[0])
            return found is not None and found is not self._negated
        results = [matcher(value) for value in values]
        if None in results:
            return False
        if self._all:
            return all(found is not self._negated for found in results)
        return any(found is not self._negated for found in results)

    def _resolved(self, parts: tuple[Parts, ...], context: Context) -> Matcher | None:
        if self._op.text is not None:
            texts = _every(tuple(resolve_text(p, context) for p in parts))
            return None if texts is None else _text_matcher(self._base, texts)
        patterns = _every(tuple(resolve_pattern(p, context) for p in parts))
        return None if patterns is None else _pattern_matcher(self._base, patterns)


class NullCondition:
    """Null: "true" holds when the key is absent (or has no values), "false" when present."""

    __slots__ = ("_wanted", "key")

    def __init__(self, key: str, values: tuple[str, ...]) -> None:
        self.key = key.lower()
        # An unreadable value wants neither state: it never holds.
        self._wanted = frozenset(not b for b in map(_boolean, values) if b is not None)

    def holds(self, context: Context) -> bool:
        return bool(context.get(self.key)) in self._wanted


Condition = ValueCondition | NullCondition


def compile_condition(
    operator_text: str, key: str, values: tuple[str, ...], variables: bool
) -> Condition:
    """One entry of a Condition block. `variables`: the policy is of Version 2012-10-17, so
    `${...}` in values are policy variables (with 2008-10-17 they are literal text)."""
    qualifier = Qualifier.NONE
    body = operator_text
    for candidate in (Qualifier.FOR_ANY_VALUE, Qualifier.FOR_ALL_VALUES):
        if body.startswith(candidate.value):
            qualifier, body = candidate, body.removeprefix(candidate.value)
    if body == "Null":
        return NullCondition(key, values)
    base = body.removesuffix("IfExists")
    if base not in _OPERATORS:
        raise ValueError(f"unknown condition operator {operator_text}")
    return ValueCondition(base, qualifier, base != body, key, values, variables)
