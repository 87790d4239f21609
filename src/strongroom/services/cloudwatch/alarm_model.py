"""Metric alarms: what PutMetricAlarm accepts (checked as CloudWatch checks it), the rule an
alarm is evaluated by, and how alarms and their notifications look on the wire.

An alarm's definition is kept as PutMetricAlarm's members (those DescribeAlarms gives back);
`rule` reads it with CloudWatch's defaults. The source document's put-metric-alarm passes no
EvaluationPeriods, which botocore's current model allows: it defaults to 1 (and
DatapointsToAlarm to EvaluationPeriods), so that alarm is "Sum > 10 in one 5-minute period".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strongroom.config import region_names
from strongroom.services.cloudwatch import errors as e
from strongroom.services.cloudwatch import model
from strongroom.services.cloudwatch.alarm_evaluation import COMPARISONS, TREAT_MISSING

QueryCheck = Callable[[Sequence[Mapping[str, Any]]], dict[str, str]]
DEFAULT_EVALUATION_PERIODS = 1
MAX_EVALUATION_SECONDS = 24 * 3600  # EvaluationPeriods x Period
MAX_ALARM_METRICS = 10  # metrics of a math expression alarm
ALARM_PERIODS = (10, 30)  # besides multiples of 60
HISTORY_SECONDS = 14 * 24 * 3600  # "CloudWatch preserves alarm history for two weeks"
DESCRIBE_PAGE = 50
HISTORY_PAGE = 100
LOW_SAMPLE_MODES = ("evaluate", "ignore")
_SNS_ARN = re.compile(r"arn:aws[\w-]*:sns:([a-z0-9-]+):([0-9]{12}):([\w-]{1,256})")
# Members of PutMetricAlarm that make up the definition (the rest: name, tags, ActionsEnabled).
DEFINITION_MEMBERS = (
    "AlarmDescription",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
ACTION_LISTS = {
    "OK": "OKActions",
    "ALARM": "AlarmActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}


@dataclass(frozen=True)
class AlarmRule:
    """What an evaluation needs, with CloudWatch's defaults applied."""

    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing: str
    queries: list[dict[str, Any]]  # MetricDataQueries: the metric's or the alarm's Metrics
    result_id: str  # the query whose series is compared with the threshold
    percentile: float | None  # the ExtendedStatistic's, for low-sample handling
    ignore_low_samples: bool


def rule(definition: Mapping[str, Any]) -> AlarmRule:
    n = definition.get("EvaluationPeriods", DEFAULT_EVALUATION_PERIODS)
    metrics = definition.get("Metrics")
    if metrics:
        queries = [dict(q) for q in metrics]
        result_id = next(q["Id"] for q in queries if q.get("ReturnData", True))
        period = next(q["MetricStat"]["Period"] for q in queries if "MetricStat" in q)
    else:
        statistic = definition.get("Statistic") or definition["ExtendedStatistic"]
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": definition["Namespace"],
                "MetricName": definition["MetricName"],
                "Dimensions": definition.get("Dimensions", []),
            },
            "Period": definition["Period"],
            "Stat": statistic,
        }
        if "Unit" in definition:
            stat["Unit"] = definition["Unit"]
        queries = [{"Id": "m1", "MetricStat": stat, "ReturnData": True}]
        result_id, period = "m1", definition["Period"]
    extended = definition.get("ExtendedStatistic")
    return AlarmRule(
        period=period,
        evaluation_periods=n,
        datapoints_to_alarm=definition.get("DatapointsToAlarm", n),
        comparison=definition["ComparisonOperator"],
        threshold=definition["Threshold"],
        treat_missing=definition.get("TreatMissingData", "missing"),
        queries=queries,
        result_id=result_id,
        percentile=model.percentile_of(extended) if extended else None,
        ignore_low_samples=definition.get("EvaluateLowSampleCountPercentile") == "ignore",
    )


def checked_definition(
    params: Mapping[str, Any], region: str, check_queries: QueryCheck
) -> dict[str, Any]:
    """PutMetricAlarm's definition members, or CloudWatch's error for them.
    `check_queries(queries)` checks MetricDataQueries as GetMetricData does and gives each
    query's kind by Id ("TS": one time series)."""
    definition = {k: params[k] for k in DEFINITION_MEMBERS if params.get(k) is not None}
    for member in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        for arn in definition.get(member, ()):
            _check_action(arn, region)
    if "EvaluationCriteria" in params or "EvaluationInterval" in params:
        raise e.InvalidParameterValueException(
            "Strongroom evaluates metric and metric math alarms only: EvaluationCriteria and "
            "EvaluationInterval are not supported."
        )
    comparison = definition.get("ComparisonOperator")
    if comparison is None:
        raise e.MissingRequiredParameterException("The parameter ComparisonOperator is required.")
    if comparison not in COMPARISONS or "ThresholdMetricId" in definition:
        raise e.InvalidParameterValueException(
            "Strongroom does not evaluate anomaly detection alarms: ComparisonOperator "
            f"{comparison} and ThresholdMetricId are not supported."
        )
    if "Threshold" not in definition:
        raise e.MissingRequiredParameterException("The parameter Threshold is required.")
    if not model.valid_value(definition["Threshold"]):
        raise _invalid(definition["Threshold"], "Threshold")
    if definition.get("Metrics"):
        period = _check_metrics(definition, check_queries)
    else:
        period = _check_metric(definition)
    n = definition.get("EvaluationPeriods", DEFAULT_EVALUATION_PERIODS)
    if n * period > MAX_EVALUATION_SECONDS:
        raise e.ValidationError(
            "The evaluation period (EvaluationPeriods * Period) must not exceed 86400 seconds."
        )
    if definition.get("DatapointsToAlarm", n) > n:
        raise e.ValidationError(
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods."
        )
    treat = definition.get("TreatMissingData")
    if treat is not None and treat not in TREAT_MISSING:
        raise e.ValidationError(
            f"Option unknown: {treat}. Valid options are: breaching, notBreaching, ignore, missing."
        )
    low = definition.get("EvaluateLowSampleCountPercentile")
    if low is not None:
        if low not in LOW_SAMPLE_MODES:
            raise e.ValidationError(f"Option unknown: {low}. Valid options are: evaluate, ignore.")
        if "ExtendedStatistic" not in definition:
            raise e.ValidationError(
                "EvaluateLowSampleCountPercentile can only be used with a percentile "
                "ExtendedStatistic."
            )
    return definition


def _check_metric(definition: Mapping[str, Any]) -> int:
    for member in ("MetricName", "Namespace", "Period"):
        if member not in definition:
            raise e.MissingRequiredParameterException(f"The parameter {member} is required.")
    statistics = [m for m in ("Statistic", "ExtendedStatistic") if m in definition]
    if len(statistics) != 1:
        raise e.InvalidParameterCombinationException(
            "Exactly one of Statistic and ExtendedStatistic must be specified."
        )
    extended = definition.get("ExtendedStatistic")
    if extended is not None and model.percentile_of(extended) is None:
        raise e.InvalidParameterValueException(
            f"The value {extended} for parameter ExtendedStatistic is not supported."
        )
    names = [d["Name"] for d in definition.get("Dimensions", ())]
    if len(set(names)) != len(names):
        raise e.InvalidParameterValueException("No metric may have duplicate dimension names.")
    _check_period(definition["Period"])
    return int(definition["Period"])


def _check_metrics(definition: Mapping[str, Any], check_queries: QueryCheck) -> int:
    single = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period")
    given = [m for m in single if m in definition]
    if given:
        raise e.InvalidParameterCombinationException(
            f"The parameters Metrics and {given[0]} are mutually exclusive and you have "
            "specified both."
        )
    queries: Sequence[Mapping[str, Any]] = definition["Metrics"]
    returned = [q["Id"] for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise e.ValidationError("Exactly one element of the metrics list should return data.")
    stats = [q for q in queries if "MetricStat" in q]
    if len(stats) > MAX_ALARM_METRICS:
        raise e.ValidationError(
            f"The Metrics list of an alarm may hold at most {MAX_ALARM_METRICS} metrics."
        )
    if not stats:
        raise e.ValidationError("Metrics list must contain at least one metric (MetricStat).")
    periods = {q["MetricStat"]["Period"] for q in stats}
    if len(periods) != 1:
        raise e.ValidationError("All metrics in an alarm must have the same period.")
    if check_queries(queries).get(returned[0]) != "TS":
        raise e.ValidationError(
            f"The expression of {returned[0]} must give one time series, not an array of them."
        )
    period = periods.pop()
    _check_period(period)
    return int(period)


def _check_period(period: int) -> None:
    if period not in ALARM_PERIODS and period % 60 != 0:
        raise e.ValidationError("Period must be 10, 30 or a multiple of 60.")


def _check_action(arn: str, region: str) -> None:
    matched = _SNS_ARN.fullmatch(arn)
    if matched is None:
        raise e.ValidationError(
            f"Invalid action: {arn}. Strongroom's alarms notify SNS topics "
            "(arn:aws:sns:REGION:ACCOUNT:TOPIC)."
        )
    if matched.group(1) != region:
        raise e.ValidationError(
            f"Invalid region {matched.group(1)} specified. Only {region} is supported."
        )


def _invalid(value: object, parameter: str) -> e.InvalidParameterValueException:
    return e.InvalidParameterValueException(
        f"The value {value} for parameter {parameter} is invalid."
    )


def alarm_arn(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


def timestamp(seconds: float) -> str:
    """ISO 8601 as alarm notifications and history data write it."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def notification(
    alarm: Mapping[str, Any],
    definition: Mapping[str, Any],
    old_state: str,
    changed_at: float,
) -> tuple[str, str]:
    """(subject, message) of the SNS notification for an alarm's state change, as CloudWatch
    sends it. `alarm` is the alarm on the wire (MetricAlarm), after the change."""
    region, account_id = alarm["AlarmArn"].split(":")[3:5]
    region_name = region_names().get(region, region)
    message: dict[str, Any] = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": definition.get("AlarmDescription"),
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": timestamp(
            alarm["AlarmConfigurationUpdatedTimestamp"].timestamp()
        ),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm["StateReason"],
        "StateChangeTime": timestamp(changed_at),
        "Region": region_name,
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "OKActions": definition.get("OKActions", []),
        "AlarmActions": definition.get("AlarmActions", []),
        "InsufficientDataActions": definition.get("InsufficientDataActions", []),
        "Trigger": _trigger(definition),
    }
    subject = f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {region_name}'
    return subject[:100], json.dumps(message)


def _trigger(definition: Mapping[str, Any]) -> dict[str, Any]:
    trigger: dict[str, Any] = {}
    if "Metrics" in definition:
        trigger["Metrics"] = [_lower_keys(q) for q in definition["Metrics"]]
    else:
        extended = definition.get("ExtendedStatistic")
        trigger |= {
            "MetricName": definition["MetricName"],
            "Namespace": definition["Namespace"],
            "StatisticType": "ExtendedStatistic" if extended else "Statistic",
            "Statistic": extended or definition["Statistic"].upper(),
            "Unit": definition.get("Unit"),
            "Dimensions": [
                {"value": d["Value"], "name": d["Name"]} for d in definition.get("Dimensions", [])
            ],
            "Period": definition["Period"],
        }
    n = definition.get("EvaluationPeriods", DEFAULT_EVALUATION_PERIODS)
    return trigger | {
        "EvaluationPeriods": n,
        "DatapointsToAlarm": definition.get("DatapointsToAlarm", n),
        "ComparisonOperator": definition["ComparisonOperator"],
        "Threshold": definition["Threshold"],
        "TreatMissingData": definition.get("TreatMissingData", ""),
        "EvaluateLowSampleCountPercentile": definition.get("EvaluateLowSampleCountPercentile", ""),
    }


def _lower_keys(value: Any) -> Any:
    """Metric queries as notifications spell them (id, metricStat, returnData...)."""
    if isinstance(value, Mapping):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value
