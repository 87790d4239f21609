"""Leader election: exactly one process across all workers and nodes runs background jobs.

SQLite: an exclusive lock on a file in the data directory (all workers share that directory).
PostgreSQL: a session advisory lock, held by a connection kept open for the purpose; when that
connection dies, the lock goes with it and another node takes over.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.storage.engine import StorageUnavailable

_ADVISORY_LOCK_ID = 0x53524A4F4253  # "SRJOBS"


class LeaderLock:
    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self._engine = engine
        self._lock_path = data_dir / "jobs.lock"
        self._file: IO[bytes] | None = None
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        """Whether this process leads now (cheap to call again while it does)."""
        if self._engine.dialect.name == "postgresql":
            return self._acquire_advisory()
        return self._acquire_file()

    def release(self) -> None:
        """Give up leadership (on shutdown): the next process can take over at once."""
        if self._file is not None:
            self._file.close()  # closing the file releases its lock
            self._file = None
        if self._connection is not None:
            # Closing the DBAPI connection (not returning it to the pool) ends the session,
            # which releases its advisory lock.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None

    def _acquire_file(self) -> bool:
        if self._file is not None:
            return True
        handle = open(self._lock_path, "ab")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        os.set_inheritable(handle.fileno(), False)
        self._file = handle
        return True

    def _acquire_advisory(self) -> bool:
        try:
            if self._connection is not None:
                self._connection.execute(sa.select(1))  # still ours, if the session lives
                return True
            connection = self._engine.connect()
            locked = connection.scalar(sa.select(sa.func.pg_try_advisory_lock(_ADVISORY_LOCK_ID)))
            connection.commit()
            if not locked:
                connection.close()  # a session without the lock can go back to the pool
                return False
            self._connection = connection
            return True
        except (sa.exc.DBAPIError, StorageUnavailable):
            self._connection = None  # the session (and the lock with it) is gone
            return False
