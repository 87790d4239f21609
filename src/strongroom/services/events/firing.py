"""Scheduled rules fire: the leader finds the rules whose time has come, claims each firing in
storage (exactly once across processes and nodes) and sends EventBridge's "Scheduled Event"
to the rule's targets. Lambda functions are invoked asynchronously, as EventBridge does, only
if their resource policy lets events.amazonaws.com invoke them for this rule."""

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

log = logging.getLogger("strongroom.events")

SERVICE_PRINCIPAL = "events.amazonaws.com"
_BATCH = 100
_TARGETS_PER_RULE = 5
_LAMBDA_ARN = re.compile(r"arn:aws[\w-]*:lambda:([^:]*):([^:]*):function:(.+)")
_ACCOUNT = re.compile(r"[0-9]{12}")


class RuleFiring:
    def __init__(
        self, events: Events, functions: Lambda, clock: Clock, regions: frozenset[str]
    ) -> None:
        self._events = events
        self._functions = functions
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
        function_arn = target_function(target.arn, rule, self._regions)
        if function_arn is None:
            log.warning("rule %s: target %s is not a Lambda function", rule.arn, target.target_id)
            return
        given = json.loads(target.definition).get("Input")
        payload = json.loads(given) if given is not None else event
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
    region, account, name = match.groups()
    if not _ACCOUNT.fullmatch(account) or region not in regions:
        region, account = rule.region, rule.account_id
    return f"arn:aws:lambda:{region}:{account}:function:{name}"
