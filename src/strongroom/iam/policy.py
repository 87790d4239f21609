"""The IAM JSON policy language: parsing and validating policy documents.

`parse` turns a policy document into a `Policy` or raises `MalformedPolicy` with the message IAM
gives for the first fault, following the grammar of the IAM JSON policy reference: Version, Id
and Statement at the top; per statement Sid, Effect, exactly one of Principal/NotPrincipal
(resource policies only), exactly one of Action/NotAction, exactly one of Resource/NotResource,
and Condition blocks of known operators. Single values and lists are both accepted where the
grammar allows either, and become tuples. Evaluation builds on this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")

VERSIONS = ("2012-10-17", "2008-10-17")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_CONDITION_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)
_SET_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
# Used with fullmatch; [0-9], not \d, which also matches other scripts' digits.
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+")
_SID = re.compile(r"[A-Za-z0-9 ]*")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
# A principal ARN names one principal: a wildcard may not stand for part of it.
_AWS_PRINCIPAL_ARN = re.compile(
    r"arn:aws[a-z-]*:(iam::[0-9]{12}:(root|(user|role|group|federated-user)/[^*?]+)"
    r"|sts::[0-9]{12}:(assumed-role|federated-user)/[^*?]+)"
)
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")


class MalformedPolicy(ValueError):
    """A policy document IAM would refuse; the message is IAM's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyKind(Enum):
    IDENTITY = "identity"  # attached to users, groups and roles: never names a principal
    RESOURCE = "resource"  # attached to a secret, key, topic...: always names one
    TRUST = "trust"  # a role's trust policy: names a principal, never a resource


# Principal type ("AWS", "Service", ...) to the principals named; "*" alone is {"AWS": ("*",)}.
Principals = dict[str, tuple[str, ...]]
# Condition operator to condition key to the values, as strings.
Conditions = dict[str, dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Statement:
    sid: str | None
    effect: str
    principal: Principals | None
    not_principal: Principals | None
    action: tuple[str, ...] | None
    not_action: tuple[str, ...] | None
    resource: tuple[str, ...] | None
    not_resource: tuple[str, ...] | None
    condition: Conditions


@dataclass(frozen=True)
class Policy:
    version: str
    id: str | None
    statements: tuple[Statement, ...]


def parse(document: str, kind: PolicyKind) -> Policy:
    try:
        tree = json.loads(document, parse_constant=_not_json)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        raise MalformedPolicy("Syntax errors in policy.") from None
    if not isinstance(tree, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    unknown = tree.keys() - {"Version", "Id", "Statement"}
    if unknown:
        raise MalformedPolicy(f"Policy document contains unknown field {sorted(unknown)[0]}.")
    version = tree.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise MalformedPolicy("The policy failed legacy parsing")
    policy_id = tree.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy("Syntax errors in policy.")
    raw_statements = tree.get("Statement")
    if raw_statements is None:
        raise MalformedPolicy("Missing required field Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicy("Syntax errors in policy.")
    statements = tuple(_statement(raw, kind) for raw in raw_statements)
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")
    return Policy(version=version, id=policy_id, statements=statements)


@lru_cache(maxsize=1024)
def without_statement_ids(document: str) -> str:
    """A resource policy as IAM's grammar reads it, for services whose statement ids it would
    refuse (SNS's `__default_statement_ID`, Lambda's `-`, `_` and `.`): without its string
    Sids, which take no part in a decision. Anything else is returned as it is, for `parse`
    to refuse."""
    try:
        tree = json.loads(document, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return document
    statements = tree.get("Statement") if isinstance(tree, dict) else None
    listed = [statements] if isinstance(statements, dict) else statements
    if not isinstance(listed, list):
        return document
    for statement in listed:
        if isinstance(statement, dict) and isinstance(statement.get("Sid"), str):
            del statement["Sid"]
    return json.dumps(tree, separators=(",", ":"))


def _statement(raw: object, kind: PolicyKind) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    unknown = raw.keys() - _STATEMENT_KEYS
    if unknown:
        raise MalformedPolicy(f"Policy statement contains unknown field {sorted(unknown)[0]}.")
    sid = raw.get("Sid")
    if sid is not None and (not isinstance(sid, str) or not _SID.fullmatch(sid)):
        raise MalformedPolicy("Statement IDs (SID) must be alpha-numeric.")
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")
    principal, not_principal = _one_of(raw, "Principal", "NotPrincipal", _principals)
    if kind is PolicyKind.IDENTITY and (principal or not_principal):
        raise MalformedPolicy("Policy document should not specify a principal.")
    if kind is PolicyKind.RESOURCE and principal is None and not_principal is None:
        raise MalformedPolicy("Policy statement must contain a principal.")
    if kind is PolicyKind.TRUST and principal is None and not_principal is None:
        raise MalformedPolicy("Missing required field Principal")
    action, not_action = _one_of(raw, "Action", "NotAction", _actions)
    if action is None and not_action is None:
        raise MalformedPolicy("Policy statement must contain actions.")
    if kind is PolicyKind.TRUST:
        _check_trust(raw, action or not_action or ())
    resource, not_resource = _one_of(raw, "Resource", "NotResource", _strings)
    if resource is None and not_resource is None and kind is not PolicyKind.TRUST:
        raise MalformedPolicy("Policy statement must contain resources.")
    return Statement(
        sid=sid,
        effect=effect,
        principal=principal,
        not_principal=not_principal,
        action=action,
        not_action=not_action,
        resource=resource,
        not_resource=not_resource,
        condition=_conditions(raw.get("Condition", {})),
    )


def _check_trust(raw: dict[str, object], actions: tuple[str, ...]) -> None:
    """A trust policy governs assuming its role: STS actions only, and no resource (the
    role is the resource)."""
    if "Resource" in raw or "NotResource" in raw:
        raise MalformedPolicy("Has prohibited field Resource")
    if not all(a == "*" or a.lower().startswith("sts:") for a in actions):
        raise MalformedPolicy("AssumeRole policy may only specify STS AssumeRole actions.")


def _one_of(
    raw: dict[str, object], name: str, negated: str, read: Callable[[object], T]
) -> tuple[T | None, T | None]:
    if name in raw and negated in raw:
        raise MalformedPolicy(f"Policy statement must not contain both {name} and {negated}.")
    return (
        read(raw[name]) if name in raw else None,
        read(raw[negated]) if negated in raw else None,
    )


def _strings(value: object) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise MalformedPolicy("Syntax errors in policy.")
    return tuple(values)


def _actions(value: object) -> tuple[str, ...]:
    actions = _strings(value)
    for action in actions:
        if action != "*" and not _ACTION.fullmatch(action):
            raise MalformedPolicy(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            )
    return actions


def _principals(value: object) -> Principals:
    if value == "*":
        return {"AWS": ("*",)}
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy(f"Invalid principal in policy: {json.dumps(value)[:200]}")
    principals: Principals = {}
    for principal_type, names in value.items():
        if principal_type not in PRINCIPAL_TYPES:
            raise MalformedPolicy(f'Invalid principal in policy: "{principal_type}"')
        principals[principal_type] = _strings(names)
        for name in principals[principal_type]:
            if not _valid_principal(principal_type, name):
                raise MalformedPolicy(f'Invalid principal in policy: "{principal_type}":"{name}"')
    return principals


def _valid_principal(principal_type: str, name: str) -> bool:
    if principal_type == "AWS":
        return name == "*" or bool(
            _ACCOUNT_ID.fullmatch(name) or _AWS_PRINCIPAL_ARN.fullmatch(name)
        )
    if principal_type == "Service":
        return name == "*" or bool(_SERVICE_PRINCIPAL.fullmatch(name))
    return True


def _conditions(value: object) -> Conditions:
    if not isinstance(value, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    conditions: Conditions = {}
    for operator, block in value.items():
        if operator_name(operator) not in _CONDITION_OPERATORS:
            raise MalformedPolicy(f"Invalid Condition type : {operator}")
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy("Syntax errors in policy.")
        conditions[operator] = {key: _condition_values(v) for key, v in block.items()}
    return conditions


def operator_name(operator: str) -> str:
    """The base operator of a condition: `ForAnyValue:StringLikeIfExists` is `StringLike`.
    At most one set qualifier; IfExists goes with any operator but Null."""
    for qualifier in _SET_QUALIFIERS:
        if operator.startswith(qualifier):
            operator = operator.removeprefix(qualifier)
            break
    base = operator.removesuffix("IfExists")
    return operator if base == "Null" else base


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _condition_values(value: object) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    result = []
    for item in values:
        if isinstance(item, bool):
            result.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            result.append(str(item))
        else:
            raise MalformedPolicy("Syntax errors in policy.")
    return tuple(result)
