"""Service time. Normally the wall clock; a `--dev` server can be moved forward so tests can
exercise deletion windows, rotation schedules and alarms through the real background jobs."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def time(self) -> float:
        return time.time() + self.offset_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


def wall_clock() -> datetime:
    return datetime.now(UTC)
