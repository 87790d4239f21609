"""CloudWatch Logs: log groups and streams, events (each message sealed by the barrier),
retention, metric filters and tags, per account and Region.

Reading goes through each group's EventSource (see sources.py); filter patterns, retention,
limits and page tokens are applied here, the same for every source. Nothing here logs or
raises with a message's content.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.services.context import RequestContext
from strongroom.services.logs import errors as e
from strongroom.services.logs import tokens
from strongroom.services.logs.filter_pattern import FilterPattern, InvalidFilterPattern, parse
from strongroom.services.logs.metric_filters import EventMetrics, MetricSink
from strongroom.services.logs.model import (
    DAY_MS,
    DEFAULT_LIMIT,
    MAX_BATCH_BYTES,
    MAX_BATCH_SPAN_MS,
    MAX_DIMENSIONS,
    MAX_EVENT_AGE_MS,
    MAX_EVENT_AHEAD_MS,
    MAX_GROUP_REGEXES,
    MAX_METRIC_FILTERS,
    MAX_PAGE_BYTES,
    MAX_PAGE_EVENTS,
    MAX_TAGS,
    RETENTION_DAYS,
    STANDARD,
    STORED,
    EventQuery,
    LogEvent,
    LogGroup,
    LogStream,
    MetricFilter,
    Position,
    StreamListing,
    event_bytes,
    parse_group_arn,
    reserved_name,
    stream_arn,
)
from strongroom.services.logs.sources import EventSource, StoredEvents
from strongroom.storage.engine import StorageUnavailable
from strongroom.storage.logs import Gone, GroupExists, LogsRepository, StreamExists, TooMany

log = logging.getLogger("strongroom.logs")

NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."
NO_METRIC_FILTER = "The specified metric filter does not exist."
NO_RESOURCE = "The specified resource does not exist."
GROUP_EXISTS = "The specified log group already exists"
STREAM_EXISTS = "The specified log stream already exists"
RESERVED = "Log groups starting with AWS/ are reserved for AWS."
NOT_CHRONOLOGICAL = "Log events in a single PutLogEvents request must be in chronological order."
SPAN_TOO_LONG = (
    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
)
PREFIX_AND_PATTERN = (
    "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
)
NAME_AND_IDENTIFIER = "LogGroup name and LogGroup ARN are mutually exclusive parameters."
NO_NAME_OR_IDENTIFIER = "Either logGroupName or logGroupIdentifier must be specified."
ORDER_WITH_PREFIX = "Cannot order by LastEventTime with a logStreamNamePrefix."
NAMES_AND_PREFIX = "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
METRIC_NAME_AND_NAMESPACE = "metricName and metricNamespace must be specified together."
DEFAULT_AND_DIMENSIONS = (
    "Invalid metric transformation: dimensions and default value are mutually exclusive properties"
)
DIMENSION_NOT_SELECTOR = "Invalid metric transformation: dimension value must be valid selector"
NO_DIMENSIONS = "The specified filter pattern does not support dimensions"
TOO_MANY_TAGS = f"A resource can have no more than {MAX_TAGS} tags."
METRIC_FILTER_LIMIT = "Resource limit exceeded."
READ_ONLY_GROUP = (
    "The log group {} is written by Strongroom itself: its streams and events cannot be "
    "changed through the CloudWatch Logs API."
)
NUL = "Value {} must not contain the NUL character."
_RETENTION_ENUM = (
    "1 validation error detected: Value '{}' at 'retentionInDays' failed to satisfy constraint: "
    f"Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]"
)
# FilterLogEvents reads at most this many events per call: a rare pattern over a large group
# answers a partial (even empty) page with a token, as AWS's does, instead of a long wait.
_SCAN_BUDGET = 20_000
_SCAN_BATCH = 2_000
_FAR_FUTURE = 10**20 - 1  # beyond any timestamp: a backward token from the very end


class Logs:
    def __init__(
        self, repository: LogsRepository, barrier: Barrier, clock: Clock, cloudwatch: MetricSink
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._stored = StoredEvents(repository, barrier)
        self._metrics = EventMetrics(repository, cloudwatch)
        self._sources: dict[str, EventSource] = {STORED: self._stored}

    def add_source(self, name: str, source: EventSource) -> None:
        """Let the groups whose source is `name` read their streams and events from it."""
        self._sources[name] = source

    def ensure_group(self, account_id: str, region: str, name: str, source: str) -> LogGroup:
        """The log group, created empty (no retention, no tags) and served by `source` when it
        does not exist; an existing group is returned as it is."""
        existing = self._repository.group(account_id, region, name)
        if existing is not None:
            return existing
        try:
            return self._repository.create_group(
                account_id, region, name, self._now(), STANDARD, source, {}
            )
        except GroupExists:
            found = self._repository.group(account_id, region, name)
            assert found is not None  # created meanwhile by another caller
            return found

    def write_events(
        self, account_id: str, region: str, group_name: str, stream_name: str, messages: list[str]
    ) -> None:
        """What a service logs itself (a Lambda function's output): `messages`, stamped now,
        into the stream, the group and stream made when missing, as AWS's services do."""
        group = self.ensure_group(account_id, region, group_name, STORED)
        if group.source != STORED or not messages:
            return
        now = self._now()
        if self._stored.stream(group, stream_name) is None:
            with contextlib.suppress(StreamExists):  # made meanwhile
                self._repository.create_stream(group.id, stream_name, now)
        stream = self._stored.stream(group, stream_name)
        if stream is None:
            return  # the group was deleted meanwhile: the lines go where AWS's would, nowhere
        batches: list[list[tuple[int, str]]] = [[]]
        size = 0
        for message in messages:
            if batches[-1] and size + event_bytes(message) > MAX_BATCH_BYTES:
                batches.append([])
                size = 0
            batches[-1].append((now, message))
            size += event_bytes(message)
        with contextlib.suppress(Gone):  # deleted meanwhile
            for batch in batches:
                self._stored.append(group, stream, batch, now)
                self._emit_metrics(group, batch, now)

    def _emit_metrics(
        self, group: LogGroup, events: Sequence[tuple[int, str]], ingestion_time: int
    ) -> None:
        """What stored events make of the group's metric filters. The events are stored: a
        storage outage now loses their metric values, not the call."""
        try:
            self._metrics.emit(group, events, ingestion_time)
        except StorageUnavailable as outage:
            log.warning("metric filter values of %s lost: %s", group.arn, outage)

    def has_events(self, group: LogGroup, start: int, end: int) -> bool:
        """Whether the group holds an event with start <= timestamp < end (milliseconds)."""
        return bool(self._source(group).events(group, EventQuery(None, None, start, end, None, 1)))

    def _now(self) -> int:
        return int(self._clock.time() * 1000)

    # Log groups

    def create_log_group(
        self,
        ctx: RequestContext,
        logGroupName: str,
        tags: dict[str, str] | None = None,
        logGroupClass: str = STANDARD,
    ) -> None:
        if reserved_name(logGroupName):
            raise e.InvalidParameterException(RESERVED)
        try:
            self._repository.create_group(
                ctx.account_id,
                ctx.region,
                logGroupName,
                self._now(),
                logGroupClass,
                STORED,
                tags or {},
            )
        except GroupExists:
            raise e.ResourceAlreadyExistsException(GROUP_EXISTS) from None

    def delete_log_group(self, ctx: RequestContext, logGroupName: str) -> None:
        group = self._writable(self._group(ctx, logGroupName))
        if not self._repository.delete_group(group.id):
            raise e.ResourceNotFoundException(NO_GROUP)

    def describe_log_groups(
        self,
        ctx: RequestContext,
        logGroupNamePrefix: str | None = None,
        logGroupNamePattern: str | None = None,
        nextToken: str | None = None,
        limit: int = DEFAULT_LIMIT,
        logGroupClass: str | None = None,
    ) -> dict[str, Any]:
        if logGroupNamePrefix is not None and logGroupNamePattern:
            raise e.InvalidParameterException(PREFIX_AND_PATTERN)
        after = tokens.decode("groups", nextToken, str)[0] if nextToken is not None else None
        groups = self._repository.groups(
            ctx.account_id,
            ctx.region,
            prefix=logGroupNamePrefix,
            containing=logGroupNamePattern or None,
            log_group_class=logGroupClass,
            after=after,
            limit=limit + 1,
        )
        page, more = groups[:limit], len(groups) > limit
        if logGroupNamePattern:
            # AWS: with a pattern, only these three members are included.
            entries = [
                {"logGroupName": g.name, "creationTime": g.creation_time, "arn": f"{g.arn}:*"}
                for g in page
            ]
        else:
            entries = self._describe_groups(page)
        result: dict[str, Any] = {"logGroups": entries}
        return result | ({"nextToken": tokens.encode("groups", page[-1].name)} if more else {})

    def _describe_groups(self, groups: Sequence[LogGroup]) -> list[dict[str, Any]]:
        filter_counts = self._repository.metric_filter_counts([g.id for g in groups])
        stored: dict[int, int] = {}
        for source_name in {g.source for g in groups}:
            served = [g for g in groups if g.source == source_name]
            stored |= self._source(served[0]).stored_bytes(served)
        entries = []
        for group in groups:
            entry: dict[str, Any] = {
                "logGroupName": group.name,
                "creationTime": group.creation_time,
                "metricFilterCount": filter_counts[group.id],
                "arn": f"{group.arn}:*",
                "storedBytes": stored.get(group.id, 0),
                "logGroupClass": group.log_group_class,
                "logGroupArn": group.arn,
            }
            if group.retention_in_days is not None:
                entry["retentionInDays"] = group.retention_in_days
            entries.append(entry)
        return entries

    def put_retention_policy(
        self, ctx: RequestContext, logGroupName: str, retentionInDays: int
    ) -> None:
        if retentionInDays not in RETENTION_DAYS:
            raise e.InvalidParameterException(_RETENTION_ENUM.format(retentionInDays))
        group = self._group(ctx, logGroupName)
        if not self._repository.set_retention(group.id, retentionInDays):
            raise e.ResourceNotFoundException(NO_GROUP)

    def delete_retention_policy(self, ctx: RequestContext, logGroupName: str) -> None:
        group = self._group(ctx, logGroupName)
        if not self._repository.set_retention(group.id, None):
            raise e.ResourceNotFoundException(NO_GROUP)

    def expire_events(self) -> None:
        """Background job: delete events older than their group's retention (reads leave them
        out from the moment they expire; this frees the storage)."""
        deleted = self._repository.expire(self._now(), DAY_MS)
        if deleted:
            log.info("deleted %d log events past their group's retention", deleted)

    # Log streams

    def create_log_stream(self, ctx: RequestContext, logGroupName: str, logStreamName: str) -> None:
        _refuse_nul(logStreamName=logStreamName)
        group = self._writable(self._group(ctx, logGroupName))
        try:
            self._repository.create_stream(group.id, logStreamName, self._now())
        except StreamExists:
            raise e.ResourceAlreadyExistsException(STREAM_EXISTS) from None
        except Gone:
            raise e.ResourceNotFoundException(NO_GROUP) from None

    def delete_log_stream(self, ctx: RequestContext, logGroupName: str, logStreamName: str) -> None:
        _refuse_nul(logStreamName=logStreamName)
        group = self._writable(self._group(ctx, logGroupName))
        if not self._repository.delete_stream(group.id, logStreamName):
            raise e.ResourceNotFoundException(NO_STREAM)

    def describe_log_streams(
        self,
        ctx: RequestContext,
        logGroupName: str | None = None,
        logGroupIdentifier: str | None = None,
        logStreamNamePrefix: str | None = None,
        orderBy: str = "LogStreamName",
        descending: bool = False,
        nextToken: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        by_last_event = orderBy == "LastEventTime"
        if by_last_event and logStreamNamePrefix is not None:
            raise e.InvalidParameterException(ORDER_WITH_PREFIX)
        _refuse_nul(logStreamNamePrefix=logStreamNamePrefix)
        group = self._identified_group(ctx, logGroupName, logGroupIdentifier)
        order = f"{orderBy}:{'desc' if descending else 'asc'}"
        after_name, after_last_event = None, None
        if nextToken is not None:
            token_order, after_last_event, after_name = tokens.decode(
                "streams", nextToken, str, int, str
            )
            if token_order != order:
                raise e.InvalidParameterException(tokens.INVALID)
        listing = StreamListing(
            logStreamNamePrefix, by_last_event, descending, after_name, after_last_event, limit + 1
        )
        streams = self._source(group).streams(group, listing)
        page, more = streams[:limit], len(streams) > limit
        result: dict[str, Any] = {"logStreams": [_describe_stream(group, s) for s in page]}
        if more:
            last = page[-1]
            last_event = -1 if last.last_event_timestamp is None else last.last_event_timestamp
            result["nextToken"] = tokens.encode("streams", order, last_event, last.name)
        return result

    # Events

    def put_log_events(
        self,
        ctx: RequestContext,
        logGroupName: str,
        logStreamName: str,
        logEvents: list[dict[str, Any]],
        sequenceToken: str | None = None,  # ignored, as AWS now ignores it
    ) -> dict[str, Any]:
        _refuse_nul(logStreamName=logStreamName)
        size = sum(event_bytes(event["message"]) for event in logEvents)
        if size > MAX_BATCH_BYTES:
            raise e.InvalidParameterException(
                f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )
        timestamps = [event["timestamp"] for event in logEvents]
        if any(later < earlier for earlier, later in itertools.pairwise(timestamps)):
            raise e.InvalidParameterException(NOT_CHRONOLOGICAL)
        group = self._writable(self._group(ctx, logGroupName))
        stream = self._stored.stream(group, logStreamName)
        if stream is None:
            raise e.ResourceNotFoundException(NO_STREAM)
        now = self._now()
        rejected, accepted = _admit(group, timestamps, now)
        if accepted and timestamps[accepted[-1]] - timestamps[accepted[0]] > MAX_BATCH_SPAN_MS:
            raise e.InvalidParameterException(SPAN_TOO_LONG)
        result: dict[str, Any] = {}
        if accepted:
            chosen = [(logEvents[i]["timestamp"], logEvents[i]["message"]) for i in accepted]
            try:
                last_seq = self._stored.append(group, stream, chosen, now)
            except Gone:
                raise e.ResourceNotFoundException(NO_STREAM) from None
            self._emit_metrics(group, chosen, now)
            result["nextSequenceToken"] = f"{last_seq:056d}"  # deprecated, still answered
        return result | ({"rejectedLogEventsInfo": rejected} if rejected else {})

    def get_log_events(
        self,
        ctx: RequestContext,
        logStreamName: str,
        logGroupName: str | None = None,
        logGroupIdentifier: str | None = None,
        startTime: int | None = None,
        endTime: int | None = None,
        nextToken: str | None = None,
        limit: int = MAX_PAGE_EVENTS,
        startFromHead: bool = False,
        unmask: bool = False,  # nothing is ever masked
    ) -> dict[str, Any]:
        _refuse_nul(logStreamName=logStreamName)
        direction, position = (
            tokens.decode_stream_token(nextToken) if nextToken is not None else (None, None)
        )
        group = self._identified_group(ctx, logGroupName, logGroupIdentifier)
        source = self._source(group)
        if source.stream(group, logStreamName) is None:
            raise e.ResourceNotFoundException(NO_STREAM)
        backward = direction == "b" or (direction is None and not startFromHead)
        query = EventQuery(
            stream_names=(logStreamName,),
            stream_prefix=None,
            start=self._kept_from(group, startTime),
            end=endTime,
            after=position,
            limit=limit,
            descending=backward,
        )
        read = _fit_page(source.events(group, query))
        page = read[::-1] if backward else read
        if page:
            forward = tokens.stream_token("f", page[-1].position)
            backward_token = tokens.stream_token("b", page[0].position)
        elif position is None:
            forward = tokens.stream_token("f", (startTime or 0, 0))
            backward_token = tokens.stream_token(
                "b", (_FAR_FUTURE if endTime is None else endTime, 0)
            )
        elif direction == "f":  # nothing further: the same token again, as AWS answers
            forward = tokens.stream_token("f", position)
            backward_token = tokens.stream_token("b", (position[0], position[1] + 1))
        else:
            forward = tokens.stream_token("f", (position[0], position[1] - 1))
            backward_token = tokens.stream_token("b", position)
        return {
            "events": [
                {
                    "timestamp": ev.timestamp,
                    "message": ev.message,
                    "ingestionTime": ev.ingestion_time,
                }
                for ev in page
            ],
            "nextForwardToken": forward,
            "nextBackwardToken": backward_token,
        }

    def filter_log_events(
        self,
        ctx: RequestContext,
        logGroupName: str | None = None,
        logGroupIdentifier: str | None = None,
        logStreamNames: list[str] | None = None,
        logStreamNamePrefix: str | None = None,
        startTime: int | None = None,
        endTime: int | None = None,
        filterPattern: str | None = None,
        nextToken: str | None = None,
        limit: int = MAX_PAGE_EVENTS,
        interleaved: bool | None = None,  # deprecated: events are always interleaved
        unmask: bool = False,  # nothing is ever masked
    ) -> dict[str, Any]:
        if logStreamNames is not None and logStreamNamePrefix is not None:
            raise e.InvalidParameterException(NAMES_AND_PREFIX)
        _refuse_nul(logStreamNames=logStreamNames, logStreamNamePrefix=logStreamNamePrefix)
        pattern = _parsed(filterPattern) if filterPattern else None
        after: Position | None = None
        if nextToken is not None:
            timestamp, seq = tokens.decode("events", nextToken, int, int)
            after = (timestamp, seq)
        group = self._identified_group(ctx, logGroupName, logGroupIdentifier)
        source = self._source(group)
        query = EventQuery(
            stream_names=tuple(logStreamNames) if logStreamNames is not None else None,
            stream_prefix=logStreamNamePrefix,
            start=self._kept_from(group, startTime),
            end=endTime + 1 if endTime is not None else None,  # endTime itself is included
            after=after,
            limit=_SCAN_BATCH,
            equalities=pattern.required_equalities() if pattern is not None else {},
        )
        matched, next_position = _scan(source, group, query, pattern, limit)
        result: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": ev.stream_name,
                    "timestamp": ev.timestamp,
                    "message": ev.message,
                    "ingestionTime": ev.ingestion_time,
                    "eventId": ev.event_id,
                }
                for ev in matched
            ],
            "searchedLogStreams": [],  # AWS: no longer supported, always empty
        }
        if next_position is not None:
            result["nextToken"] = tokens.encode("events", *next_position)
        return result

    def _kept_from(self, group: LogGroup, start: int | None) -> int | None:
        """The start of a read: events past the group's retention are never returned."""
        oldest = group.oldest_kept(self._now())
        if oldest is None:
            return start
        return oldest if start is None else max(start, oldest)

    # Metric filters

    def put_metric_filter(
        self,
        ctx: RequestContext,
        logGroupName: str,
        filterName: str,
        filterPattern: str,
        metricTransformations: list[dict[str, Any]],
    ) -> None:
        (transformation,) = metricTransformations  # the model allows exactly one
        dimensions: dict[str, str] | None = transformation.get("dimensions")
        _refuse_nul(
            filterName=filterName,
            filterPattern=filterPattern,
            metricTransformations=[
                transformation["metricName"],
                transformation["metricNamespace"],
                transformation["metricValue"],
                *(dimensions or {}),
                *(dimensions or {}).values(),
            ],
        )
        pattern = _parsed(filterPattern, metric_filter=True)
        _check_metric_value(transformation["metricValue"])
        if dimensions is not None and len(dimensions) > MAX_DIMENSIONS:
            raise e.InvalidParameterException(
                f"A metric transformation can have at most {MAX_DIMENSIONS} dimensions."
            )
        default_value = transformation.get("defaultValue")
        if default_value is not None and not math.isfinite(default_value):
            raise e.InvalidParameterException("defaultValue must be a finite number.")
        if dimensions:
            _check_dimensions(pattern, dimensions, default_value)
        group = self._group(ctx, logGroupName)
        metric_filter = MetricFilter(
            group_id=group.id,
            filter_name=filterName,
            filter_pattern=filterPattern,
            metric_name=transformation["metricName"],
            metric_namespace=transformation["metricNamespace"],
            metric_value=transformation["metricValue"],
            default_value=default_value,
            dimensions=json.dumps(dimensions) if dimensions is not None else None,
            unit=transformation.get("unit"),
            creation_time=self._now(),
            regex_count=pattern.regex_count,
        )
        try:
            self._repository.put_metric_filter(metric_filter, MAX_METRIC_FILTERS, MAX_GROUP_REGEXES)
        except TooMany:
            raise e.LimitExceededException(METRIC_FILTER_LIMIT) from None
        except Gone:
            raise e.ResourceNotFoundException(NO_GROUP) from None

    def describe_metric_filters(
        self,
        ctx: RequestContext,
        logGroupName: str | None = None,
        filterNamePrefix: str | None = None,
        nextToken: str | None = None,
        limit: int = DEFAULT_LIMIT,
        metricName: str | None = None,
        metricNamespace: str | None = None,
    ) -> dict[str, Any]:
        if (metricName is None) != (metricNamespace is None):
            raise e.InvalidParameterException(METRIC_NAME_AND_NAMESPACE)
        _refuse_nul(
            filterNamePrefix=filterNamePrefix,
            metricName=metricName,
            metricNamespace=metricNamespace,
        )
        after = None
        if nextToken is not None:
            filter_name, group_name = tokens.decode("filters", nextToken, str, str)
            after = (filter_name, group_name)
        group = self._group(ctx, logGroupName) if logGroupName is not None else None
        found = self._repository.metric_filters(
            ctx.account_id,
            ctx.region,
            group_id=group.id if group else None,
            # AWS: the prefix counts only together with a log group name.
            prefix=filterNamePrefix if group else None,
            metric=(metricNamespace, metricName) if metricName and metricNamespace else None,
            after=after,
            limit=limit + 1,
        )
        page, more = found[:limit], len(found) > limit
        result: dict[str, Any] = {"metricFilters": [mf.wire(name) for mf, name in page]}
        if more:
            last, group_name = page[-1]
            result["nextToken"] = tokens.encode("filters", last.filter_name, group_name)
        return result

    def delete_metric_filter(self, ctx: RequestContext, logGroupName: str, filterName: str) -> None:
        _refuse_nul(filterName=filterName)
        group = self._group(ctx, logGroupName)
        if not self._repository.delete_metric_filter(group.id, filterName):
            raise e.ResourceNotFoundException(NO_METRIC_FILTER)

    def test_metric_filter(
        self, ctx: RequestContext, filterPattern: str, logEventMessages: list[str]
    ) -> dict[str, Any]:
        pattern = _parsed(filterPattern, metric_filter=True)
        matches = []
        for number, message in enumerate(logEventMessages, 1):
            match = pattern.match(message)
            if match is not None:
                matches.append(
                    {
                        "eventNumber": number,
                        "eventMessage": message,
                        "extractedValues": match.extracted_values,
                    }
                )
        return {"matches": matches}

    # Tags

    def tag_resource(self, ctx: RequestContext, resourceArn: str, tags: dict[str, str]) -> None:
        self._tag(self._tagged_group(ctx, resourceArn), tags)

    def untag_resource(self, ctx: RequestContext, resourceArn: str, tagKeys: list[str]) -> None:
        self._repository.untag(self._tagged_group(ctx, resourceArn).id, tagKeys)

    def list_tags_for_resource(self, ctx: RequestContext, resourceArn: str) -> dict[str, Any]:
        return {"tags": self._repository.tags(self._tagged_group(ctx, resourceArn).id)}

    def tag_log_group(self, ctx: RequestContext, logGroupName: str, tags: dict[str, str]) -> None:
        self._tag(self._group(ctx, logGroupName), tags)

    def untag_log_group(self, ctx: RequestContext, logGroupName: str, tags: list[str]) -> None:
        self._repository.untag(self._group(ctx, logGroupName).id, tags)

    def list_tags_log_group(self, ctx: RequestContext, logGroupName: str) -> dict[str, Any]:
        return {"tags": self._repository.tags(self._group(ctx, logGroupName).id)}

    def _tag(self, group: LogGroup, tags: Mapping[str, str]) -> None:
        try:
            self._repository.tag(group.id, tags, MAX_TAGS)
        except TooMany:
            raise e.TooManyTagsException(TOO_MANY_TAGS) from None
        except Gone:
            raise e.ResourceNotFoundException(NO_GROUP) from None

    def _tagged_group(self, ctx: RequestContext, arn: str) -> LogGroup:
        parsed = parse_group_arn(arn)
        if parsed is None or parsed[:2] != (ctx.region, ctx.account_id):
            raise e.ResourceNotFoundException(NO_RESOURCE)
        group = self._repository.group(ctx.account_id, ctx.region, parsed[2])
        if group is None:
            raise e.ResourceNotFoundException(NO_RESOURCE)
        return group

    # Finding groups

    def _group(self, ctx: RequestContext, name: str) -> LogGroup:
        group = self._repository.group(ctx.account_id, ctx.region, name)
        if group is None:
            raise e.ResourceNotFoundException(NO_GROUP)
        return group

    def _identified_group(
        self, ctx: RequestContext, name: str | None, identifier: str | None
    ) -> LogGroup:
        """The group a read names by logGroupName or by logGroupIdentifier (name or ARN)."""
        if name is not None and identifier is not None:
            raise e.ValidationException(NAME_AND_IDENTIFIER)
        if identifier is not None:
            parsed = parse_group_arn(identifier)
            if parsed is not None:
                if parsed[:2] != (ctx.region, ctx.account_id):
                    raise e.ResourceNotFoundException(NO_GROUP)
                identifier = parsed[2]
            return self._group(ctx, identifier)
        if name is None:
            raise e.InvalidParameterException(NO_NAME_OR_IDENTIFIER)
        return self._group(ctx, name)

    def _source(self, group: LogGroup) -> EventSource:
        return self._sources[group.source]

    @staticmethod
    def _writable(group: LogGroup) -> LogGroup:
        if group.source != STORED:
            raise e.InvalidParameterException(READ_ONLY_GROUP.format(group.name))
        return group


def _describe_stream(group: LogGroup, stream: LogStream) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.creation_time,
        "arn": stream_arn(group, stream.name),
        "storedBytes": 0,  # AWS: no longer reported for streams, always zero
    }
    for member, value in (
        ("firstEventTimestamp", stream.first_event_timestamp),
        ("lastEventTimestamp", stream.last_event_timestamp),
        ("lastIngestionTime", stream.last_ingestion_time),
    ):
        if value is not None:
            entry[member] = value
    return entry


def _admit(
    group: LogGroup, timestamps: Sequence[int], now: int
) -> tuple[dict[str, int], list[int]]:
    """Which events (by index) PutLogEvents stores, and rejectedLogEventsInfo for the others:
    too old (over 14 days), expired (past the group's retention), too new (over 2 hours
    ahead). The events are in timestamp order, so each kind is a run: the end indexes are
    exclusive, the start index inclusive."""
    oldest_kept = group.oldest_kept(now)
    too_old_end = expired_end = 0
    too_new_start: int | None = None
    accepted = []
    for index, timestamp in enumerate(timestamps):
        if timestamp < now - MAX_EVENT_AGE_MS:
            too_old_end = expired_end = index + 1
        elif oldest_kept is not None and timestamp < oldest_kept:
            expired_end = index + 1
        elif timestamp > now + MAX_EVENT_AHEAD_MS:
            too_new_start = index if too_new_start is None else too_new_start
        else:
            accepted.append(index)
    rejected: dict[str, int] = {}
    if too_old_end:
        rejected["tooOldLogEventEndIndex"] = too_old_end
    if expired_end > too_old_end:
        rejected["expiredLogEventEndIndex"] = expired_end
    if too_new_start is not None:
        rejected["tooNewLogEventStartIndex"] = too_new_start
    return rejected, accepted


def _fit_page(events: list[LogEvent]) -> list[LogEvent]:
    """As many events, in reading order, as fit in a 1 MB page."""
    size = 0
    for index, event in enumerate(events):
        size += event_bytes(event.message)
        if size > MAX_PAGE_BYTES:
            return events[:index]
    return events


def _scan(
    source: EventSource,
    group: LogGroup,
    query: EventQuery,
    pattern: FilterPattern | None,
    limit: int,
) -> tuple[list[LogEvent], Position | None]:
    """The events matching `pattern`, up to `limit` and 1 MB, and where the next page starts
    (None when nothing is left to read)."""
    matched: list[LogEvent] = []
    size = scanned = 0
    after = query.after
    while True:
        batch = source.events(group, _after(query, after))
        for event in batch:
            if pattern is None or pattern.match(event.message) is not None:
                size += event_bytes(event.message)
                if len(matched) == limit or size > MAX_PAGE_BYTES:
                    return matched, after  # this event opens the next page
                matched.append(event)
            after = event.position
            scanned += 1
            if scanned == _SCAN_BUDGET:
                return matched, after
        if len(batch) < query.limit:
            return matched, None


def _after(query: EventQuery, position: Position | None) -> EventQuery:
    return EventQuery(
        query.stream_names,
        query.stream_prefix,
        query.start,
        query.end,
        position,
        query.limit,
        query.descending,
        query.equalities,
    )


def _parsed(filter_pattern: str, *, metric_filter: bool = False) -> FilterPattern:
    try:
        return parse(filter_pattern)
    except InvalidFilterPattern as error:
        # AWS words a refused pattern "Invalid metric filter pattern" for metric filters.
        message = error.metric_filter_message if metric_filter else str(error)
        raise e.InvalidParameterException(message) from None


def _check_metric_value(value: str) -> None:
    """A metric value is a number, or a field of the pattern ($.field, $field)."""
    if value.startswith("$") and len(value) > 1:
        return
    try:
        if math.isfinite(float(value)):
            return
    except ValueError:
        pass
    raise e.InvalidParameterException(
        "metricValue must be a number or a field of the filter pattern ($.field or $field)."
    )


def _check_dimensions(
    pattern: FilterPattern, dimensions: Mapping[str, str], default_value: float | None
) -> None:
    """Dimensions name fields of the event, which only JSON and space-delimited patterns
    read; and AWS refuses a default value beside them (a minute without matches would have no
    dimension values to report it under)."""
    if any(not field.startswith("$") or len(field) == 1 for field in dimensions.values()):
        raise e.InvalidParameterException(DIMENSION_NOT_SELECTOR)
    if pattern.kind == "terms":
        raise e.InvalidParameterException(NO_DIMENSIONS)
    if default_value is not None:
        raise e.InvalidParameterException(DEFAULT_AND_DIMENSIONS)


def _refuse_nul(**values: str | Sequence[str] | None) -> None:
    """Storage cannot hold (or even compare) text with NUL in it: refuse it up front."""
    for name, value in values.items():
        texts = [value] if isinstance(value, str) else value or []
        if any("\x00" in text for text in texts):
            raise e.InvalidParameterException(NUL.format(name))
