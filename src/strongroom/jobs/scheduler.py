"""The background scheduler: a thread in every worker that does work only while its process
holds the leader lock. Jobs keep their state in storage (a deletion date, a rotation schedule),
so a crash or a restart loses nothing: the next leader finds the same work due."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Callable

from strongroom.barrier.barrier import Barrier
from strongroom.jobs.leader import LeaderLock
from strongroom.storage.engine import StorageUnavailable

log = logging.getLogger("strongroom.jobs")

TICK_SECONDS = 1.0
# Housekeeping (purges, deletions, retention) runs every few ticks: its deadlines are days
# long, and each job's query costs an idle server CPU on every tick it runs.
HOUSEKEEPING_TICKS = 5
Job = Callable[[], None]
_PR_SET_NAME = 15


class Scheduler:
    def __init__(
        self,
        leader: LeaderLock,
        barrier: Barrier,
        jobs: dict[str, Job],
        housekeeping: dict[str, Job],
    ) -> None:
        """`jobs` run every tick (what someone waits for: rotations, schedules, deliveries);
        `housekeeping` every HOUSEKEEPING_TICKS."""
        self._leader = leader
        self._barrier = barrier
        self._jobs = jobs
        self._housekeeping = housekeeping
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="strongroom-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._leader.release()

    def _loop(self) -> None:
        _name_os_thread(self._thread.name)
        tick = 0
        while not self._stop.wait(TICK_SECONDS):
            # A sealed server does nothing, in the foreground or the background.
            if self._barrier.sealed or not self._leader.acquire():
                continue
            tick += 1
            due = self._jobs | (self._housekeeping if tick % HOUSEKEEPING_TICKS == 1 else {})
            for name, job in due.items():
                try:
                    job()
                except StorageUnavailable as outage:
                    log.warning("background job %s waits for storage: %s", name, outage)
                except Exception:  # a failing job must not stop the others or the next tick
                    log.exception("background job %s failed; it runs again next tick", name)


def _name_os_thread(name: str) -> None:
    """Name the thread for the OS too (`top -H`, /proc/PID/task/TID/comm): the jobs' CPU can
    then be told apart from the requests'. Linux only; elsewhere the name stays Python's."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
