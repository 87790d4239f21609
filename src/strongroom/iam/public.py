"""Does a resource policy grant broad ("public") access?

AWS answers this with an automated reasoner; this is the documented core of its rule: an Allow
statement is public when its principal is a wildcard (or it uses NotPrincipal) and no condition
pins the caller to known accounts, organisations, ARNs or networks. Pinning means a condition
on one of `RESTRICTING_KEYS` with a positive operator and values that are not wildcards alone.
"""

from __future__ import annotations

from strongroom.iam.policy import Policy, Statement

RESTRICTING_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcearn",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:username",
        "kms:calleraccount",
    }
)
_PINNING_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringEqualsIgnoreCase",
        "StringLike",
        "ArnEquals",
        "ArnLike",
        "IpAddress",
    }
)


def grants_public_access(policy: Policy) -> bool:
    return any(_public(statement) for statement in policy.statements)


def _public(statement: Statement) -> bool:
    if statement.effect != "Allow":
        return False
    if statement.not_principal is None:
        principal = statement.principal or {}
        if not any("*" in names for names in principal.values()):
            return False
    return not _pinned(statement)


def _pinned(statement: Statement) -> bool:
    for operator, block in statement.condition.items():
        # IfExists and ForAllValues forms hold when the key is absent: they pin nothing.
        # ForAnyValue needs one of the request's values to match, as the plain form does.
        plain = operator.removeprefix("ForAnyValue:")
        if plain.endswith("IfExists") or plain not in _PINNING_OPERATORS:
            continue
        for key, values in block.items():
            if key.lower() in RESTRICTING_KEYS and not any(
                set(value) <= set("*?") for value in values
            ):
                return True
    return False
