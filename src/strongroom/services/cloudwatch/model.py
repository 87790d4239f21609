"""CloudWatch metrics: what a metric is, AWS's rules for datapoints, and the sketch kept of
each period's values for percentiles.

The sketch is DDSketch's (Masson et al., VLDB 2019): a value v > 0 counts in bucket
ceil(log(v) / log(g)) with g = (1 + a) / (1 - a), so any percentile read back is within a = 1 %
of a value of the data (relative error), whatever the distribution; sketches merge by adding
counts, and their size grows with the logarithm of the values' range, not with their number.
Zero has a bucket of its own. As at AWS, percentiles are given only for periods whose values
are all known and none negative: a period with a StatisticSet (other than one of identical
values) or a negative value has none.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_ZERO = "z"

MAX_METRIC_DATA = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
MAX_DATAPOINTS = 1440
MAX_QUERIES = 500
LIST_PAGE = 500
# AWS refuses values of magnitude beyond these (and NaN and infinities).
MIN_MAGNITUDE = 8.515920e-109
MAX_MAGNITUDE = 1.174271e108
PAST_LIMIT = 14 * 24 * 3600  # two weeks
FUTURE_LIMIT = 2 * 3600
RECENT = 3 * 3600  # ListMetrics RecentlyActive=PT3H
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
NO_UNIT = "None"
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)")


def percentile_of(statistic: str) -> float | None:
    """p99 -> 99.0, p99.9 -> 99.9; None when the text is no percentile statistic."""
    if _PERCENTILE.fullmatch(statistic) is None:
        return None
    return float(statistic[1:])


def valid_value(value: float) -> bool:
    if math.isnan(value) or math.isinf(value):
        return False
    return value == 0 or MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE


def dimensions_key(dimensions: Mapping[str, str]) -> str:
    return json.dumps(sorted(dimensions.items()), separators=(",", ":"), ensure_ascii=False)


def window(start: float, end: float, period: int) -> tuple[int, int]:
    """[start, end) in whole seconds, the start on a boundary of the data's resolution: the
    periods of a query are those from there on, `period` seconds apart."""
    resolution = 60 if period % 60 == 0 else 1
    return int(start // resolution * resolution), int(end)


@dataclass(frozen=True)
class Datum:
    """One value (seen `count` times) of a metric, from Strongroom itself (metric filters, its
    own metrics); at `timestamp` (seconds), or now when None."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    value: float
    unit: str = NO_UNIT
    timestamp: float | None = None
    count: float = 1.0


@dataclass
class Aggregate:
    """One period's statistics: what is stored for each contribution, and their sum."""

    sample_count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    # bucket -> count; `known` is how much of sample_count the sketch holds.
    sketch: dict[str, float] = field(default_factory=dict)
    known: float = 0.0

    def add_values(self, values: Iterable[tuple[float, float]]) -> None:
        for value, count in values:
            if count <= 0:
                continue
            self.sample_count += count
            self.total += value * count
            self.minimum = min(self.minimum, value)
            self.maximum = max(self.maximum, value)
            if value >= 0:
                bucket = _bucket(value)
                self.sketch[bucket] = self.sketch.get(bucket, 0.0) + count
                self.known += count

    def add_statistics(self, count: float, total: float, low: float, high: float) -> None:
        if low == high:  # identical values: as good as known
            self.add_values([(low, count)])
            self.total += total - low * count  # keep the sum as given
            return
        self.sample_count += count
        self.total += total
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)

    def merge(self, other: Aggregate) -> None:
        self.sample_count += other.sample_count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        for bucket, count in other.sketch.items():
            self.sketch[bucket] = self.sketch.get(bucket, 0.0) + count
        self.known += other.known

    def sketch_text(self) -> str:
        # A sketch that does not hold every value answers no percentile: store it empty.
        complete = self.sketch if self._complete() else {}
        return json.dumps(complete, separators=(",", ":"))

    def _complete(self) -> bool:
        return self.sample_count > 0 and math.isclose(self.known, self.sample_count)

    def statistic(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.sample_count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.sample_count
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        rank = percentile_of(name)
        return None if rank is None else self.percentile(rank)

    def percentile(self, rank: float) -> float | None:
        if not self._complete():
            return None
        if rank <= 0:
            return self.minimum
        if rank >= 100:
            return self.maximum
        wanted = rank / 100 * self.sample_count
        seen = 0.0
        for bucket in sorted(self.sketch, key=_bucket_order):
            seen += self.sketch[bucket]
            if seen >= wanted:
                estimate = 0.0 if bucket == _ZERO else 2 * _GAMMA ** int(bucket) / (_GAMMA + 1)
                return min(max(estimate, self.minimum), self.maximum)
        return self.maximum


def stored(sample_count: float, total: float, low: float, high: float, sketch: str) -> Aggregate:
    """An aggregate as stored (an empty sketch: percentiles unknown for this contribution)."""
    buckets = {str(k): float(v) for k, v in json.loads(sketch).items()}
    known = sum(buckets.values())
    return Aggregate(sample_count, total, low, high, buckets, known)


def _bucket(value: float) -> str:
    if value == 0:
        return _ZERO
    return str(math.ceil(math.log(value) / _LOG_GAMMA))


def _bucket_order(bucket: str) -> float:
    return -math.inf if bucket == _ZERO else int(bucket)
