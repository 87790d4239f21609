"""AWS schedule expressions: EventBridge's `rate()` and `cron()`, and Secrets Manager's rotation
rules built on them (a schedule plus a rotation window). Pure: no clock, no I/O; every time is
UTC (naive datetimes are taken as UTC).

EventBridge (docs: "Cron expressions reference", "Rate expressions"):

- `rate(value unit)`: a positive integer and minute(s), hour(s) or day(s), the singular exactly
  when the value is 1. A rule with a rate fires every period counted from its creation: the
  caller passes that anchor to `next_after`.
- `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, six fields, UTC, Quartz-style:
  `*` `,` `-` (a range may wrap: `FRI-MON`, `22-2`) `/`; `?` in exactly one of day-of-month and
  day-of-week; day-of-month `L` (last day), `LW` (last weekday), `nW` (the weekday nearest day
  n, never leaving the month; no match in a month shorter than n); day-of-week 1-7 = SUN-SAT,
  `L` (Saturday, the last day of the week), `nL` (the month's last weekday n), `n#k` (its k-th
  weekday n, k 1-5; no match in a month without one). `L`, `W` and `#` stand alone in their
  field. Months 1-12 or JAN-DEC, years 1970-2199; names in any case.

Secrets Manager (docs: "Rotation schedules"): `AutomaticallyAfterDays` (1-1000) or a
`ScheduleExpression`, never both; `rate(N hours)` (N >= 4) or `rate(N days)` (N <= 999); a
cron with minutes `0`, year `*`, no `W`, and no two firings of a day less than four hours
apart. A rotation window opens at each scheduled time (midnight for days) and lasts `Duration`
(`"3h"`, 1-24 hours), by default one hour for schedules in hours and the rest of the UTC day for
schedules in days; it must not run into the next UTC day (schedules in days and crons) nor into
the next window.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

EVENTBRIDGE_INVALID = "Parameter ScheduleExpression is not valid."
MIN_YEAR, MAX_YEAR = 1970, 2199
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


class InvalidScheduleExpression(ValueError):
    """The expression breaks the syntax (message: EventBridge's answer to it)."""

    def __init__(self, message: str = EVENTBRIDGE_INVALID) -> None:
        super().__init__(message)
        self.message = message


class Schedule(Protocol):
    expression: str

    def next_after(self, instant: datetime, anchor: datetime) -> datetime | None:
        """The first firing strictly after `instant` (UTC), None when there is none. `anchor`
        is when the schedule started (a rule's creation): rates count their periods from it,
        crons ignore it."""
        ...


# Rate


_RATE = re.compile(r"rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Rate:
    expression: str
    value: int
    unit: str  # "minute", "hour" or "day"

    @property
    def seconds(self) -> int:
        return self.value * _UNIT_SECONDS[self.unit]

    def next_after(self, instant: datetime, anchor: datetime) -> datetime | None:
        """anchor + k * period for the least k >= 1 that falls after `instant`."""
        instant, anchor = _utc(instant), _utc(anchor)
        period = self.seconds * 1_000_000
        elapsed = _microseconds(instant - anchor)
        periods = max(1, elapsed // period + 1)
        try:
            return anchor + timedelta(microseconds=periods * period)
        except OverflowError:
            return None


def _parse_rate(expression: str) -> Rate | None:
    match = _RATE.fullmatch(expression)
    if match is None:
        return None
    value, unit = int(match[1]), match[2]
    if (value == 1) != (not unit.endswith("s")):
        raise InvalidScheduleExpression  # AWS: singular exactly when the value is 1
    return Rate(expression, value, unit.removesuffix("s"))


# Cron

_MONTH_NAMES = {
    n: i
    for i, n in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}
_DAY_NAMES = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


@dataclass(frozen=True)
class _Field:
    low: int
    high: int
    names: dict[str, int]
    wraps: bool  # a range may run past the end back to the start


_MINUTES = _Field(0, 59, {}, True)
_HOURS = _Field(0, 23, {}, True)
_DAYS_OF_MONTH = _Field(1, 31, {}, True)
_MONTH = _Field(1, 12, _MONTH_NAMES, True)
_DAYS_OF_WEEK = _Field(1, 7, _DAY_NAMES, True)
_YEARS = _Field(MIN_YEAR, MAX_YEAR, {}, False)


def aws_weekday(day: date) -> int:
    """AWS's number for the day of the week: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class MonthDays:
    """A day-of-month field."""

    days: frozenset[int] = frozenset()
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: int | None = None  # nW

    def days_in(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        if self.last:
            return [length]
        if self.last_weekday:
            day = length
            while aws_weekday(date(year, month, day)) in (1, 7):
                day -= 1
            return [day]
        if self.nearest_weekday is not None:
            return _nearest_weekday(year, month, self.nearest_weekday, length)
        return sorted(d for d in self.days if d <= length)


def _nearest_weekday(year: int, month: int, day: int, length: int) -> list[int]:
    if day > length:
        return []
    weekday = aws_weekday(date(year, month, day))
    if weekday == 7:  # Saturday: the Friday before, unless that is last month
        return [day - 1] if day > 1 else [day + 2]
    if weekday == 1:  # Sunday: the Monday after, unless that is next month
        return [day + 1] if day < length else [day - 2]
    return [day]


@dataclass(frozen=True)
class WeekDays:
    """A day-of-week field (AWS numbering, 1 = Sunday)."""

    weekdays: frozenset[int] = frozenset()
    last_of: int | None = None  # nL
    nth: tuple[int, int] | None = None  # n#k: (weekday, k)

    def days_in(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        first = aws_weekday(date(year, month, 1))
        if self.last_of is not None:
            last = aws_weekday(date(year, month, length))
            return [length - (last - self.last_of) % 7]
        if self.nth is not None:
            weekday, k = self.nth
            day = 1 + (weekday - first) % 7 + 7 * (k - 1)
            return [day] if day <= length else []
        return [d for d in range(1, length + 1) if (first + d - 2) % 7 + 1 in self.weekdays]


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: MonthDays | WeekDays
    months: frozenset[int]
    years: frozenset[int]

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule fires at this minute (seconds are ignored)."""
        moment = _utc(moment)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and moment.year in self.years
            and moment.day in self.days.days_in(moment.year, moment.month)
        )

    def next_after(self, instant: datetime, anchor: datetime | None = None) -> datetime | None:
        instant = _utc(instant)
        if instant.year > MAX_YEAR:
            return None
        start = instant.replace(second=0, microsecond=0) + _MINUTE
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days.days_in(year, month):
                    today = date(year, month, day)
                    if today < start.date():
                        continue
                    for hour in hours:
                        for minute in minutes:
                            moment = datetime.combine(today, time(hour, minute), UTC)
                            if moment >= start:
                                return moment
        return None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _number(text: str, field: _Field) -> int:
    name = text.upper()
    if name in field.names:
        return field.names[name]
    if not text.isdigit() or not text.isascii():
        raise InvalidScheduleExpression
    value = int(text)
    if not field.low <= value <= field.high:
        raise InvalidScheduleExpression
    return value


def _values(text: str, field: _Field) -> frozenset[int]:
    """A field of `*`, numbers, names, ranges and steps, comma-separated."""
    found: set[int] = set()
    for element in text.split(","):
        base, slash, step_text = element.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii():
                raise InvalidScheduleExpression
            step = int(step_text)
            if not 1 <= step <= field.high:
                raise InvalidScheduleExpression
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _number(first, field), _number(last, field)
            if high < low and not field.wraps:
                raise InvalidScheduleExpression
        else:
            low = _number(base, field)
            high = field.high if slash else low
        span = field.high - field.low + 1
        count = (high - low) % span + 1 if field.wraps else high - low + 1
        found.update(field.low + (low - field.low + i) % span for i in range(0, count, step))
    return frozenset(found)


_NEAREST = re.compile(r"([0-9]{1,2})W", re.IGNORECASE)
_LAST_OF = re.compile(r"([0-9]|[A-Za-z]{3})L", re.IGNORECASE)
_NTH = re.compile(r"([0-9]|[A-Za-z]{3})#([0-9])")


def _month_days(text: str, allow_weekday: bool) -> MonthDays:
    special = text.upper()
    if special == "L":
        return MonthDays(last=True)
    if special == "LW" and allow_weekday:
        return MonthDays(last_weekday=True)
    nearest = _NEAREST.fullmatch(text)
    if nearest is not None and allow_weekday:
        return MonthDays(nearest_weekday=_number(nearest[1], _DAYS_OF_MONTH))
    if any(c in special for c in "LW#"):
        raise InvalidScheduleExpression
    return MonthDays(days=_values(text, _DAYS_OF_MONTH))


def _week_days(text: str) -> WeekDays:
    if text.upper() == "L":
        return WeekDays(weekdays=frozenset({7}))
    last_of = _LAST_OF.fullmatch(text)
    if last_of is not None:
        return WeekDays(last_of=_number(last_of[1], _DAYS_OF_WEEK))
    nth = _NTH.fullmatch(text)
    if nth is not None:
        k = int(nth[2])
        if not 1 <= k <= 5:
            raise InvalidScheduleExpression
        return WeekDays(nth=(_number(nth[1], _DAYS_OF_WEEK), k))
    if "#" in text or "L" in text.upper():
        raise InvalidScheduleExpression
    return WeekDays(weekdays=_values(text, _DAYS_OF_WEEK))


_CRON = re.compile(r"cron\(([^ ()]+(?: +[^ ()]+){5})\)")


def _parse_cron(expression: str, allow_weekday: bool = True) -> Cron | None:
    match = _CRON.fullmatch(expression)
    if match is None:
        return None
    minutes, hours, month_day, month, week_day, year = match[1].split()
    if (month_day == "?") == (week_day == "?"):
        raise InvalidScheduleExpression  # exactly one of the two is "?"
    if "?" in minutes + hours + month + year:
        raise InvalidScheduleExpression
    days: MonthDays | WeekDays = (
        _week_days(week_day) if month_day == "?" else _month_days(month_day, allow_weekday)
    )
    return Cron(
        expression,
        _values(minutes, _MINUTES),
        _values(hours, _HOURS),
        days,
        _values(month, _MONTH),
        _values(year, _YEARS),
    )


def parse(expression: str) -> Rate | Cron:
    """An EventBridge schedule expression; InvalidScheduleExpression (with EventBridge's
    message) when it is not one."""
    if expression.startswith("cron("):
        cron = _parse_cron(expression)
        if cron is not None:
            return cron
    rate = _parse_rate(expression)
    if rate is None:
        raise InvalidScheduleExpression
    return rate


# Secrets Manager rotation rules

BOTH_SCHEDULES = "You cannot specify both rotation frequency and schedule expression together."
INVALID_ROTATION_EXPRESSION = "The schedule expression is not valid."
TOO_FREQUENT = "You can rotate a secret at most every four hours."
INVALID_DAYS = "AutomaticallyAfterDays must be between 1 and 1000."
INVALID_DURATION = "The rotation window duration must be between 1 and 24 hours."
WINDOW_PAST_DAY = "The rotation window must not extend into the next UTC day."
WINDOW_OVERLAP = "The rotation window must not extend into the next rotation window."
NO_SCHEDULE = "A rotation schedule needs AutomaticallyAfterDays or ScheduleExpression."
MIN_HOURS_APART = 4
MAX_RATE_DAYS = 999
MAX_DAYS = 1000
_DURATION = re.compile(r"([0-9]+)h")


class InvalidRotationRules(ValueError):
    """Rotation rules Secrets Manager refuses; `message` is its answer (the caller raises it as
    InvalidParameterException)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RotationSchedule:
    """When a secret rotates: windows of `window` length opening `days` after the last
    rotation (at midnight), `hours` after it (on the hour), or at each time of `cron`."""

    automatically_after_days: int | None  # as given
    schedule_expression: str | None  # as given
    duration: str | None  # as given
    window: timedelta
    days: int | None = None
    hours: int | None = None
    cron: Cron | None = None

    @property
    def interval_days(self) -> int | None:
        """The days between rotations when the schedule is a whole number of days (what
        DescribeSecret shows as AutomaticallyAfterDays), else None."""
        return self.days

    def next_window(self, after: datetime) -> tuple[datetime, datetime] | None:
        """The first rotation window (start, end) after the last rotation, or the enabling of
        rotation, at `after`; None when the schedule has no further window."""
        after = _utc(after)
        start: datetime | None
        if self.days is not None:
            start = datetime.combine(after.date() + timedelta(days=self.days), time(), UTC)
        elif self.hours is not None:
            start = after.replace(minute=0, second=0, microsecond=0) + self.hours * _HOUR
        else:
            assert self.cron is not None
            start = self.cron.next_after(after)
        if start is None:
            return None
        return start, start + self.window


def rotation_schedule(
    automatically_after_days: int | None,
    schedule_expression: str | None,
    duration: str | None,
) -> RotationSchedule:
    """Secrets Manager's RotationRules, checked as it checks them (InvalidRotationRules)."""
    if automatically_after_days is not None and schedule_expression is not None:
        raise InvalidRotationRules(BOTH_SCHEDULES)
    hours = _duration_hours(duration)
    if schedule_expression is None:
        if automatically_after_days is None:
            raise InvalidRotationRules(NO_SCHEDULE)
        if not 1 <= automatically_after_days <= MAX_DAYS:
            raise InvalidRotationRules(INVALID_DAYS)
        return _in_days(automatically_after_days, None, duration, hours, automatically_after_days)
    try:
        rate = _parse_rate(schedule_expression)
        cron = None if rate else _parse_cron(schedule_expression, allow_weekday=False)
    except InvalidScheduleExpression:
        raise InvalidRotationRules(INVALID_ROTATION_EXPRESSION) from None
    if rate is not None:
        return _rate_schedule(rate, duration, hours)
    if cron is None:
        raise InvalidRotationRules(INVALID_ROTATION_EXPRESSION)
    return _cron_schedule(cron, duration, hours)


def _duration_hours(duration: str | None) -> int | None:
    if duration is None:
        return None
    match = _DURATION.fullmatch(duration)
    if match is None or not 1 <= int(match[1]) <= 24:
        raise InvalidRotationRules(INVALID_DURATION)
    return int(match[1])


def _in_days(
    days: int, expression: str | None, duration: str | None, hours: int | None, given: int | None
) -> RotationSchedule:
    # The window opens at midnight: any duration up to 24 hours stays within the day.
    window = _HOUR * hours if hours is not None else _DAY
    return RotationSchedule(given, expression, duration, window, days=days)


def _rate_schedule(rate: Rate, duration: str | None, hours: int | None) -> RotationSchedule:
    if rate.unit == "minute":
        raise InvalidRotationRules(INVALID_ROTATION_EXPRESSION)
    if rate.unit == "day":
        if rate.value > MAX_RATE_DAYS:
            raise InvalidRotationRules(INVALID_ROTATION_EXPRESSION)
        return _in_days(rate.value, rate.expression, duration, hours, None)
    if rate.value < MIN_HOURS_APART:
        raise InvalidRotationRules(TOO_FREQUENT)
    if rate.value > MAX_RATE_DAYS * 24:
        raise InvalidRotationRules(INVALID_ROTATION_EXPRESSION)
    if hours is not None and hours > rate.value:
        raise InvalidRotationRules(WINDOW_OVERLAP)
    window = _HOUR * (hours if hours is not None else 1)
    return RotationSchedule(None, rate.expression, duration, window, hours=rate.value)


def _cron_schedule(cron: Cron, duration: str | None, hours: int | None) -> RotationSchedule:
    fields = cron.expression[len("cron(") : -1].split()
    if fields[0] != "0" or fields[5] != "*":
        raise InvalidRotationRules(INVALID_ROTATION_EXPRESSION)
    times = sorted(cron.hours)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if gaps and min(gaps) < MIN_HOURS_APART:
        raise InvalidRotationRules(TOO_FREQUENT)
    if hours is None:
        # In hours (several a day): one hour; in days: the rest of the day.
        window = _HOUR if gaps else _HOUR * (24 - times[0])
    else:
        if times[-1] + hours > 24:
            raise InvalidRotationRules(WINDOW_PAST_DAY)
        if gaps and hours > min(gaps):
            raise InvalidRotationRules(WINDOW_OVERLAP)
        window = _HOUR * hours
    return RotationSchedule(None, cron.expression, duration, window, cron=cron)
