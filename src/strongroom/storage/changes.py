"""Process-local caches of storage rows, kept honest by a change counter in storage.

Every write to a cached table bumps one counter in the same transaction. Each process reads
the counter at most every POLL_SECONDS and drops its caches when it moved, so a change made by
another process or node is seen within that bound, and a change made here is seen at once.
Caches hold only what storage holds (ciphertext and metadata), never decrypted material.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.storage.schema import change_counter

POLL_SECONDS = 0.1
MAX_ENTRIES = 10_000
_COUNTER = "cache"

Value = TypeVar("Value")


class ChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._caches: list[dict[Hashable, object]] = []
        self._seen: int | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def cached(
        self, cache: dict[Hashable, object], key: Hashable, load: Callable[[], Value]
    ) -> Value:
        """The cached value of `key`, loading (and remembering) it on a miss."""
        self._poll()
        if key in cache:
            return cache[key]  # type: ignore[return-value]
        value = load()
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = value
        return value

    def new_cache(self) -> dict[Hashable, object]:
        cache: dict[Hashable, object] = {}
        self._caches.append(cache)
        return cache

    def bump(self, connection: Connection) -> None:
        """Record a change, inside the caller's write transaction."""
        connection.execute(
            sa.update(change_counter)
            .where(change_counter.c.name == _COUNTER)
            .values(counter=change_counter.c.counter + 1)
        )
        # Not updating `_seen`: the next poll clears again, which also drops any stale row a
        # concurrent reader may have cached between this write and its commit.
        self._clear()

    def _poll(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < POLL_SECONDS:
            return
        with self._lock:
            if now - self._checked_at < POLL_SECONDS:
                return
            with self._engine.connect() as connection:
                counter = connection.scalar(
                    sa.select(change_counter.c.counter).where(change_counter.c.name == _COUNTER)
                )
            if counter != self._seen:
                self._clear()
                self._seen = counter
            self._checked_at = now

    def _clear(self) -> None:
        for cache in self._caches:
            cache.clear()
