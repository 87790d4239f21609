"""CloudWatch metrics and their datapoints (see schema.py: append-only contributions).

A PutMetricData is one transaction: its metrics are upserted (their `last_put` moved on) and
one row per metric, unit, resolution and period it touched is added.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from strongroom.services.cloudwatch.model import Aggregate, stored
from strongroom.storage.schema import cw_datapoints, cw_metrics

MINUTE, HOUR = 60, 3600  # resolutions of stored contributions (besides 1 s)


@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dimensions: str  # model.dimensions_key

    def identity(self, account_id: str, region: str) -> str:
        text = json.dumps([account_id, region, self.namespace, self.name, self.dimensions])
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Contribution:
    metric: MetricId
    unit: str
    resolution: int
    period_start: int
    aggregate: Aggregate


@dataclass(frozen=True)
class StoredMetric:
    row_id: int
    namespace: str
    name: str
    dimensions: list[tuple[str, str]]


class CloudWatchRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(
        self, account_id: str, region: str, contributions: Sequence[Contribution], now: float
    ) -> None:
        metrics = {c.metric for c in contributions}
        with self._engine.begin() as connection:
            ids = {m: self._upsert(connection, account_id, region, m, now) for m in metrics}
            rows = [
                _row(ids[c.metric], c.resolution, c.period_start, c.unit, c.aggregate)
                for c in contributions
            ]
            if rows:
                connection.execute(sa.insert(cw_datapoints), rows)

    def _upsert(
        self, connection: Connection, account_id: str, region: str, metric: MetricId, now: float
    ) -> int:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(cw_metrics).values(
            identity=metric.identity(account_id, region),
            account_id=account_id,
            region=region,
            namespace=metric.namespace,
            metric_name=metric.name,
            dimensions=metric.dimensions,
            last_put=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[cw_metrics.c.identity],
            set_={"last_put": sa.func.max(cw_metrics.c.last_put, statement.excluded.last_put)}
            if connection.dialect.name == "sqlite"
            else {"last_put": sa.func.greatest(cw_metrics.c.last_put, statement.excluded.last_put)},
        ).returning(cw_metrics.c.id)
        return int(connection.execute(statement).scalar_one())

    def find(self, account_id: str, region: str, metric: MetricId) -> int | None:
        with self._engine.connect() as connection:
            found = connection.execute(
                sa.select(cw_metrics.c.id).where(
                    cw_metrics.c.identity == metric.identity(account_id, region)
                )
            ).scalar()
        return int(found) if found is not None else None

    def owners(self, namespace: str, name: str) -> list[tuple[str, str]]:
        """The accounts and Regions that have a metric of this namespace and name."""
        m = cw_metrics.c
        query = (
            sa.select(m.account_id, m.region)
            .where(m.namespace == namespace, m.metric_name == name)
            .distinct()
        )
        with self._engine.connect() as connection:
            return [(account, region) for account, region in connection.execute(query)]

    def datapoints(
        self, metric_row: int, resolution: int, start: int, end: int, unit: str | None
    ) -> Iterator[tuple[int, str, Aggregate]]:
        """(period start, unit, aggregate) of each stored contribution in [start, end): of
        the resolution asked for, and for minutes also the hours minute data was rolled up
        into once it aged (see `roll_up`)."""
        resolutions = (MINUTE, HOUR) if resolution == MINUTE else (resolution,)
        query = sa.select(
            cw_datapoints.c.period_start,
            cw_datapoints.c.unit,
            cw_datapoints.c.sample_count,
            cw_datapoints.c.sum,
            cw_datapoints.c.minimum,
            cw_datapoints.c.maximum,
            cw_datapoints.c.sketch,
        ).where(
            cw_datapoints.c.metric_id == metric_row,
            cw_datapoints.c.resolution.in_(resolutions),
            cw_datapoints.c.period_start >= start,
            cw_datapoints.c.period_start < end,
        )
        if unit is not None:
            query = query.where(cw_datapoints.c.unit == unit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        for period, row_unit, count, total, low, high, sketch in rows:
            yield int(period), str(row_unit), stored(count, total, low, high, sketch)

    # Retention

    def roll_up(self, before: int, limit: int) -> int:
        """Fold up to `limit` minute contributions older than `before` into hourly ones (one
        per metric, unit and hour of the batch), in one transaction; how many were folded."""
        d = cw_datapoints.c
        with self._engine.begin() as connection:
            rows = connection.execute(
                sa.select(
                    d.id,
                    d.metric_id,
                    d.unit,
                    d.period_start,
                    d.sample_count,
                    d.sum,
                    d.minimum,
                    d.maximum,
                    d.sketch,
                )
                .where(d.resolution == MINUTE, d.period_start < before)
                .order_by(d.id)
                .limit(limit)
            ).all()
            hours: dict[tuple[int, str, int], Aggregate] = {}
            for _, metric, unit, start, count, total, low, high, sketch in rows:
                key = (metric, unit, start // HOUR * HOUR)
                hours.setdefault(key, Aggregate()).merge(stored(count, total, low, high, sketch))
            if hours:
                connection.execute(
                    sa.insert(cw_datapoints),
                    [
                        _row(metric, HOUR, start, unit, a)
                        for (metric, unit, start), a in hours.items()
                    ],
                )
                connection.execute(sa.delete(cw_datapoints).where(d.id.in_([r.id for r in rows])))
        return len(rows)

    def expire(self, resolution: int, before: int) -> int:
        """Delete the contributions of this resolution older than `before`; how many."""
        d = cw_datapoints.c
        with self._engine.begin() as connection:
            return int(
                connection.execute(
                    sa.delete(cw_datapoints).where(
                        d.resolution == resolution, d.period_start < before
                    )
                ).rowcount
            )

    def expire_metrics(self, last_put_before: float) -> int:
        """Delete the metrics nothing was put to since `last_put_before`, with their data."""
        m = cw_metrics.c
        with self._engine.begin() as connection:
            stale = sa.select(m.id).where(m.last_put < last_put_before).scalar_subquery()
            connection.execute(sa.delete(cw_datapoints).where(cw_datapoints.c.metric_id.in_(stale)))
            return int(
                connection.execute(
                    sa.delete(cw_metrics).where(m.last_put < last_put_before)
                ).rowcount
            )

    def metrics(
        self,
        account_id: str,
        region: str,
        namespace: str | None,
        name: str | None,
        after: int,
        active_since: float | None,
        limit: int,
    ) -> list[StoredMetric]:
        """Metrics in id order after the row `after`, at most `limit`."""
        query = (
            sa.select(
                cw_metrics.c.id,
                cw_metrics.c.namespace,
                cw_metrics.c.metric_name,
                cw_metrics.c.dimensions,
            )
            .where(
                cw_metrics.c.account_id == account_id,
                cw_metrics.c.region == region,
                cw_metrics.c.id > after,
            )
            .order_by(cw_metrics.c.id)
            .limit(limit)
        )
        if namespace is not None:
            query = query.where(cw_metrics.c.namespace == namespace)
        if name is not None:
            query = query.where(cw_metrics.c.metric_name == name)
        if active_since is not None:
            query = query.where(cw_metrics.c.last_put >= active_since)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            StoredMetric(int(r[0]), r[1], r[2], [tuple(d) for d in json.loads(r[3])]) for r in rows
        ]


def _row(
    metric_id: int, resolution: int, period_start: int, unit: str, aggregate: Aggregate
) -> dict[str, object]:
    return {
        "metric_id": metric_id,
        "resolution": resolution,
        "period_start": period_start,
        "unit": unit,
        "sample_count": aggregate.sample_count,
        "sum": aggregate.total,
        "minimum": aggregate.minimum,
        "maximum": aggregate.maximum,
        "sketch": aggregate.sketch_text(),
    }
