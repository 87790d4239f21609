"""Scheduled rules fire: the leader finds the rules whose time has come, claims each firing in
storage (exactly once across processes and nodes) and sends EventBridge's "Scheduled Event"
to the rule's targets. Lambda functions are invoked asynchronously, as EventBridge does, only
if their resource policy lets events.amazonaws.com invoke them for this rule; SNS topics get the
event published only if their access policy lets events.amazonaws.com publish (the default
policy does not: AWS's EventBridge guide, "Amazon SNS permissions")."""

from __future__ import annotations

import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from strongroom.clock import Clock
from strongroom.services.awslambda.errors import InvocationRefused
from strongroom.services.awslambda.service import Lambda
from strongroom.services.events.model import Rule, Target
from strongroom.services.events.service import Events
from strongroom.services.sns import errors as sns_errors
from strongroom.services.sns.service import SNS

log = logging.getLogger("strongroom.events")

SERVICE_PRINCIPAL = "events.amazonaws.com"
_BATCH = 100
_TARGETS_PER_RULE = 5
_LAMBDA_ARN = re.compile(r"arn:aws[\w-]*:lambda:([^:]*):([^:]*):function:(.+)")
_TOPIC_ARN = re.compile(r"arn:aws[\w-]*:sns:([^:]*):([^:]*):([^:]+)")
_ACCOUNT = re.compile(r"[0-9]{12}")


class RuleFiring:
    def __init__(
        self,
        events: Events,
        functions: Lambda,
        topics: SNS,
        clock: Clock,
        regions: frozenset[str],
    ) -> None:
        self._events = events
        self._functions = functions
        self._topics = topics
        self._clock = clock
        self._regions = regions
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="strongroom-events")

    def fire_due(self) -> None:
        """Background job (the leader's): fire every rule whose time has come, once. After
        downtime a rule fires once for all the firings it missed, as EventBridge does."""
        repository = self._events.repository
        now = self._clock.time()
        for rule in repository.due_rules(now, _BATCH):
            next_due = self._events.next_due(rule, max(now, rule.next_due or now))
            if not repository.advance(rule, now, next_due):
                continue  # another process fired it, or the rule changed meanwhile
            event = scheduled_event(rule, now)
            for target in repository.targets(rule.id, None, _TARGETS_PER_RULE):
                self._pool.submit(self._deliver, rule, target, event)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, rule: Rule, target: Target, event: dict[str, Any]) -> None:
        given = json.loads(target.definition).get("Input")
        topic_arn = target_topic(target.arn, rule, self._regions)
        if topic_arn is not None:
            message = given if given is not None else json.dumps(event, separators=(",", ":"))
            self._publish(rule, topic_arn, message)
            return
        function_arn = target_function(target.arn, rule, self._regions)
        if function_arn is None:
            log.warning(
                "rule %s: target %s is neither a Lambda function nor an SNS topic",
                rule.arn,
                target.target_id,
            )
            return
        payload = json.loads(given) if given is not None else event
        self._invoke(rule, function_arn, payload)

    def _publish(self, rule: Rule, topic_arn: str, message: str) -> None:
        try:
            self._topics.publish_for_service(
                rule.account_id, rule.region, topic_arn, message, None, SERVICE_PRINCIPAL, rule.arn
            )
        except (sns_errors.NotFoundException, sns_errors.AuthorizationErrorException) as refused:
            reason = type(refused).__name__
            log.warning("rule %s: cannot publish to %s: %s", rule.arn, topic_arn, reason)
        except Exception:  # a delivery thread must outlive any one delivery
            log.exception("rule %s: publishing to %s failed", rule.arn, topic_arn)

    def _invoke(self, rule: Rule, function_arn: str, payload: Any) -> None:
        try:
            invocation = self._functions.invoke_for_service(
                rule.account_id, rule.region, function_arn, payload, SERVICE_PRINCIPAL, rule.arn
            )
        except InvocationRefused as refused:
            reason = type(refused).__name__
            log.warning("rule %s: cannot invoke %s: %s", rule.arn, function_arn, reason)
            return
        except Exception:  # a delivery thread must outlive any one delivery
            log.exception("rule %s: invoking %s failed", rule.arn, function_arn)
            return
        if invocation.function_error is not None:
            log.warning("rule %s: %s failed (%s)", rule.arn, function_arn, invocation.error_type)


def scheduled_event(rule: Rule, fired_at: float) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's targets."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": datetime.fromtimestamp(fired_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region,
        "resources": [rule.arn],
        "detail": {},
    }


def target_function(target_arn: str, rule: Rule, regions: frozenset[str]) -> str | None:
    """The Lambda function ARN a target names. A target whose ARN holds no Region or account
    (the source document's literal `arn:aws:lambda:region:account:function:NAME`) means the
    rule's own: documentation placeholders then work as written."""
    match = _LAMBDA_ARN.fullmatch(target_arn)
    if match is None:
        return None
    region, account = _placed(match[1], match[2], rule, regions)
    return f"arn:aws:lambda:{region}:{account}:function:{match[3]}"


def target_topic(target_arn: str, rule: Rule, regions: frozenset[str]) -> str | None:
    """The SNS topic ARN a target names (placeholders mean the rule's own, as for functions)."""
    match = _TOPIC_ARN.fullmatch(target_arn)
    if match is None:
        return None
    region, account = _placed(match[1], match[2], rule, regions)
    return f"arn:aws:sns:{region}:{account}:{match[3]}"


def _placed(region: str, account: str, rule: Rule, regions: frozenset[str]) -> tuple[str, str]:
    """A target's Region and account, the rule's own where the ARN holds no real ones."""
    if not _ACCOUNT.fullmatch(account) or region not in regions:
        return rule.region, rule.account_id
    return region, account
