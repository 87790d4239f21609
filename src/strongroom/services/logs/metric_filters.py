"""Metric filters at work: the events a log group receives are matched against the group's
metric filters, and each match becomes a value of the filter's CloudWatch metric, in the
group's account and Region (AWS: "Creating metrics from log events using filters").

- The value is the transformation's metricValue: a number, or the event's `$.field` (JSON
  patterns) or `$name` / `$N` (space-delimited patterns) when that field holds a number; an
  event whose field is missing or not a number emits nothing. Dimensions take their values
  from the event's fields the same way (as written); an event missing one emits nothing.
- A filter never applies retroactively: it counts the events ingested after its creation whose
  timestamps are not earlier than its creation time.
- Each value carries its event's timestamp and unit (None unless the filter gives one); the
  metric's datapoints are kept per minute.

Events stored through PutLogEvents (and what services log themselves: Lambda functions) are
matched as they are stored (`EventMetrics`); the audit trail's group, which stores nothing, by
a leader job (audit/log_metrics.py). A filter's defaultValue is reported by another leader job
(`DefaultValues`) once a minute is over.

A filter is compiled once per process (its pattern parsed, its transformation read), cached by
its stored row: a changed filter is another row, so no process keeps using a filter that was
changed or deleted, whichever worker changed it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from strongroom.clock import Clock
from strongroom.services.cloudwatch.model import NO_UNIT, PAST_LIMIT, Datum, valid_value
from strongroom.services.logs.filter_pattern import FilterPattern, Match, Message, parse
from strongroom.services.logs.model import LogGroup, MetricFilter
from strongroom.storage.logs import LogsRepository

MAX_DIMENSION_VALUE = 1024  # CloudWatch: a dimension value is 1 to 1,024 characters
# A minute's default value is decided this long after the minute ends, so that its events
# still on their way (a client's batch, a request being recorded) count towards it.
GRACE_SECONDS = 10
# Minutes decided per run at most: after a long pause the job catches up over several runs.
CATCH_UP_MINUTES = 60


class MetricSink(Protocol):
    """What metric filters need of CloudWatch (services/cloudwatch/service.py)."""

    def put_data(self, account_id: str, region: str, data: Iterable[Datum]) -> None: ...

    def minutes_with_data(
        self, account_id: str, region: str, namespace: str, name: str, start: int, end: int
    ) -> set[int]: ...


Observation = tuple[float, tuple[tuple[str, str], ...]]  # a value, its dimensions


@dataclass(frozen=True, eq=False)  # compared (and hashed) as itself: cheap as a key
class CompiledFilter:
    row: MetricFilter
    pattern: FilterPattern
    value: float | str  # the metric value: a number, or the field that holds it
    dimensions: tuple[tuple[str, str], ...]  # (dimension name, field)
    unit: str

    def counts(self, timestamp: int, ingestion_time: int) -> bool:
        """Whether an event is the filter's to count (never one from before its creation)."""
        created = self.row.creation_time
        return ingestion_time >= created and timestamp >= created

    def observe(self, message: Message) -> Observation | None:
        """What the event emits, if anything."""
        match = self.pattern.match(message)
        return None if match is None else transform(match, self.value, self.dimensions)


@lru_cache(maxsize=1024)
def compiled(row: MetricFilter) -> CompiledFilter:
    """The filter ready to match. PutMetricFilter checked the row: its pattern parses, its
    metric value is a number or a field."""
    value = row.metric_value
    return CompiledFilter(
        row,
        parse(row.filter_pattern),
        value if value.startswith("$") else float(value),
        tuple(json.loads(row.dimensions).items()) if row.dimensions else (),
        row.unit or NO_UNIT,
    )


def transform(
    match: Match, value: float | str, dimensions: Sequence[tuple[str, str]]
) -> Observation | None:
    """(value, dimensions) a matched event emits, or None when a field the transformation
    reads is missing (or, for the value, not a number CloudWatch takes)."""
    found = match.value(value) if isinstance(value, str) else value
    if not isinstance(found, float) or not valid_value(found):
        return None
    values = []
    for name, field in dimensions:
        text = match.text(field)
        if not text or len(text) > MAX_DIMENSION_VALUE:
            return None
        values.append((name, text))
    return found, tuple(values)


class Tally:
    """What events emit through filters, counted per filter, dimensions, minute and value:
    CloudWatch keeps the same statistics of n equal values as of one value seen n times, and
    a counting filter's values are all equal."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[CompiledFilter, Observation, int]] = Counter()

    def add(
        self,
        filters: Iterable[CompiledFilter],
        message: Message,
        timestamp: int,
        ingestion_time: int,
    ) -> None:
        """What one event (times in milliseconds) emits through these filters."""
        for metric_filter in filters:
            if metric_filter.counts(timestamp, ingestion_time):
                observed = metric_filter.observe(message)
                if observed is not None:
                    self.note(metric_filter, observed, timestamp)

    def note(self, metric_filter: CompiledFilter, observed: Observation, timestamp: int) -> None:
        """A value the filter emits for an event of `timestamp` (milliseconds)."""
        self._counts[metric_filter, observed, timestamp // 60_000 * 60] += 1

    def data(self) -> list[Datum]:
        return [
            Datum(f.row.metric_namespace, f.row.metric_name, dict(dims), value, f.unit, minute, n)
            for (f, (value, dims), minute), n in self._counts.items()
        ]


class EventMetrics:
    """Matches the events a group stores against its filters, as they are stored."""

    def __init__(self, repository: LogsRepository, cloudwatch: MetricSink) -> None:
        self._repository = repository
        self._cloudwatch = cloudwatch

    def emit(self, group: LogGroup, events: Sequence[tuple[int, str]], ingestion_time: int) -> None:
        """Emit what the (timestamp, message) events just stored make of the group's
        filters, in one CloudWatch transaction."""
        filters = [compiled(row) for row in self._repository.group_metric_filters(group.id)]
        if not filters:
            return
        tally = Tally()
        for timestamp, text in events:
            tally.add(filters, Message(text), timestamp, ingestion_time)
        data = tally.data()
        if data:
            self._cloudwatch.put_data(group.account_id, group.region, data)


class DefaultValues:
    """Leader job: a filter's defaultValue, once for each minute in which its group received
    events but the filter's metric got no value, as AWS's user guide puts it ("the value
    reported to the metric filter during a period when logs are ingested but no matching logs
    are found"). Minutes go by the events' timestamps, as the metric's datapoints do, from the
    first whole minute after the filter's creation. A minute is decided once it is over (and
    GRACE_SECONDS more) and every source has matched its events, from storage alone (the
    group's events, the metric's datapoints): a restart or another leader decides the same,
    and a minute that got its default value has a value. Events that arrive for a minute
    already decided change nothing of that decision."""

    def __init__(
        self,
        repository: LogsRepository,
        has_events: Callable[[LogGroup, int, int], bool],
        cloudwatch: MetricSink,
        clock: Clock,
        matched_until: Callable[[], float],
    ) -> None:
        """`has_events(group, start, end)` tells whether the group holds events with
        timestamps (ms) in [start, end); `matched_until()` is the service time up to which
        every group's events are matched (those matched by a job may lag)."""
        self._repository = repository
        self._has_events = has_events
        self._cloudwatch = cloudwatch
        self._clock = clock
        self._matched_until = matched_until
        # On the first start ever, decisions start here: no history is decided.
        self._decided = repository.default_values_through(self._closed())

    def _closed(self) -> int:
        """The end of the minutes that are over (and GRACE_SECONDS more)."""
        return _minute(self._clock.time() - GRACE_SECONDS)

    def run(self) -> None:
        closed = self._closed()
        ready = min(closed, _minute(self._matched_until() - GRACE_SECONDS))
        if ready == self._decided:
            return
        stored = self._repository.default_values_through(closed)
        # The clock moved back (a dev reset) or the job stood still for long: no history.
        decided = stored if closed - PAST_LIMIT <= stored <= closed else closed
        end = max(decided, min(ready, decided + CATCH_UP_MINUTES * 60))
        if end > decided:
            for group, row in self._repository.default_value_filters():
                data = self._defaults(group, row, decided, end)
                if data:
                    self._cloudwatch.put_data(group.account_id, group.region, data)
        if end != stored:
            self._repository.set_default_values_through(end)
        self._decided = end

    def _defaults(self, group: LogGroup, row: MetricFilter, start: int, end: int) -> list[Datum]:
        assert row.default_value is not None
        first = max(start, -(-row.creation_time // 60_000) * 60)
        if first >= end:
            return []
        namespace, name = row.metric_namespace, row.metric_name
        with_data = self._cloudwatch.minutes_with_data(
            group.account_id, group.region, namespace, name, first, end
        )
        return [
            Datum(namespace, name, {}, row.default_value, row.unit or NO_UNIT, minute)
            for minute in range(first, end, 60)
            if minute not in with_data
            and self._has_events(group, minute * 1000, minute * 1000 + 60_000)
        ]


def _minute(moment: float) -> int:
    """The start (epoch seconds) of the minute `moment` falls in."""
    return int(moment // 60 * 60)
