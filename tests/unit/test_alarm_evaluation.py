"""Alarm evaluation against the two tables of CloudWatch's user guide ("How alarm state is
evaluated when data is missing"): 5 datapoints retrieved, oldest first; 0 is a non-breaching
datapoint, X a breaching one, - a missing one; None in the expectations means "retain the
current state"."""

from __future__ import annotations

import pytest

from strongroom.services.cloudwatch.alarm_evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    evaluate,
)

MODES = ("missing", "ignore", "breaching", "notBreaching")
THRESHOLD = 10.0
_VALUES = {"0": 5.0, "X": 15.0, "-": None}

# (data points, M, N, {mode: state})
GUIDE_TABLES = [
    # Datapoints to Alarm 3, Evaluation Periods 3
    ("0 - X - X", 3, 3, (OK, OK, OK, OK)),
    ("0 - - - -", 3, 3, (OK, OK, OK, OK)),
    ("- - - - -", 3, 3, (INSUFFICIENT_DATA, None, ALARM, OK)),
    ("0 X X - X", 3, 3, (ALARM, ALARM, ALARM, ALARM)),
    ("- - - - X", 3, 3, (INSUFFICIENT_DATA, None, ALARM, OK)),
    ("X - - - -", 3, 3, (ALARM, None, ALARM, OK)),
    # 2 out of 3
    ("0 - X - X", 2, 3, (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", 2, 3, (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", 2, 3, (OK, OK, ALARM, OK)),
    ("- - - - 0", 2, 3, (OK, OK, ALARM, OK)),
    ("- - - - X", 2, 3, (INSUFFICIENT_DATA, None, ALARM, OK)),
]


def _points(text: str) -> list[tuple[int, float | None]]:
    return [(i * 300, _VALUES[symbol]) for i, symbol in enumerate(text.split())]


@pytest.mark.parametrize(("data", "m", "n", "expected"), GUIDE_TABLES)
def test_the_user_guides_tables(data, m, n, expected):
    for mode, state in zip(MODES, expected, strict=True):
        outcome = evaluate(_points(data), n, m, "GreaterThanThreshold", THRESHOLD, mode)
        assert (outcome.state if outcome else None) == state, (data, mode)


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        ("GreaterThanThreshold", 10.0, False),
        ("GreaterThanThreshold", 10.5, True),
        ("GreaterThanOrEqualToThreshold", 10.0, True),
        ("LessThanThreshold", 10.0, False),
        ("LessThanThreshold", 9.0, True),
        ("LessThanOrEqualToThreshold", 10.0, True),
    ],
)
def test_comparison_operators(comparison, value, breaches):
    outcome = evaluate([(0, value)], 1, 1, comparison, THRESHOLD, "missing")
    assert outcome is not None and outcome.state == (ALARM if breaches else OK)


def test_the_newest_real_datapoints_decide_when_there_are_enough():
    # 1 of 1: the newest real datapoint decides, however far back it is.
    outcome = evaluate(_points("X 0 - - -"), 1, 1, "GreaterThanThreshold", THRESHOLD, "missing")
    assert outcome is not None and outcome.state == OK
    assert outcome.evaluated == [(300, 5.0)]


def test_reasons_read_like_cloudwatchs():
    alarm = evaluate([(0, 11.0)], 1, 1, "GreaterThanThreshold", THRESHOLD, "missing")
    assert alarm is not None
    assert alarm.reason == (
        "Threshold Crossed: 1 datapoint [11.0 (01/01/70 00:00:00)] was greater than the "
        "threshold (10.0)."
    )
    two_of_three = evaluate(_points("0 0 X 0 X"), 3, 2, "GreaterThanThreshold", 10.0, "missing")
    assert two_of_three is not None
    assert two_of_three.reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [")
    assert two_of_three.reason.endswith(
        "were greater than the threshold (10.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )
    nothing = evaluate(_points("- - - - -"), 3, 3, "GreaterThanThreshold", 10.0, "missing")
    assert nothing is not None
    assert nothing.reason == "Insufficient Data: 3 datapoints were unknown."
