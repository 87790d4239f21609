"""Amazon EventBridge, the subset rotation needs: rules on the default event bus (schedules and
event patterns), their targets and tags, per account and Region.

A scheduled rule keeps its next firing in storage (`next_due`, computed with
jobs/schedule_expressions.py); the scheduler reads due rules from the repository and claims
each firing there (see storage/events.py). Firing itself lives outside this service.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from strongroom.clock import Clock
from strongroom.jobs import schedule_expressions
from strongroom.services.context import RequestContext
from strongroom.services.events import errors as e
from strongroom.services.events import model
from strongroom.services.events.model import (
    DEFAULT_BUS,
    DEFAULT_LIMIT,
    DISABLED,
    MAX_RULES,
    MAX_TAGS,
    MAX_TARGETS,
    InvalidPattern,
    Target,
    bus_name,
    check_event_pattern,
    parse_rule_arn,
    rule_arn,
    valid_target_arn,
)
from strongroom.storage.events import EventsRepository, Gone, HasTargets, RuleSettings, TooMany

RULE_TYPE = "AWS::Events::Rule"
NO_PATTERN_OR_SCHEDULE = "Parameter(s) EventPattern or ScheduleExpression must be specified."
HAS_TARGETS = "Rule can't be deleted since it has targets."
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."
INVALID_TOKEN = "The nextToken provided is invalid."  # noqa: S105 (a message)
BAD_TARGET_ARN = "Parameter {} is not valid. Reason: Provided Arn is not in correct format."
NO_TARGET = "Rule '{}' does not have a target with the Id '{}'."
TOO_MANY_TAGS = "The number of tags on a resource must not exceed 50."


def _no_rule(name: str, bus: str = DEFAULT_BUS) -> e.ResourceNotFoundException:
    return e.ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")


class Events:
    def __init__(self, repository: EventsRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    @property
    def repository(self) -> EventsRepository:
        """For the scheduler: due_rules and advance."""
        return self._repository

    def next_due(self, rule: model.Rule, after: float) -> float | None:
        """The next firing of an enabled scheduled rule after `after` (seconds), else None."""
        if rule.schedule_expression is None or rule.state == DISABLED:
            return None
        return _next_due(rule.schedule_expression, after, rule.schedule_anchor or rule.created)

    # Rules

    def put_rule(
        self,
        ctx: RequestContext,
        Name: str,
        ScheduleExpression: str | None = None,
        EventPattern: str | None = None,
        State: str = "ENABLED",
        Description: str | None = None,
        RoleArn: str | None = None,
        Tags: list[dict[str, str]] | None = None,
        EventBusName: str | None = None,
    ) -> dict[str, Any]:
        bus = self._bus(ctx, EventBusName)
        schedule = ScheduleExpression or None
        pattern = EventPattern or None
        if schedule is None and pattern is None:
            raise e.ValidationException(NO_PATTERN_OR_SCHEDULE)
        if schedule is not None:
            try:
                schedule_expressions.parse(schedule)
            except schedule_expressions.InvalidScheduleExpression as invalid:
                raise e.ValidationException(invalid.message) from None
        if pattern is not None:
            try:
                check_event_pattern(pattern)
            except InvalidPattern as invalid:
                raise e.InvalidEventPatternException(invalid.message) from None
        existing = self._repository.rule(ctx.account_id, ctx.region, bus, Name)
        if existing is not None and existing.managed_by is not None:
            raise e.ManagedRuleException(_managed(Name))
        now = self._clock.time()
        # Each PutRule with a schedule starts it afresh: a rate counts from now.
        anchor = now if schedule is not None else None
        next_due = (
            _next_due(schedule, now, now) if schedule is not None and State != DISABLED else None
        )
        settings = RuleSettings(
            Description, schedule, pattern, State, RoleArn, None, anchor, next_due
        )
        try:
            rule = self._repository.put_rule(
                ctx.account_id,
                ctx.region,
                bus,
                Name,
                settings,
                now,
                _tags(Tags),
                MAX_RULES,
                MAX_TAGS,
            )
        except TooMany:
            raise e.LimitExceededException(LIMIT_EXCEEDED) from None
        ctx.note_resource(RULE_TYPE, rule.arn)
        return {"RuleArn": rule.arn}

    def describe_rule(
        self, ctx: RequestContext, Name: str, EventBusName: str | None = None
    ) -> dict[str, Any]:
        rule = self._rule(ctx, Name, EventBusName)
        return _describe(rule) | {"CreatedBy": rule.account_id}

    def list_rules(
        self,
        ctx: RequestContext,
        NamePrefix: str | None = None,
        EventBusName: str | None = None,
        NextToken: str | None = None,
        Limit: int = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        bus = self._bus(ctx, EventBusName)
        after = _decode_token("rules", NextToken)
        rules = self._repository.rules(
            ctx.account_id, ctx.region, bus, NamePrefix, after, Limit + 1
        )
        page = rules[:Limit]
        result: dict[str, Any] = {"Rules": [_describe(rule) for rule in page]}
        if len(rules) > Limit:
            result["NextToken"] = _encode_token("rules", page[-1].name)
        return result

    def enable_rule(
        self, ctx: RequestContext, Name: str, EventBusName: str | None = None
    ) -> dict[str, Any]:
        rule = self._changeable(ctx, Name, EventBusName)
        if rule.state == DISABLED:
            enabled = replace(rule, state="ENABLED")
            self._set_state(rule, "ENABLED", self.next_due(enabled, self._clock.time()))
        return {}

    def disable_rule(
        self, ctx: RequestContext, Name: str, EventBusName: str | None = None
    ) -> dict[str, Any]:
        rule = self._changeable(ctx, Name, EventBusName)
        self._set_state(rule, DISABLED, None)
        return {}

    def delete_rule(
        self,
        ctx: RequestContext,
        Name: str,
        EventBusName: str | None = None,
        Force: bool = False,
    ) -> dict[str, Any]:
        bus = self._bus(ctx, EventBusName)
        rule = self._repository.rule(ctx.account_id, ctx.region, bus, Name)
        if rule is None:
            return {}  # AWS: deleting a rule that does not exist succeeds
        ctx.note_resource(RULE_TYPE, rule.arn)
        if rule.managed_by is not None and not Force:
            raise e.ManagedRuleException(_managed(Name))
        try:
            self._repository.delete_rule(rule.id)
        except HasTargets:
            raise e.ValidationException(HAS_TARGETS) from None
        return {}

    # Targets

    def put_targets(
        self,
        ctx: RequestContext,
        Rule: str,
        Targets: list[dict[str, Any]],
        EventBusName: str | None = None,
    ) -> dict[str, Any]:
        rule = self._changeable(ctx, Rule, EventBusName)
        for target in Targets:
            if not valid_target_arn(target["Arn"]):
                raise e.ValidationException(BAD_TARGET_ARN.format(target["Arn"]))
        entries = [
            Target(t["Id"], t["Arn"], json.dumps(t, separators=(",", ":"), sort_keys=True))
            for t in Targets
        ]
        try:
            self._repository.put_targets(rule.id, entries, MAX_TARGETS)
        except TooMany:
            raise e.LimitExceededException(LIMIT_EXCEEDED) from None
        except Gone:
            raise _no_rule(Rule, rule.event_bus_name) from None
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(
        self,
        ctx: RequestContext,
        Rule: str,
        EventBusName: str | None = None,
        NextToken: str | None = None,
        Limit: int = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        rule = self._rule(ctx, Rule, EventBusName)
        after = _decode_token("targets", NextToken)
        targets = self._repository.targets(rule.id, after, Limit + 1)
        page = targets[:Limit]
        result: dict[str, Any] = {"Targets": [json.loads(t.definition) for t in page]}
        if len(targets) > Limit:
            result["NextToken"] = _encode_token("targets", page[-1].target_id)
        return result

    def remove_targets(
        self,
        ctx: RequestContext,
        Rule: str,
        Ids: list[str],
        EventBusName: str | None = None,
        Force: bool = False,
    ) -> dict[str, Any]:
        rule = self._rule(ctx, Rule, EventBusName)
        ctx.note_resource(RULE_TYPE, rule.arn)
        if rule.managed_by is not None and not Force:
            raise e.ManagedRuleException(_managed(Rule))
        try:
            removed = self._repository.remove_targets(rule.id, Ids)
        except Gone:
            raise _no_rule(Rule, rule.event_bus_name) from None
        failed = [
            {
                "TargetId": target_id,
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": NO_TARGET.format(Rule, target_id),
            }
            for target_id in dict.fromkeys(Ids)
            if target_id not in removed
        ]
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_rule_names_by_target(
        self,
        ctx: RequestContext,
        TargetArn: str,
        EventBusName: str | None = None,
        NextToken: str | None = None,
        Limit: int = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        bus = self._bus(ctx, EventBusName)
        after = _decode_token("names", NextToken)
        names = self._repository.rule_names_by_target(
            ctx.account_id, ctx.region, bus, TargetArn, after, Limit + 1
        )
        result: dict[str, Any] = {"RuleNames": names[:Limit]}
        if len(names) > Limit:
            result["NextToken"] = _encode_token("names", names[Limit - 1])
        return result

    # Tags

    def tag_resource(
        self, ctx: RequestContext, ResourceARN: str, Tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        rule = self._rule_by_arn(ctx, ResourceARN)
        try:
            self._repository.tag(rule.id, _tags(Tags), MAX_TAGS)
        except TooMany:
            raise e.LimitExceededException(TOO_MANY_TAGS) from None
        except Gone:
            raise _no_rule(rule.name) from None
        return {}

    def untag_resource(
        self, ctx: RequestContext, ResourceARN: str, TagKeys: list[str]
    ) -> dict[str, Any]:
        rule = self._rule_by_arn(ctx, ResourceARN)
        self._repository.untag(rule.id, TagKeys)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, ResourceARN: str) -> dict[str, Any]:
        rule = self._rule_by_arn(ctx, ResourceARN)
        tags = self._repository.tags(rule.id)
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    # Helpers

    def _bus(self, ctx: RequestContext, given: str | None) -> str:
        """The event bus a call names: only the default bus exists."""
        if given is None:
            return DEFAULT_BUS
        name = bus_name(given, ctx.region, ctx.account_id)
        if name != DEFAULT_BUS:
            raise e.ResourceNotFoundException(f"Event bus {name} does not exist.")
        return name

    def _rule(self, ctx: RequestContext, name: str, bus_given: str | None) -> model.Rule:
        bus = self._bus(ctx, bus_given)
        rule = self._repository.rule(ctx.account_id, ctx.region, bus, name)
        if rule is None:
            raise _no_rule(name, bus)
        return rule

    def _changeable(self, ctx: RequestContext, name: str, bus_given: str | None) -> model.Rule:
        rule = self._rule(ctx, name, bus_given)
        ctx.note_resource(RULE_TYPE, rule.arn)
        if rule.managed_by is not None:
            raise e.ManagedRuleException(_managed(name))
        return rule

    def _rule_by_arn(self, ctx: RequestContext, arn: str) -> model.Rule:
        parsed = parse_rule_arn(arn)
        if parsed is None or parsed[:2] != (ctx.region, ctx.account_id):
            name = arn.rsplit("/", 1)[-1]
            raise _no_rule(name)
        rule = self._repository.rule(ctx.account_id, ctx.region, DEFAULT_BUS, parsed[2])
        if rule is None:
            raise _no_rule(parsed[2])
        ctx.note_resource(RULE_TYPE, rule.arn)
        return rule

    def _set_state(self, rule: model.Rule, state: str, next_due: float | None) -> None:
        if not self._repository.set_state(rule.id, state, next_due):
            raise _no_rule(rule.name, rule.event_bus_name)


def _next_due(expression: str, after: float, anchor: float) -> float | None:
    schedule = schedule_expressions.parse(expression)
    following = schedule.next_after(_moment(after), _moment(anchor))
    return following.timestamp() if following is not None else None


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _managed(name: str) -> str:
    return f"Rule '{name}' is managed by an AWS service can only be modified if force is True."


def _describe(rule: model.Rule) -> dict[str, Any]:
    described: dict[str, Any] = {
        "Name": rule.name,
        "Arn": rule_arn(rule.region, rule.account_id, rule.event_bus_name, rule.name),
        "EventPattern": rule.event_pattern,
        "ScheduleExpression": rule.schedule_expression,
        "State": rule.state,
        "Description": rule.description,
        "RoleArn": rule.role_arn,
        "ManagedBy": rule.managed_by,
        "EventBusName": rule.event_bus_name,
    }
    return {k: v for k, v in described.items() if v is not None}


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def _encode_token(kind: str, after: str) -> str:
    text = json.dumps([kind, after], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_token(kind: str, token: str | None) -> str | None:
    if token is None:
        return None
    try:
        if not token.isascii():
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise e.ValidationException(INVALID_TOKEN) from None
    if (
        not isinstance(values, list)
        or len(values) != 2
        or values[0] != kind
        or not isinstance(values[1], str)
    ):
        raise e.ValidationException(INVALID_TOKEN)
    return values[1]
