"""The audit trail as a CloudWatch Logs group: the events of the group the trail delivers to
(`CloudTrail/AlphaVoxSecrets` by default) are the account's audit records, read from the audit
table itself, one stream per Region as CloudTrail names them (`{account}_CloudTrail_{region}`).

Nothing is copied: the group shows every record the moment it is stored, and a filter whose
pattern requires an exact eventName (or source, user, error code...) is answered from that
column's index instead of reading every record of the time range.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from strongroom.services.logs.model import EventQuery, LogEvent, LogGroup, LogStream, StreamListing
from strongroom.storage.audit import AuditRepository, RecordQuery, StoredRecord

SOURCE = "audit"
# Pattern selectors that are columns of audit_records, most selective first.
INDEXED_FIELDS = {
    "$.eventID": "event_id",
    "$.requestID": "request_id",
    "$.eventName": "event_name",
    "$.userIdentity.userName": "username",
    "$.userIdentity.accessKeyId": "access_key_id",
    "$.errorCode": "error_code",
    "$.eventSource": "event_source",
}
_STORED_BYTES_SECONDS = 300.0  # DescribeLogGroups' storedBytes may lag, as AWS's does


def stream_name(account_id: str, region: str) -> str:
    return f"{account_id}_CloudTrail_{region}"


class AuditEvents:
    """An EventSource (see services/logs/sources.py) over the audit records."""

    def __init__(self, repository: AuditRepository, regions: frozenset[str]) -> None:
        self._repository = repository
        self._regions = regions
        self._stored_bytes: dict[str, tuple[float, int]] = {}

    def stream(self, group: LogGroup, name: str) -> LogStream | None:
        return next((s for s in self._streams(group) if s.name == name), None)

    def streams(self, group: LogGroup, listing: StreamListing) -> list[LogStream]:
        prefix = listing.prefix or ""
        streams = [s for s in self._streams(group) if s.name.startswith(prefix)]
        if listing.by_last_event:

            def key(s: LogStream) -> tuple[int, str]:
                return (s.last_event_timestamp or -1, s.name)

            after = (
                (listing.after_last_event, listing.after_name or "")
                if listing.after_name is not None
                else None
            )
        else:

            def key(s: LogStream) -> tuple[int, str]:
                return (0, s.name)

            after = (0, listing.after_name) if listing.after_name is not None else None
        ordered = sorted(streams, key=key, reverse=listing.descending)
        if after is not None:
            ordered = [
                s for s in ordered if (key(s) < after if listing.descending else key(s) > after)
            ]
        return ordered[: listing.limit]

    def events(self, group: LogGroup, query: EventQuery) -> list[LogEvent]:
        regions = self._queried_regions(group, query)
        if regions is not None and not regions:
            return []
        column, value = next(
            ((INDEXED_FIELDS[f], v) for f, v in query.equalities.items() if f in INDEXED_FIELDS),
            (None, None),
        )
        records = self._repository.records(
            RecordQuery(
                account_id=group.account_id,
                start=query.start / 1000 if query.start is not None else 0.0,
                # Record times are whole milliseconds: "before end" is "at most end - 0.5 ms".
                end=(query.end - 0.5) / 1000 if query.end is not None else float("inf"),
                column=column,
                value=value,
                after_id=query.after[1] if query.after is not None else None,
                newest_first=query.descending,
                limit=query.limit,
                regions=regions,
            )
        )
        return [_event(group.account_id, r) for r in records]

    def stored_bytes(self, groups: Sequence[LogGroup]) -> dict[int, int]:
        sizes = {}
        now = time.monotonic()
        for group in groups:
            counted_at, size = self._stored_bytes.get(group.account_id, (0.0, 0))
            if now - counted_at > _STORED_BYTES_SECONDS:
                size = self._repository.stored_bytes(group.account_id)
                self._stored_bytes[group.account_id] = (now, size)
            sizes[group.id] = size
        return sizes

    def _streams(self, group: LogGroup) -> list[LogStream]:
        return [
            LogStream(
                name=stream_name(group.account_id, region),
                creation_time=_ms(first),
                first_event_timestamp=_ms(first),
                last_event_timestamp=_ms(last),
                last_ingestion_time=_ms(last),
            )
            for region, first, last in self._repository.regions(group.account_id)
        ]

    def _queried_regions(self, group: LogGroup, query: EventQuery) -> tuple[str, ...] | None:
        """The Regions whose streams a query names, or None: all of them."""
        if query.stream_names is None and not query.stream_prefix:
            return None
        names = {stream_name(group.account_id, region): region for region in self._regions}
        if query.stream_names is not None:
            return tuple(sorted(names[n] for n in query.stream_names if n in names))
        prefix = query.stream_prefix or ""
        return tuple(sorted(region for name, region in names.items() if name.startswith(prefix)))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _event(account_id: str, record: StoredRecord) -> LogEvent:
    timestamp = _ms(record.event_time)
    stream = stream_name(account_id, record.region)
    return LogEvent(stream, timestamp, timestamp, record.id, record.text)
