"""Bookkeeping writes that may lag behind the request that caused them (last-accessed and
last-used dates): noted off the request path, coalesced by key (the latest note wins), and
stored together by one background thread, so a burst of requests costs one transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class CoalescingWriter(Generic[K, V]):
    def __init__(self, name: str, store: Callable[[dict[K, V]], None], delay: float = 0.0):
        """`store` writes a batch of notes (and handles its own failures); `delay` is how long
        notes gather before a batch is written."""
        self._name = name
        self._store = store
        self._delay = delay
        self._pending: dict[K, V] = {}
        self._lock = threading.Lock()
        self._flush_due = False
        self._executor: ThreadPoolExecutor | None = None

    def note(self, key: K, value: V) -> None:
        with self._lock:
            self._pending[key] = value
            if self._flush_due:
                return
            self._flush_due = True
        if self._executor is None:  # made on first use: threads do not survive a fork
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        self._executor.submit(self._flush)

    def flush(self) -> None:
        """Store what is noted now (on shutdown: nothing noted may be lost to a clean stop)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flush_due = False
        if pending:
            self._store(pending)

    def _flush(self) -> None:
        if self._delay:
            time.sleep(self._delay)
        self.flush()
