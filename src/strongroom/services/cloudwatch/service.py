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
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from strongroom.clock import Clock
from strongroom.services.cloudwatch import errors as e
from strongroom.services.cloudwatch import metric_queries, model
from strongroom.services.cloudwatch.alarms import Alarms
from strongroom.services.cloudwatch.metric_math import Series
from strongroom.services.cloudwatch.model import Aggregate
from strongroom.services.context import RequestContext
from strongroom.storage.cloudwatch import CloudWatchRepository, Contribution, MetricId
from strongroom.storage.cloudwatch_alarms import AlarmRepository

_Key = tuple[MetricId, str, int, int]  # metric, unit, resolution, period start


def _invalid(value: object, parameter: str) -> e.InvalidParameterValueException:
    return e.InvalidParameterValueException(
        f"The value {value} for parameter {parameter} is invalid."
    )


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


class CloudWatch(Alarms):
    def __init__(
        self, repository: CloudWatchRepository, alarms: AlarmRepository, clock: Clock
    ) -> None:
        self._repository = repository
        self._alarm_store = alarms
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
        """One value (seen `count` times) of a metric, from Strongroom itself (see put_data)."""
        datum = model.Datum(namespace, name, dimensions, value, unit, timestamp, count)
        self.put_data(account_id, region, [datum])

    def put_data(self, account_id: str, region: str, data: Iterable[model.Datum]) -> None:
        """Values of metrics from Strongroom itself, stored in one transaction, each in its
        minute: no checks beyond the values'; any namespace, AWS/ ones included."""
        now = self._clock.time()
        aggregates: dict[_Key, Aggregate] = {}
        for datum in data:
            moment = now if datum.timestamp is None else datum.timestamp
            metric = MetricId(datum.namespace, datum.name, model.dimensions_key(datum.dimensions))
            key = (metric, datum.unit, 60, int(moment // 60 * 60))
            aggregates.setdefault(key, Aggregate()).add_values([(datum.value, datum.count)])
        if aggregates:
            self._repository.put(account_id, region, _contributions(aggregates), now)

    def minutes_with_data(
        self, account_id: str, region: str, namespace: str, name: str, start: int, end: int
    ) -> set[int]:
        """The starts of the minutes in [start, end) in which the metric (the one without
        dimensions) holds a value."""
        metric = MetricId(namespace, name, model.dimensions_key({}))
        row = self._repository.find(account_id, region, metric)
        if row is None:
            return set()
        return {moment for moment, _, _ in self._repository.datapoints(row, 60, start, end, None)}

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
        self._repository.put(ctx.account_id, ctx.region, _contributions(aggregates), now)
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
        periods = self._periods(ctx.account_id, ctx.region, metric, start, end, Period, Unit)
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
        account_id: str,
        region: str,
        metric: MetricId,
        start: int,
        end: int,
        period: int,
        unit: str | None,
    ) -> dict[tuple[int, str], Aggregate]:
        """Each period's aggregate (by period start and unit) of a metric in [start, end)."""
        row = self._repository.find(account_id, region, metric)
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

    @staticmethod
    def check_queries(queries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """MetricDataQueries checked as GetMetricData checks them, before any data is read
        (PutMetricAlarm's Metrics: an alarm's own rules, as its one ReturnData query, are the
        alarm's to check); each query's kind by Id: a series ("TS") or an array ("TS[]")."""
        return {query.id: query.kind for query in _plan(queries).queries}

    def series(
        self,
        account_id: str,
        region: str,
        queries: Sequence[Mapping[str, Any]],
        start: float,
        end: float,
    ) -> dict[str, list[tuple[int, float]]]:
        """Every query's points (period start, value) in [start, end), oldest first, as
        GetMetricData computes them; an expression whose value is an array of series (as
        METRICS()) has no entry. Raises GetMetricData's errors."""
        outcomes = self._outcomes(account_id, region, _plan(queries), start, end)
        return {
            query_id: outcome.value.ordered()
            for query_id, outcome in outcomes.items()
            if isinstance(outcome.value, Series)
        }

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
        # LabelOptions' Timezone matters to dynamic labels only, which are not expanded.
        planned = _plan(MetricDataQueries)
        limit = metric_queries.MAX_DATAPOINTS if MaxDatapoints is None else MaxDatapoints
        if limit < 1:
            raise _invalid(MaxDatapoints, "MaxDatapoints")
        descending = ScanBy != "TimestampAscending"
        request = {"q": MetricDataQueries, "s": StartTime, "e": EndTime, "d": descending}
        signature = metric_queries.fingerprint(request)
        position = None
        if NextToken is not None:
            position = metric_queries.position_of(NextToken, signature)
        outcomes = self._outcomes(
            ctx.account_id, ctx.region, planned, _seconds(StartTime), _seconds(EndTime)
        )
        answer = metric_queries.results(planned, outcomes, descending)
        shown, following = metric_queries.page(
            answer, descending, limit, position, resumable=not planned.has_expression
        )
        output: dict[str, Any] = {"MetricDataResults": [_result(r) for r in shown]}
        if following is not None:
            output["NextToken"] = metric_queries.token(following, signature)
        output["Messages"] = []
        return output

    def _outcomes(
        self,
        account_id: str,
        region: str,
        planned: metric_queries.Plan,
        start: float,
        end: float,
    ) -> dict[str, metric_queries.Outcome]:
        if start >= end:
            raise e.InvalidParameterValueException(
                "The parameter StartTime must be less than the parameter EndTime."
            )

        def points_of(stat: Mapping[str, Any]) -> dict[int, float]:
            return self._stat_points(account_id, region, stat, start, end)

        return metric_queries.evaluate(planned, points_of, start, end)

    def _stat_points(
        self, account_id: str, region: str, stat: Mapping[str, Any], start: float, end: float
    ) -> dict[int, float]:
        """A MetricStat's value for each period of [start, end) that holds data."""
        period, name, metric = stat["Period"], stat["Stat"], stat["Metric"]
        first, stop = model.window(start, end, period)
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", ())}
        key = MetricId(metric["Namespace"], metric["MetricName"], model.dimensions_key(dimensions))
        periods = self._periods(account_id, region, key, first, stop, period, stat.get("Unit"))
        merged: dict[int, Aggregate] = {}
        for (moment, _unit), aggregate in periods.items():
            merged.setdefault(moment, Aggregate()).merge(aggregate)
        return {
            moment: value
            for moment, aggregate in merged.items()
            if (value := aggregate.statistic(name)) is not None
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


def _contributions(aggregates: Mapping[_Key, Aggregate]) -> list[Contribution]:
    return [Contribution(*key, aggregate) for key, aggregate in aggregates.items()]


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
    return model.window(start, end, period)


def _plan(queries: Sequence[Mapping[str, Any]]) -> metric_queries.Plan:
    """The plan of GetMetricData's queries, each MetricStat's and Period checked too."""
    planned = metric_queries.plan(queries)
    for query, given in zip(planned.queries, queries, strict=True):
        if query.stat is not None:
            _check_stat(query.path, query.stat)
        elif "Period" in given:
            _check_period(given["Period"], f"{query.path}.Period")
    return planned


def _check_stat(path: str, stat: Mapping[str, Any]) -> None:
    _check_period(stat["Period"], f"{path}.MetricStat.Period")
    if stat["Stat"] not in model.STATISTICS and model.percentile_of(stat["Stat"]) is None:
        raise _invalid(stat["Stat"], f"{path}.MetricStat.Stat")
    if "Namespace" not in stat["Metric"] or "MetricName" not in stat["Metric"]:
        raise e.MissingRequiredParameterException(
            f"The parameter {path}.MetricStat.Metric.MetricName is required."
        )


def _result(result: metric_queries.Result) -> dict[str, Any]:
    """A MetricDataResult on the wire."""
    wire: dict[str, Any] = {
        "Id": result.id,
        "Label": result.label,
        "Timestamps": [datetime.fromtimestamp(t, UTC) for t, _ in result.points],
        "Values": [v for _, v in result.points],
        "StatusCode": "Complete" if result.complete else "PartialData",
    }
    if result.messages:
        wire["Messages"] = list(result.messages)
    return wire


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
