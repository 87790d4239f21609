"""Changes made by one process that the others must notice: cache contents and the seal.

Storage keeps named counters. A write to a cached table bumps `cache` in the same transaction;
`strongroom seal` bumps `seal`. Each process reads the counters at most every POLL_SECONDS (when
it serves a request) and reacts when one moved: it drops its caches, or seals its barrier. So a
change made by another worker or node is seen within that bound, and one made here at once.
Caches hold only what storage holds (ciphertext and metadata), never decrypted material.

Within a process a write is seen at once: its caches are emptied when the write is recorded and
again once its transaction is committed (when the connection goes back to the pool), and a load
that overlapped either emptying is not remembered. So no thread keeps a row it read from
before the commit, such as "no such secret" while a concurrent create was committing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.storage.schema import change_counter

POLL_SECONDS = 0.1
MAX_ENTRIES = 10_000
CACHE = "cache"
SEAL = "seal"
_BUMPED = "strongroom.cache_bumped"  # marks a pooled connection whose transaction bumped CACHE

Value = TypeVar("Value")


class ChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._caches: list[dict[Hashable, object]] = []
        self._watchers: dict[str, Callable[[], None]] = {CACHE: self._clear}
        self._seen: dict[str, int] = {}
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._generation = 0  # how often the caches were emptied: a load that spans one is stale
        sa.event.listen(engine.pool, "checkin", self._after_transaction)

    def cached(
        self, cache: dict[Hashable, object], key: Hashable, load: Callable[[], Value]
    ) -> Value:
        """The cached value of `key`, loading (and remembering) it on a miss."""
        self.poll()
        if key in cache:
            return cache[key]  # type: ignore[return-value]
        generation = self._generation
        value = load()
        if generation == self._generation:
            if len(cache) >= MAX_ENTRIES:
                cache.clear()
            cache[key] = value
        return value

    def new_cache(self) -> dict[Hashable, object]:
        cache: dict[Hashable, object] = {}
        self._caches.append(cache)
        return cache

    def watch(self, counter: str, react: Callable[[], None]) -> None:
        """Call `react` whenever another process bumps `counter`."""
        self._watchers[counter] = react

    def bump(self, connection: Connection, counter: str = CACHE) -> None:
        """Record a change, inside the caller's write transaction."""
        connection.execute(
            sa.update(change_counter)
            .where(change_counter.c.name == counter)
            .values(counter=change_counter.c.counter + 1)
        )
        # Not updating `_seen`: the next poll clears again, for the other processes' sake.
        if counter == CACHE:
            connection.info[_BUMPED] = True
            self._clear()

    def acknowledge(self, counter: str) -> None:
        """Take the counter's current value as seen: e.g. an unseal supersedes earlier seals."""
        with self._lock, self._engine.connect() as connection:
            self._seen[counter] = int(
                connection.scalar(
                    sa.select(change_counter.c.counter).where(change_counter.c.name == counter)
                )
                or 0
            )

    def poll(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < POLL_SECONDS:
            return
        with self._lock:
            if now - self._checked_at < POLL_SECONDS:
                return
            with self._engine.connect() as connection:
                rows = connection.execute(
                    sa.select(change_counter.c.name, change_counter.c.counter)
                )
                counters = {name: value for name, value in rows}
            for name, value in counters.items():
                # The first reading is the baseline: what happened before this process started
                # (or unsealed) is already reflected in its state.
                if name in self._watchers and self._seen.get(name, value) != value:
                    self._watchers[name]()
            self._seen = counters
            self._checked_at = now

    def _after_transaction(self, _dbapi_connection: object, record: Any) -> None:
        if record.info.pop(_BUMPED, False):
            self._clear()

    def _clear(self) -> None:
        self._generation += 1
        for cache in self._caches:
            cache.clear()
