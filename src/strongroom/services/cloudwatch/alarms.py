"""CloudWatch metric alarms: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
DescribeAlarmHistory, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions and the tag
operations on alarms. Evaluation is the leader's job (alarm_evaluator.py); both change state
through `state_change`, so a transition looks the same whoever makes it."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from strongroom.clock import Clock
from strongroom.services.cloudwatch import alarm_model as am
from strongroom.services.cloudwatch import errors as e
from strongroom.services.context import RequestContext
from strongroom.storage.cloudwatch_alarms import (
    AlarmListing,
    AlarmRepository,
    NewHistoryItem,
    StateChange,
    StoredAlarm,
)

MAX_TAGS = 50
METRIC_ALARM = "MetricAlarm"
NO_ALARM = "The specified resource does not exist."


class Alarms:
    """The alarm operations of the CloudWatch service (mixed into it)."""

    _alarm_store: AlarmRepository
    _clock: Clock
    # The metrics part of the service checks MetricDataQueries (an alarm's Metrics).
    check_queries: am.QueryCheck

    # PutMetricAlarm

    def put_metric_alarm(
        self,
        ctx: RequestContext,
        AlarmName: str,
        ActionsEnabled: bool | None = None,
        Tags: Sequence[Mapping[str, str]] | None = None,
        **members: Any,
    ) -> dict[str, Any]:
        definition = am.checked_definition(members, ctx.region, self.check_queries)
        tags = _tags(Tags)
        now = self._clock.time()
        wire = {"AlarmName": AlarmName, **definition}
        self._alarm_store.put(
            ctx.account_id,
            ctx.region,
            AlarmName,
            definition,
            ActionsEnabled is not False,
            tags,
            now,
            _configuration_item(AlarmName, "Update", wire),
            _configuration_item(AlarmName, "Create", wire),
        )
        return {}

    # DescribeAlarms

    def describe_alarms(
        self,
        ctx: RequestContext,
        AlarmNames: Sequence[str] | None = None,
        AlarmNamePrefix: str | None = None,
        AlarmTypes: Sequence[str] | None = None,
        ChildrenOfAlarmName: str | None = None,
        ParentsOfAlarmName: str | None = None,
        StateValue: str | None = None,
        ActionPrefix: str | None = None,
        MaxRecords: int | None = None,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        if AlarmNames and AlarmNamePrefix is not None:
            raise e.InvalidParameterCombinationException(
                "AlarmNamePrefix and AlarmNames cannot be specified together."
            )
        if (ChildrenOfAlarmName or ParentsOfAlarmName) and (AlarmNames or AlarmNamePrefix):
            raise e.InvalidParameterCombinationException(
                "ChildrenOfAlarmName and ParentsOfAlarmName cannot be specified together with "
                "AlarmNames or AlarmNamePrefix."
            )
        result: dict[str, Any] = {"MetricAlarms": [], "CompositeAlarms": []}
        # Every alarm here is a metric alarm: none has children or parents.
        wanted = AlarmTypes or [METRIC_ALARM]
        if METRIC_ALARM not in wanted or ChildrenOfAlarmName or ParentsOfAlarmName:
            return result
        limit = MaxRecords or am.DESCRIBE_PAGE
        listing = AlarmListing(
            names=list(AlarmNames) if AlarmNames else None,
            prefix=AlarmNamePrefix,
            state_value=StateValue,
            after_name=_after_name(NextToken) if NextToken is not None else None,
            # ActionPrefix narrows after reading: then read them all.
            limit=limit + 1 if ActionPrefix is None else None,
        )
        found = [
            alarm
            for alarm in self._alarm_store.alarms(ctx.account_id, ctx.region, listing)
            if ActionPrefix is None or _has_action(alarm, ActionPrefix)
        ]
        page = found[:limit]
        result["MetricAlarms"] = [metric_alarm(alarm) for alarm in page]
        if len(found) > limit:
            token = f"n{page[-1].name}".encode()
            result["NextToken"] = base64.urlsafe_b64encode(token).decode()
        return result

    def describe_alarms_for_metric(
        self,
        ctx: RequestContext,
        MetricName: str,
        Namespace: str,
        Statistic: str | None = None,
        ExtendedStatistic: str | None = None,
        Dimensions: Sequence[Mapping[str, str]] | None = None,
        Period: int | None = None,
        Unit: str | None = None,
    ) -> dict[str, Any]:
        wanted: dict[str, Any] = {"MetricName": MetricName, "Namespace": Namespace}
        optional = {
            "Statistic": Statistic,
            "ExtendedStatistic": ExtendedStatistic,
            "Period": Period,
            "Unit": Unit,
        }
        wanted |= {k: v for k, v in optional.items() if v is not None}
        dimensions = _dimension_set(Dimensions or [])
        alarms = self._alarm_store.alarms(ctx.account_id, ctx.region, AlarmListing())
        return {
            "MetricAlarms": [
                metric_alarm(alarm)
                for alarm in alarms
                if all(alarm.definition.get(k) == v for k, v in wanted.items())
                and (
                    Dimensions is None
                    or _dimension_set(alarm.definition.get("Dimensions", [])) == dimensions
                )
            ]
        }

    # DescribeAlarmHistory

    def describe_alarm_history(
        self,
        ctx: RequestContext,
        AlarmName: str | None = None,
        AlarmContributorId: str | None = None,
        AlarmTypes: Sequence[str] | None = None,
        HistoryItemType: str | None = None,
        StartDate: datetime | None = None,
        EndDate: datetime | None = None,
        MaxRecords: int | None = None,
        NextToken: str | None = None,
        ScanBy: str | None = None,
    ) -> dict[str, Any]:
        ascending = ScanBy == "TimestampAscending"
        after = _history_position(NextToken) if NextToken is not None else None
        wanted = AlarmTypes or [METRIC_ALARM]
        if METRIC_ALARM not in wanted or AlarmContributorId is not None:
            return {"AlarmHistoryItems": []}  # no composite alarms, no contributors
        limit = MaxRecords or am.HISTORY_PAGE
        items = self._alarm_store.history(
            ctx.account_id,
            ctx.region,
            AlarmName,
            HistoryItemType,
            StartDate.timestamp() if StartDate else 0.0,
            EndDate.timestamp() if EndDate else float("inf"),
            after,
            ascending,
            limit + 1,
        )
        page = items[:limit]
        result: dict[str, Any] = {
            "AlarmHistoryItems": [
                {
                    "AlarmName": item.alarm_name,
                    "AlarmType": METRIC_ALARM,
                    "Timestamp": datetime.fromtimestamp(item.timestamp, UTC),
                    "HistoryItemType": item.item_type,
                    "HistorySummary": item.summary,
                    "HistoryData": item.data,
                }
                for item in page
            ]
        }
        if len(items) > limit:
            last = page[-1]
            token = json.dumps([last.timestamp, last.id]).encode()
            result["NextToken"] = base64.urlsafe_b64encode(token).decode()
        return result

    # DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions

    def delete_alarms(self, ctx: RequestContext, AlarmNames: Sequence[str]) -> dict[str, Any]:
        missing = self._alarm_store.delete(ctx.account_id, ctx.region, list(AlarmNames))
        if missing:
            raise e.ResourceNotFound(f"{missing[0]} does not exist.")
        return {}

    def set_alarm_state(
        self,
        ctx: RequestContext,
        AlarmName: str,
        StateValue: str,
        StateReason: str,
        StateReasonData: str | None = None,
    ) -> dict[str, Any]:
        if StateReasonData is not None:
            try:
                json.loads(StateReasonData)
            except ValueError:
                raise e.InvalidFormatFault("StateReasonData is not valid JSON.") from None
        for _ in range(3):  # an evaluation may change the alarm meanwhile: read it again
            alarm = self._alarm_store.alarm(ctx.account_id, ctx.region, AlarmName)
            if alarm is None:
                raise e.ResourceNotFound(f"Alarm {AlarmName} not found")
            now = self._clock.time()
            change = state_change(alarm, StateValue, StateReason, StateReasonData, now)
            # The state holds until the next evaluation, as at AWS.
            if self._alarm_store.change_state(
                alarm, change, now, next_evaluation_after(alarm, now)
            ):
                return {}
        raise e.ConcurrentModificationException(
            "The alarm was changed by another request; try again."
        )

    def enable_alarm_actions(self, ctx: RequestContext, AlarmNames: Sequence[str]) -> None:
        self._alarm_store.set_actions_enabled(ctx.account_id, ctx.region, AlarmNames, True)

    def disable_alarm_actions(self, ctx: RequestContext, AlarmNames: Sequence[str]) -> None:
        self._alarm_store.set_actions_enabled(ctx.account_id, ctx.region, AlarmNames, False)

    # Tags

    def tag_resource(
        self, ctx: RequestContext, ResourceARN: str, Tags: Sequence[Mapping[str, str]]
    ) -> dict[str, Any]:
        alarm = self._tagged_alarm(ctx, ResourceARN)
        tags = alarm.tags | _tags(Tags)
        if len(tags) > MAX_TAGS:
            raise e.InvalidParameterValueException(
                f"A resource can have no more than {MAX_TAGS} tags."
            )
        if not self._alarm_store.set_tags(alarm.id, tags):
            raise e.ResourceNotFoundException(NO_ALARM)
        return {}

    def untag_resource(
        self, ctx: RequestContext, ResourceARN: str, TagKeys: Sequence[str]
    ) -> dict[str, Any]:
        alarm = self._tagged_alarm(ctx, ResourceARN)
        tags = {k: v for k, v in alarm.tags.items() if k not in set(TagKeys)}
        if not self._alarm_store.set_tags(alarm.id, tags):
            raise e.ResourceNotFoundException(NO_ALARM)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, ResourceARN: str) -> dict[str, Any]:
        alarm = self._tagged_alarm(ctx, ResourceARN)
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(alarm.tags.items())]}

    def _tagged_alarm(self, ctx: RequestContext, arn: str) -> StoredAlarm:
        parts = arn.split(":", 6)
        if len(parts) != 7 or parts[:3] != ["arn", "aws", "cloudwatch"] or parts[5] != "alarm":
            raise e.InvalidParameterValueException(f"Invalid ARN: {arn}")
        if (parts[3], parts[4]) != (ctx.region, ctx.account_id):
            raise e.ResourceNotFoundException(NO_ALARM)
        alarm = self._alarm_store.alarm(ctx.account_id, ctx.region, parts[6])
        if alarm is None:
            raise e.ResourceNotFoundException(NO_ALARM)
        return alarm


def metric_alarm(alarm: StoredAlarm) -> dict[str, Any]:
    """An alarm as DescribeAlarms gives it (MetricAlarm)."""
    wire: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmArn": am.alarm_arn(alarm.account_id, alarm.region, alarm.name),
        "AlarmConfigurationUpdatedTimestamp": datetime.fromtimestamp(
            alarm.configuration_updated, UTC
        ),
        "ActionsEnabled": alarm.actions_enabled,
        "OKActions": [],
        "AlarmActions": [],
        "InsufficientDataActions": [],
        "Dimensions": [],
        "StateValue": alarm.state_value,
        "StateReason": alarm.state_reason,
        "StateUpdatedTimestamp": datetime.fromtimestamp(alarm.state_updated, UTC),
        "StateTransitionedTimestamp": datetime.fromtimestamp(alarm.state_transitioned, UTC),
    }
    if alarm.state_reason_data is not None:
        wire["StateReasonData"] = alarm.state_reason_data
    wire |= alarm.definition
    wire.setdefault("EvaluationPeriods", am.DEFAULT_EVALUATION_PERIODS)
    if "Metrics" in wire:
        del wire["Dimensions"]
    return wire


def state_change(
    alarm: StoredAlarm, state: str, reason: str, reason_data: str | None, now: float
) -> StateChange:
    """The alarm's move to `state`: its StateUpdate history item and, when actions are
    enabled and the state is new, a notification to each of the new state's actions."""
    old = {"stateValue": alarm.state_value, "stateReason": alarm.state_reason}
    new: dict[str, Any] = {"stateValue": state, "stateReason": reason}
    if reason_data is not None:
        new["stateReasonData"] = json.loads(reason_data)
    history = NewHistoryItem(
        "StateUpdate",
        f"Alarm updated from {alarm.state_value} to {state}",
        json.dumps({"version": "1.0", "oldState": old, "newState": new}),
    )
    notifications = []
    if alarm.actions_enabled and state != alarm.state_value:
        after = dataclasses.replace(
            alarm, state_value=state, state_reason=reason, state_reason_data=reason_data
        )
        subject, message = am.notification(
            metric_alarm(after), alarm.definition, alarm.state_value, now
        )
        notifications = [
            (arn, subject, message) for arn in alarm.definition.get(am.ACTION_LISTS[state], [])
        ]
    return StateChange(state, reason, reason_data, history, notifications)


def evaluation_interval(alarm: StoredAlarm) -> int:
    """Alarms are evaluated every minute, on the minute (high-resolution alarms every period
    of theirs: 10 or 30 s)."""
    return min(60, int(alarm.definition.get("Period", 60)))


def next_evaluation_after(alarm: StoredAlarm, now: float) -> float:
    interval = evaluation_interval(alarm)
    return (now // interval + 1) * interval


def _configuration_item(name: str, kind: str, wire: Mapping[str, Any]) -> NewHistoryItem:
    member = "createdAlarm" if kind == "Create" else "updatedAlarm"
    return NewHistoryItem(
        "ConfigurationUpdate",
        f'Alarm "{name}" {"created" if kind == "Create" else "updated"}',
        json.dumps({"version": "1.0", "type": kind, member: wire}),
    )


def _has_action(alarm: StoredAlarm, prefix: str) -> bool:
    return any(
        arn.startswith(prefix)
        for member in am.ACTION_LISTS.values()
        for arn in alarm.definition.get(member, ())
    )


def _dimension_set(dimensions: Sequence[Mapping[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((d["Name"], d["Value"]) for d in dimensions)


def _tags(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    given = {tag["Key"]: tag["Value"] for tag in tags or ()}
    if len(given) > MAX_TAGS:
        raise e.InvalidParameterValueException(f"A resource can have no more than {MAX_TAGS} tags.")
    reserved = [key for key in given if key.lower().startswith("aws:")]
    if reserved:
        raise e.InvalidParameterValueException(
            f"Invalid tag key: {reserved[0]}. Tag keys beginning with 'aws:' are reserved."
        )
    return given


def _after_name(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if text.startswith("n") and len(text) > 1:
            return text[1:]
    except (binascii.Error, ValueError, UnicodeError):
        pass
    raise _bad_token()


def _history_position(token: str) -> tuple[float, int]:
    try:
        moment, row = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(moment, float | int) and isinstance(row, int):
            return float(moment), row
    except (binascii.Error, ValueError, UnicodeError, TypeError):
        pass
    raise _bad_token()


def _bad_token() -> e.InvalidNextToken:
    return e.InvalidNextToken("The service returned an error with Error Code InvalidNextToken.")
