"""CloudWatch Logs entities, limits and naming rules; no storage, no wire format.

Times are integers in milliseconds since the epoch, as on the wire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# PutRetentionPolicy's allowed values (the model gives the member no enum; the API reference
# lists them and the service answers anything else with an enum validation message).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# PutLogEvents: a batch is at most 1,048,576 bytes, counted as the UTF-8 bytes of every message
# plus 26 bytes per event (AWS's 1 MB limit of one event is then never the one reached first);
# events more than 14 days old (or older than the retention) or more than 2 hours ahead are
# rejected, and the accepted ones may span at most 24 hours.
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_AGE_MS = 14 * DAY_MS
MAX_EVENT_AHEAD_MS = 2 * HOUR_MS
MAX_BATCH_SPAN_MS = 24 * HOUR_MS
# A page of GetLogEvents or FilterLogEvents holds at most 10,000 events and 1 MB of them.
MAX_PAGE_EVENTS = 10_000
MAX_PAGE_BYTES = 1_048_576
MAX_METRIC_FILTERS = 100  # per log group
MAX_GROUP_REGEXES = 5  # regular expressions in the metric filter patterns of a log group
MAX_DIMENSIONS = 3  # per metric transformation
MAX_TAGS = 50
DEFAULT_LIMIT = 50  # DescribeLogGroups, DescribeLogStreams, DescribeMetricFilters
STANDARD = "STANDARD"
# The event source of groups whose events this service stores (PutLogEvents); other sources
# (the audit trail's log group) plug in beside it, see sources.py.
STORED = "stored"
_RESERVED_PREFIX = "aws/"
_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:([a-z0-9-]+):([0-9]{12}):log-group:([^:*]+)")


def group_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def stream_arn(group: LogGroup, stream_name: str) -> str:
    return f"{group.arn}:log-stream:{stream_name}"


def parse_group_arn(text: str) -> tuple[str, str, str] | None:
    """(region, account id, name) of a log group ARN (the form without the trailing `:*`)."""
    match = _GROUP_ARN.fullmatch(text)
    return (match[1], match[2], match[3]) if match else None


def reserved_name(name: str) -> bool:
    """Names starting with `aws/` (in any case) are AWS's own log groups."""
    return name.lower().startswith(_RESERVED_PREFIX)


def event_bytes(message: str) -> int:
    """What an event counts towards the batch limit: its UTF-8 bytes and 26 bytes more."""
    return len(message.encode()) + EVENT_OVERHEAD_BYTES


@dataclass(frozen=True)
class LogGroup:
    id: int
    account_id: str
    region: str
    name: str
    creation_time: int
    retention_in_days: int | None
    log_group_class: str
    source: str  # which EventSource holds the group's streams and events

    @property
    def arn(self) -> str:
        return group_arn(self.region, self.account_id, self.name)

    def oldest_kept(self, now: int) -> int | None:
        """The earliest event timestamp the retention policy keeps, or None: all are kept."""
        if self.retention_in_days is None:
            return None
        return now - self.retention_in_days * DAY_MS


@dataclass(frozen=True)
class LogStream:
    name: str
    creation_time: int
    first_event_timestamp: int | None
    last_event_timestamp: int | None
    last_ingestion_time: int | None
    id: int = 0  # the stored source's row id; other sources leave it 0


# Where an event stands in its group: (timestamp, sequence number). Events are read in this
# order; the sequence number orders events of one timestamp by ingestion.
Position = tuple[int, int]


@dataclass(frozen=True)
class LogEvent:
    stream_name: str
    timestamp: int
    ingestion_time: int
    seq: int
    message: str

    @property
    def position(self) -> Position:
        return (self.timestamp, self.seq)

    @property
    def event_id(self) -> str:
        """A 56-digit id, unique in the group, as AWS's event ids look."""
        return f"{self.timestamp:020d}{self.seq:036d}"


@dataclass(frozen=True)
class StreamListing:
    """A page of a group's streams: by name, or by last event time then name."""

    prefix: str | None
    by_last_event: bool
    descending: bool
    # The last stream the previous page held: its name and, by last event time, that time
    # (-1 for a stream without events, which sorts before every other).
    after_name: str | None
    after_last_event: int | None
    limit: int


@dataclass(frozen=True)
class EventQuery:
    """Events of one group in position order (reversed when `descending`)."""

    stream_names: tuple[str, ...] | None  # None: every stream (that has `stream_prefix`)
    stream_prefix: str | None
    start: int | None  # inclusive
    end: int | None  # exclusive
    after: Position | None  # exclusive: the last position already read (in reading order)
    limit: int
    descending: bool = False
    # Fields every event the caller wants has, with their values (from the filter pattern):
    # a source may use them to skip events; the caller matches the pattern itself anyway.
    equalities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricFilter:
    group_id: int
    filter_name: str
    filter_pattern: str
    metric_name: str
    metric_namespace: str
    metric_value: str
    default_value: float | None
    dimensions: str | None  # JSON object
    unit: str | None
    creation_time: int
    regex_count: int  # regular expressions in the pattern (a group may hold five in all)

    def wire(self, group_name: str) -> dict[str, Any]:
        transformation: dict[str, Any] = {
            "metricName": self.metric_name,
            "metricNamespace": self.metric_namespace,
            "metricValue": self.metric_value,
        }
        if self.default_value is not None:
            transformation["defaultValue"] = self.default_value
        if self.dimensions is not None:
            transformation["dimensions"] = json.loads(self.dimensions)
        if self.unit is not None:
            transformation["unit"] = self.unit
        return {
            "filterName": self.filter_name,
            "filterPattern": self.filter_pattern,
            "metricTransformations": [transformation],
            "creationTime": self.creation_time,
            "logGroupName": group_name,
        }
