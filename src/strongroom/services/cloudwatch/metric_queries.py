"""MetricDataQueries as GetMetricData (and an alarm's Metrics) take them: which is checked
before anything is read (Ids, MetricStat or Expression, the expressions' syntax, the Ids they
name, cycles, kinds), the order they are evaluated in, their evaluation over the MetricStat
queries' series, and GetMetricData's pages of results.

The checks of a MetricStat's own members (Stat, Period, Metric) stay with the rest of
CloudWatch's parameter checks in service.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from strongroom.services.cloudwatch import errors as e
from strongroom.services.cloudwatch import metric_math as mm
from strongroom.services.cloudwatch import model

# Undocumented: AWS's message for a point dropped by a math expression, as GetMetricData
# answers it (a message of the result; the result's StatusCode stays Complete).
DROPPED = {
    "Code": "ArithmeticError",
    "Value": "One or more data-points have been dropped due to non-numeric values "
    "(NaN, -Infinite, +Infinite)",
}
MAX_DATAPOINTS = 100_800  # GetMetricData's default MaxDatapoints
# "The valid characters are letters, numbers, and underscore. The first character must be a
# lowercase letter." (MetricDataQuery.Id)
_METRIC_ID = re.compile(r"[a-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Query:
    id: str
    path: str  # MetricDataQueries.member.N, for messages
    label: str | None
    return_data: bool
    stat: Mapping[str, Any] | None
    expression: mm.Node | None
    period: int  # the MetricStat's; an expression's own Period, else its inputs' smallest
    kind: str  # TS or TS[]


@dataclass(frozen=True)
class Plan:
    queries: tuple[Query, ...]  # in request order
    order: tuple[str, ...]  # Ids, each after those its expression names
    has_expression: bool


def plan(queries: Sequence[Mapping[str, Any]]) -> Plan:
    """The checked plan of a request's queries; raises AWS's error for the first fault."""
    _check_ids(queries)
    parsed = _expressions(queries)
    metric_ids = [q["Id"] for q in queries if "MetricStat" in q]
    needs = {
        query_id: sorted(mm.references(node)) + (metric_ids if mm.calls_metrics(node) else [])
        for query_id, node in parsed.items()
    }
    known = {q["Id"] for q in queries}
    for query_id, names in needs.items():
        for name in names:
            if name not in known:
                raise _expression_error(query_id, f"Unrecognized Id {name}.")
    order = _order([q["Id"] for q in queries], needs)
    kinds: dict[str, str] = dict.fromkeys(metric_ids, mm.TS)
    periods = {q["Id"]: int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q}
    smallest = min(periods.values(), default=60)
    given = {q["Id"]: q["Period"] for q in queries if "Expression" in q and "Period" in q}
    for query_id in (i for i in order if i in parsed):
        kinds[query_id] = _kind(query_id, parsed[query_id], kinds, metric_ids)
        inputs = [periods[name] for name in needs[query_id]]
        periods[query_id] = int(given.get(query_id) or min(inputs, default=smallest))
    planned = tuple(
        Query(
            id=query["Id"],
            path=f"MetricDataQueries.member.{index}",
            label=query.get("Label"),
            return_data=query.get("ReturnData", True),
            stat=query.get("MetricStat"),
            expression=parsed.get(query["Id"]),
            period=periods[query["Id"]],
            kind=kinds[query["Id"]],
        )
        for index, query in enumerate(queries, 1)
    )
    return Plan(planned, tuple(order), bool(parsed))


def _check_ids(queries: Sequence[Mapping[str, Any]]) -> None:
    if len(queries) > model.MAX_QUERIES:
        raise e.InvalidParameterValueException(
            "The collection MetricDataQueries must not have a size greater than 500."
        )
    ids = [q["Id"] for q in queries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise e.InvalidParameterValueException(
            f"The value {duplicates[0]} for parameter MetricDataQueries.Id is not unique."
        )
    for index, query_id in enumerate(ids, 1):
        if _METRIC_ID.fullmatch(query_id) is None:
            # Undocumented: CloudWatch's general wording for a value it refuses.
            raise e.InvalidParameterValueException(
                f"The value {query_id} for parameter MetricDataQueries.member.{index}.Id is "
                "invalid."
            )


def _expressions(queries: Sequence[Mapping[str, Any]]) -> dict[str, mm.Node]:
    """Each Expression's syntax tree, by Id; each query is a MetricStat or an Expression."""
    parsed = {}
    for index, query in enumerate(queries, 1):
        path = f"MetricDataQueries.member.{index}"
        if "MetricStat" in query and "Expression" in query:
            raise e.InvalidParameterCombinationException(
                f"The parameters {path}.MetricStat and {path}.Expression are mutually "
                "exclusive and you have specified both."
            )
        if "Expression" in query:
            parsed[query["Id"]] = _parsed(query["Id"], query["Expression"])
        elif "MetricStat" not in query:
            # AWS's words, its trailing line break included.
            raise e.ValidationError(f"The parameter {path}.MetricStat is required.\n")
    return parsed


def _expression_error(query_id: str, reason: str) -> e.ValidationError:
    # Undocumented: AWS documents no wording for a faulty expression; it answers 400
    # ValidationError, as here, naming the query.
    return e.ValidationError(f"Error in expression {query_id}: {reason}")


def _parsed(query_id: str, expression: str) -> mm.Node:
    try:
        return mm.parse(expression)
    except mm.ExpressionError as error:
        raise _expression_error(query_id, str(error)) from None


def _kind(query_id: str, node: mm.Node, kinds: Mapping[str, str], metric_ids: Sequence[str]) -> str:
    try:
        kind = mm.kind_of(node, kinds, metric_ids)
    except mm.ExpressionError as error:
        raise _expression_error(query_id, str(error)) from None
    if kind not in (mm.TS, mm.TSA):
        # "The final result of any math expression must be a single time series or an
        # array of time series."
        raise _expression_error(
            query_id, "The expression must produce a time series or an array of time series."
        )
    return kind


def _order(ids: Sequence[str], needs: Mapping[str, Sequence[str]]) -> list[str]:
    """Every Id after the Ids it needs (depth first, without recursion); a cycle is an
    error."""
    order: list[str] = []
    state: dict[str, str] = {}  # visiting | done
    for root in ids:
        if root in state:
            continue
        stack = [(root, iter(needs.get(root, ())))]
        state[root] = "visiting"
        while stack:
            current, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                state[current] = "done"
                order.append(current)
            elif state.get(child) == "visiting":
                path = [query_id for query_id, _ in stack]
                cycle = " -> ".join([*path[path.index(child) :], child])
                raise _expression_error(current, f"Circular reference: {cycle}.")
            elif child not in state:
                state[child] = "visiting"
                stack.append((child, iter(needs.get(child, ()))))
    return order


# Evaluation


@dataclass(frozen=True)
class Outcome:
    value: mm.Series | list[mm.Series]
    dropped: bool  # a point was dropped for a value that is no finite number


def evaluate(
    planned: Plan,
    points_of: Callable[[Mapping[str, Any]], Mapping[int, float]],
    start: float,
    end: float,
) -> dict[str, Outcome]:
    """Every query's value over [start, end): `points_of` reads a MetricStat's points."""
    metrics = [
        (q.id, mm.Series(points_of(q.stat), q.period, label(q)))
        for q in planned.queries
        if q.stat is not None
    ]
    values: dict[str, mm.Series | list[mm.Series]] = dict(metrics)
    outcomes = {query_id: Outcome(series, False) for query_id, series in metrics}
    budget = mm.Budget()
    by_id = {q.id: q for q in planned.queries}
    for query_id in planned.order:
        query = by_id[query_id]
        if query.expression is None:
            continue
        context = mm.Context(start, end, query.period, values, metrics, model.window, budget)
        try:
            value = mm.evaluate(query.expression, context)
        except mm.ExpressionError as error:
            raise _expression_error(query_id, str(error)) from None
        if isinstance(value, mm.Series):
            value = mm.Series(value.points, value.period, label(query))
        values[query_id] = value  # type: ignore[assignment]
        outcomes[query_id] = Outcome(value, context.dropped)  # type: ignore[arg-type]
    return outcomes


def label(query: Query) -> str:
    """A query's Label, else CloudWatch's default: the metric's name, an expression's Id."""
    if query.label is not None:
        return query.label
    return query.stat["Metric"]["MetricName"] if query.stat is not None else query.id


# GetMetricData's results and pages


@dataclass(frozen=True)
class Result:
    id: str
    label: str
    points: list[tuple[int, float]]  # in the order asked for (ScanBy)
    messages: list[dict[str, str]] = field(default_factory=list)
    complete: bool = True


def results(planned: Plan, outcomes: Mapping[str, Outcome], descending: bool) -> list[Result]:
    """The results of the queries with ReturnData, in request order: one for each series of
    an expression that gives an array, labelled "<Label> <series' label>"."""
    answer = []
    for query in planned.queries:
        if not query.return_data:
            continue
        outcome = outcomes[query.id]
        messages = [DROPPED] if outcome.dropped else []
        members = outcome.value if isinstance(outcome.value, list) else [outcome.value]
        for series in members:
            name = series.label
            if isinstance(outcome.value, list) and query.label:
                name = f"{query.label} {series.label}".strip()
            points = sorted(series.points.items(), reverse=descending)
            answer.append(Result(query.id, name, points, messages))
    return answer


@dataclass(frozen=True)
class Position:
    """Where the next page starts: the result's index, and the last timestamp given of it."""

    index: int
    after: int | None


def page(
    answer: Sequence[Result],
    descending: bool,
    max_datapoints: int,
    position: Position | None,
    resumable: bool,
) -> tuple[list[Result], Position | None]:
    """One page of at most `max_datapoints` datapoints, from `position` on. A result cut
    short is PartialData; without `resumable` (a request with a math expression: "NextToken
    is not returned if you are performing a math expression") the rest of the page holds
    the results left, empty and PartialData, and no position."""
    start = position.index if position is not None else 0
    room = max_datapoints
    shown: list[Result] = []
    for index in range(start, len(answer)):
        result = answer[index]
        points = result.points
        if position is not None and index == position.index and position.after is not None:
            after = position.after
            points = [p for p in points if (p[0] < after if descending else p[0] > after)]
        taken = points[:room]
        room -= len(taken)
        if len(taken) == len(points):
            shown.append(Result(result.id, result.label, taken, result.messages))
            continue
        if not resumable:
            shown.append(Result(result.id, result.label, taken, result.messages, False))
            shown += [Result(r.id, r.label, [], r.messages, False) for r in answer[index + 1 :]]
            return shown, None
        if taken:
            shown.append(Result(result.id, result.label, taken, result.messages, False))
            return shown, Position(index, taken[-1][0])
        return shown, Position(index, position.after if position and index == start else None)
    return shown, None


def token(position: Position, fingerprint: str) -> str:
    text = json.dumps([position.index, position.after, fingerprint], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def position_of(next_token: str, fingerprint: str) -> Position:
    """The position a NextToken of this same request marks."""
    try:
        index, after, signed = json.loads(base64.urlsafe_b64decode(next_token.encode()))
        if (
            signed == fingerprint
            and isinstance(index, int)
            and index >= 0
            and (after is None or isinstance(after, int))
        ):
            return Position(index, after)
    except (binascii.Error, ValueError, UnicodeError, TypeError):
        pass
    raise e.InvalidNextToken("The service returned an error with Error Code InvalidNextToken.")


def fingerprint(request: Mapping[str, Any]) -> str:
    """What ties a NextToken to the request it was given for."""
    text = json.dumps(request, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
