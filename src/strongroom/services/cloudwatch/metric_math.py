"""CloudWatch metric math ("Metric math syntax and functions" in the CloudWatch user guide):
a parser for AWS's expression grammar, its static kinds, and an evaluator over time series
aligned on period timestamps. Pure: no storage, no AWS errors (ExpressionError carries the
reason; metric_queries.py names the query).

Values have kinds, as the guide's tables do: S (a scalar, None when it has no value, as the
AVG of an empty series), TS (a series: period start -> value), TS[] (an array of series), and
the text of METRICS('...') and the keywords of FILL and SORT. Kinds are checked before any
data is read, so a request whose expression cannot work is refused whole.

AWS's rules kept here: between two series, or a series and each member of an array,
operations pair the values of equal timestamps and a missing value counts as 0 ("Missing
values in a time series are treated as 0"), as do the point-wise AVG, SUM, MIN, MAX and
STDDEV of an array; a scalar applies to every point; a point whose value would not be a
finite number (a division by zero, LOG of 0, an overflow) is dropped, which the caller
reports as AWS does.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Kinds
S, TS, TSA, TEXT = "S", "TS", "TS[]", "TEXT"
FILL_MODES = ("REPEAT", "LINEAR")
SORT_KEYS = ("AVG", "MIN", "MAX", "SUM")
SORT_ORDERS = ("ASC", "DESC")
KEYWORDS = (*FILL_MODES, *SORT_KEYS, *SORT_ORDERS)

# Undocumented: AWS states no nesting limit; this one keeps parsing and evaluation within
# Python's recursion limit whatever the 2048 characters of an expression hold.
MAX_DEPTH = 40
# FILL, TIME_SERIES and the date functions make a point of every period of the range: no
# more than a GetMetricData call returns (100,800 datapoints).
MAX_GRID = 100_800
# Undocumented: what the expressions of one request may compute, their intermediate values
# included: ten times what a call returns, room for FILL over hundreds of metrics a day long,
# none for an answer that would exhaust the server's memory.
MAX_COMPUTED = 10 * MAX_GRID

# Functions AWS has that Strongroom does not evaluate (and Metrics Insights' SELECT).
UNSUPPORTED = (
    "SEARCH",
    "INSIGHT_RULE_METRIC",
    "ANOMALY_DETECTION_BAND",
    "SERVICE_QUOTA",
    "LAMBDA",
)


class ExpressionError(Exception):
    """Why an expression cannot be parsed, checked or evaluated."""


# Syntax tree


@dataclass(frozen=True)
class Number:
    value: float
    depth: int = 1


@dataclass(frozen=True)
class Text:
    value: str
    depth: int = 1


@dataclass(frozen=True)
class Name:
    """A reference to another query's Id."""

    name: str
    depth: int = 1


@dataclass(frozen=True)
class Word:
    """An upper-case keyword standing alone: REPEAT, LINEAR, AVG, ASC..."""

    word: str
    depth: int = 1


@dataclass(frozen=True)
class Negate:
    operand: Node
    depth: int = 1


@dataclass(frozen=True)
class Chain:
    """Operators of one precedence level in a row, `first op1 x1 op2 x2...`, folded from the
    left (^ is right-associative: a chain of one ^, nested). A chain, not a tree of pairs,
    keeps the depth of `m1 + m2 + ... + m99` at 2."""

    first: Node
    rest: tuple[tuple[str, Node], ...]
    depth: int = 1


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]
    depth: int = 1


@dataclass(frozen=True)
class Array:
    items: tuple[Node, ...]
    depth: int = 1


Node = Number | Text | Name | Word | Negate | Chain | Call | Array

# Parser

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<text>"[^"]*"|'[^']*')
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^()\[\],<>])""",
    re.VERBOSE,
)
_SPELLINGS = {"AND": "&&", "OR": "||"}
# Lowest precedence first; unary minus and ^ bind tighter than all of these.
_LEVELS = (("||",), ("&&",), ("==", "!=", "<=", ">=", "<", ">"), ("+", "-"), ("*", "/"))


@dataclass(frozen=True)
class _Token:
    kind: str  # number, text, name, word, op, end
    text: str
    position: int  # 1-based, for messages


def _tokens(expression: str) -> list[_Token]:
    tokens, at = [], 0
    while at < len(expression):
        matched = _TOKEN.match(expression, at)
        if matched is None:
            raise ExpressionError(f"Unexpected character '{expression[at]}' at position {at + 1}.")
        kind, text = str(matched.lastgroup), matched.group()
        if kind == "word":
            if text in _SPELLINGS:
                kind, text = "op", _SPELLINGS[text]
            elif text[0].islower():
                kind = "name"
        if kind != "space":
            tokens.append(_Token(kind, text, at + 1))
        at = matched.end()
    tokens.append(_Token("end", "", len(expression) + 1))
    return tokens


def parse(expression: str) -> Node:
    """The syntax tree of a metric math expression."""
    if re.match(r"\s*SELECT\b", expression, re.IGNORECASE):
        raise ExpressionError("Strongroom does not evaluate Metrics Insights queries (SELECT).")
    return _Parser(_tokens(expression)).whole()


class _Parser:
    """Recursive descent, one method per precedence level; `_nesting` bounds the recursion."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._at = 0
        self._nesting = 0

    def whole(self) -> Node:
        node = self._level(0)
        if self._peek().kind != "end":
            raise self._unexpected()
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _take(self) -> _Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _sees(self, *operators: str) -> bool:
        return self._peek().kind == "op" and self._peek().text in operators

    def _expect(self, operator: str) -> None:
        if not self._sees(operator):
            raise self._unexpected(f"expected '{operator}'")
        self._take()

    def _unexpected(self, wanted: str = "") -> ExpressionError:
        token = self._peek()
        found = "end of expression" if token.kind == "end" else f"'{token.text}'"
        detail = f" ({wanted})" if wanted else ""
        return ExpressionError(f"Unexpected {found} at position {token.position}{detail}.")

    def _nested(self) -> None:
        self._nesting += 1
        if self._nesting > MAX_DEPTH:
            raise ExpressionError(f"The expression nests more than {MAX_DEPTH} levels deep.")

    def _level(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self._unary()
        first = self._level(level + 1)
        rest: list[tuple[str, Node]] = []
        while self._sees(*_LEVELS[level]):
            operator = self._take().text
            rest.append((operator, self._level(level + 1)))
        if not rest:
            return first
        return _checked(Chain(first, tuple(rest), 1 + max(n.depth for n in (first, *_nodes(rest)))))

    def _unary(self) -> Node:
        if self._sees("-"):
            self._take()
            self._nested()
            operand = self._unary()
            self._nesting -= 1
            return _checked(Negate(operand, operand.depth + 1))
        return self._power()

    def _power(self) -> Node:
        base = self._primary()
        if not self._sees("^"):
            return base
        self._take()
        self._nested()
        exponent = self._unary()  # right-associative: 2^3^2 is 2^9, 2^-1 a half
        self._nesting -= 1
        return _checked(Chain(base, (("^", exponent),), 1 + max(base.depth, exponent.depth)))

    def _primary(self) -> Node:
        token = self._take()
        if token.kind == "number":
            return Number(float(token.text))
        if token.kind == "text":
            return Text(token.text[1:-1])
        if token.kind in ("name", "word") and self._sees("("):
            return self._call(token)
        if token.kind == "name":
            return Name(token.text)
        if token.kind == "word":
            return Word(token.text)
        if token.kind == "op" and token.text == "(":
            self._nested()
            inner = self._level(0)
            self._nesting -= 1
            self._expect(")")
            return inner
        if token.kind == "op" and token.text == "[":
            items = self._list("]")
            if not items:
                raise ExpressionError(f"Empty array at position {token.position}.")
            return _checked(Array(items, 1 + max(n.depth for n in items)))
        self._at -= 1
        raise self._unexpected()

    def _call(self, name: _Token) -> Node:
        self._take()  # (
        args = self._list(")")
        return _checked(Call(name.text, args, 1 + max((n.depth for n in args), default=0)))

    def _list(self, closing: str) -> tuple[Node, ...]:
        self._nested()
        items: list[Node] = []
        if not self._sees(closing):
            items.append(self._level(0))
            while self._sees(","):
                self._take()
                items.append(self._level(0))
        self._expect(closing)
        self._nesting -= 1
        return tuple(items)


def _nodes(pairs: Sequence[tuple[str, Node]]) -> list[Node]:
    return [node for _, node in pairs]


def _checked(node: Node) -> Node:
    if node.depth > MAX_DEPTH:
        raise ExpressionError(f"The expression nests more than {MAX_DEPTH} levels deep.")
    return node


def references(node: Node) -> set[str]:
    """The Ids an expression names."""
    if isinstance(node, Name):
        return {node.name}
    return set().union(*(references(child) for child in _children(node)))


def calls_metrics(node: Node) -> bool:
    """Whether the expression calls METRICS(), which reads every MetricStat query."""
    if isinstance(node, Call) and node.function == "METRICS":
        return True
    return any(calls_metrics(child) for child in _children(node))


def _children(node: Node) -> Sequence[Node]:
    if isinstance(node, Negate):
        return [node.operand]
    if isinstance(node, Chain):
        return [node.first, *_nodes(node.rest)]
    if isinstance(node, Call | Array):
        return node.args if isinstance(node, Call) else node.items
    return []


# Kinds


def _table(*rows: tuple[tuple[str, ...], str]) -> dict[tuple[str, ...], str]:
    return dict(rows)


_ELEMENTWISE = _table(((S,), S), ((TS,), TS), ((TSA,), TSA))
_PER_SERIES = _table(((TS,), TS), ((TSA,), TSA))
_AGGREGATE = _table(((TS,), S), ((TSA,), TS))
_FROM_TIMESTAMPS = _table(((TS,), TS))
SIGNATURES: dict[str, dict[tuple[str, ...], str]] = {
    **dict.fromkeys(("ABS", "CEIL", "FLOOR", "LOG", "LOG10", "SQRT"), _ELEMENTWISE),
    **dict.fromkeys(("AVG", "MAX", "MIN", "STDDEV", "SUM", "DATAPOINT_COUNT"), _AGGREGATE),
    **dict.fromkeys(("DIFF", "DIFF_TIME", "RATE", "RUNNING_SUM"), _PER_SERIES),
    **dict.fromkeys(("MINUTE", "HOUR", "DAY", "DATE", "MONTH", "YEAR", "EPOCH"), _FROM_TIMESTAMPS),
    "FILL": {(k, f): k for k in (TS, TSA) for f in (S, TS, *FILL_MODES)},
    "IF": _table(
        ((TS, S), TS),
        ((TS, TS), TS),
        ((TS, S, S), TS),
        ((TS, S, TS), TS),
        ((TS, TS, S), TS),
        ((TS, TS, TS), TS),
        ((S, TS), TS),
        ((S, TS, TS), TS),
    ),
    "METRICS": _table(((), TSA), ((TEXT,), TSA)),
    "METRIC_COUNT": _table(((TSA,), S)),
    "FIRST": _table(((TSA,), TS)),
    "LAST": _table(((TSA,), TS)),
    "REMOVE_EMPTY": _table(((TSA,), TSA)),
    "SLICE": _table(((TSA, S), TSA), ((TSA, S, S), TSA)),
    "SORT": {
        (TSA, key, order, *limit): TSA
        for key in SORT_KEYS
        for order in SORT_ORDERS
        for limit in ((), (S,))
    },
    "TIME_SERIES": _table(((S,), TS)),
    "PERIOD": _table(((TS,), S)),
}
# Between a kind on the left and one on the right, for every operator.
_OPERANDS = {
    (S, S): S,
    (S, TS): TS,
    (TS, S): TS,
    (TS, TS): TS,
    (S, TSA): TSA,
    (TSA, S): TSA,
    (TS, TSA): TSA,
    (TSA, TS): TSA,
}


def kind_of(node: Node, known: Mapping[str, str], metric_ids: Sequence[str]) -> str:
    """The kind of an expression's value, given the kinds of the Ids it may name (`known`)
    and which of them are MetricStat queries; raises ExpressionError when it has none."""
    if isinstance(node, Number):
        return S
    if isinstance(node, Text):
        return TEXT
    if isinstance(node, Name):
        if node.name not in known:
            raise ExpressionError(f"Unrecognized Id {node.name}.")
        return known[node.name]
    if isinstance(node, Word):
        if node.word not in KEYWORDS:
            raise ExpressionError(
                f"Unrecognized name {node.word}: an Id starts with a lower-case letter."
            )
        return node.word
    if isinstance(node, Negate):
        return _operand(kind_of(node.operand, known, metric_ids), "-")
    if isinstance(node, Chain):
        kind = kind_of(node.first, known, metric_ids)
        for operator, operand in node.rest:
            right = kind_of(operand, known, metric_ids)
            combined = _OPERANDS.get((kind, right))
            if combined is None:
                raise ExpressionError(f"Operator {operator} does not apply to {kind} and {right}.")
            kind = combined
        return kind
    if isinstance(node, Array):
        for item in node.items:
            if kind_of(item, known, metric_ids) not in (TS, TSA):
                raise ExpressionError("An array holds time series only.")
        return TSA
    return _call_kind(node, known, metric_ids)


def _operand(kind: str, operator: str) -> str:
    if kind not in (S, TS, TSA):
        raise ExpressionError(f"Operator {operator} does not apply to {kind}.")
    return kind


def _call_kind(node: Call, known: Mapping[str, str], metric_ids: Sequence[str]) -> str:
    if node.function in UNSUPPORTED:
        raise ExpressionError(f"Strongroom does not evaluate the function {node.function}.")
    signatures = SIGNATURES.get(node.function)
    if signatures is None:
        raise ExpressionError(f"Unknown function {node.function}.")
    kinds = tuple(kind_of(arg, known, metric_ids) for arg in node.args)
    result = signatures.get(kinds)
    if result is None:
        given = ", ".join(kinds) or "no arguments"
        raise ExpressionError(f"Invalid arguments for function {node.function}: {given}.")
    if node.function == "PERIOD" and not (
        isinstance(node.args[0], Name) and node.args[0].name in metric_ids
    ):
        raise ExpressionError("PERIOD takes the Id of a metric, not an expression.")
    return result


# Values


@dataclass(frozen=True)
class Series:
    points: Mapping[int, float]  # period start (epoch seconds) -> value
    period: int
    label: str = ""

    def ordered(self) -> list[tuple[int, float]]:
        return sorted(self.points.items())

    def with_points(self, points: Mapping[int, float]) -> Series:
        return Series(points, self.period, self.label)


Scalar = float | None
Value = Scalar | Series | list[Series] | str


@dataclass
class Budget:
    """The datapoints the expressions of one request may still compute."""

    remaining: int = MAX_COMPUTED

    def spend(self, count: int) -> None:
        self.remaining -= count
        if self.remaining < 0:
            raise ExpressionError(
                f"The expressions of the request compute more than {MAX_COMPUTED:,} datapoints."
            )


@dataclass
class Context:
    """What an expression is evaluated with: the request's range, the query's own period,
    the other queries' values, and the MetricStat queries' series in request order."""

    start: float
    end: float
    period: int
    values: Mapping[str, Series | list[Series]]
    metrics: Sequence[tuple[str, Series]]
    grid_of: Callable[[float, float, int], tuple[int, int]]
    budget: Budget = field(default_factory=Budget)  # shared by the request's expressions
    dropped: bool = False  # a point was dropped for a value that is no finite number

    def grid(self, period: int) -> range:
        first, stop = self.grid_of(self.start, self.end, period)
        periods = range(first, stop, period)
        if len(periods) > MAX_GRID:
            raise ExpressionError(
                f"The range holds {len(periods):,} periods of {period} seconds, more than "
                f"the {MAX_GRID:,} datapoints a call may return."
            )
        self.budget.spend(len(periods))
        return periods

    def finite(self, value: float | None) -> float | None:
        if value is None or math.isfinite(value):
            return value
        self.dropped = True
        return None


def evaluate(node: Node, context: Context) -> Value:
    """The value of a checked expression (kind_of accepted it)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Text):
        return node.value
    if isinstance(node, Word):
        return node.word
    if isinstance(node, Name):
        return context.values[node.name]
    if isinstance(node, Array):
        items: list[Series] = []
        for item in node.items:
            value = evaluate(item, context)
            items.extend(value if isinstance(value, list) else [value])  # type: ignore[list-item]
        return items
    if isinstance(node, Negate):
        value = _apply(context, _negate, evaluate(node.operand, context))
    elif isinstance(node, Chain):
        value = _chain(node, context)
    else:
        args = [evaluate(arg, context) for arg in node.args]
        value = _FUNCTIONS[node.function](context, *args)
    context.budget.spend(_size(value))
    return value


def _size(value: Value) -> int:
    """The datapoints a value holds."""
    if isinstance(value, list):
        return sum(len(member.points) for member in value)
    return len(value.points) if isinstance(value, Series) else 0


def _chain(node: Chain, context: Context) -> Value:
    value = evaluate(node.first, context)
    for operator, operand in node.rest:
        value = _binary(context, operator, value, evaluate(operand, context))
    return value


def _negate(value: float) -> float:
    return -value


def _power(base: float, exponent: float) -> float:
    return math.pow(base, exponent)  # ValueError, not a complex number, for (-8)^(1/3)


_OPERATORS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "^": _power,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(a != 0 and b != 0),
    "||": lambda a, b: float(a != 0 or b != 0),
}


def _compute(context: Context, function: Callable[..., float], *args: Any) -> float | None:
    """A value, or None (and a dropped point) when it is not a finite number."""
    try:
        return context.finite(function(*args))
    except (ZeroDivisionError, ValueError, OverflowError):
        context.dropped = True
        return None


def _apply(context: Context, function: Callable[[float], float], value: Value) -> Value:
    """A one-argument function on a scalar, on each point of a series or of an array."""
    if isinstance(value, list):
        return [_apply_series(context, function, member) for member in value]
    if isinstance(value, Series):
        return _apply_series(context, function, value)
    return None if value is None else _compute(context, function, value)


def _apply_series(context: Context, function: Callable[[float], float], series: Series) -> Series:
    points = {t: _compute(context, function, v) for t, v in series.points.items()}
    return series.with_points({t: v for t, v in points.items() if v is not None})


def _binary(context: Context, operator: str, left: Value, right: Value) -> Value:
    function = _OPERATORS[operator]
    if isinstance(left, list):
        return [_binary(context, operator, member, right) for member in left]  # type: ignore[misc]
    if isinstance(right, list):
        return [_binary(context, operator, left, member) for member in right]  # type: ignore[misc]
    if isinstance(left, Series) and isinstance(right, Series):
        times = left.points.keys() | right.points.keys()
        pairs = {t: (left.points.get(t, 0.0), right.points.get(t, 0.0)) for t in times}
        labelled = left if left.label or not right.label else right
        return _series(context, labelled, min(left.period, right.period), function, pairs)
    if isinstance(left, Series):
        if right is None:
            return left.with_points({})
        pairs = {t: (v, right) for t, v in left.points.items()}  # type: ignore[misc]
        return _series(context, left, left.period, function, pairs)
    if isinstance(right, Series):
        if left is None:
            return right.with_points({})
        pairs = {t: (left, v) for t, v in right.points.items()}  # type: ignore[misc]
        return _series(context, right, right.period, function, pairs)
    if left is None or right is None:
        return None
    return _compute(context, function, left, right)


def _series(
    context: Context,
    labelled: Series,
    period: int,
    function: Callable[[float, float], float],
    pairs: Mapping[int, tuple[float, float]],
) -> Series:
    points = {t: _compute(context, function, a, b) for t, (a, b) in pairs.items()}
    return Series({t: v for t, v in points.items() if v is not None}, period, labelled.label)


# Functions


def _aggregate(reduce: Callable[[list[float]], float]) -> Callable[..., Value]:
    """AVG, MAX...: of one series a scalar; of an array a series, point by point, each
    missing value counting as 0."""

    def function(context: Context, value: Series | list[Series]) -> Value:
        if isinstance(value, Series):
            values = list(value.points.values())
            return _compute(context, reduce, values) if values else None
        if not value:
            return Series({}, context.period)
        times = set().union(*(member.points.keys() for member in value))
        points = {
            t: _compute(context, reduce, [member.points.get(t, 0.0) for member in value])
            for t in times
        }
        kept = {t: v for t, v in points.items() if v is not None}
        return Series(kept, min(member.period for member in value))

    return function


def _datapoint_count(context: Context, value: Series | list[Series]) -> Value:
    if isinstance(value, Series):
        return float(len(value.points))
    times = set().union(*(member.points.keys() for member in value))
    counts = {t: float(sum(t in member.points for member in value)) for t in times}
    return Series(counts, min((m.period for m in value), default=context.period))


def _per_series(step: Callable[[int, float, int, float], float]) -> Callable[..., Value]:
    """DIFF, RATE...: each point from its predecessor, `step(t0, v0, t1, v1)`."""

    def one(context: Context, series: Series) -> Series:
        ordered = series.ordered()
        points: dict[int, float] = {}
        for (t0, v0), (t1, v1) in itertools.pairwise(ordered):
            value = _compute(context, step, t0, v0, t1, v1)
            if value is not None:
                points[t1] = value
        return series.with_points(points)

    def function(context: Context, value: Series | list[Series]) -> Value:
        if isinstance(value, list):
            return [one(context, member) for member in value]
        return one(context, value)

    return function


def _running_sum(context: Context, value: Series | list[Series]) -> Value:
    def one(series: Series) -> Series:
        total, points = 0.0, {}
        for t, v in series.ordered():
            total += v
            points[t] = total
        return series.with_points(
            {t: v for t, v in points.items() if context.finite(v) is not None}
        )

    return [one(m) for m in value] if isinstance(value, list) else one(value)


def _fill(context: Context, value: Series | list[Series], filler: Value) -> Value:
    if isinstance(value, list):
        return [_fill_one(context, member, filler) for member in value]
    return _fill_one(context, value, filler)


def _fill_one(context: Context, series: Series, filler: Value) -> Series:
    """Every period of the range gets a value: the series' own, else the filler's."""
    points = dict(series.points)
    grid = context.grid(series.period)
    if filler == "REPEAT":  # the latest real value before a gap; none before the first one
        last = None
        for t in grid:
            if t in series.points:
                last = series.points[t]
            elif last is not None:
                points[t] = last
    elif filler == "LINEAR":  # between the real values on both sides of a gap
        real, after = series.ordered(), 0  # real[after] is the first real value past t
        for t in grid:
            if t in points:
                continue
            while after < len(real) and real[after][0] < t:
                after += 1
            if 0 < after < len(real):
                (t0, v0), (t1, v1) = real[after - 1], real[after]
                points[t] = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    elif isinstance(filler, Series):
        for t in grid:
            if t not in points and t in filler.points:
                points[t] = filler.points[t]
    elif filler is not None:
        for t in grid:
            points.setdefault(t, filler)  # type: ignore[arg-type]
    return series.with_points(points)


def _if(context: Context, condition: Value, when_true: Value, when_false: Value = None) -> Value:
    """IF as the guide's "Using IF expressions" tables have it."""
    if not isinstance(condition, Series):  # a scalar condition picks a whole series
        chosen = when_true if condition else when_false
        return chosen if isinstance(chosen, Series) else Series({}, context.period)
    points: dict[int, float] = {}
    for t, flag in condition.points.items():
        branch = when_true if flag != 0 else when_false
        if isinstance(branch, Series):
            if t in branch.points:
                points[t] = branch.points[t]
            elif flag != 0:  # a true condition without the series' value gives 0
                points[t] = 0.0
        elif branch is not None:
            points[t] = branch  # type: ignore[assignment]
    return Series(points, condition.period, condition.label)


def _metrics(context: Context, contains: str = "") -> Value:
    return [series for query_id, series in context.metrics if contains in query_id]


def _first(context: Context, array: list[Series]) -> Value:
    return array[0] if array else Series({}, context.period)


def _last(context: Context, array: list[Series]) -> Value:
    return array[-1] if array else Series({}, context.period)


def _slice(context: Context, array: list[Series], start: Scalar, stop: Scalar = None) -> Value:
    first = max(0, int(start or 0))
    return array[first:] if stop is None else array[first : max(0, int(stop))]


_SORT_BY: dict[str, Callable[[list[float]], float]] = {
    "AVG": statistics.fmean,
    "MIN": min,
    "MAX": max,
    "SUM": math.fsum,
}


def _sort(
    context: Context, array: list[Series], key: str, order: str, limit: Scalar = None
) -> Value:
    """Series by a statistic of their values; series without values last, either way."""
    measured = [(_SORT_BY[key](list(s.points.values())), s) for s in array if s.points]
    measured.sort(key=lambda pair: pair[0], reverse=order == "DESC")
    ordered = [s for _, s in measured] + [s for s in array if not s.points]
    return ordered if limit is None else ordered[: max(0, int(limit))]


def _time_series(context: Context, value: Scalar) -> Value:
    grid = context.grid(context.period)
    return Series({} if value is None else dict.fromkeys(grid, value), context.period)


def _from_timestamps(part: Callable[[datetime], float]) -> Callable[..., Value]:
    """MINUTE, DAY...: a value for every period of the series' range, from its timestamp
    (UTC)."""

    def function(context: Context, series: Series) -> Value:
        grid = context.grid(series.period)
        return series.with_points({t: part(datetime.fromtimestamp(t, UTC)) for t in grid})

    return function


def _period(context: Context, series: Series) -> Value:
    return float(series.period)


_FUNCTIONS: dict[str, Callable[..., Value]] = {
    "ABS": lambda c, v: _apply(c, abs, v),
    "CEIL": lambda c, v: _apply(c, lambda x: float(math.ceil(x)), v),
    "FLOOR": lambda c, v: _apply(c, lambda x: float(math.floor(x)), v),
    "LOG": lambda c, v: _apply(c, math.log, v),
    "LOG10": lambda c, v: _apply(c, math.log10, v),
    "SQRT": lambda c, v: _apply(c, math.sqrt, v),
    "AVG": _aggregate(statistics.fmean),
    "MAX": _aggregate(max),
    "MIN": _aggregate(min),
    "SUM": _aggregate(math.fsum),
    "STDDEV": _aggregate(statistics.pstdev),
    "DATAPOINT_COUNT": _datapoint_count,
    "DIFF": _per_series(lambda t0, v0, t1, v1: v1 - v0),
    "DIFF_TIME": _per_series(lambda t0, v0, t1, v1: float(t1 - t0)),
    "RATE": _per_series(lambda t0, v0, t1, v1: (v1 - v0) / (t1 - t0)),
    "RUNNING_SUM": _running_sum,
    "FILL": _fill,
    "IF": _if,
    "METRICS": _metrics,
    "METRIC_COUNT": lambda c, array: float(len(array)),
    "FIRST": _first,
    "LAST": _last,
    "REMOVE_EMPTY": lambda c, array: [s for s in array if s.points],
    "SLICE": _slice,
    "SORT": _sort,
    "TIME_SERIES": _time_series,
    "PERIOD": _period,
    "MINUTE": _from_timestamps(lambda d: float(d.minute)),
    "HOUR": _from_timestamps(lambda d: float(d.hour)),
    "DAY": _from_timestamps(lambda d: float(d.isoweekday())),  # 1 Monday ... 7 Sunday
    "DATE": _from_timestamps(lambda d: float(d.day)),
    "MONTH": _from_timestamps(lambda d: float(d.month)),
    "YEAR": _from_timestamps(lambda d: float(d.year)),
    "EPOCH": _from_timestamps(lambda d: d.timestamp()),
}
