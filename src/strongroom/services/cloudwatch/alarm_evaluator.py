"""The alarm evaluator, a job of the leader: every alarm is evaluated once a minute, on the
minute (alarm_evaluation.py says how), and its notifications are handed to SNS.

Evaluation reads the alarm's metric (or Metrics) for the evaluation range that ends at the
minute just begun: a 5-minute alarm evaluated at 10:07 looks at 10:02-10:07, 9:57-10:02...
A state change and its notifications are stored in one transaction under a compare-and-set,
so a transition happens once across processes and nodes and its notifications survive a
crash; they reach SNS's durable outbox at the next tick (a crash between the two can repeat
one, never lose one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from strongroom.clock import Clock
from strongroom.protocol.errors import AwsError
from strongroom.services.cloudwatch import alarm_model as am
from strongroom.services.cloudwatch.alarm_evaluation import (
    EVALUATION_RANGE_EXTRA,
    INSUFFICIENT_DATA,
    Outcome,
    evaluate,
)
from strongroom.services.cloudwatch.alarms import (
    evaluation_interval,
    next_evaluation_after,
    state_change,
)
from strongroom.services.cloudwatch.service import CloudWatch
from strongroom.storage.cloudwatch_alarms import (
    AlarmRepository,
    NewHistoryItem,
    PendingAction,
    StoredAlarm,
)

log = logging.getLogger("strongroom.cloudwatch")

SERVICE_PRINCIPAL = "cloudwatch.amazonaws.com"
_BATCH = 500
# (account, Region, topic ARN, message, subject, service principal, source ARN) -> message id
Publish = Callable[[str, str, str, str, str | None, str, str], str]


class AlarmEvaluator:
    def __init__(
        self, cloudwatch: CloudWatch, store: AlarmRepository, publish: Publish, clock: Clock
    ) -> None:
        self._cloudwatch = cloudwatch
        self._store = store
        self._publish = publish
        self._clock = clock

    def evaluate_due(self) -> None:
        """Background job (the leader's, every tick): evaluate the alarms whose minute has
        come, then hand pending notifications to SNS."""
        now = self._clock.time()
        while True:
            due = self._store.due(now, _BATCH)
            for alarm in due:
                self._evaluate(alarm, now)
            if len(due) < _BATCH:
                break
        self._notify()

    def expire_history(self) -> None:
        self._store.expire_history(self._clock.time() - am.HISTORY_SECONDS)

    def _evaluate(self, alarm: StoredAlarm, now: float) -> None:
        next_evaluation = next_evaluation_after(alarm, now)
        try:
            # The evaluation range ends where the interval now under way began.
            end = next_evaluation - evaluation_interval(alarm)
            outcome, reason_data = self._outcome(alarm, end, now)
        except AwsError as error:  # e.g. a math expression that cannot be evaluated now
            outcome = Outcome(INSUFFICIENT_DATA, f"Error evaluating alarm: {error.message}", [])
            reason_data = None
        if outcome is None or outcome.state == alarm.state_value:
            self._store.reschedule(alarm, next_evaluation)
            return
        change = state_change(alarm, outcome.state, outcome.reason, reason_data, now)
        if not self._store.change_state(alarm, change, now, next_evaluation):
            log.info("alarm %s changed while it was evaluated; evaluated again", alarm.name)

    def _outcome(
        self, alarm: StoredAlarm, end: float, now: float
    ) -> tuple[Outcome | None, str | None]:
        rule = am.rule(alarm.definition)
        periods = rule.evaluation_periods + EVALUATION_RANGE_EXTRA
        start = int(end) - periods * rule.period
        queries = list(rule.queries)
        if rule.percentile is not None and rule.ignore_low_samples:
            (metric,) = queries
            samples = {**metric["MetricStat"], "Stat": "SampleCount"}
            queries.append({"Id": "samples", "MetricStat": samples, "ReturnData": False})
        series = self._cloudwatch.series(alarm.account_id, alarm.region, queries, start, int(end))
        values = dict(series[rule.result_id])
        starts = [start + k * rule.period for k in range(periods)]
        points = [(moment, values.get(moment)) for moment in starts]
        outcome = evaluate(
            points,
            rule.evaluation_periods,
            rule.datapoints_to_alarm,
            rule.comparison,
            rule.threshold,
            rule.treat_missing,
        )
        if outcome is not None and rule.percentile is not None and rule.ignore_low_samples:
            counts = dict(series["samples"])
            enough = _enough_samples(rule.percentile)
            if any(counts.get(moment, 0) < enough for moment, _ in outcome.evaluated):
                return None, None  # too few samples for this percentile: the state stays
        if outcome is None:
            return None, None
        return outcome, json.dumps(_reason_data(alarm, rule, outcome, start, now))

    def _notify(self) -> None:
        for action in self._store.pending_actions(_BATCH):
            source = am.alarm_arn(action.account_id, action.region, action.alarm_name)
            try:
                message_id = self._publish(
                    action.account_id,
                    action.region,
                    action.action_arn,
                    action.message,
                    action.subject,
                    SERVICE_PRINCIPAL,
                    source,
                )
            except AwsError as refused:  # no such topic, or its policy refuses CloudWatch
                log.warning(
                    "alarm %s: notifying %s failed: %s", source, action.action_arn, refused.code
                )
                self._store.action_done(action, self._clock.time(), _failed(action, refused))
                continue
            self._store.action_done(action, self._clock.time(), _succeeded(action, message_id))


def _enough_samples(percentile: float) -> float:
    """CloudWatch's low-sample bound: 10/(1-p) samples for p >= 0.5, 10/p below."""
    fraction = percentile / 100
    if fraction <= 0 or fraction >= 1:
        return 0.0
    # Rounded: 10 / (1 - 0.9) is 100.00000000000001 in binary floating point.
    return round(10 / (1 - fraction) if fraction >= 0.5 else 10 / fraction, 6)


def _reason_data(
    alarm: StoredAlarm, rule: am.AlarmRule, outcome: Outcome, start: int, now: float
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": am.timestamp(now),
        "startDate": am.timestamp(start),
    }
    if "Metrics" not in alarm.definition:
        data["statistic"] = alarm.definition.get("Statistic") or alarm.definition.get(
            "ExtendedStatistic"
        )
        if "Unit" in alarm.definition:
            data["unit"] = alarm.definition["Unit"]
    data |= {
        "period": rule.period,
        "recentDatapoints": [value for _, value in outcome.evaluated],
        "threshold": rule.threshold,
        "evaluatedDatapoints": [
            {"timestamp": am.timestamp(moment), "value": value}
            for moment, value in reversed(outcome.evaluated)
        ],
    }
    return data


def _succeeded(action: PendingAction, message_id: str) -> NewHistoryItem:
    data = {
        "actionState": "Succeeded",
        "notificationResource": action.action_arn,
        "publishedMessage": {"MessageId": message_id, "Subject": action.subject},
    }
    return NewHistoryItem(
        "Action", f"Successfully executed action {action.action_arn}", json.dumps(data)
    )


def _failed(action: PendingAction, error: AwsError) -> NewHistoryItem:
    data = {
        "actionState": "Failed",
        "notificationResource": action.action_arn,
        "error": error.code,
    }
    return NewHistoryItem(
        "Action",
        f'Failed to execute action {action.action_arn}. Received error: "{error.message}"',
        json.dumps(data),
    )
