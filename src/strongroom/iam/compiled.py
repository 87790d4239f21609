"""Policies compiled for evaluation: matchers built once per policy, reused by every request.

Actions are matched once per (policy, action) and remembered, so a request only looks at the
statements whose Action/NotAction covers it. Resource patterns known before the request are
gathered, for the statements of one effect, into one regex that tells which statement's resource
matches first (remembered per resource); patterns holding policy variables are resolved per
request. Conditions are resolved to their operators (see `conditions`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from strongroom.iam.conditions import Condition, compile_condition
from strongroom.iam.patterns import (
    Context,
    Parts,
    Pieces,
    compiled,
    glob_pieces,
    has_variables,
    like_regex,
    parse_parts,
    resolve_pattern,
    resource_alternation,
    resource_regex,
)
from strongroom.iam.policy import Policy, PolicyKind, Statement, parse
from strongroom.iam.principals import PrincipalMatcher

_IDENTITY = PolicyKind.IDENTITY  # a global: Enum member look-ups are slow
_ACTION_CACHE_LIMIT = 1024  # distinct actions remembered per policy; the API has fewer
_GATE_MEMO_LIMIT = 128  # resources remembered per statement group (bounds memory)


class ActionMatcher:
    __slots__ = ("_negated", "_regex")

    def __init__(self, patterns: tuple[str, ...], negated: bool) -> None:
        regex = "|".join(f"(?:{like_regex(glob_pieces(p.lower()))})" for p in patterns)
        self._regex = re.compile(regex, re.DOTALL)
        self._negated = negated

    def covers(self, action: str) -> bool:
        return (self._regex.fullmatch(action) is not None) is not self._negated


class ResourceMatcher:
    __slots__ = ("_everything", "_literals", "_negated", "_regex", "_templates", "gate")

    def __init__(self, patterns: tuple[str, ...], negated: bool, variables: bool) -> None:
        self._negated = negated
        self._everything = "*" in patterns
        literals: set[str] = set()
        regexes: list[str] = []
        templates: list[Parts] = []
        for pattern in patterns:
            if variables and has_variables(pattern):
                templates.append(parse_parts(pattern))
            elif "*" in pattern or "?" in pattern:
                regexes.append(f"(?:{resource_regex(glob_pieces(pattern))})")
            else:
                literals.add(pattern)
        self._literals = frozenset(literals)
        self._regex = re.compile("|".join(regexes), re.DOTALL) if regexes else None
        self._templates = tuple(templates)
        # The patterns, when what they match is known before the request (for StatementGroup).
        self.gate: tuple[Pieces, ...] | None = None
        if not negated and not templates and not self._everything:
            self.gate = tuple(glob_pieces(p) for p in patterns)

    def match(self, resource: str, context: Context) -> bool:
        if (
            self._everything
            or resource in self._literals
            or (self._regex is not None and self._regex.fullmatch(resource) is not None)
        ):
            return not self._negated
        for parts in self._templates:
            pieces = resolve_pattern(parts, context)
            if pieces is None:
                # Resource: this pattern matches nothing. NotResource: the statement cannot
                # be applied (AWS: an unresolved variable may invalidate the statement).
                if self._negated:
                    return False
                continue
            if compiled(resource_regex(pieces)).fullmatch(resource) is not None:
                return not self._negated
        return self._negated


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    deny: bool
    actions: ActionMatcher
    resources: ResourceMatcher
    principals: PrincipalMatcher | None  # None in identity-based and session policies
    conditions: tuple[Condition, ...]

    def applies(self, resource: str, context: Context) -> bool:
        if not self.resources.match(resource, context):
            return False
        for condition in self.conditions:  # noqa: SIM110  (no generator on the hot path)
            if not condition.holds(context):
                return False
        return True


class StatementGroup:
    """Statements behind one regex of all their resources: when the request's resource does not
    match it (the usual case), none of them applies and none is looked at; when it does, the
    regex names the first statement whose resource matches, and the ones before it are skipped.
    The answer depends on the resource alone, so it is remembered for the resources last seen
    (an alternation of `*`-patterns backtracks through each alternative: microseconds)."""

    __slots__ = ("_memo", "gate", "statements")

    def __init__(self, statements: Sequence[CompiledStatement], gated: bool) -> None:
        self.statements = tuple(statements)
        self.gate = None
        if gated:
            # One capturing group per statement, in order (the parts have none of their own).
            regex = resource_alternation([s.resources.gate or () for s in statements])
            self.gate = re.compile(regex, re.DOTALL)
        self._memo: dict[str, int] = {}

    def first_applying(self, resource: str, context: Context) -> CompiledStatement | None:
        start = 0
        if self.gate is not None:
            start = self._memo.get(resource, -2)
            if start == -2:
                found = self.gate.fullmatch(resource)
                start = -1 if found is None else (found.lastindex or 1) - 1
                if len(self._memo) >= _GATE_MEMO_LIMIT:
                    self._memo.clear()  # cheaper than LRU bookkeeping; refills with the hot set
                self._memo[resource] = start
            if start < 0:
                return None
        for statement in self.statements[start:]:
            if statement.applies(resource, context):
                return statement
        return None


def _grouped(statements: list[CompiledStatement]) -> tuple[StatementGroup, ...]:
    gated = [s for s in statements if s.resources.gate is not None]
    rest = [s for s in statements if s.resources.gate is None]
    return tuple(StatementGroup(group, gated=group is gated) for group in (gated, rest) if group)


Candidates = tuple[tuple[StatementGroup, ...], tuple[StatementGroup, ...]]  # (denies, allows)


class CompiledPolicy:
    """A policy ready to evaluate; immutable apart from its per-action memo."""

    __slots__ = ("_by_action", "statements")

    def __init__(self, statements: tuple[CompiledStatement, ...]) -> None:
        self.statements = statements
        self._by_action: dict[str, Candidates] = {}

    def candidates(self, action: str) -> Candidates:
        """The Deny and the Allow statements whose Action/NotAction covers `action`
        (lower-cased)."""
        found = self._by_action.get(action)
        if found is None:
            covering = [s for s in self.statements if s.actions.covers(action)]
            found = (
                _grouped([s for s in covering if s.deny]),
                _grouped([s for s in covering if not s.deny]),
            )
            if len(self._by_action) < _ACTION_CACHE_LIMIT:
                self._by_action[action] = found
        return found


def compile_policy(policy: Policy) -> CompiledPolicy:
    variables = policy.version == "2012-10-17"  # 2008-10-17 reads `${...}` as literal text
    return CompiledPolicy(
        tuple(
            compiled_statement
            for statement in policy.statements
            if (compiled_statement := _compile_statement(statement, variables)) is not None
        )
    )


def compile_document(document: str, kind: PolicyKind) -> CompiledPolicy:
    """Parse and compile, once per distinct document. Raises `MalformedPolicy`.
    A cache hit costs a hash of the text: callers holding the same str objects pay it once."""
    if kind is _IDENTITY:
        return _compile_identity_document(document)
    if kind is PolicyKind.TRUST:
        return _compile_trust_document(document)
    return _compile_resource_document(document)


# One cache per kind, keyed by the text alone: hashing an Enum member is slow Python code.
@lru_cache(maxsize=4096)
def _compile_identity_document(document: str) -> CompiledPolicy:
    return compile_policy(parse(document, PolicyKind.IDENTITY))


@lru_cache(maxsize=1024)
def _compile_resource_document(document: str) -> CompiledPolicy:
    return compile_policy(parse(document, PolicyKind.RESOURCE))


@lru_cache(maxsize=1024)
def _compile_trust_document(document: str) -> CompiledPolicy:
    return compile_policy(parse(document, PolicyKind.TRUST))


def _compile_statement(statement: Statement, variables: bool) -> CompiledStatement | None:
    deny = statement.effect == "Deny"
    if statement.not_principal is not None and not deny:
        return None  # NotPrincipal with Allow is unsupported by AWS: it grants nothing here
    if statement.action is not None:
        actions = ActionMatcher(statement.action, negated=False)
    else:
        actions = ActionMatcher(statement.not_action or (), negated=True)
    if statement.resource is not None:
        resources = ResourceMatcher(statement.resource, negated=False, variables=variables)
    else:
        resources = ResourceMatcher(statement.not_resource or (), negated=True, variables=variables)
    principals = None
    if statement.principal is not None:
        principals = PrincipalMatcher(statement.principal, negated=False)
    elif statement.not_principal is not None:
        principals = PrincipalMatcher(statement.not_principal, negated=True)
    conditions = tuple(
        compile_condition(operator, key, values, variables)
        for operator, block in statement.condition.items()
        for key, values in block.items()
    )
    return CompiledStatement(deny, actions, resources, principals, conditions)
