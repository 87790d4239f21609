"""Engine setup and migrations for the two supported backends: SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, ExceptionContext, make_url

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it only has to be the same on every node sharing one database.
_MIGRATION_LOCK_ID = 0x5354524F4E47  # "STRONG"


class StorageError(Exception):
    """Storage cannot be opened or migrated; the message never contains credentials."""


class StorageUnavailable(StorageError):
    """Storage does not answer (down, unreachable, locked): the call fails and changes nothing,
    and callers answer "try again later" instead of an internal error."""


def _translate_outage(context: ExceptionContext) -> BaseException | None:
    if context.is_pre_ping:
        return None  # the pool handles these itself by reconnecting
    if context.is_disconnect or isinstance(context.sqlalchemy_exception, sa.exc.OperationalError):
        # The driver's text names host and database, never the password.
        return StorageUnavailable(str(context.original_exception).strip().splitlines()[0])
    return None


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def parse_url(url: str) -> URL:
    """Accept the URLs users write (`postgresql://`) and pick the driver this project ships."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(f"unsupported storage backend {parsed.get_backend_name()!r}")
    return parsed


def describe(url: str) -> str:
    """A form of the URL that is safe to print: the password is hidden."""
    return parse_url(url).render_as_string(hide_password=True)


def _enable_sqlite_durability(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten, not left in free pages: a purged secret is gone from disk.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def create_storage_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        sa.event.listen(engine, "connect", _enable_sqlite_durability)
    else:
        engine = sa.create_engine(
            parsed,
            connect_args={"connect_timeout": 5},
            pool_size=8,
            max_overflow=8,
            pool_pre_ping=True,
        )
    sa.event.listen(engine, "handle_error", _translate_outage)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version; concurrent nodes on PostgreSQL take turns."""
    # Imported here: Alembic is only needed at start, and CLI commands like `env` stay quick.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except StorageUnavailable as error:
        raise StorageError(f"cannot open storage {describe(str(engine.url))}: {error}") from None


class WriterQueue:
    """Lets writers wait their turn in order instead of in the database's lock.

    SQLite admits one writer at a time and makes the others poll with growing sleeps (its busy
    handler), so contended writes wait for hundreds of milliseconds. Here a writer first takes
    a thread lock and an exclusive lock on a file beside the database, which the kernel hands
    on the moment it is released, to the next process in line. PostgreSQL queues writers on
    its row locks itself: there this is a thread lock only, per key.
    """

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._lock_path = Path(f"{database}.writer") if database else None
        self._threads = [threading.Lock() for _ in range(1 if self._lock_path else 64)]
        self._file: tuple[int, int] | None = None  # (pid, descriptor): a fork needs its own

    @contextlib.contextmanager
    def turn(self, key: str) -> Iterator[None]:
        with self._threads[hash(key) % len(self._threads)]:
            if self._lock_path is None:
                yield
                return
            descriptor = self._descriptor()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _descriptor(self) -> int:
        # flock excludes open file descriptions, not processes: each process opens its own.
        if self._file is None or self._file[0] != os.getpid():
            assert self._lock_path is not None
            self._file = (os.getpid(), os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]
