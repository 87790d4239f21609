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
                {
                    "metric_id": ids[c.metric],
                    "resolution": c.resolution,
                    "period_start": c.period_start,
                    "unit": c.unit,
                    "sample_count": c.aggregate.sample_count,
                    "sum": c.aggregate.total,
                    "minimum": c.aggregate.minimum,
                    "maximum": c.aggregate.maximum,
                    "sketch": c.aggregate.sketch_text(),
                }
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

    def datapoints(
        self, metric_row: int, resolution: int, start: int, end: int, unit: str | None
    ) -> Iterator[tuple[int, str, Aggregate]]:
        """(period start, unit, aggregate) of each stored contribution in [start, end)."""
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
            cw_datapoints.c.resolution == resolution,
            cw_datapoints.c.period_start >= start,
            cw_datapoints.c.period_start < end,
        )
        if unit is not None:
            query = query.where(cw_datapoints.c.unit == unit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        for period, row_unit, count, total, low, high, sketch in rows:
            yield int(period), str(row_unit), stored(count, total, low, high, sketch)

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
