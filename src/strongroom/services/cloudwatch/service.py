"""Amazon CloudWatch metrics: PutMetricData, GetMetricStatistics, GetMetricData (metric
queries) and ListMetrics, per account and Region, and `put_datum` for what Strongroom itself
measures (metric filters, its own metrics).

Datapoints are kept per minute, and per second for high-resolution data (StorageResolution
1), as count, sum, minimum, maximum and a sketch for percentiles (model.py). Metrics have no
ARNs: every operation is authorized as `cloudwatch:<Operation>` on "*" (auth/targets.py).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from strongroom.clock import Clock
from strongroom.services.cloudwatch import errors as e
from strongroom.services.cloudwatch import model
from strongroom.services.cloudwatch.model import Aggregate
from strongroom.services.context import RequestContext
from strongroom.storage.cloudwatch import CloudWatchRepository, Contribution, MetricId

_Key = tuple[MetricId, str, int, int]  # metric, unit, resolution, period start


def _invalid(value: object, parameter: str) -> e.InvalidParameterValueException:
    return e.InvalidParameterValueException(
        f"The value {value} for parameter {parameter} is invalid."
    )


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


class CloudWatch:
    def __init__(self, repository: CloudWatchRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    # In process

    def put_datum(
        self,
        account_id: str,
        region: str,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        value: float,
        unit: str = model.NO_UNIT,
        timestamp: float | None = None,
        count: float = 1.0,
    ) -> None:
        """One value (seen `count` times) of a metric, from Strongroom itself: no checks
        beyond the value's; any namespace, AWS/ ones included."""
        moment = self._clock.time() if timestamp is None else timestamp
        aggregate = Aggregate()
        aggregate.add_values([(value, count)])
        metric = MetricId(namespace, name, model.dimensions_key(dimensions))
        period = int(moment // 60 * 60)
        contribution = Contribution(metric, unit, 60, period, aggregate)
        self._repository.put(account_id, region, [contribution], self._clock.time())

    # PutMetricData

    def put_metric_data(
        self,
        ctx: RequestContext,
        Namespace: str,
        MetricData: Sequence[Mapping[str, Any]] | None = None,
        EntityMetricData: Sequence[Mapping[str, Any]] | None = None,
        StrictEntityValidation: bool | None = None,
    ) -> dict[str, Any]:
        if Namespace.startswith("AWS/"):
            raise _invalid(Namespace, "Namespace")
        data = [(f"MetricData.member.{i}", d) for i, d in enumerate(MetricData or (), 1)]
        for i, entity in enumerate(EntityMetricData or (), 1):
            prefix = f"EntityMetricData.member.{i}.MetricData.member"
            data += [(f"{prefix}.{j}", d) for j, d in enumerate(entity.get("MetricData", ()), 1)]
        if not data:
            raise e.MissingRequiredParameterException("The parameter MetricData is required.")
        if len(MetricData or ()) > model.MAX_METRIC_DATA:
            raise e.InvalidParameterValueException(
                "The collection MetricData must not have a size greater than 1000."
            )
        now = self._clock.time()
        aggregates: dict[_Key, Aggregate] = {}
        for path, datum in data:
            self._add_datum(aggregates, Namespace, path, datum, now)
        contributions = [
            Contribution(metric, unit, resolution, start, aggregate)
            for (metric, unit, resolution, start), aggregate in aggregates.items()
        ]
        self._repository.put(ctx.account_id, ctx.region, contributions, now)
        return {}

    def _add_datum(
        self,
        aggregates: dict[_Key, Aggregate],
        namespace: str,
        path: str,
        datum: Mapping[str, Any],
        now: float,
    ) -> None:
        aggregate = _datum_aggregate(path, datum)
        moment = _seconds(datum["Timestamp"]) if "Timestamp" in datum else now
        if moment < now - model.PAST_LIMIT:
            raise e.InvalidParameterValueException(
                f"The parameter {path}.Timestamp must specify a time within the past two weeks."
            )
        if moment > now + model.FUTURE_LIMIT:
            raise e.InvalidParameterValueException(
                f"The parameter {path}.Timestamp must specify a time no more than two hours "
                "in the future."
            )
        resolution = datum.get("StorageResolution", 60)
        if resolution not in (1, 60):
            raise _invalid(resolution, f"{path}.StorageResolution")
        dimensions: dict[str, str] = {}
        for dimension in datum.get("Dimensions", ()):
            if dimension["Name"] in dimensions:
                raise e.InvalidParameterValueException(
                    f"No metric may have duplicate dimension names: {path}.Dimensions "
                    f"names {dimension['Name']} twice."
                )
            dimensions[dimension["Name"]] = dimension["Value"]
        metric = MetricId(namespace, datum["MetricName"], model.dimensions_key(dimensions))
        unit = datum.get("Unit", model.NO_UNIT)
        for step in {60, resolution}:
            key = (metric, unit, step, int(moment // step * step))
            aggregates.setdefault(key, Aggregate()).merge(aggregate)

    # GetMetricStatistics

    def get_metric_statistics(
        self,
        ctx: RequestContext,
        Namespace: str,
        MetricName: str,
        StartTime: datetime,
        EndTime: datetime,
        Period: int,
        Dimensions: Sequence[Mapping[str, str]] | None = None,
        Statistics: Sequence[str] | None = None,
        ExtendedStatistics: Sequence[str] | None = None,
        Unit: str | None = None,
    ) -> dict[str, Any]:
        if not Statistics and not ExtendedStatistics:
            raise e.MissingRequiredParameterException(
                "Must specify either Statistics or ExtendedStatistics."
            )
        if Statistics and ExtendedStatistics:
            raise e.InvalidParameterCombinationException(
                "Must specify either Statistics or ExtendedStatistics, but not both."
            )
        for statistic in ExtendedStatistics or ():
            if model.percentile_of(statistic) is None:
                raise _invalid(statistic, "ExtendedStatistics")
        _check_period(Period, "Period")
        start, end = _window(StartTime, EndTime, Period)
        count = math.ceil((_seconds(EndTime) - _seconds(StartTime)) / Period)
        if count > model.MAX_DATAPOINTS:
            raise e.InvalidParameterCombinationException(
                f"You have requested up to {count:,} datapoints, which exceeds the limit of "
                "1,440. You may reduce the datapoints requested by increasing Period, or "
                "decreasing the time range."
            )
        dimensions = {d["Name"]: d["Value"] for d in Dimensions or ()}
        metric = MetricId(Namespace, MetricName, model.dimensions_key(dimensions))
        periods = self._periods(ctx, metric, start, end, Period, Unit)
        datapoints = []
        for (period_start, unit), aggregate in sorted(periods.items()):
            point: dict[str, Any] = {
                "Timestamp": datetime.fromtimestamp(period_start, UTC),
                "Unit": unit,
            }
            for statistic in Statistics or ():
                point[statistic] = aggregate.statistic(statistic)
            extended = {}
            for statistic in ExtendedStatistics or ():
                value = aggregate.statistic(statistic)
                if value is not None:
                    extended[statistic] = value
            if ExtendedStatistics:
                point["ExtendedStatistics"] = extended
            datapoints.append(point)
        return {"Label": MetricName, "Datapoints": datapoints}

    def _periods(
        self,
        ctx: RequestContext,
        metric: MetricId,
        start: int,
        end: int,
        period: int,
        unit: str | None,
    ) -> dict[tuple[int, str], Aggregate]:
        """Each period's aggregate (by period start and unit) of a metric in [start, end)."""
        row = self._repository.find(ctx.account_id, ctx.region, metric)
        periods: dict[tuple[int, str], Aggregate] = {}
        if row is None:
            return periods
        resolution = 60 if period % 60 == 0 else 1
        for moment, row_unit, aggregate in self._repository.datapoints(
            row, resolution, start, end, unit
        ):
            bucket = start + (moment - start) // period * period
            periods.setdefault((bucket, row_unit), Aggregate()).merge(aggregate)
        return periods

    # GetMetricData

    def get_metric_data(
        self,
        ctx: RequestContext,
        MetricDataQueries: Sequence[Mapping[str, Any]],
        StartTime: datetime,
        EndTime: datetime,
        NextToken: str | None = None,
        ScanBy: str | None = None,
        MaxDatapoints: int | None = None,
        LabelOptions: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if NextToken is not None:  # every answer is whole: no token was ever given out
            raise e.InvalidNextToken(
                "The service returned an error with Error Code InvalidNextToken."
            )
        if len(MetricDataQueries) > model.MAX_QUERIES:
            raise e.InvalidParameterValueException(
                "The collection MetricDataQueries must not have a size greater than 500."
            )
        ids = [q["Id"] for q in MetricDataQueries]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise e.InvalidParameterValueException(
                f"The value {duplicates[0]} for parameter MetricDataQueries.Id is not unique."
            )
        results = []
        for index, query in enumerate(MetricDataQueries, 1):
            path = f"MetricDataQueries.member.{index}"
            stat = query.get("MetricStat")
            if stat is None or "Expression" in query:
                if "Expression" in query and stat is not None:
                    raise e.InvalidParameterCombinationException(
                        f"The parameters {path}.MetricStat and {path}.Expression are mutually "
                        "exclusive and you have specified both."
                    )
                if "Expression" not in query:
                    raise e.MissingRequiredParameterException(
                        f"The parameter {path}.MetricStat or {path}.Expression is required."
                    )
                raise e.InvalidParameterValueException(
                    f"Strongroom does not evaluate metric math yet: {path}.Expression."
                )
            result = self._metric_stat(ctx, path, query, stat, StartTime, EndTime, ScanBy)
            if query.get("ReturnData", True):
                results.append(result)
        return {"MetricDataResults": results, "Messages": []}

    def _metric_stat(
        self,
        ctx: RequestContext,
        path: str,
        query: Mapping[str, Any],
        stat: Mapping[str, Any],
        start_time: datetime,
        end_time: datetime,
        scan_by: str | None,
    ) -> dict[str, Any]:
        period = stat["Period"]
        _check_period(period, f"{path}.MetricStat.Period")
        name = stat["Stat"]
        if name not in model.STATISTICS and model.percentile_of(name) is None:
            raise _invalid(name, f"{path}.MetricStat.Stat")
        start, end = _window(start_time, end_time, period)
        metric = stat["Metric"]
        if "Namespace" not in metric or "MetricName" not in metric:
            raise e.MissingRequiredParameterException(
                f"The parameter {path}.MetricStat.Metric.MetricName is required."
            )
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", ())}
        key = MetricId(metric["Namespace"], metric["MetricName"], model.dimensions_key(dimensions))
        periods = self._periods(ctx, key, start, end, period, stat.get("Unit"))
        merged: dict[int, Aggregate] = {}
        for (moment, _unit), aggregate in periods.items():
            merged.setdefault(moment, Aggregate()).merge(aggregate)
        points = [
            (moment, value)
            for moment, aggregate in merged.items()
            if (value := aggregate.statistic(name)) is not None
        ]
        points.sort(reverse=scan_by != "TimestampAscending")
        return {
            "Id": query["Id"],
            "Label": query.get("Label", metric["MetricName"]),
            "Timestamps": [datetime.fromtimestamp(t, UTC) for t, _ in points],
            "Values": [v for _, v in points],
            "StatusCode": "Complete",
        }

    # ListMetrics

    def list_metrics(
        self,
        ctx: RequestContext,
        Namespace: str | None = None,
        MetricName: str | None = None,
        Dimensions: Sequence[Mapping[str, str]] | None = None,
        NextToken: str | None = None,
        RecentlyActive: str | None = None,
        IncludeLinkedAccounts: bool | None = None,
        OwningAccount: str | None = None,
    ) -> dict[str, Any]:
        after = _list_position(NextToken) if NextToken is not None else 0
        if OwningAccount is not None and OwningAccount != ctx.account_id:
            return {"Metrics": []}  # no linked accounts: no other account's metrics
        filters = [(d["Name"], d.get("Value")) for d in Dimensions or ()]
        active_since = self._clock.time() - model.RECENT if RecentlyActive else None
        found: list[dict[str, Any]] = []
        while len(found) < model.LIST_PAGE:
            batch = self._repository.metrics(
                ctx.account_id, ctx.region, Namespace, MetricName, after, active_since, 1000
            )
            if not batch:
                after = 0
                break
            for metric in batch:
                after = metric.row_id
                if _matches(metric.dimensions, filters):
                    found.append(
                        {
                            "Namespace": metric.namespace,
                            "MetricName": metric.name,
                            "Dimensions": [{"Name": n, "Value": v} for n, v in metric.dimensions],
                        }
                    )
                    if len(found) == model.LIST_PAGE:
                        break
        result: dict[str, Any] = {"Metrics": found}
        if after and len(found) == model.LIST_PAGE:
            result["NextToken"] = base64.urlsafe_b64encode(f"m{after}".encode()).decode()
        if IncludeLinkedAccounts:
            result["OwningAccounts"] = [ctx.account_id] * len(found)
        return result


def _datum_aggregate(path: str, datum: Mapping[str, Any]) -> Aggregate:
    """What one MetricDatum says, checked as AWS checks it."""
    given = [k for k in ("Value", "StatisticValues", "Values") if k in datum]
    if len(given) > 1:
        raise e.InvalidParameterCombinationException(
            f"The parameters {path}.{given[0]} and {path}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    aggregate = Aggregate()
    if "StatisticValues" in datum:
        stats = datum["StatisticValues"]
        for member in ("SampleCount", "Sum", "Minimum", "Maximum"):
            if not model.valid_value(stats[member]):
                raise _invalid(stats[member], f"{path}.StatisticValues.{member}")
        if stats["SampleCount"] <= 0:
            raise _invalid(stats["SampleCount"], f"{path}.StatisticValues.SampleCount")
        if stats["Minimum"] > stats["Maximum"]:
            raise e.InvalidParameterValueException(
                f"The parameter {path}.StatisticValues.Minimum must be less than or equal to "
                f"the parameter {path}.StatisticValues.Maximum."
            )
        aggregate.add_statistics(
            stats["SampleCount"], stats["Sum"], stats["Minimum"], stats["Maximum"]
        )
        return aggregate
    if "Values" in datum:
        values = datum["Values"]
        counts = datum.get("Counts")
        if len(values) > model.MAX_VALUES:
            raise e.InvalidParameterValueException(
                f"The collection {path}.Values must not have a size greater than 150."
            )
        if counts is not None and len(counts) != len(values):
            raise e.InvalidParameterValueException(
                f"The parameters {path}.Values and {path}.Counts must be of the same size."
            )
        for i, value in enumerate(values, 1):
            if not model.valid_value(value):
                raise _invalid(value, f"{path}.Values.member.{i}")
        for i, count in enumerate(counts or (), 1):
            if not model.valid_value(count) or count < 0:
                raise _invalid(count, f"{path}.Counts.member.{i}")
        aggregate.add_values(zip(values, counts or [1.0] * len(values), strict=True))
        return aggregate
    if "Counts" in datum:
        raise e.MissingRequiredParameterException(f"The parameter {path}.Values is required.")
    if "Value" not in datum:
        raise e.MissingRequiredParameterException(
            f"The parameter {path}.Value, {path}.Values or {path}.StatisticValues is required."
        )
    if not model.valid_value(datum["Value"]):
        raise _invalid(datum["Value"], f"{path}.Value")
    aggregate.add_values([(datum["Value"], 1.0)])
    return aggregate


def _check_period(period: int, parameter: str) -> None:
    if period <= 0 or (period % 60 != 0 and period not in model.HIGH_RESOLUTION_PERIODS):
        raise e.InvalidParameterValueException(
            f"The parameter {parameter} must be a multiple of 60."
        )


def _window(start_time: datetime, end_time: datetime, period: int) -> tuple[int, int]:
    """[start, end) in whole seconds, the start on a boundary of the data's resolution."""
    start, end = _seconds(start_time), _seconds(end_time)
    if start >= end:
        raise e.InvalidParameterValueException(
            "The parameter StartTime must be less than the parameter EndTime."
        )
    resolution = 60 if period % 60 == 0 else 1
    return int(start // resolution * resolution), int(end)


def _list_position(token: str) -> int:
    """The last metric row of the previous page, from its NextToken."""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if text[:1] == "m" and text[1:].isdigit():
            return int(text[1:])
    except (binascii.Error, ValueError, UnicodeError):
        pass
    raise _invalid(token, "NextToken")


def _matches(
    dimensions: Sequence[tuple[str, str]], filters: Sequence[tuple[str, str | None]]
) -> bool:
    have = dict(dimensions)
    return all(name in have and (value is None or have[name] == value) for name, value in filters)
