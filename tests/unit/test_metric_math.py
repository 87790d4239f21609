"""Metric math, pure: the parser, the kinds of values, the evaluator over series on a 60-second
grid, with the user guide's own examples (comparisons, IF); arithmetic identities with
Hypothesis; and the query plan (Ids, references, cycles) and GetMetricData's pages."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.protocol.errors import AwsError
from strongroom.services.cloudwatch import metric_math as mm
from strongroom.services.cloudwatch import metric_queries as mq
from strongroom.services.cloudwatch import model

# Five periods, 0..240; "-" in the guide's tables is a missing value.
GRID = [0, 60, 120, 180, 240]


def series(*values: float | None, period: int = 60, label: str = "") -> mm.Series:
    points = {t: v for t, v in zip(GRID, values, strict=False) if v is not None}
    return mm.Series(points, period, label)


M1 = series(1.0, 2.0, None, 4.0, 8.0, label="one")
M2 = series(10.0, None, 0.0, 2.0, None, label="two")
M3 = series(None, None, None, None, None, label="three")
ERRORS = series(3.0, None, None, 1.0, None, label="errors")


def context(**values: mm.Series) -> mm.Context:
    metrics = list(values.items())
    return mm.Context(0, 300, 60, dict(values), metrics, model.window)


def run(expression: str, **values: mm.Series) -> tuple[Any, bool]:
    values = values or {"m1": M1, "m2": M2, "m3": M3, "errors_total": ERRORS}
    node = mm.parse(expression)
    mm.kind_of(node, dict.fromkeys(values, mm.TS), list(values))
    ctx = context(**values)
    return mm.evaluate(node, ctx), ctx.dropped


def listed(value: Any) -> Any:
    """A series as its values on the grid (None where missing), arrays as lists of them."""
    if isinstance(value, list):
        return [listed(member) for member in value]
    if isinstance(value, mm.Series):
        return [value.points.get(t) for t in GRID]
    return value


_ = None  # a missing value, as "-" in the guide's tables
TABLE = [
    # arithmetic: equal timestamps pair, a missing value counts as 0, a scalar applies to all
    ("m1 + m2", [11, 2, 0, 6, 8]),
    ("m1 - m2", [-9, 2, 0, 2, 8]),
    ("m1 * 2 + 1", [3, 5, _, 9, 17]),
    ("2 * m1 ^ 2", [2, 8, _, 32, 128]),
    ("-m1", [-1, -2, _, -4, -8]),
    ("-2 ^ 2 + m1", [-3, -2, _, 0, 4]),
    ("2 ^ 3 ^ 2 / 512 * m1", [1, 2, _, 4, 8]),
    ("m1 / m2 * 100", [10, _, _, 200, _]),  # division by zero (or by a missing value): dropped
    ("(m1 + m2) / 2", [5.5, 1, 0, 3, 4]),
    ("m1 - AVG(m1)", [-2.75, -1.75, _, 0.25, 4.25]),
    ("m1 / MAX(m1)", [0.125, 0.25, _, 0.5, 1]),
    ("m1 * 0 + SUM(m1)", [15, 15, _, 15, 15]),
    ("m1 * 0 + MIN(m1) + STDDEV(m2 * 0 + 3)", [1, 1, _, 1, 1]),
    ("m1 * 0 + DATAPOINT_COUNT(m1)", [4, 4, _, 4, 4]),
    ("m1 / PERIOD(m1)", [1 / 60, 2 / 60, _, 4 / 60, 8 / 60]),
    ("m3 + 1", [_, _, _, _, _]),
    ("m1 - AVG(m3)", [_, _, _, _, _]),  # AVG of no datapoint: no scalar, no point
    # point-wise functions
    ("ABS(m2 - m1)", [9, 2, 0, 2, 8]),
    ("CEIL(m1 / 3)", [1, 1, _, 2, 3]),
    ("FLOOR(m1 / 3)", [0, 0, _, 1, 2]),
    ("LOG10(m1 * 10)", [1, math.log10(20), _, math.log10(40), math.log10(80)]),
    ("LOG(m2)", [math.log(10), _, _, math.log(2), _]),  # LOG(0): dropped
    ("SQRT(m1 * 4)", [2, math.sqrt(8), _, 4, math.sqrt(32)]),
    # arrays: functions of an array give one series, point by point, missing as 0
    ("SUM([m1, m2])", [11, 2, 0, 6, 8]),
    ("SUM(METRICS())", [14, 2, 0, 7, 8]),
    ("AVG([m1, m2])", [5.5, 1, 0, 3, 4]),
    ("MAX([m1, m2])", [10, 2, 0, 4, 8]),
    ("MIN([m1, m2])", [1, 0, 0, 2, 0]),
    ("STDDEV([m1, m2])", [4.5, 1, 0, 1, 4]),
    ("DATAPOINT_COUNT(METRICS())", [3, 1, 1, 3, 1]),
    ("SUM(METRICS() * 2)", [28, 4, 0, 14, 16]),
    ("SUM(-[m1, m2])", [-11, -2, 0, -6, -8]),
    ("AVG([m1, m2] / m2)", [0.55, _, _, 1.5, _]),  # m1/m2 and m2/m2, each without x/0
    ("METRICS('m')", [[1, 2, _, 4, 8], [10, _, 0, 2, _], [_, _, _, _, _]]),
    ('METRICS("errors")', [[3, _, _, 1, _]]),
    ("SUM([METRICS('m1'), METRICS('m2')])", [11, 2, 0, 6, 8]),
    ("FIRST(METRICS())", [1, 2, _, 4, 8]),
    ("LAST(REMOVE_EMPTY(METRICS('m')))", [10, _, 0, 2, _]),
    ("m1 * 0 + METRIC_COUNT(METRICS())", [4, 4, _, 4, 4]),
    ("FIRST(SORT(METRICS(), MAX, DESC))", [10, _, 0, 2, _]),
    ("FIRST(SORT(METRICS(), SUM, ASC))", [3, _, _, 1, _]),
    ("SORT(METRICS('m'), AVG, DESC, 1)", [[10, _, 0, 2, _]]),
    ("SLICE(METRICS(), 1, 2)", [[10, _, 0, 2, _]]),
    ("LAST(SLICE(METRICS(), 2))", [3, _, _, 1, _]),
    # time: each point from its predecessor
    ("DIFF(m1)", [_, 1, _, 2, 4]),
    ("DIFF_TIME(m1)", [_, 60, _, 120, 60]),
    ("RATE(m1)", [_, 1 / 60, _, 2 / 120, 4 / 60]),
    ("RUNNING_SUM(m1)", [1, 3, _, 7, 15]),
    ("RUNNING_SUM([m1, m2])", [[1, 3, _, 7, 15], [10, _, 10, 12, _]]),
    # FILL: every period of the range
    ("FILL(m1, 0)", [1, 2, 0, 4, 8]),
    ("FILL(m2, -1)", [10, -1, 0, 2, -1]),
    ("FILL(m2, REPEAT)", [10, 10, 0, 2, 2]),
    ("FILL(m2, LINEAR)", [10, 5, 0, 2, _]),
    ("FILL(m3, REPEAT)", [_, _, _, _, _]),
    ("FILL(m1, m2)", [1, 2, 0, 4, 8]),
    ("FILL(m2, MIN(m1))", [10, 1, 0, 2, 1]),
    ("FILL(METRICS('m'), 7)", [[1, 2, 7, 4, 8], [10, 7, 0, 2, 7], [7, 7, 7, 7, 7]]),
    ("FILL(METRICS('m2'), LINEAR)", [[10, 5, 0, 2, _]]),
    ("TIME_SERIES(3)", [3, 3, 3, 3, 3]),
    ("TIME_SERIES(MAX(m1))", [8, 8, 8, 8, 8]),
    ("TIME_SERIES(AVG(m3))", [_, _, _, _, _]),
    ("MINUTE(m1)", [0, 1, 2, 3, 4]),
    ("DAY(m1)", [4, 4, 4, 4, 4]),  # 1970-01-01 was a Thursday
    ("IF(DAY(m1) < 6, m1)", [1, 2, 0, 4, 8]),  # true, and no value of m1: 0
    ("YEAR(m1) - 1970 + MONTH(m1) + DATE(m1) + HOUR(m1)", [2, 2, 2, 2, 2]),
    ("EPOCH(m1)", [0, 60, 120, 180, 240]),
    # comparisons and logic give 1 or 0
    ("m1 >= 4", [0, 0, _, 1, 1]),
    ("m1 > 1 AND m2 > 1", [0, 0, 0, 1, 0]),
    ("m1 > 1 && m2 > 1 || m1 == 1", [1, 0, 0, 1, 0]),
    ("m1 != 2", [1, 0, _, 1, 1]),
    ("m1 < 2 OR m1 <= 4", [1, 1, _, 1, 0]),
    # IF
    ("IF(m1 < 4, m1)", [1, 2, _, _, _]),
    ("IF(m1 < 4, 10, 2)", [10, 10, _, 2, 2]),
    ("IF(m1 > 1, m2, 5)", [5, 0, _, 2, 0]),
    ("IF(1, m1, m2)", [1, 2, _, 4, 8]),
    ("IF(0, m1, m2)", [10, _, 0, 2, _]),
    ("IF(0, m1)", [_, _, _, _, _]),
]


@pytest.mark.parametrize(("expression", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_expressions(expression, expected):
    value, _dropped = run(expression)
    assert listed(value) == _approx(expected)


def _approx(expected: Any) -> Any:
    if isinstance(expected, list):
        return [_approx(v) for v in expected]
    return expected if expected is None else pytest.approx(expected)


def test_dropped_points_are_noted():
    assert run("m1 / m2")[1] is True
    assert run("LOG(m2 - 10)")[1] is True
    assert run("m1 ^ 10000")[1] is True  # an overflow
    assert run("(m1 - 9) ^ 0.5")[1] is True  # no complex numbers
    assert run("m1 / (m1 + 1)")[1] is False


def test_the_guides_comparison_example():
    # metric1 [30, 20, 0, 0], metric2 [20, -, 20, -]
    values = {"metric1": series(30.0, 20.0, 0.0, 0.0), "metric2": series(20.0, None, 20.0)}
    assert listed(run("(metric1 < metric2)", **values)[0])[:4] == [0, 0, 1, 0]
    assert listed(run("(metric1 >= 30)", **values)[0])[:4] == [1, 0, 0, 0]
    assert listed(run("(metric1 > 15 AND metric2 > 15)", **values)[0])[:4] == [1, 0, 0, 0]


def test_the_guides_if_examples():
    values = {
        "metric1": series(1.0, 1.0, 0.0, 0.0, None),
        "metric2": series(30.0, None, 0.0, 0.0, 30.0),
        "metric3": series(0.0, 0.0, 20.0, None, 20.0),
    }
    assert listed(run("IF(metric1, metric2, metric3)", **values)[0]) == [30, 0, 20, _, _]
    assert listed(run("IF(metric1, 5, metric3)", **values)[0]) == [5, 5, 20, _, _]
    assert listed(run("IF(metric1, metric2, 5)", **values)[0]) == [30, 0, 5, 5, _]


KIND_ERRORS = [
    ("m1 + ", "Unexpected end of expression at position 6"),
    ("m1 +* m2", "Unexpected '*' at position 5"),
    ("(m1 + m2", "expected ')'"),
    ("m1 m2", "Unexpected 'm2'"),
    ("m1 # 2", "Unexpected character '#' at position 4"),
    ("[]", "Empty array"),
    ("SUM(m1,)", "Unexpected ')'"),
    ("FOO(m1)", "Unknown function FOO"),
    ("sum(m1)", "Unknown function sum"),
    ("m4 + 1", "Unrecognized Id m4"),
    ("M1 + 1", "Unrecognized name M1"),
    ("m1 + REPEAT", "Operator + does not apply to TS and REPEAT"),
    ("m1 + 'x'", "Operator + does not apply to TS and TEXT"),
    ("METRICS() + METRICS()", "Operator + does not apply to TS[] and TS[]"),
    ("ABS(m1, m2)", "Invalid arguments for function ABS: TS, TS"),
    ("FILL(m1)", "Invalid arguments for function FILL: TS"),
    ("FILL(m1, AVG)", "Invalid arguments for function FILL: TS, AVG"),
    ("IF(METRICS(), m1)", "Invalid arguments for function IF"),
    ("SORT(METRICS(), AVG)", "Invalid arguments for function SORT"),
    ("FIRST(m1)", "Invalid arguments for function FIRST: TS"),
    ("METRICS(m1)", "Invalid arguments for function METRICS: TS"),
    ("[m1, 2]", "An array holds time series only"),
    ("PERIOD(m1 + 1)", "PERIOD takes the Id of a metric"),
    ("SEARCH('{AWS/EC2} CPUUtilization', 'Average', 300)", "does not evaluate the function SEARCH"),
    ("ANOMALY_DETECTION_BAND(m1, 2)", "does not evaluate the function ANOMALY_DETECTION_BAND"),
    ('SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2")', "Metrics Insights"),
    ("-" * 41 + "m1", "nests more than 40 levels"),
    ("(" * 41 + "m1" + ")" * 41, "nests more than 40 levels"),
]


@pytest.mark.parametrize(("expression", "message"), KIND_ERRORS, ids=[r[0] for r in KIND_ERRORS])
def test_faulty_expressions(expression, message):
    with pytest.raises(mm.ExpressionError, match=None) as info:
        node = mm.parse(expression)
        mm.kind_of(node, {"m1": mm.TS, "m2": mm.TS}, ["m1", "m2"])
    assert message in str(info.value)


def test_long_chains_stay_shallow():
    node = mm.parse(" + ".join(["m1"] * 600))
    assert node.depth == 2
    value, _dropped = run(" + ".join(["m1"] * 600))
    assert listed(value) == [600, 1200, _, 2400, 4800]


def test_every_function_has_its_signature():
    assert mm._FUNCTIONS.keys() == mm.SIGNATURES.keys()


def test_fill_refuses_a_range_of_too_many_periods():
    node = mm.parse("FILL(m1, 0)")
    ctx = mm.Context(0, 86400 * 2, 1, {"m1": series(period=1)}, [], model.window)
    with pytest.raises(mm.ExpressionError, match="more than the 100,800 datapoints"):
        mm.evaluate(node, ctx)


def test_a_request_computes_within_its_budget():
    values = {"m1": M1, "m2": M2, "m3": M3}
    ctx = mm.Context(0, 300, 60, values, list(values.items()), model.window, mm.Budget(12))
    with pytest.raises(mm.ExpressionError, match="compute more than 1,008,000 datapoints"):
        mm.evaluate(mm.parse("FILL(METRICS(), 0)"), ctx)  # 5 points a metric: 15
    ctx = mm.Context(0, 300, 60, values, list(values.items()), model.window, mm.Budget(12))
    mm.evaluate(mm.parse("m1 + m2"), ctx)  # 5 points
    with pytest.raises(mm.ExpressionError):
        mm.evaluate(mm.parse("(m1 + m2) * 2"), ctx)  # 5 + 5 more


# Properties

VALUES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
SERIES = st.dictionaries(st.sampled_from(GRID), VALUES, max_size=5).map(
    lambda points: mm.Series(points, 60)
)


@settings(max_examples=200, deadline=None)
@given(SERIES, SERIES, VALUES)
def test_arithmetic_identities(a, b, c):
    def of(expression: str) -> dict[int, float]:
        node = mm.parse(expression)
        value = mm.evaluate(node, context(a=a, b=b))
        assert isinstance(value, mm.Series)
        return dict(value.points)

    scalar = repr(c) if c >= 0 else f"({c!r})"
    assert of(f"a + {scalar} - {scalar}") == pytest.approx(dict(a.points), abs=1e-6)
    assert of("a * 1") == dict(a.points)
    assert of("--a") == dict(a.points)
    assert of("a + b") == of("b + a")
    assert of("SUM([a, b])") == pytest.approx(of("a + b"))
    assert of("a - b") == pytest.approx({t: -v for t, v in of("b - a").items()})
    assert of("2 * (a + b)") == pytest.approx(of("2 * a + 2 * b"))
    assert all(v == 1 for v in of("a / a").values())
    assert of("RUNNING_SUM(a)") == pytest.approx(
        {t: math.fsum(v for u, v in a.points.items() if u <= t) for t in a.points}, abs=1e-6
    )
    assert of("FILL(a, 0) - FILL(a, 0) + 1") == dict.fromkeys(range(0, 300, 60), 1.0)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="m12 +-*/^()[],'\"<>=!&|ABCDEFGHIJKLMNOPQRSTUVWXYZ_.e", max_size=40))
def test_any_text_parses_or_is_refused_cleanly(text):
    try:
        node = mm.parse(text)
        mm.kind_of(node, {"m1": mm.TS, "m2": mm.TS}, ["m1", "m2"])
    except mm.ExpressionError:
        return
    mm.evaluate(node, context(m1=M1, m2=M2))


# Plans


def stat(name: str = "Requests", period: int = 60) -> dict[str, Any]:
    return {"Metric": {"Namespace": "App", "MetricName": name}, "Period": period, "Stat": "Sum"}


def refused(queries: list[dict[str, Any]]) -> tuple[str, str]:
    with pytest.raises(AwsError) as info:
        mq.plan(queries)
    return info.value.code, info.value.message


def test_a_plan_orders_references_whatever_the_request_order():
    planned = mq.plan(
        [
            {"Id": "e1", "Expression": "e2 * 2"},
            {"Id": "e2", "Expression": "m1 + 1", "ReturnData": False},
            {"Id": "m1", "MetricStat": stat(period=300)},
        ]
    )
    assert planned.order.index("m1") < planned.order.index("e2") < planned.order.index("e1")
    assert [q.period for q in planned.queries] == [300, 300, 300]
    assert planned.has_expression


def test_plan_errors():
    m1 = {"Id": "m1", "MetricStat": stat()}
    assert refused([m1, {"Id": "e1", "Expression": "m9 + 1"}]) == (
        "ValidationError",
        "Error in expression e1: Unrecognized Id m9.",
    )
    code, message = refused(
        [m1, {"Id": "e1", "Expression": "e2 + 1"}, {"Id": "e2", "Expression": "e1 * m1"}]
    )
    assert code == "ValidationError"
    assert "Circular reference: e1 -> e2 -> e1." in message
    assert "Circular reference: e1 -> e1" in refused([{"Id": "e1", "Expression": "e1"}])[1]
    assert refused([m1, {"Id": "e1", "Expression": "AVG(m1)"}]) == (
        "ValidationError",
        "Error in expression e1: The expression must produce a time series or an array of "
        "time series.",
    )
    assert refused([{"Id": "e1", "Label": "x"}]) == (
        "ValidationError",
        "The parameter MetricDataQueries.member.1.MetricStat is required.\n",
    )
    assert refused([{**m1, "Expression": "m1"}])[0] == "InvalidParameterCombinationException"
    assert refused([m1, m1])[0] == "InvalidParameterValueException"
    assert refused([{"Id": "M1", "MetricStat": stat()}]) == (
        "InvalidParameterValueException",
        "The value M1 for parameter MetricDataQueries.member.1.Id is invalid.",
    )
    many = [{"Id": f"m{i}", "MetricStat": stat()} for i in range(501)]
    assert refused(many)[0] == "InvalidParameterValueException"


# Pages


def answer() -> list[mq.Result]:
    return [
        mq.Result("a", "A", [(0, 1.0), (60, 2.0), (120, 3.0)]),
        mq.Result("b", "B", []),
        mq.Result("c", "C", [(0, 4.0), (60, 5.0)]),
    ]


def all_pages(limit: int, resumable: bool = True) -> list[list[mq.Result]]:
    pages, position = [], None
    while True:
        shown, position = mq.page(answer(), False, limit, position, resumable)
        pages.append(shown)
        if position is None:
            return pages


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 100])
def test_pages_give_every_datapoint_once(limit):
    pages = all_pages(limit)
    seen = [(r.id, p) for shown in pages for r in shown for p in r.points]
    expected = [(r.id, p) for r in answer() for p in r.points]
    assert seen == expected
    assert all(sum(len(r.points) for r in shown) <= limit for shown in pages)
    last = pages[-1]
    assert all(r.complete for r in last)
    for shown in pages[:-1]:
        assert not shown[-1].complete or sum(len(r.points) for r in shown) == limit


def test_without_a_next_token_the_rest_is_partial():
    (shown,) = all_pages(2, resumable=False)
    assert [(r.id, r.points, r.complete) for r in shown] == [
        ("a", [(0, 1.0), (60, 2.0)], False),
        ("b", [], False),
        ("c", [], False),
    ]


def test_tokens_belong_to_their_request():
    token = mq.token(mq.Position(2, 60), "abc")
    assert mq.position_of(token, "abc") == mq.Position(2, 60)
    for bad in (token, "x", "", mq.token(mq.Position(1, None), "other")):
        with pytest.raises(AwsError) as info:
            mq.position_of(bad, "abd")
        assert info.value.code == "InvalidNextToken"
