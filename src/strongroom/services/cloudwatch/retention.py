"""How long CloudWatch keeps datapoints, as AWS does where it can be done simply: data of
periods under a minute (high resolution) for 3 hours, one-minute data for 15 days, then hourly
rollups of it for 455 days (AWS keeps five-minute data from day 15 to day 63, which is served
hourly here); a metric nothing was put to for 455 days goes with its data. A housekeeping job
of the leader's."""

from __future__ import annotations

import logging

from strongroom.clock import Clock
from strongroom.storage.cloudwatch import HOUR, CloudWatchRepository

log = logging.getLogger("strongroom.cloudwatch")

DAY = 86400
HIGH_RESOLUTION_SECONDS = 3 * 3600
MINUTE_DATA_SECONDS = 15 * DAY
HOURLY_DATA_SECONDS = 455 * DAY
_ROLLUP_BATCH = 5000
_ROLLUP_BATCHES = 20  # a run's share; the rest waits for the next run


class DatapointRetention:
    def __init__(self, repository: CloudWatchRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def expire(self) -> None:
        now = self._clock.time()
        self._repository.expire(1, int(now - HIGH_RESOLUTION_SECONDS))
        # Whole hours only: an hour is rolled up once all its minutes are old enough.
        before = int((now - MINUTE_DATA_SECONDS) // HOUR * HOUR)
        for _ in range(_ROLLUP_BATCHES):
            if self._repository.roll_up(before, _ROLLUP_BATCH) < _ROLLUP_BATCH:
                break
        self._repository.expire(HOUR, int(now - HOURLY_DATA_SECONDS))
        gone = self._repository.expire_metrics(now - HOURLY_DATA_SECONDS)
        if gone:
            log.info("cloudwatch retention: %d metric(s) without data for 455 days deleted", gone)
