"""CloudWatch Logs: log groups, streams, events, metric filters and tags.

Event messages arrive and leave as barrier ciphertext (the service seals and opens them);
timestamps, sequence numbers and stream ids stay in the clear so that time ranges are index
scans. Writers that could race a deletion lock the row the deletion locks first (the group's,
or a stream's), so a deleted group or stream never keeps events behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.services.logs.model import (
    EventQuery,
    LogGroup,
    LogStream,
    MetricFilter,
    StreamListing,
)
from strongroom.storage.engine import WriterQueue
from strongroom.storage.schema import (
    logs_events,
    logs_groups,
    logs_metric_filters,
    logs_streams,
    logs_tags,
    system_state,
)

_GROUP_COLUMNS = [logs_groups.c[f.name] for f in fields(LogGroup)]
_STREAM_COLUMNS = [logs_streams.c[f.name] for f in fields(LogStream)]
_FILTER_COLUMNS = [logs_metric_filters.c[f.name] for f in fields(MetricFilter)]
_EXPIRY_BATCH = 5000
# system_state: the end (epoch seconds) of the last minute whose default values were decided.
_DEFAULT_VALUES_THROUGH = "logs.default_values_through"


class GroupExists(Exception):
    """A log group of that name exists in that account and Region."""


class StreamExists(Exception):
    """A log stream of that name exists in the group."""


class Gone(Exception):
    """The group or stream was deleted meanwhile."""


class TooMany(Exception):
    """The change would take the group over a limit (metric filters, tags)."""


@dataclass(frozen=True)
class NewEvent:
    seq: int
    timestamp: int
    ingestion_time: int
    size: int  # UTF-8 bytes of the message
    message_blob: bytes


@dataclass(frozen=True)
class StoredEvent:
    stream_name: str
    timestamp: int
    ingestion_time: int
    seq: int
    message_blob: bytes


def successor(prefix: str) -> str | None:
    """The least string after every string that starts with `prefix`, in code point order
    (the order of both backends' name columns), or None when there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000  # surrogates are no text
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def _time_range(query: EventQuery) -> list[sa.ColumnElement[bool]]:
    """The query's time range and position as one inclusive range of timestamps, and seq
    for the position's own millisecond. Spelled so (not as a row-value comparison, nor with
    two bounds on one side) because SQLite's planner otherwise serves one stream's events
    from the group's time index instead of the stream's."""
    event = logs_events.c
    low, high = query.start, query.end - 1 if query.end is not None else None
    conditions = []
    if query.after is not None:
        timestamp, seq = query.after
        if query.descending:
            high = timestamp if high is None else min(high, timestamp)
            conditions.append(sa.or_(event.timestamp < timestamp, event.seq < seq))
        else:
            low = timestamp if low is None else max(low, timestamp)
            conditions.append(sa.or_(event.timestamp > timestamp, event.seq > seq))
    if low is not None:
        conditions.append(event.timestamp >= low)
    if high is not None:
        conditions.append(event.timestamp <= high)
    return conditions


def _starts_with(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    # A range, not LIKE: exact on both backends (SQLite's LIKE ignores case) and indexed.
    upper = successor(prefix)
    at_least = column >= prefix
    return at_least if upper is None else sa.and_(at_least, column < upper)


class LogsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writers = WriterQueue(engine)

    # Groups

    def create_group(
        self,
        account_id: str,
        region: str,
        name: str,
        now: int,
        log_group_class: str,
        source: str,
        tags: Mapping[str, str],
    ) -> LogGroup:
        try:
            with self._writers.turn(f"{account_id}/{region}/{name}"), self._engine.begin() as c:
                group_id = c.scalar(
                    sa.insert(logs_groups)
                    .values(
                        account_id=account_id,
                        region=region,
                        name=name,
                        creation_time=now,
                        log_group_class=log_group_class,
                        source=source,
                        last_seq=0,
                    )
                    .returning(logs_groups.c.id)
                )
                group = LogGroup(
                    int(group_id), account_id, region, name, now, None, log_group_class, source
                )
                if tags:
                    c.execute(
                        sa.insert(logs_tags),
                        [
                            {"group_id": group.id, "tag_key": k, "tag_value": v}
                            for k, v in tags.items()
                        ],
                    )
        except sa.exc.IntegrityError:
            raise GroupExists(name) from None
        return group

    def group(self, account_id: str, region: str, name: str) -> LogGroup | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_GROUP_COLUMNS).where(
                    logs_groups.c.account_id == account_id,
                    logs_groups.c.region == region,
                    logs_groups.c.name == name,
                )
            ).first()
        return LogGroup(*row) if row else None

    def groups(
        self,
        account_id: str,
        region: str,
        *,
        prefix: str | None,
        containing: str | None,
        log_group_class: str | None,
        after: str | None,
        limit: int,
    ) -> list[LogGroup]:
        """Up to `limit` groups in name order after the name `after`."""
        group = logs_groups.c
        conditions = [group.account_id == account_id, group.region == region]
        if prefix is not None:
            conditions.append(_starts_with(group.name, prefix))
        if containing is not None:
            conditions.append(self._contains(group.name, containing))
        if log_group_class is not None:
            conditions.append(group.log_group_class == log_group_class)
        if after is not None:
            conditions.append(group.name > after)
        query = sa.select(*_GROUP_COLUMNS).where(*conditions).order_by(group.name).limit(limit)
        with self._engine.connect() as connection:
            return [LogGroup(*row) for row in connection.execute(query)]

    def _contains(self, column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
        """A case-sensitive substring test (LIKE ignores case on SQLite)."""
        if self._engine.dialect.name == "sqlite":
            return sa.func.instr(column, text) > 0
        return sa.func.strpos(column, text) > 0

    def stored_bytes(self, group_ids: Sequence[int]) -> dict[int, int]:
        stream = logs_streams.c
        return self._per_group(
            sa.select(stream.group_id, sa.func.sum(stream.stored_bytes))
            .where(stream.group_id.in_(group_ids))
            .group_by(stream.group_id),
            group_ids,
        )

    def metric_filter_counts(self, group_ids: Sequence[int]) -> dict[int, int]:
        mf = logs_metric_filters.c
        return self._per_group(
            sa.select(mf.group_id, sa.func.count())
            .where(mf.group_id.in_(group_ids))
            .group_by(mf.group_id),
            group_ids,
        )

    def _per_group(self, query: sa.Select[Any], group_ids: Sequence[int]) -> dict[int, int]:
        with self._engine.connect() as connection:
            found = {
                int(group_id): int(value or 0) for group_id, value in connection.execute(query)
            }
        return {group_id: found.get(group_id, 0) for group_id in group_ids}

    def delete_group(self, group_id: int) -> bool:
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            if not self._lock_group(connection, group_id):
                return False
            # Writers to a stream lock its row first: once these are locked, none is mid-way.
            connection.execute(
                sa.select(logs_streams.c.id)
                .where(logs_streams.c.group_id == group_id)
                .with_for_update()
            ).all()
            for table in (logs_events, logs_streams, logs_metric_filters, logs_tags):
                connection.execute(sa.delete(table).where(table.c.group_id == group_id))
            connection.execute(sa.delete(logs_groups).where(logs_groups.c.id == group_id))
        return True

    def set_retention(self, group_id: int, days: int | None) -> bool:
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            result = connection.execute(
                sa.update(logs_groups)
                .where(logs_groups.c.id == group_id)
                .values(retention_in_days=days)
            )
        return result.rowcount == 1

    @staticmethod
    def _lock_group(connection: Connection, group_id: int) -> bool:
        """Lock the group's row for the transaction; False when the group is gone."""
        result = connection.execute(
            sa.update(logs_groups)
            .where(logs_groups.c.id == group_id)
            .values(last_seq=logs_groups.c.last_seq)
        )
        return result.rowcount == 1

    # Streams

    def create_stream(self, group_id: int, name: str, now: int) -> None:
        try:
            with self._writers.turn(str(group_id)), self._engine.begin() as connection:
                if not self._lock_group(connection, group_id):
                    raise Gone(group_id)
                connection.execute(
                    sa.insert(logs_streams).values(
                        group_id=group_id, name=name, creation_time=now, stored_bytes=0
                    )
                )
        except sa.exc.IntegrityError:
            raise StreamExists(name) from None

    def stream(self, group_id: int, name: str) -> LogStream | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_STREAM_COLUMNS).where(
                    logs_streams.c.group_id == group_id, logs_streams.c.name == name
                )
            ).first()
        return LogStream(*row) if row else None

    def streams(self, group_id: int, listing: StreamListing) -> list[LogStream]:
        stream = logs_streams.c
        conditions = [stream.group_id == group_id]
        if listing.prefix is not None:
            conditions.append(_starts_with(stream.name, listing.prefix))
        keys: list[sa.ColumnElement[Any]] = [stream.name]
        after: list[Any] = [listing.after_name]
        if listing.by_last_event:
            # Streams without events come first, as if their last event were before any.
            keys.insert(0, sa.func.coalesce(stream.last_event_timestamp, -1))
            after.insert(0, listing.after_last_event)
        if listing.after_name is not None:
            position, bound = sa.tuple_(*keys), sa.tuple_(*after)
            conditions.append(position < bound if listing.descending else position > bound)
        order = [key.desc() if listing.descending else key.asc() for key in keys]
        query = sa.select(*_STREAM_COLUMNS).where(*conditions).order_by(*order)
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(listing.limit))
            return [LogStream(*row) for row in rows]

    def delete_stream(self, group_id: int, name: str) -> bool:
        stream = logs_streams.c
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            stream_id = connection.scalar(
                sa.select(stream.id)
                .where(stream.group_id == group_id, stream.name == name)
                .with_for_update()
            )
            if stream_id is None:
                return False
            connection.execute(
                sa.delete(logs_events).where(
                    logs_events.c.group_id == group_id, logs_events.c.stream_id == stream_id
                )
            )
            connection.execute(sa.delete(logs_streams).where(stream.id == stream_id))
        return True

    # Events

    def allocate(self, group_id: int, count: int) -> int:
        """Hand out `count` sequence numbers of the group; the first of them."""
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            last = connection.scalar(
                sa.update(logs_groups)
                .where(logs_groups.c.id == group_id)
                .values(last_seq=logs_groups.c.last_seq + count)
                .returning(logs_groups.c.last_seq)
            )
        if last is None:
            raise Gone(group_id)
        return int(last) - count + 1

    def append(self, group_id: int, stream_id: int, events: Sequence[NewEvent], now: int) -> None:
        """Store events (in timestamp order) in a stream and note them in its statistics."""
        stream = logs_streams.c
        first, last = events[0].timestamp, events[-1].timestamp
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            result = connection.execute(
                sa.update(logs_streams)
                .where(stream.id == stream_id, stream.group_id == group_id)
                .values(
                    stored_bytes=stream.stored_bytes + sum(event.size for event in events),
                    first_event_timestamp=self._least(stream.first_event_timestamp, first),
                    last_event_timestamp=self._greatest(stream.last_event_timestamp, last),
                    last_ingestion_time=now,
                )
            )
            if result.rowcount != 1:
                raise Gone(stream_id)
            connection.execute(
                sa.insert(logs_events),
                [{"group_id": group_id, "stream_id": stream_id, **asdict(e)} for e in events],
            )

    def _least(self, column: sa.ColumnElement[int], value: int) -> sa.ColumnElement[int]:
        """The smaller of a nullable column and a value (the value when the column is NULL)."""
        if self._engine.dialect.name == "sqlite":  # its min() of several is NULL on any NULL
            return sa.func.coalesce(sa.func.min(column, value), value)
        return sa.func.least(column, value)  # PostgreSQL's ignores NULLs

    def _greatest(self, column: sa.ColumnElement[int], value: int) -> sa.ColumnElement[int]:
        if self._engine.dialect.name == "sqlite":
            return sa.func.coalesce(sa.func.max(column, value), value)
        return sa.func.greatest(column, value)

    def events(self, group_id: int, query: EventQuery) -> list[StoredEvent]:
        event, stream = logs_events.c, logs_streams.c
        conditions: list[sa.ColumnElement[bool]] = [event.group_id == group_id]
        with self._engine.connect() as connection:
            if query.stream_names is not None:
                ids = connection.scalars(
                    sa.select(stream.id).where(
                        stream.group_id == group_id, stream.name.in_(query.stream_names)
                    )
                ).all()
                if not ids:
                    return []
                conditions.append(event.stream_id.in_(ids))
            elif query.stream_prefix is not None:
                conditions.append(
                    event.stream_id.in_(
                        sa.select(stream.id).where(
                            stream.group_id == group_id,
                            _starts_with(stream.name, query.stream_prefix),
                        )
                    )
                )
            conditions += _time_range(query)
            order = [event.timestamp, event.seq]
            rows = connection.execute(
                sa.select(
                    event.stream_id,
                    event.timestamp,
                    event.ingestion_time,
                    event.seq,
                    event.message_blob,
                )
                .where(*conditions)
                .order_by(*(key.desc() if query.descending else key for key in order))
                .limit(query.limit)
            ).all()
            # Names apart rather than by a join: a join steers SQLite's planner off the
            # (group, stream, time) index for one stream's events.
            stream_ids = sorted({row.stream_id for row in rows})
            names = dict(
                connection.execute(
                    sa.select(stream.id, stream.name).where(stream.id.in_(stream_ids))
                ).all()
                if stream_ids
                else []
            )
        return [StoredEvent(names[i], t, n, s, bytes(b)) for i, t, n, s, b in rows]

    def expire(self, now: int, day_ms: int) -> int:
        """Delete a batch of events older than their group's retention; how many went."""
        group, event = logs_groups.c, logs_events.c
        cutoff = now - sa.cast(group.retention_in_days, sa.BigInteger) * day_ms
        with self._engine.connect() as connection:
            due = connection.execute(
                sa.select(group.id, cutoff).where(
                    group.retention_in_days.is_not(None),
                    sa.exists().where(event.group_id == group.id, event.timestamp < cutoff),
                )
            ).all()
        deleted = 0
        for group_id, group_cutoff in due:
            deleted += self._expire_group(int(group_id), int(group_cutoff))
        return deleted

    def _expire_group(self, group_id: int, cutoff: int) -> int:
        event, stream = logs_events.c, logs_streams.c
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            rows = connection.execute(
                sa.select(event.seq, event.stream_id, event.size)
                .where(event.group_id == group_id, event.timestamp < cutoff)
                .order_by(event.timestamp)
                .limit(_EXPIRY_BATCH)
            ).all()
            freed: dict[int, int] = {}
            for _, stream_id, size in rows:
                freed[stream_id] = freed.get(stream_id, 0) + size
            for stream_id, size in freed.items():
                connection.execute(
                    sa.update(logs_streams)
                    .where(stream.id == stream_id)
                    .values(stored_bytes=stream.stored_bytes - size)
                )
            connection.execute(
                sa.delete(logs_events).where(
                    event.group_id == group_id, event.seq.in_([seq for seq, _, _ in rows])
                )
            )
        return len(rows)

    # Metric filters

    def put_metric_filter(self, metric_filter: MetricFilter, limit: int, regexes: int) -> None:
        """Create or replace a metric filter (a replaced one keeps its creation time), unless
        the group would then hold more than `limit` filters or `regexes` regular expressions
        (TooMany)."""
        mf = logs_metric_filters.c
        group_id, name = metric_filter.group_id, metric_filter.filter_name
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            if not self._lock_group(connection, group_id):
                raise Gone(group_id)
            count, other_regexes, exists = connection.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(
                        sa.func.sum(sa.case((mf.filter_name != name, mf.regex_count), else_=0)), 0
                    ),
                    sa.func.coalesce(sa.func.max(sa.case((mf.filter_name == name, 1), else_=0)), 0),
                ).where(mf.group_id == group_id)
            ).one()
            if (
                not exists and count >= limit
            ) or other_regexes + metric_filter.regex_count > regexes:
                raise TooMany(group_id)
            if exists:
                values = asdict(metric_filter)
                del values["creation_time"]
                connection.execute(
                    sa.update(logs_metric_filters)
                    .where(mf.group_id == group_id, mf.filter_name == name)
                    .values(**values)
                )
            else:
                connection.execute(sa.insert(logs_metric_filters).values(**asdict(metric_filter)))

    def metric_filters(
        self,
        account_id: str,
        region: str,
        *,
        group_id: int | None,
        prefix: str | None,
        metric: tuple[str, str] | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[tuple[MetricFilter, str]]:
        """Metric filters with their group's name, by filter name then group name."""
        mf, group = logs_metric_filters.c, logs_groups.c
        conditions = [group.account_id == account_id, group.region == region]
        if group_id is not None:
            conditions.append(mf.group_id == group_id)
        if prefix is not None:
            conditions.append(_starts_with(mf.filter_name, prefix))
        if metric is not None:
            conditions += [mf.metric_namespace == metric[0], mf.metric_name == metric[1]]
        if after is not None:
            conditions.append(sa.tuple_(mf.filter_name, group.name) > sa.tuple_(*after))
        query = (
            sa.select(*_FILTER_COLUMNS, group.name)
            .join(logs_groups, group.id == mf.group_id)
            .where(*conditions)
            .order_by(mf.filter_name, group.name)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [(MetricFilter(*row[:-1]), row[-1]) for row in connection.execute(query)]

    def group_metric_filters(self, group_id: int) -> list[MetricFilter]:
        """The group's metric filters (read at every PutLogEvents: one indexed read, so that
        a filter put or deleted through any worker applies to the next batch)."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(*_FILTER_COLUMNS).where(logs_metric_filters.c.group_id == group_id)
            )
            return [MetricFilter(*row) for row in rows]

    def source_metric_filters(self, source: str) -> list[tuple[LogGroup, MetricFilter]]:
        """The metric filters of the groups `source` serves, each with its group."""
        return self._filters_with_groups(logs_groups.c.source == source)

    def default_value_filters(self) -> list[tuple[LogGroup, MetricFilter]]:
        """The metric filters that have a default value, each with its group."""
        return self._filters_with_groups(logs_metric_filters.c.default_value.is_not(None))

    def _filters_with_groups(
        self, condition: sa.ColumnElement[bool]
    ) -> list[tuple[LogGroup, MetricFilter]]:
        query = (
            sa.select(*_GROUP_COLUMNS, *_FILTER_COLUMNS)
            .select_from(logs_metric_filters)
            .join(logs_groups, logs_groups.c.id == logs_metric_filters.c.group_id)
            .where(condition)
        )
        split = len(_GROUP_COLUMNS)
        with self._engine.connect() as connection:
            return [
                (LogGroup(*row[:split]), MetricFilter(*row[split:]))
                for row in connection.execute(query)
            ]

    def default_values_through(self, start: int) -> int:
        """Where the default values job stopped (see set_default_values_through). The first
        call ever stores `start`."""
        state = system_state.c
        with self._engine.connect() as connection:
            value = connection.scalar(
                sa.select(state.value).where(state.name == _DEFAULT_VALUES_THROUGH)
            )
        if value is not None:
            return int(value)
        try:
            with self._writers.turn(_DEFAULT_VALUES_THROUGH), self._engine.begin() as connection:
                connection.execute(
                    sa.insert(system_state).values(
                        name=_DEFAULT_VALUES_THROUGH, value=str(start).encode()
                    )
                )
        except sa.exc.IntegrityError:  # another process stored it first
            return self.default_values_through(start)
        return start

    def set_default_values_through(self, moment: int) -> None:
        """The default values of every minute that ends by `moment` (epoch seconds) are
        decided."""
        state = system_state.c
        with self._writers.turn(_DEFAULT_VALUES_THROUGH), self._engine.begin() as connection:
            connection.execute(sa.delete(system_state).where(state.name == _DEFAULT_VALUES_THROUGH))
            connection.execute(
                sa.insert(system_state).values(
                    name=_DEFAULT_VALUES_THROUGH, value=str(moment).encode()
                )
            )

    def delete_metric_filter(self, group_id: int, filter_name: str) -> bool:
        mf = logs_metric_filters.c
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            result = connection.execute(
                sa.delete(logs_metric_filters).where(
                    mf.group_id == group_id, mf.filter_name == filter_name
                )
            )
        return result.rowcount == 1

    # Tags

    def tags(self, group_id: int) -> dict[str, str]:
        tag = logs_tags.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(tag.tag_key, tag.tag_value)
                .where(tag.group_id == group_id)
                .order_by(tag.tag_key)
            )
            return {key: value for key, value in rows}

    def tag(self, group_id: int, tags: Mapping[str, str], limit: int) -> None:
        tag = logs_tags.c
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            if not self._lock_group(connection, group_id):
                raise Gone(group_id)
            connection.execute(
                sa.delete(logs_tags).where(tag.group_id == group_id, tag.tag_key.in_(list(tags)))
            )
            connection.execute(
                sa.insert(logs_tags),
                [{"group_id": group_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
            )
            count = connection.scalar(sa.select(sa.func.count()).where(tag.group_id == group_id))
            if int(count or 0) > limit:
                raise TooMany(group_id)  # the transaction rolls back

    def untag(self, group_id: int, keys: Iterable[str]) -> None:
        tag = logs_tags.c
        with self._writers.turn(str(group_id)), self._engine.begin() as connection:
            connection.execute(
                sa.delete(logs_tags).where(tag.group_id == group_id, tag.tag_key.in_(list(keys)))
            )
