"""Durable audit writes with group commit.

Callers hand over records (or reservations) and wait; one thread per process stores everything
that arrived while the previous transaction committed, in one transaction. Under load one
commit serves many requests, so durability costs little throughput. A caller never waits
longer than the timeout: a stalled or failing store fails the call, it does not hang it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from strongroom.audit.record import AuditEvent
from strongroom.storage.audit import AuditRepository, Reservation
from strongroom.storage.engine import StorageUnavailable

log = logging.getLogger("strongroom.audit")
DEFAULT_TIMEOUT_SECONDS = 5.0
# A transaction this long is a stall: /health says so while callers still wait for it.
STALL_SECONDS = 2.0
_MAX_BATCH = 2000


class AuditUnavailable(Exception):
    """The record could not be stored in time; the call must fail and change nothing."""


class AuditStorageOutage(AuditUnavailable):
    """The record could not be stored because storage as a whole does not answer."""


# Who waits for an item: a thread (a concurrent Future) or a task on an event loop.
Waiter = Future[None] | asyncio.Future[None]
Item = Reservation | AuditEvent


@dataclass
class _Pending:
    item: Item
    waiter: Waiter
    deadline: float  # time.monotonic() after which the caller has given up
    # The record of the call as its caller answered it after giving up (an internal error):
    # stored instead, if the item was still waiting its turn then.
    refused: Callable[[], AuditEvent] | None = None


class AuditWriter:
    def __init__(
        self, repository: AuditRepository, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._repository = repository
        self._timeout = timeout
        self._pending: list[_Pending] = []
        self._ready = threading.Condition()
        self._thread_pid = 0  # threads do not survive a fork: each worker starts its own
        self._failure: str | None = None
        self._failing_since: float | None = None
        self._storing_since: float | None = None  # a transaction is in progress
        self._probe_wanted = False
        self._deadlines: dict[asyncio.AbstractEventLoop, _Deadlines] = {}

    # Callers

    def reserve(self, reservation: Reservation) -> None:
        self._wait(reservation)

    def write(self, event: AuditEvent) -> None:
        self._wait(event)

    async def write_async(
        self, event: AuditEvent, refused: Callable[[], AuditEvent] | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        deadline = time.monotonic() + self._timeout
        self._submit(_Pending(event, future, deadline, refused))
        self._deadlines.setdefault(loop, _Deadlines(loop)).watch(future, deadline)
        await future

    def _wait(self, item: Item) -> None:
        future: Future[None] = Future()
        self._submit(_Pending(item, future, time.monotonic() + self._timeout))
        try:
            future.result(self._timeout)
        except FutureTimeout:
            raise AuditUnavailable("the audit store did not answer in time") from None

    def _submit(self, pending: _Pending) -> None:
        with self._ready:
            self._start_thread()
            self._pending.append(pending)
            self._ready.notify()

    def _start_thread(self) -> None:
        if self._thread_pid != os.getpid():
            self._thread_pid = os.getpid()
            threading.Thread(target=self._run, name="strongroom-audit", daemon=True).start()

    def health(self) -> dict[str, Any]:
        """Whether records can be stored now. A store that failed is tried again (by the
        writer thread, never here): /health recovers without waiting for a request."""
        now = time.monotonic()
        with self._ready:
            waiting = len(self._pending)
            storing_since = self._storing_since
            if self._failure is not None and not self._probe_wanted:
                self._probe_wanted = True
                self._start_thread()
                self._ready.notify()
        report: dict[str, Any] = {"writable": self._failure is None, "waiting": waiting}
        if storing_since is not None and now - storing_since > STALL_SECONDS:
            report["writable"] = False
            report["error"] = f"the audit store has not answered for {now - storing_since:.0f} s"
            report["failing_for_seconds"] = round(now - storing_since, 1)
        elif self._failure is not None:
            report["error"] = self._failure
            report["failing_for_seconds"] = round(now - (self._failing_since or now), 1)
        return report

    # The writer thread

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._probe_wanted:
                    self._ready.wait()
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
                probe, self._probe_wanted = self._probe_wanted and not batch, False
            if probe:
                self._store(self._repository.probe)
                continue
            now = time.monotonic()
            items = [
                p.refused() if p.refused is not None and now > p.deadline else p.item for p in batch
            ]
            reservations = [item for item in items if isinstance(item, Reservation)]
            events = [item for item in items if isinstance(item, AuditEvent)]
            failure = self._store(functools.partial(self._repository.append, reservations, events))
            self._release([p.waiter for p in batch], failure)

    def _store(self, write: Callable[[], None]) -> AuditUnavailable | None:
        self._storing_since = time.monotonic()
        try:
            write()
        except Exception as error:  # any failure of the store fails the calls, never hangs them
            # The driver's first line only: a full statement would echo the records.
            reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
            if self._failure is None:
                self._failing_since = time.monotonic()
                log.error("audit records cannot be stored: %s", reason)
            self._failure = reason
            kind = AuditStorageOutage if isinstance(error, StorageUnavailable) else AuditUnavailable
            return kind(reason)
        finally:
            self._storing_since = None
        if self._failure is not None:
            log.warning("audit records are stored again")
        self._failure = None
        return None

    @staticmethod
    def _release(waiters: list[Waiter], failure: AuditUnavailable | None) -> None:
        """Tell every waiter of a batch the outcome: threads directly, and each event loop
        with one wake-up for all its tasks (one per task would cost a system call each)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in waiters:
            if isinstance(waiter, asyncio.Future):
                by_loop.setdefault(waiter.get_loop(), []).append(waiter)
            else:
                _settle(waiter, failure)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
                loop.call_soon_threadsafe(_settle_all, futures, failure)


class _Deadlines:
    """Fails the futures of one event loop that wait past their deadline. One timer for them
    all, at the oldest one's deadline: a timer per call (asyncio.timeout) would cost more than
    the rest of the wait. Calls wait in the order they came, so their deadlines are ordered."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, future: asyncio.Future[None], deadline: float) -> None:
        self._waiting.append((deadline, future))
        if self._timer is None:
            self._timer = self._loop.call_at(self._loop_time(deadline), self._expire)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._waiting:
            deadline, future = self._waiting[0]
            if not future.done():
                if deadline > now:
                    break
                future.set_exception(AuditUnavailable("the audit store did not answer in time"))
            self._waiting.popleft()
        self._timer = (
            self._loop.call_at(self._loop_time(self._waiting[0][0]), self._expire)
            if self._waiting
            else None
        )

    def _loop_time(self, deadline: float) -> float:
        return self._loop.time() + deadline - time.monotonic()


def _settle_all(futures: list[asyncio.Future[None]], failure: AuditUnavailable | None) -> None:
    for future in futures:
        _settle(future, failure)


def _settle(future: Waiter, failure: AuditUnavailable | None) -> None:
    # A caller that gave up waiting cancelled its future; the others still want the outcome.
    if future.done():
        return
    with contextlib.suppress(InvalidStateError):
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)
