"""One evaluation of a metric alarm, as CloudWatch's user guide describes it ("How alarm state is
evaluated when data is missing"); pure, no storage.

An evaluation looks at the evaluation range: `EVALUATION_RANGE_EXTRA` more periods than the
alarm's EvaluationPeriods (N), newest last. Then:

- N or more real datapoints: the newest N of them decide; TreatMissingData plays no part.
- none at all: missing -> INSUFFICIENT_DATA, ignore -> the state stays, breaching -> ALARM,
  notBreaching -> OK.
- fewer than N: every real datapoint takes part and missing ones fill up to N, the newest
  missing periods first ("as few times as possible"); breaching and notBreaching fill with
  their kind. With missing and ignore a real non-breaching datapoint makes OK; when every real
  datapoint breaches (but fewer than DatapointsToAlarm), ignore keeps the state and missing
  goes to ALARM if the oldest evaluated datapoint is a real one, INSUFFICIENT_DATA otherwise.

These rules reproduce every row of the two tables in that guide (tests/unit/
test_alarm_evaluation.py). ALARM needs at least DatapointsToAlarm (M) breaching datapoints
among the N evaluated; fewer is OK.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)

# CloudWatch retrieves "a higher number of data points than Evaluation Periods"; its guide's
# examples retrieve 5 for 3, which is the rule used here for every alarm.
EVALUATION_RANGE_EXTRA = 2

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")

Point = tuple[int, float | None]  # period start (epoch seconds), value or missing


@dataclass(frozen=True)
class Outcome:
    state: str
    reason: str
    evaluated: list[tuple[int, float]]  # the real datapoints that took part, oldest first


def evaluate(
    points: Sequence[Point],
    evaluation_periods: int,
    datapoints_to_alarm: int,
    comparison: str,
    threshold: float,
    treat_missing: str,
) -> Outcome | None:
    """The state the evaluation range `points` (oldest first) puts the alarm in; None when
    the alarm keeps the state it has (TreatMissingData ignore)."""
    compare, words = COMPARISONS[comparison]
    real = [(start, value) for start, value in points if value is not None]
    n, m = evaluation_periods, datapoints_to_alarm
    if len(real) >= n:
        chosen = real[-n:]
        breaching = sum(compare(value, threshold) for _, value in chosen)
        state = ALARM if breaching >= m else OK
        return Outcome(state, _crossed(chosen, breaching, n, m, words, threshold, state), chosen)
    if not real:
        return _all_missing(n, treat_missing)
    fill = n - len(real)
    breaching = sum(compare(value, threshold) for _, value in real)
    if breaching >= m:
        state = ALARM
    elif treat_missing == "breaching":
        state = ALARM if breaching + fill >= m else OK
    elif treat_missing == "notBreaching" or breaching < len(real):
        state = OK
    elif treat_missing == "ignore":
        return None
    else:  # missing, every real datapoint breaching
        missing_starts = [start for start, value in points if value is None][-fill:]
        oldest_is_real = real[0][0] < missing_starts[0]
        if not oldest_is_real:
            return Outcome(INSUFFICIENT_DATA, _unknown(fill), real)
        state = ALARM
    reason = _crossed(real, breaching, n, m, words, threshold, state)
    if treat_missing in ("breaching", "notBreaching"):
        kind = "Breaching" if treat_missing == "breaching" else "NonBreaching"
        reason = f"{reason[:-1]} and {fill} missing datapoint{_s(fill)} treated as [{kind}]."
    return Outcome(state, reason, real)


def _all_missing(n: int, treat_missing: str) -> Outcome | None:
    if treat_missing == "ignore":
        return None
    if treat_missing == "missing":
        return Outcome(INSUFFICIENT_DATA, _unknown(n), [])
    state, kind = (ALARM, "Breaching") if treat_missing == "breaching" else (OK, "NonBreaching")
    reason = (
        f"Threshold Crossed: no datapoints were received for {n} period{_s(n)} and {n} "
        f"missing datapoint{_s(n)} {'was' if n == 1 else 'were'} treated as [{kind}]."
    )
    return Outcome(state, reason, [])


def _unknown(count: int) -> str:
    verb = "was" if count == 1 else "were"
    return f"Insufficient Data: {count} datapoint{_s(count)} {verb} unknown."


def _crossed(
    chosen: Sequence[tuple[int, float]],
    breaching: int,
    n: int,
    m: int,
    words: str,
    threshold: float,
    state: str,
) -> str:
    """AWS's "Threshold Crossed: ..." reason, naming the datapoints newest first."""
    shown = sorted(chosen, reverse=True)
    listed = ", ".join(f"{value!r} ({_when(start)})" for start, value in shown)
    relation = words if state == ALARM else f"not {words}"
    counted = breaching if state == ALARM else len(chosen) - breaching
    if n == 1 and m == 1:
        return (
            f"Threshold Crossed: 1 datapoint [{listed}] was {relation} the threshold "
            f"({threshold!r})."
        )
    transition = "OK -> ALARM" if state == ALARM else "ALARM -> OK"
    needed = m if state == ALARM else n - m + 1
    return (
        f"Threshold Crossed: {counted} out of the last {n} datapoints [{listed}] "
        f"{'was' if counted == 1 else 'were'} {relation} the threshold ({threshold!r}) "
        f"(minimum {needed} datapoint{_s(needed)} for {transition} transition)."
    )


def _when(start: int) -> str:
    return datetime.fromtimestamp(start, UTC).strftime("%d/%m/%y %H:%M:%S")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
