"""Where a log group's streams and events come from.

Most groups hold the events PutLogEvents stored (`StoredEvents`). A group can instead be served
by another `EventSource` (the audit trail's group reads the audit records): the service asks
the group's source for streams and events, and applies filter patterns, retention, limits and
page tokens itself, the same for every source.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Protocol

from strongroom.barrier.aead import IntegrityError
from strongroom.barrier.barrier import Barrier
from strongroom.services.logs.model import EventQuery, LogEvent, LogGroup, LogStream, StreamListing
from strongroom.storage.logs import LogsRepository, NewEvent

log = logging.getLogger("strongroom.logs")


class EventSource(Protocol):
    """The streams and events of the groups a source serves (read-only through the API)."""

    def stream(self, group: LogGroup, name: str) -> LogStream | None:
        """The group's stream of that name, or None."""

    def streams(self, group: LogGroup, listing: StreamListing) -> list[LogStream]:
        """Up to `listing.limit` of the group's streams after the listing's position, in its
        order: by name, or by last event time (-1 when none) then name; descending reverses
        both. Only streams whose name starts with `listing.prefix`, when one is given."""

    def events(self, group: LogGroup, query: EventQuery) -> list[LogEvent]:
        """Up to `query.limit` events of the group in (timestamp, seq) order (descending when
        `query.descending`), strictly after `query.after` in that order, with start <=
        timestamp < end, from the streams the query names (or whose names have its prefix;
        all when neither). Sequence numbers are positive and unique in the group."""

    def stored_bytes(self, groups: Sequence[LogGroup]) -> dict[int, int]:
        """The bytes each group (by id) holds, for DescribeLogGroups."""


def _aad(group: LogGroup, seq: int, stream: str, timestamp: int, ingestion_time: int) -> bytes:
    """Where a message is stored: its group (row and ARN), place in the group, stream and
    times. A message moved to another event, stream or group does not decrypt."""
    place = ["logs_events", group.id, group.arn, seq, stream, timestamp, ingestion_time]
    return json.dumps(place, ensure_ascii=False).encode()


class StoredEvents:
    """The events PutLogEvents stored, each message sealed by the barrier."""

    def __init__(self, repository: LogsRepository, barrier: Barrier) -> None:
        self._repository = repository
        self._barrier = barrier

    def stream(self, group: LogGroup, name: str) -> LogStream | None:
        return self._repository.stream(group.id, name)

    def streams(self, group: LogGroup, listing: StreamListing) -> list[LogStream]:
        return self._repository.streams(group.id, listing)

    def stored_bytes(self, groups: Sequence[LogGroup]) -> dict[int, int]:
        return self._repository.stored_bytes([group.id for group in groups])

    def events(self, group: LogGroup, query: EventQuery) -> list[LogEvent]:
        opened = []
        for event in self._repository.events(group.id, query):
            aad = _aad(group, event.seq, event.stream_name, event.timestamp, event.ingestion_time)
            try:
                message = self._barrier.decrypt(event.message_blob, aad).decode()
            except IntegrityError:
                # Altered or moved in storage: left out, and said where (never what).
                log.error("log event %s/%d failed authentication; left out", group.arn, event.seq)
                continue
            opened.append(
                LogEvent(
                    event.stream_name, event.timestamp, event.ingestion_time, event.seq, message
                )
            )
        return opened

    def append(
        self,
        group: LogGroup,
        stream: LogStream,
        events: Sequence[tuple[int, str]],
        ingestion_time: int,
    ) -> int:
        """Store (timestamp, message) events, in timestamp order, in the stream; the sequence
        number of the last one."""
        first = self._repository.allocate(group.id, len(events))
        sealed = []
        for seq, (timestamp, message) in enumerate(events, first):
            plaintext = message.encode()
            aad = _aad(group, seq, stream.name, timestamp, ingestion_time)
            blob = self._barrier.encrypt(plaintext, aad)
            sealed.append(NewEvent(seq, timestamp, ingestion_time, len(plaintext), blob))
        self._repository.append(group.id, stream.id, sealed, ingestion_time)
        return first + len(events) - 1
