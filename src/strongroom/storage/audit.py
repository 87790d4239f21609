"""The audit trail in storage: records (appended in batches), reservations of calls in flight,
log files cut from the records, signed digests, and the keys that sign them."""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.audit.record import AuditEvent
from strongroom.storage.engine import StorageUnavailable, WriterQueue
from strongroom.storage.schema import (
    audit_digests,
    audit_log_files,
    audit_record_resources,
    audit_records,
    audit_reservations,
    audit_signing_keys,
    system_state,
)

# Batches of records from every process and node commit one at a time, so that record ids
# are committed in order and a log file cut at id N can never miss a record below N.
_AUDIT_LOCK_ID = 0x4155444954  # "AUDIT"
_CUT_THROUGH = "audit.cut_through"
_METRICS_THROUGH = "audit.metrics_through"  # the last record the metric filters saw
_WRITER_KEY = "audit"


class _Overtaken(Exception):
    """Another process digested first."""


@dataclass(frozen=True)
class Reservation:
    request_id: str
    created: float
    record: str  # the record as far as it is known before the call runs


@dataclass(frozen=True)
class StoredRecord:
    id: int
    account_id: str
    region: str
    event_time: float
    text: str


@dataclass(frozen=True)
class IndexedRecord:
    """A record with the values of some of its indexed columns (by column name), so that a
    pattern requiring one of them can pass it by without parsing the record."""

    id: int
    account_id: str
    event_time: float
    columns: dict[str, str | None]
    text: str  # empty when not asked for


@dataclass(frozen=True)
class LogFile:
    object_key: str
    account_id: str
    region: str
    after_id: int
    through_id: int
    oldest_event_time: float
    newest_event_time: float
    created: float
    sha256: str
    digest_key: str | None = None


@dataclass(frozen=True)
class Digest:
    object_key: str
    account_id: str
    region: str
    start_time: float
    end_time: float
    body: bytes
    signature: str


@dataclass(frozen=True)
class SigningKey:
    fingerprint: str
    public_key: bytes
    private_blob: bytes
    valid_from: float
    valid_to: float | None = None


@dataclass(frozen=True)
class RecordQuery:
    """Records of one account, newest or oldest first, optionally narrowed to one column."""

    account_id: str
    start: float
    end: float
    column: str | None = None  # an indexed column of audit_records, e.g. "event_name"
    value: object = None
    after_id: int | None = None  # resume after this id (in the query's order)
    newest_first: bool = False
    limit: int = 1000
    regions: tuple[str, ...] | None = None  # None: every Region


class AuditRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writers = WriterQueue(engine)
        self._appender: Any = None  # the driver connection records are appended on
        self._appender_pid = 0  # connections do not survive a fork: each worker opens its own
        self._placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    @contextlib.contextmanager
    def _ordered_write(self) -> Iterator[Connection]:
        with self._writers.turn(_WRITER_KEY), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_AUDIT_LOCK_ID)))
            yield connection

    # Appending

    def append(self, reservations: Sequence[Reservation], events: Sequence[AuditEvent]) -> None:
        """One transaction: new reservations, and records that replace their reservations.

        Every call's record passes here, so this runs through the driver on a connection of its
        own: SQLAlchemy's transaction and pool handling would cost more than the inserts, all of
        it holding the interpreter lock the event loop waits for."""
        with self._writers.turn(_WRITER_KEY), self._append_transaction() as cursor:
            placeholder = self._placeholder
            if self._engine.dialect.name == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})")
            if reservations:
                cursor.executemany(
                    _insert_sql("audit_reservations", _RESERVATION_COLUMNS, placeholder),
                    [(r.request_id, r.created, r.record) for r in reservations],
                )
            more_resources = [
                (e.event_id, e.account_id, name, e.event_time)
                for e in events
                for name in e.more_resources
            ]
            if more_resources:
                cursor.executemany(
                    _insert_sql("audit_record_resources", _RESOURCE_COLUMNS, placeholder),
                    more_resources,
                )
            if events and self._engine.dialect.name == "postgresql":
                # psycopg pipelines an executemany: one round trip for the batch.
                cursor.executemany(
                    _insert_sql("audit_records", _RECORD_COLUMNS, placeholder),
                    [_record_values(e) for e in events],
                )
            else:
                # sqlite3 would give up and take back the interpreter lock at every row of an
                # executemany, trading it with the event loop's thread each time: one
                # statement a chunk of rows instead.
                for start in range(0, len(events), _INSERT_CHUNK):
                    chunk = events[start : start + _INSERT_CHUNK]
                    cursor.execute(
                        _insert_sql("audit_records", _RECORD_COLUMNS, placeholder, len(chunk)),
                        tuple(value for event in chunk for value in _record_values(event)),
                    )
            reserved = [e.request_id for e in events if not e.read_only]
            if reserved:
                cursor.execute(
                    "DELETE FROM audit_reservations WHERE request_id IN "  # noqa: S608
                    f"({', '.join([placeholder] * len(reserved))})",
                    reserved,
                )

    @contextlib.contextmanager
    def _append_transaction(self) -> Iterator[Any]:
        """A driver cursor in a transaction on the appending connection, committed at the end.
        Any failure closes the connection (it may be broken); the next batch opens another.
        A connection that cannot be had or is lost means storage does not answer, as
        everywhere else."""
        try:
            if self._appender is None or self._appender_pid != os.getpid():
                self._appender, self._appender_pid = self._engine.raw_connection(), os.getpid()
            cursor = self._appender.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
            self._appender.commit()
        except BaseException as error:
            broken, self._appender = self._appender, None
            if broken is not None:
                with contextlib.suppress(Exception):
                    broken.invalidate()
            lost = (sa.exc.OperationalError, self._engine.dialect.loaded_dbapi.OperationalError)
            if isinstance(error, lost):
                cause = getattr(error, "orig", None) or error
                raise StorageUnavailable(str(cause).strip().splitlines()[0]) from None
            raise

    def probe(self) -> None:
        """Raise if a record cannot be stored now: one is inserted and rolled back."""
        probe = AuditEvent(
            event_id=str(uuid.uuid4()),
            request_id="probe",
            account_id="000000000000",
            region="probe",
            event_time=0.0,
            event_source="probe",
            event_name="Probe",
            read_only=True,
            username=None,
            access_key_id=None,
            resource_type=None,
            resource_name=None,
            error_code=None,
            text="{}",
        )
        with self._writers.turn(_WRITER_KEY), self._engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.exec_driver_sql(
                    _insert_sql("audit_records", _RECORD_COLUMNS, self._placeholder),
                    _record_values(probe),
                )
            finally:
                transaction.rollback()

    def reservations_before(self, moment: float) -> list[Reservation]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(audit_reservations)
                .where(audit_reservations.c.created < moment)
                .order_by(audit_reservations.c.created)
            )
            return [Reservation(**row._asdict()) for row in rows]

    # Reading records

    def records(self, query: RecordQuery) -> list[StoredRecord]:
        r = audit_records
        conditions = [
            r.c.account_id == query.account_id,
            r.c.event_time >= query.start,
            r.c.event_time <= query.end,
        ]
        if query.column == "resource_name":
            # The first resource is a column of the record, any further one a row of its own.
            more = audit_record_resources
            conditions.append(
                sa.or_(
                    r.c.resource_name == query.value,
                    r.c.event_id.in_(
                        sa.select(more.c.event_id).where(
                            more.c.account_id == query.account_id,
                            more.c.resource_name == query.value,
                            more.c.event_time >= query.start,
                            more.c.event_time <= query.end,
                        )
                    ),
                )
            )
        elif query.column is not None:
            conditions.append(r.c[query.column] == query.value)
        if query.regions is not None:
            conditions.append(r.c.region.in_(query.regions))
        order = (
            (r.c.event_time.desc(), r.c.id.desc())
            if query.newest_first
            else (
                r.c.event_time,
                r.c.id,
            )
        )
        statement = sa.select(r.c.id, r.c.account_id, r.c.region, r.c.event_time, r.c.record)
        if query.after_id is not None:
            anchor = sa.select(r.c.event_time).where(r.c.id == query.after_id).scalar_subquery()
            if query.newest_first:
                conditions.append(
                    sa.or_(
                        r.c.event_time < anchor,
                        sa.and_(r.c.event_time == anchor, r.c.id < query.after_id),
                    )
                )
            else:
                conditions.append(
                    sa.or_(
                        r.c.event_time > anchor,
                        sa.and_(r.c.event_time == anchor, r.c.id > query.after_id),
                    )
                )
        with self._engine.connect() as connection:
            rows = connection.execute(
                statement.where(*conditions).order_by(*order).limit(query.limit)
            )
            return [
                StoredRecord(row.id, row.account_id, row.region, row.event_time, row.record)
                for row in rows
            ]

    def has_record(self, account_id: str, record_id: int) -> bool:
        r = audit_records
        with self._engine.connect() as connection:
            found = connection.scalar(
                sa.select(r.c.id).where(r.c.id == record_id, r.c.account_id == account_id)
            )
            return found is not None

    def regions(self, account_id: str) -> list[tuple[str, float, float]]:
        """(Region, first and last event time) of every Region the account has records in."""
        r = audit_records
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(r.c.region, sa.func.min(r.c.event_time), sa.func.max(r.c.event_time))
                .where(r.c.account_id == account_id)
                .group_by(r.c.region)
                .order_by(r.c.region)
            )
            return [(row[0], row[1], row[2]) for row in rows]

    def stored_bytes(self, account_id: str) -> int:
        r = audit_records
        with self._engine.connect() as connection:
            total = connection.scalar(
                sa.select(sa.func.sum(sa.func.length(r.c.record))).where(
                    r.c.account_id == account_id
                )
            )
            return int(total or 0)

    def record_range(
        self, account_id: str, region: str, after_id: int, through_id: int
    ) -> list[StoredRecord]:
        r = audit_records
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(r.c.id, r.c.account_id, r.c.region, r.c.event_time, r.c.record)
                .where(
                    r.c.account_id == account_id,
                    r.c.region == region,
                    r.c.id > after_id,
                    r.c.id <= through_id,
                )
                .order_by(r.c.id)
            )
            return [
                StoredRecord(row.id, row.account_id, row.region, row.event_time, row.record)
                for row in rows
            ]

    def uncovered_records(self, through_id: int) -> list[tuple[str, str, int, int]]:
        """(account, region, lowest id, count) of records up to `through_id` that no log file
        of their account and Region covers: a log file was deleted."""
        r, f = audit_records, audit_log_files
        covered = (
            sa.select(f.c.object_key)
            .where(
                f.c.account_id == r.c.account_id,
                f.c.region == r.c.region,
                f.c.after_id < r.c.id,
                f.c.through_id >= r.c.id,
            )
            .exists()
        )
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(r.c.account_id, r.c.region, sa.func.min(r.c.id), sa.func.count())
                .where(r.c.id <= through_id, ~covered)
                .group_by(r.c.account_id, r.c.region)
            )
            return [(row[0], row[1], int(row[2]), int(row[3])) for row in rows]

    # Cutting log files

    def cut_range(self) -> tuple[int, int]:
        """(after, through): the ids of the records not yet in a log file."""
        with self._ordered_write() as connection:
            after, through = _unread(connection, _CUT_THROUGH)
            return after or 0, through

    def metric_range(self) -> tuple[int, int]:
        """(after, through): the ids of the records the metric filters have not seen. The
        first call ever starts them at the newest record: history is not replayed."""
        with self._ordered_write() as connection:
            after, through = _unread(connection, _METRICS_THROUGH)
            if after is None:
                _set_state(connection, _METRICS_THROUGH, str(through).encode())
                return through, through
            return after, through

    def set_metrics_through(self, record_id: int) -> None:
        with self._writers.turn(_WRITER_KEY), self._engine.begin() as connection:
            _set_state(connection, _METRICS_THROUGH, str(record_id).encode())

    def records_for_metrics(
        self,
        after_id: int,
        through_id: int,
        account_ids: Sequence[str],
        columns: Sequence[str],
        limit: int,
        text: bool = True,
    ) -> list[IndexedRecord]:
        """Up to `limit` records of these accounts with after_id < id <= through_id, in id
        order, with the values of these indexed columns (and their text, unless `text` is
        false)."""
        r = audit_records
        record = r.c.record if text else sa.literal("")
        query = (
            sa.select(r.c.id, r.c.account_id, r.c.event_time, record, *(r.c[c] for c in columns))
            .where(
                r.c.id > after_id,
                r.c.id <= through_id,
                # Through a function, so that no planner reads the accounts' whole time index
                # (and sorts it) instead of the id range.
                sa.func.coalesce(r.c.account_id, "").in_(account_ids),
            )
            .order_by(r.c.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [
                IndexedRecord(
                    row[0], row[1], row[2], dict(zip(columns, row[4:], strict=True)), row[3]
                )
                for row in connection.execute(query)
            ]

    def records_between(self, after_id: int, through_id: int) -> Iterator[StoredRecord]:
        """Every record with after_id < id <= through_id, in id order, read in chunks."""
        r = audit_records
        with self._engine.connect() as connection:
            rows = connection.execution_options(yield_per=2000).execute(
                sa.select(r.c.id, r.c.account_id, r.c.region, r.c.event_time, r.c.record)
                .where(r.c.id > after_id, r.c.id <= through_id)
                .order_by(r.c.id)
            )
            for row in rows:
                yield StoredRecord(row.id, row.account_id, row.region, row.event_time, row.record)

    def add_log_files(self, files: Sequence[LogFile], after_id: int, through_id: int) -> bool:
        """Store the log files cut from (after_id, through_id]; False, storing nothing, if
        another process cut that range meanwhile."""
        with self._ordered_write() as connection:
            current = int(connection.scalar(_state_value(_CUT_THROUGH)) or b"0")
            if current != after_id:
                return False
            connection.execute(sa.insert(audit_log_files), [asdict(f) for f in files])
            _set_state(connection, _CUT_THROUGH, str(through_id).encode())
            return True

    def cut_through(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(_state_value(_CUT_THROUGH)) or b"0")

    def log_file(self, object_key: str) -> LogFile | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(audit_log_files).where(audit_log_files.c.object_key == object_key)
            ).first()
            return LogFile(**row._asdict()) if row else None

    def log_files(
        self, account_id: str, region: str, undigested_only: bool = False
    ) -> list[LogFile]:
        f = audit_log_files
        conditions = [f.c.account_id == account_id, f.c.region == region]
        if undigested_only:
            conditions.append(f.c.digest_key.is_(None))
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(f).where(*conditions).order_by(f.c.through_id))
            return [LogFile(**row._asdict()) for row in rows]

    def trails(self) -> list[tuple[str, str]]:
        """(account, region) pairs that have log files."""
        f = audit_log_files
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(f.c.account_id, f.c.region).distinct())
            return sorted((row.account_id, row.region) for row in rows)

    def delivery_times(self, account_id: str) -> tuple[float | None, float | None, float | None]:
        """(first record, latest log file, latest digest) of an account's trail."""
        r, f, d = audit_records, audit_log_files, audit_digests
        with self._engine.connect() as connection:
            return (
                connection.scalar(
                    sa.select(sa.func.min(r.c.event_time)).where(r.c.account_id == account_id)
                ),
                connection.scalar(
                    sa.select(sa.func.max(f.c.created)).where(f.c.account_id == account_id)
                ),
                connection.scalar(
                    sa.select(sa.func.max(d.c.end_time)).where(d.c.account_id == account_id)
                ),
            )

    # Digests

    def add_digest(self, digest: Digest, files: Sequence[LogFile], previous: Digest | None) -> bool:
        """Store a digest and mark the files it lists; False, storing nothing, if `previous`
        is no longer the last digest of its account and Region or a file was digested
        meanwhile (another process digested first)."""
        d, f = audit_digests, audit_log_files
        try:
            with self._ordered_write() as connection:
                last = connection.scalar(
                    sa.select(d.c.object_key)
                    .where(d.c.account_id == digest.account_id, d.c.region == digest.region)
                    .order_by(d.c.end_time.desc())
                    .limit(1)
                )
                if last != (previous.object_key if previous else None):
                    raise _Overtaken
                keys = [file.object_key for file in files]
                if keys:
                    marked = connection.execute(
                        sa.update(f)
                        .where(f.c.object_key.in_(keys), f.c.digest_key.is_(None))
                        .values(digest_key=digest.object_key)
                    ).rowcount
                    if marked != len(keys):
                        raise _Overtaken  # rolls the marks back
                connection.execute(sa.insert(d).values(**asdict(digest)))
        except _Overtaken:
            return False
        return True

    def digests(self, account_id: str, region: str) -> list[Digest]:
        d = audit_digests
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(d)
                .where(d.c.account_id == account_id, d.c.region == region)
                .order_by(d.c.end_time)
            )
            return [Digest(**row._asdict()) for row in rows]

    def last_digest(self, account_id: str, region: str) -> Digest | None:
        d = audit_digests
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(d)
                .where(d.c.account_id == account_id, d.c.region == region)
                .order_by(d.c.end_time.desc())
                .limit(1)
            ).first()
            return Digest(**row._asdict()) if row else None

    def digest(self, object_key: str) -> Digest | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(audit_digests).where(audit_digests.c.object_key == object_key)
            ).first()
            return Digest(**row._asdict()) if row else None

    def object_keys(
        self, account_id: str, prefix: str, marker: str, limit: int
    ) -> list[tuple[str, float]]:
        """(key, creation time) of the account's log files and digests, in key order."""

        def bytewise(key: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
            # S3 orders keys by their bytes: SQLite compares so already, PostgreSQL by collation.
            return key.collate("C") if self._engine.dialect.name == "postgresql" else key

        parts = []
        for table, created in (
            (audit_log_files, audit_log_files.c.created),
            (audit_digests, audit_digests.c.end_time),
        ):
            parts.append(
                sa.select(table.c.object_key.label("object_key"), created.label("created")).where(
                    table.c.account_id == account_id,
                    table.c.object_key.startswith(prefix, autoescape=True),
                    bytewise(table.c.object_key) > marker,
                )
            )
        union = sa.union_all(*parts).subquery()
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(union.c.object_key, union.c.created)
                .order_by(bytewise(union.c.object_key))
                .limit(limit)
            )
            return [(row.object_key, row.created) for row in rows]

    # Retention

    def expire(self, horizon: float) -> int:
        """Delete digests that ended before `horizon`, with their log files and records; the
        last one deleted is remembered per account and Region, so the chain still verifies
        from the first digest kept. Returns how many digests went."""
        d, f, r = audit_digests, audit_log_files, audit_records
        with self._ordered_write() as connection:
            expired = connection.execute(
                sa.select(d.c.object_key, d.c.account_id, d.c.region)
                .where(d.c.end_time < horizon)
                .order_by(d.c.end_time)
            ).all()
            keys = [row.object_key for row in expired]
            for log_file in connection.execute(sa.select(f).where(f.c.digest_key.in_(keys))):
                in_file = (
                    r.c.account_id == log_file.account_id,
                    r.c.region == log_file.region,
                    r.c.id > log_file.after_id,
                    r.c.id <= log_file.through_id,
                )
                more = audit_record_resources
                connection.execute(
                    sa.delete(more).where(
                        more.c.event_id.in_(sa.select(r.c.event_id).where(*in_file))
                    )
                )
                connection.execute(sa.delete(r).where(*in_file))
            connection.execute(sa.delete(f).where(f.c.digest_key.in_(keys)))
            connection.execute(sa.delete(d).where(d.c.object_key.in_(keys)))
            last_per_trail = {(row.account_id, row.region): row.object_key for row in expired}
            for (account_id, region), key in last_per_trail.items():
                _set_state(connection, _expired_digest(account_id, region), key.encode())
            return len(keys)

    def last_expired_digest(self, account_id: str, region: str) -> str | None:
        with self._engine.connect() as connection:
            value = connection.scalar(_state_value(_expired_digest(account_id, region)))
            return value.decode() if value else None

    # Signing keys

    def signing_keys(self) -> list[SigningKey]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(audit_signing_keys).order_by(audit_signing_keys.c.valid_from)
            )
            return [SigningKey(**row._asdict()) for row in rows]

    def add_signing_key(self, key: SigningKey) -> bool:
        """False when another process added the first key at the same time."""
        try:
            with self._writers.turn(_WRITER_KEY), self._engine.begin() as connection:
                if connection.scalar(sa.select(sa.func.count()).select_from(audit_signing_keys)):
                    return False
                connection.execute(sa.insert(audit_signing_keys).values(**asdict(key)))
        except sa.exc.IntegrityError:
            return False
        return True


def _expired_digest(account_id: str, region: str) -> str:
    return f"audit.expired_digest.{account_id}.{region}"


def _state_value(name: str) -> sa.Select[Any]:
    return sa.select(system_state.c.value).where(system_state.c.name == name)


def _unread(connection: Connection, cursor: str) -> tuple[int | None, int]:
    """The cursor's record id (None when unset) and the newest record's id. Read under
    _ordered_write, while no batch of records is being stored: every id up to the newest is
    committed."""
    after = connection.scalar(_state_value(cursor))
    through = connection.scalar(sa.select(sa.func.max(audit_records.c.id))) or 0
    return (int(after) if after is not None else None), int(through)


def _set_state(connection: Connection, name: str, value: bytes) -> None:
    connection.execute(sa.delete(system_state).where(system_state.c.name == name))
    connection.execute(sa.insert(system_state).values(name=name, value=value))


_RECORD_COLUMNS = (
    "event_id",
    "request_id",
    "account_id",
    "region",
    "event_time",
    "event_source",
    "event_name",
    "read_only",
    "username",
    "access_key_id",
    "resource_type",
    "resource_name",
    "error_code",
    "record",
)


# Rows a statement: 14 columns each stays well under SQLite's 32,766 parameters.
_INSERT_CHUNK = 500


_RESERVATION_COLUMNS = ("request_id", "created", "record")
_RESOURCE_COLUMNS = ("event_id", "account_id", "resource_name", "event_time")


@functools.lru_cache(maxsize=1024)
def _insert_sql(table: str, columns: tuple[str, ...], placeholder: str, rows: int = 1) -> str:
    row = f"({', '.join([placeholder] * len(columns))})"
    # Table and column names and placeholders only, all constants.
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES {', '.join([row] * rows)}"
    )


def _record_values(event: AuditEvent) -> tuple[object, ...]:
    """The row of a record, in _RECORD_COLUMNS order."""
    return (
        event.event_id,
        event.request_id,
        event.account_id,
        event.region,
        event.event_time,
        event.event_source,
        event.event_name,
        event.read_only,
        event.username,
        event.access_key_id,
        event.resource_type,
        event.resource_name,
        event.error_code,
        event.text,
    )
