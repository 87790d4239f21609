"""Subscription filter policies: which messages a subscription receives, decided on the
message's attributes (FilterPolicyScope MessageAttributes, the default) or its JSON body
(MessageBody). The operators: exact strings and numbers, prefix, suffix, anything-but,
exists, numeric ranges, equals-ignore-case and $or."""

from __future__ import annotations

import json
from typing import Any

MAX_KEYS = 5  # AWS: at most five attribute names per policy
_MISSING = object()


class InvalidFilterPolicy(ValueError):
    pass


def parse(text: str) -> dict[str, Any]:
    try:
        policy = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidFilterPolicy("FilterPolicy: failed to parse JSON.") from None
    if not isinstance(policy, dict):
        raise InvalidFilterPolicy("FilterPolicy: Filter policy must be a JSON object")
    _check(policy, 0)
    return policy


def _check(policy: dict[str, Any], depth: int) -> None:
    if depth > 5:
        raise InvalidFilterPolicy("FilterPolicy: Filter policy is too deeply nested")
    if len([k for k in policy if k != "$or"]) > MAX_KEYS and depth == 0:
        raise InvalidFilterPolicy("FilterPolicy: Filter policy can not have more than 5 keys")
    for key, rules in policy.items():
        if key == "$or":
            if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
                raise InvalidFilterPolicy("FilterPolicy: $or must be a list of objects")
            for rule in rules:
                _check(rule, depth + 1)
        elif isinstance(rules, dict):
            _check(rules, depth + 1)
        elif not isinstance(rules, list) or not rules:
            raise InvalidFilterPolicy(f'FilterPolicy: "{key}" must be an object or an array')
        else:
            for rule in rules:
                _check_rule(key, rule)


def _check_rule(key: str, rule: Any) -> None:
    if rule is None or (isinstance(rule, str | int | float) and not isinstance(rule, bool)):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise InvalidFilterPolicy(
            "FilterPolicy: Match value must be String, number, true, false, or null"
        )
    ((operator, value),) = rule.items()
    if operator not in (
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "numeric",
        "equals-ignore-case",
    ):
        raise InvalidFilterPolicy(f"FilterPolicy: Unrecognized match type {operator}")
    if operator == "numeric" and (not isinstance(value, list) or len(value) not in (2, 4)):
        raise InvalidFilterPolicy("FilterPolicy: Value of numeric must be an array.")
    if operator == "exists" and not isinstance(value, bool):
        raise InvalidFilterPolicy(
            "FilterPolicy: exists match pattern must be either true or false."
        )


def attribute_values(attributes: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Message attributes as the values a policy matches: numbers as numbers, String.Array as
    its items; Binary attributes match nothing but `exists`."""
    values: dict[str, Any] = {}
    for name, attribute in attributes.items():
        kind, value = attribute["Type"], attribute.get("Value")
        if kind.startswith("Number"):
            values[name] = float(value) if value is not None else None
        elif kind.startswith("String.Array"):
            try:
                items = json.loads(value or "[]")
            except ValueError:
                items = [value]
            values[name] = items if isinstance(items, list) else [items]
        elif kind.startswith("Binary"):
            values[name] = _BINARY
        else:
            values[name] = value
    return values


_BINARY = object()


def matches(policy: dict[str, Any], document: dict[str, Any]) -> bool:
    for key, rules in policy.items():
        if key == "$or":
            if not any(matches(rule, document) for rule in rules):
                return False
            continue
        value = document.get(key, _MISSING) if isinstance(document, dict) else _MISSING
        if isinstance(rules, dict):
            if not isinstance(value, dict) or not matches(rules, value):
                return False
        elif not any(_matches_rule(rule, value) for rule in rules):
            return False
    return True


def _matches_rule(rule: Any, value: Any) -> bool:
    if isinstance(value, list):
        if isinstance(rule, dict) and "anything-but" in rule:
            return all(_matches_rule(rule, item) for item in value) and bool(value)
        return any(_matches_rule(rule, item) for item in value)
    if isinstance(rule, dict):
        ((operator, operand),) = rule.items()
        if operator == "exists":
            return (value is not _MISSING) == operand
        if value is _MISSING or value is _BINARY:
            return False
        if operator == "prefix":
            return isinstance(value, str) and isinstance(operand, str) and value.startswith(operand)
        if operator == "suffix":
            return isinstance(value, str) and isinstance(operand, str) and value.endswith(operand)
        if operator == "equals-ignore-case":
            return isinstance(value, str) and value.lower() == str(operand).lower()
        if operator == "anything-but":
            if isinstance(operand, dict):
                return not _matches_rule(operand, value)
            excluded = operand if isinstance(operand, list) else [operand]
            return not any(_matches_rule(item, value) for item in excluded)
        if operator == "numeric":
            return _numeric(operand, value)
        return False
    if value is _MISSING or value is _BINARY:
        return False
    if isinstance(rule, bool) or rule is None:
        return value == rule
    if isinstance(rule, int | float):
        number = _number(value)
        return number is not None and number == float(rule)
    return isinstance(value, str) and value == rule


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _numeric(conditions: list[Any], value: Any) -> bool:
    number = _number(value)
    if number is None:
        return False
    for index in range(0, len(conditions) - 1, 2):
        operator, operand = conditions[index], conditions[index + 1]
        if not isinstance(operand, int | float):
            return False
        checks = {
            "=": number == operand,
            "<": number < operand,
            "<=": number <= operand,
            ">": number > operand,
            ">=": number >= operand,
        }
        if not checks.get(operator, False):
            return False
    return True
