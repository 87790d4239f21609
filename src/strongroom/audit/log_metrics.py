"""The metric filters of the audit trail's log group (log_group.py). The group stores nothing
of its own, so nothing passes PutLogEvents: a leader job, every tick, reads the records stored
since it last ran and emits what the filters of each account's group make of them into
CloudWatch, in that account and the group's Region (an account's group holds its own records
only). Values show a tick or two after the call.

The job's cursor (the last record id it saw) is kept in storage, and the records up to the
newest committed one are read in bounded batches, so a restart or a new leader goes on where
the last stopped. The cursor starts at the newest record when the first server that has this
job starts: history is not replayed. While no audit group has a metric filter the job only
moves the cursor. A filter whose pattern requires an exact value of an indexed column
(eventName, errorCode...) passes other records by on that column; a record some filter may
match is parsed as JSON once, however many filters test it.

A tick's values are stored before the cursor moves on: a crash in between counts that tick's
records twice (at least once, never lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strongroom.audit.log_group import INDEXED_FIELDS, SOURCE
from strongroom.clock import Clock
from strongroom.services.logs.filter_pattern import Message
from strongroom.services.logs.metric_filters import (
    CompiledFilter,
    MetricSink,
    Observation,
    Tally,
    compiled,
)
from strongroom.services.logs.model import LogGroup
from strongroom.storage.audit import AuditRepository, IndexedRecord
from strongroom.storage.logs import LogsRepository

BATCH = 2000
MAX_BATCHES = 10  # per tick: a backlog drains over the next ticks


@dataclass(frozen=True)
class _AuditFilter:
    compiled: CompiledFilter
    columns: tuple[tuple[str, str], ...]  # (column, value) of every record it can match
    # What it emits for every record that holds `columns`, when those decide the match and it
    # reads no field (`{ $.eventName = GetSecretValue }`, metricValue 1): no parsing then.
    constant: Observation | None

    def may_match(self, record: IndexedRecord) -> bool:
        return all(record.columns[column] == value for column, value in self.columns)


def _audit_filter(compiled_filter: CompiledFilter) -> _AuditFilter:
    pattern = compiled_filter.pattern
    required = pattern.required_equalities()
    columns = tuple(
        (INDEXED_FIELDS[selector], text)
        for selector, text in required.items()
        if selector in INDEXED_FIELDS
    )
    constant: Observation | None = None
    value = compiled_filter.value
    decided = pattern.decided_by_equalities() and len(columns) == len(required)
    if decided and isinstance(value, float) and not compiled_filter.dimensions:
        constant = (value, ())
    return _AuditFilter(compiled_filter, columns, constant)


_Groups = dict[str, list[tuple[LogGroup, list[_AuditFilter]]]]  # by account


def _filters(groups: _Groups) -> list[_AuditFilter]:
    return [f for pairs in groups.values() for _, group_filters in pairs for f in group_filters]


def _tested_columns(groups: _Groups) -> list[str]:
    """The indexed columns some filter tests: the only ones read."""
    return sorted({column for f in _filters(groups) for column, _ in f.columns})


class AuditMetricFilters:
    def __init__(
        self,
        records: AuditRepository,
        logs: LogsRepository,
        cloudwatch: MetricSink,
        clock: Clock,
    ) -> None:
        self._records = records
        self._logs = logs
        self._cloudwatch = cloudwatch
        self._clock = clock
        self._matched_until = 0.0
        records.metric_range()  # on the first start ever, the cursor starts here

    def matched_until(self) -> float:
        """The service time up to which every record is matched (as this process saw)."""
        return self._matched_until

    def run(self) -> None:
        started = self._clock.time()
        # The range before the filters: every filter older than a record in it is listed.
        after, through = self._records.metric_range()
        groups = self._groups()
        if not groups:
            if after != through:
                self._records.set_metrics_through(through)
            self._matched_until = started
            return
        columns = _tested_columns(groups)
        text = any(f.constant is None for f in _filters(groups))
        for _ in range(MAX_BATCHES):
            if after == through:
                self._matched_until = started
                return
            records = self._records.records_for_metrics(
                after, through, sorted(groups), columns, BATCH, text
            )
            self._emit(groups, records)
            after = records[-1].id if len(records) == BATCH else through
            self._records.set_metrics_through(after)

    def _groups(self) -> _Groups:
        """The audit groups that have metric filters, by account."""
        filters: dict[int, tuple[LogGroup, list[_AuditFilter]]] = {}
        for group, row in self._logs.source_metric_filters(SOURCE):
            filters.setdefault(group.id, (group, []))[1].append(_audit_filter(compiled(row)))
        groups: _Groups = {}
        for group, group_filters in filters.values():
            groups.setdefault(group.account_id, []).append((group, group_filters))
        return groups

    def _emit(self, groups: _Groups, records: Sequence[IndexedRecord]) -> None:
        tallies: dict[tuple[str, str], Tally] = {}
        for record in records:
            moment = round(record.event_time * 1000)  # a record's timestamp, as the group shows
            message: Message | None = None
            for group, group_filters in groups[record.account_id]:
                tally = tallies.setdefault((group.account_id, group.region), Tally())
                candidates = []
                for audit_filter in group_filters:
                    if not audit_filter.may_match(record):
                        continue
                    if audit_filter.constant is None:
                        candidates.append(audit_filter.compiled)
                    elif audit_filter.compiled.counts(moment, moment):
                        tally.note(audit_filter.compiled, audit_filter.constant, moment)
                if candidates:
                    message = message or Message(record.text)
                    tally.add(candidates, message, moment, moment)
        for (account_id, region), tally in tallies.items():
            data = tally.data()
            if data:
                self._cloudwatch.put_data(account_id, region, data)
