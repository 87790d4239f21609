"""Schedule expressions: every syntax element and every refusal, and next_after against a
minute-by-minute oracle over random expressions and instants."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.jobs.schedule_expressions import (
    BOTH_SCHEDULES,
    EVENTBRIDGE_INVALID,
    INVALID_DURATION,
    INVALID_ROTATION_EXPRESSION,
    TOO_FREQUENT,
    WINDOW_OVERLAP,
    WINDOW_PAST_DAY,
    Cron,
    InvalidRotationRules,
    InvalidScheduleExpression,
    MonthDays,
    Rate,
    WeekDays,
    aws_weekday,
    parse,
    rotation_schedule,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def firings(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule = parse(expression)
    found, moment = [], start
    for _ in range(count):
        following = schedule.next_after(moment, start)
        assert following is not None
        found.append(following)
        moment = following
    return found


# Rate


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(90 days)", 90 * 86400),
    ],
)
def test_rates(expression: str, seconds: int) -> None:
    rate = parse(expression)
    assert isinstance(rate, Rate) and rate.seconds == seconds


def test_a_rate_counts_from_its_anchor() -> None:
    anchor = utc(2026, 1, 1, 10, 0, 30)
    rate = parse("rate(5 minutes)")
    assert rate.next_after(anchor, anchor) == utc(2026, 1, 1, 10, 5, 30)
    assert rate.next_after(utc(2026, 1, 1, 10, 5, 30), anchor) == utc(2026, 1, 1, 10, 10, 30)
    assert rate.next_after(utc(2026, 1, 1, 10, 5, 31), anchor) == utc(2026, 1, 1, 10, 10, 30)
    # Before the anchor: the first period after it.
    assert rate.next_after(utc(2025, 1, 1), anchor) == utc(2026, 1, 1, 10, 5, 30)


def test_a_rate_past_the_calendar_has_no_next() -> None:
    assert parse("rate(99999999 days)").next_after(utc(2026, 1, 1), utc(2026, 1, 1)) is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(10 seconds)",
        "rate(10 years)",
        "rate(1 minutes)",
        "rate(1 hours)",
        "rate(1 days)",
        "rate(10 minute)",
        "rate(10 hour)",
        "rate(10 day)",
        "rate()",
        "rate(10)",
        "rate(10 minutess)",
        "rate(foo minutes)",
        "rate(0 minutes)",
        "rate(-10 minutes)",
        "rate(10 MINUTES)",
        "rate( 10 minutes )",
        " rate(10 minutes)",
        "rate(10  minutes)",
        "rate(1.5 hours)",
        "rate(01 minute)",
        "",
        "every 5 minutes",
    ],
)
def test_invalid_rates(expression: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as raised:
        parse(expression)
    assert raised.value.message == EVENTBRIDGE_INVALID


# Cron: table cases for every syntax element

AFTER = utc(2026, 11, 30, 10, 7, 30)  # a Monday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # every 15 minutes: 0/15
        ("cron(0/15 * * * ? *)", [(2026, 11, 30, 10, 15), (2026, 11, 30, 10, 30)]),
        # */20
        ("cron(*/20 * * * ? *)", [(2026, 11, 30, 10, 20), (2026, 11, 30, 10, 40)]),
        # list and range
        ("cron(5,50 9-10 * * ? *)", [(2026, 11, 30, 10, 50), (2026, 12, 1, 9, 5)]),
        # stepped range
        ("cron(0 8-20/6 * * ? *)", [(2026, 11, 30, 14, 0), (2026, 11, 30, 20, 0)]),
        # a range that wraps past midnight
        ("cron(0 22-1 * * ? *)", [(2026, 11, 30, 22, 0), (2026, 11, 30, 23, 0)]),
        # 10:00 every day
        ("cron(0 10 * * ? *)", [(2026, 12, 1, 10, 0), (2026, 12, 2, 10, 0)]),
        # weekdays by name, and ? in day-of-month
        ("cron(0 18 ? * MON-FRI *)", [(2026, 11, 30, 18, 0), (2026, 12, 1, 18, 0)]),
        # a weekday range that wraps: FRI-MON
        ("cron(0 9 ? * FRI-MON *)", [(2026, 12, 4, 9, 0), (2026, 12, 5, 9, 0)]),
        # names in lower case
        ("cron(0 9 ? jan,dec sun *)", [(2026, 12, 6, 9, 0), (2026, 12, 13, 9, 0)]),
        # day-of-week numbers: 1 = Sunday
        ("cron(0 9 ? * 1 *)", [(2026, 12, 6, 9, 0), (2026, 12, 13, 9, 0)]),
        # month names and steps
        ("cron(0 0 1 JAN/3 ? *)", [(2027, 1, 1, 0, 0), (2027, 4, 1, 0, 0)]),
        # first of the month
        ("cron(0 8 1 * ? *)", [(2026, 12, 1, 8, 0), (2027, 1, 1, 8, 0)]),
        # day 31 skips shorter months
        ("cron(0 0 31 * ? *)", [(2026, 12, 31, 0, 0), (2027, 1, 31, 0, 0), (2027, 3, 31, 0, 0)]),
        # L: last day of the month (February of a leap year)
        ("cron(0 0 L * ? 2028)", [(2028, 1, 31, 0, 0), (2028, 2, 29, 0, 0)]),
        # LW: last weekday (Jan 31 2027 is a Sunday)
        ("cron(0 0 LW * ? *)", [(2026, 12, 31, 0, 0), (2027, 1, 29, 0, 0)]),
        # nW: nearest weekday (Jan 2 2027 Saturday -> Friday 1; Jan 3 Sunday -> Monday 4)
        ("cron(0 0 2W JAN ? 2027)", [(2027, 1, 1, 0, 0)]),
        ("cron(0 0 3W JAN ? 2027)", [(2027, 1, 4, 0, 0)]),
        # 1W on a Saturday goes forward to Monday 3 (never into the month before)
        ("cron(0 0 1W MAY ? 2027)", [(2027, 5, 3, 0, 0)]),
        # 31W on a Sunday goes back to Friday 29 (never into the month after)
        ("cron(0 0 31W JAN ? 2027)", [(2027, 1, 29, 0, 0)]),
        # #: the second Tuesday
        ("cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)", [(2027, 2, 9, 10, 0), (2027, 5, 11, 10, 0)]),
        # 5th Friday: only in months that have one
        ("cron(0 0 ? * 6#5 2027)", [(2027, 1, 29, 0, 0), (2027, 4, 30, 0, 0)]),
        # nL: the last Friday of the month
        ("cron(0 0 ? * 6L *)", [(2026, 12, 25, 0, 0), (2027, 1, 29, 0, 0)]),
        # L alone in day-of-week: Saturday
        ("cron(0 0 ? * L *)", [(2026, 12, 5, 0, 0), (2026, 12, 12, 0, 0)]),
        # years: lists, ranges, steps
        ("cron(0 0 1 1 ? 2030,2040)", [(2030, 1, 1, 0, 0), (2040, 1, 1, 0, 0)]),
        ("cron(0 0 1 1 ? 2030-2031)", [(2030, 1, 1, 0, 0), (2031, 1, 1, 0, 0)]),
        ("cron(0 0 1 1 ? 2100/50)", [(2100, 1, 1, 0, 0), (2150, 1, 1, 0, 0)]),
        # fields separated by several spaces
        ("cron(0  12 * * ? *)", [(2026, 11, 30, 12, 0)]),
    ],
)
def test_cron_firings(expression: str, expected: list[tuple[int, ...]]) -> None:
    assert firings(expression, AFTER, len(expected)) == [utc(*e) for e in expected]


def test_cron_years_run_out() -> None:
    cron = parse("cron(0 0 1 1 ? 2027)")
    assert cron.next_after(utc(2027, 1, 1), utc(2027, 1, 1)) is None
    assert parse("cron(0 0 * * ? *)").next_after(utc(2199, 12, 31), AFTER) is None
    assert parse("cron(0 0 30 FEB ? *)").next_after(AFTER, AFTER) is None


def test_cron_is_strictly_after_and_ignores_seconds() -> None:
    cron = parse("cron(* * * * ? *)")
    assert cron.next_after(utc(2026, 1, 1, 0, 0), AFTER) == utc(2026, 1, 1, 0, 1)
    assert cron.next_after(utc(2026, 1, 1, 0, 0, 59), AFTER) == utc(2026, 1, 1, 0, 1)


def test_naive_and_other_zones_are_utc() -> None:
    from datetime import timezone

    cron = parse("cron(0 12 * * ? *)")
    plus_two = datetime(2026, 1, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))
    assert cron.next_after(plus_two, AFTER) == utc(2026, 1, 1, 12, 0)
    assert cron.next_after(datetime(2026, 1, 1, 11), AFTER) == utc(2026, 1, 1, 12, 0)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 * * * *)",  # both day fields set
        "cron(0 10 ? * ? *)",  # neither
        "cron(0 10 * * ?)",  # five fields
        "cron(0 10 * * ? * *)",  # seven
        "cron()",
        "cron(0 10 * * ? *",
        "cron( 0 10 * * ? *)",
        "cron(0 10 * * ? * )",
        " cron(0 10 * * ? *)",
        "CRON(0 10 * * ? *)",
        "cron(60 10 * * ? *)",  # minute out of range
        "cron(0 24 * * ? *)",  # hour
        "cron(0 10 0 * ? *)",  # day of month
        "cron(0 10 32 * ? *)",
        "cron(0 10 * 13 ? *)",  # month
        "cron(0 10 * 0 ? *)",
        "cron(0 10 ? * 0 *)",  # day of week
        "cron(0 10 ? * 8 *)",
        "cron(0 10 * * ? 1969)",  # year
        "cron(0 10 * * ? 2200)",
        "cron(0 10 * * ? 2031-2030)",  # years do not wrap
        "cron(? 10 * * ? *)",  # ? outside the day fields
        "cron(0 10 * ? ? *)",
        "cron(0/0 10 * * ? *)",  # step 0
        "cron(0/60 10 * * ? *)",  # step beyond the field
        "cron(0/x 10 * * ? *)",
        "cron(a 10 * * ? *)",
        "cron(1-2-3 10 * * ? *)",
        "cron(0 10 * FOO ? *)",
        "cron(0 10 ? * FUN *)",
        "cron(0 10 * * ? L)",  # L outside the day fields
        "cron(0 L * * ? *)",
        "cron(0 10 L,5 * ? *)",  # L in a list
        "cron(0 10 5W,6 * ? *)",  # W in a list
        "cron(0 10 1-5W * ? *)",  # W on a range
        "cron(0 10 32W * ? *)",
        "cron(0 10 ? * 2#1,6#3 *)",  # only one # expression
        "cron(0 10 ? * 2#6 *)",  # k beyond 5
        "cron(0 10 ? * 2#0 *)",
        "cron(0 10 ? * 8#1 *)",
        "cron(0 10 ? * 8L *)",
        "cron(0 10 ? * 2L,3 *)",
        "cron(0 10 5#2 * ? *)",  # # in day-of-month
        "cron(0 10 ? * 2W *)",  # W in day-of-week
        "cron(0 10 * * ? 2030#1)",
        "cron(0 10 * * ? *) ",
        "cron(0,,5 10 * * ? *)",
        "cron(0- 10 * * ? *)",
        "cron(0 10 * * ? \uff12\uff10\uff13\uff10)",  # digits, but not ASCII ones
    ],
)
def test_invalid_crons(expression: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as raised:
        parse(expression)
    assert raised.value.message == EVENTBRIDGE_INVALID


# Cron: next_after against a brute-force oracle


def oracle_days(days: MonthDays | WeekDays, year: int, month: int) -> set[int]:
    """Which days of the month the day fields allow, day by day from their definitions."""
    length = calendar.monthrange(year, month)[1]
    dates = [date(year, month, d) for d in range(1, length + 1)]
    weekday = {d.day: aws_weekday(d) for d in dates}
    workdays = [d for d in weekday if weekday[d] not in (1, 7)]
    if isinstance(days, MonthDays):
        if days.last:
            return {length}
        if days.last_weekday:
            return {max(workdays)}
        if days.nearest_weekday is not None:
            n = days.nearest_weekday
            if n > length:
                return set()
            # the workday at the least distance from n, earlier first on a tie
            return {min(workdays, key=lambda d: (abs(d - n), d))}
        return set(days.days) & set(weekday)
    if days.last_of is not None:
        return {max(d for d in weekday if weekday[d] == days.last_of)}
    if days.nth is not None:
        same = [d for d in sorted(weekday) if weekday[d] == days.nth[0]]
        k = days.nth[1]
        return {same[k - 1]} if k <= len(same) else set()
    return {d for d in weekday if weekday[d] in days.weekdays}


def oracle_next(cron: Cron, instant: datetime, horizon: timedelta) -> datetime | None:
    moment = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = instant + horizon
    while moment <= end:
        if (
            moment.minute in cron.minutes
            and moment.hour in cron.hours
            and moment.month in cron.months
            and moment.year in cron.years
            and moment.day in oracle_days(cron.days, moment.year, moment.month)
        ):
            return moment
        moment += timedelta(minutes=1)
    return None


def element(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    value = (
        number.map(str)
        if names is None
        else st.one_of(number.map(str), st.sampled_from(names).map(str))
    )
    return st.one_of(
        st.just("*"),
        value,
        st.tuples(value, value).map("-".join),
        st.tuples(st.one_of(st.just("*"), value), st.integers(1, high)).map(
            lambda t: f"{t[0]}/{t[1]}"
        ),
        st.tuples(value, value, st.integers(1, high)).map(lambda t: f"{t[0]}-{t[1]}/{t[2]}"),
    )


def field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    return st.lists(element(low, high, names), min_size=1, max_size=3).map(",".join)


MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
day_of_month = st.one_of(
    field(1, 31),
    st.sampled_from(["L", "LW"]),
    st.integers(1, 31).map(lambda n: f"{n}W"),
)
day_of_week = st.one_of(
    field(1, 7, DAY_NAMES),
    st.just("L"),
    st.integers(1, 7).map(lambda n: f"{n}L"),
    st.tuples(st.integers(1, 7), st.integers(1, 5)).map(lambda t: f"{t[0]}#{t[1]}"),
)
days = st.one_of(
    day_of_month.map(lambda d: (d, "?")),
    day_of_week.map(lambda d: ("?", d)),
)
crons = st.builds(
    lambda minutes, hours, days, months, years: (
        f"cron({minutes} {hours} {days[0]} {months} {days[1]} {years})"
    ),
    field(0, 59),
    field(0, 23),
    days,
    field(1, 12, MONTH_NAMES),
    st.one_of(st.just("*"), st.just("2026-2028")),
)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
HORIZON = timedelta(days=3)


@settings(max_examples=60, deadline=None)
@given(crons, instants)
def test_cron_next_after_matches_the_oracle(expression: str, instant: datetime) -> None:
    cron = parse(expression)
    assert isinstance(cron, Cron)
    expected = oracle_next(cron, instant, HORIZON)
    found = cron.next_after(instant, instant)
    if expected is not None:
        assert found == expected
    else:
        assert found is None or found > instant + HORIZON


@settings(max_examples=200, deadline=None)
@given(crons.filter(lambda e: "?" in e.split()[2]), st.integers(2026, 2028), st.integers(1, 12))
def test_day_of_week_specials_match_the_oracle(expression: str, year: int, month: int) -> None:
    cron = parse(expression)
    assert isinstance(cron, Cron)
    assert set(cron.days.days_in(year, month)) == oracle_days(cron.days, year, month)


@settings(max_examples=200, deadline=None)
@given(day_of_month, st.integers(2026, 2030), st.integers(1, 12))
def test_day_of_month_specials_match_the_oracle(field_text: str, year: int, month: int) -> None:
    cron = parse(f"cron(0 0 {field_text} * ? *)")
    assert isinstance(cron, Cron)
    assert set(cron.days.days_in(year, month)) == oracle_days(cron.days, year, month)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 500),
    st.sampled_from(["minute", "hour", "day"]),
    instants,
    st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)),
)
def test_rate_next_after_matches_the_oracle(
    value: int, unit: str, instant: datetime, offset: timedelta
) -> None:
    expression = f"rate({value} {unit}{'' if value == 1 else 's'})"
    anchor = instant + offset
    period = timedelta(**{f"{unit}s": value})
    # oracle: step through the firings anchor + k * period, k >= 1
    firing = anchor + period
    while firing <= instant:
        firing += period
    assert parse(expression).next_after(instant, anchor) == firing


# Secrets Manager rotation rules


def test_automatically_after_days() -> None:
    schedule = rotation_schedule(30, None, None)
    assert schedule.interval_days == 30
    assert schedule.next_window(utc(2026, 11, 30, 15, 20)) == (
        utc(2026, 12, 30),
        utc(2026, 12, 31),
    )
    shorter = rotation_schedule(30, None, "4h")
    assert shorter.next_window(utc(2026, 11, 30, 15)) == (utc(2026, 12, 30), utc(2026, 12, 30, 4))


@pytest.mark.parametrize(
    ("expression", "duration", "after", "window"),
    [
        ("rate(10 days)", None, (2026, 1, 1, 9), ((2026, 1, 11), (2026, 1, 12))),
        ("rate(1 day)", "2h", (2026, 1, 1, 9), ((2026, 1, 2), (2026, 1, 2, 2))),
        ("rate(999 days)", None, (2026, 1, 1), ((2028, 9, 26), (2028, 9, 27))),
        ("rate(4 hours)", None, (2026, 1, 1, 9, 30), ((2026, 1, 1, 13), (2026, 1, 1, 14))),
        ("rate(12 hours)", "12h", (2026, 1, 1, 9), ((2026, 1, 1, 21), (2026, 1, 2, 9))),
        # a cron in days: its window runs to the end of the day
        ("cron(0 16 * * ? *)", None, (2026, 1, 1, 9), ((2026, 1, 1, 16), (2026, 1, 2))),
        ("cron(0 8 ? * MON#1 *)", "3h", (2026, 1, 1), ((2026, 1, 5, 8), (2026, 1, 5, 11))),
        ("cron(0 0 L * ? *)", "24h", (2026, 1, 1), ((2026, 1, 31), (2026, 2, 1))),
        # a cron in hours: one hour by default; increments restart every day
        ("cron(0 4/12 * * ? *)", None, (2026, 1, 1, 17), ((2026, 1, 2, 4), (2026, 1, 2, 5))),
        ("cron(0 1,5,20 * * ? *)", "4h", (2026, 1, 1, 2), ((2026, 1, 1, 5), (2026, 1, 1, 9))),
    ],
)
def test_rotation_windows(
    expression: str,
    duration: str | None,
    after: tuple[int, ...],
    window: tuple[tuple[int, ...], tuple[int, ...]],
) -> None:
    schedule = rotation_schedule(None, expression, duration)
    assert schedule.schedule_expression == expression and schedule.duration == duration
    assert schedule.next_window(utc(*after)) == (utc(*window[0]), utc(*window[1]))


def test_interval_days_of_schedules() -> None:
    assert rotation_schedule(None, "rate(10 days)", None).interval_days == 10
    assert rotation_schedule(None, "rate(8 hours)", None).interval_days is None
    assert rotation_schedule(None, "cron(0 0 1 * ? *)", None).interval_days is None


def test_a_cron_without_further_windows() -> None:
    assert rotation_schedule(None, "cron(0 0 30 FEB ? *)", None).next_window(AFTER) is None


@pytest.mark.parametrize(
    ("days", "expression", "duration", "message"),
    [
        (30, "rate(30 days)", None, BOTH_SCHEDULES),
        (None, "rate(3 hours)", None, TOO_FREQUENT),
        (None, "rate(1 hour)", None, TOO_FREQUENT),
        (None, "cron(0 0/2 * * ? *)", None, TOO_FREQUENT),
        (None, "cron(0 1,3 * * ? *)", None, TOO_FREQUENT),
        (None, "rate(5 minutes)", None, INVALID_ROTATION_EXPRESSION),
        (None, "rate(1000 days)", None, INVALID_ROTATION_EXPRESSION),
        (None, "rate(1 days)", None, INVALID_ROTATION_EXPRESSION),
        (None, "rate(10 weeks)", None, INVALID_ROTATION_EXPRESSION),
        (None, "cron(15 10 * * ? *)", None, INVALID_ROTATION_EXPRESSION),  # minutes not 0
        (None, "cron(0 10 * * ? 2030)", None, INVALID_ROTATION_EXPRESSION),  # year not *
        (None, "cron(0 10 15W * ? *)", None, INVALID_ROTATION_EXPRESSION),  # no W
        (None, "cron(0 10 LW * ? *)", None, INVALID_ROTATION_EXPRESSION),
        (None, "cron(0 10 * * * *)", None, INVALID_ROTATION_EXPRESSION),
        (None, "cron(0 25 * * ? *)", None, INVALID_ROTATION_EXPRESSION),
        (None, "every day", None, INVALID_ROTATION_EXPRESSION),
        (None, "rate(10 days)", "0h", INVALID_DURATION),
        (None, "rate(10 days)", "25h", INVALID_DURATION),
        (None, "rate(10 days)", "3", INVALID_DURATION),
        (None, "rate(10 days)", "h", INVALID_DURATION),
        (30, None, "30h", INVALID_DURATION),
        (None, "cron(0 20 * * ? *)", "5h", WINDOW_PAST_DAY),
        (None, "cron(0 8,20 * * ? *)", "5h", WINDOW_PAST_DAY),
        (None, "cron(0 4,8 * * ? *)", "5h", WINDOW_OVERLAP),
        (None, "rate(6 hours)", "7h", WINDOW_OVERLAP),
    ],
)
def test_refused_rotation_rules(
    days: int | None, expression: str | None, duration: str | None, message: str
) -> None:
    with pytest.raises(InvalidRotationRules) as raised:
        rotation_schedule(days, expression, duration)
    assert raised.value.message == message


@pytest.mark.parametrize("days", [0, -1, 1001])
def test_automatically_after_days_range(days: int) -> None:
    with pytest.raises(InvalidRotationRules):
        rotation_schedule(days, None, None)


def test_no_schedule_at_all() -> None:
    with pytest.raises(InvalidRotationRules):
        rotation_schedule(None, None, "2h")
