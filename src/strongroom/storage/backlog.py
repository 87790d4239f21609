"""How far the leader's queues are behind, for /metrics: each read is one index range scan.

A queue's lag is the age of its oldest item that is due and not done; an operator alarms on it
(a stuck rotation, SNS deliveries piling up behind a dead endpoint, a schedule not firing).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.storage.schema import audit_records, events_rules, sm_secrets, sns_deliveries


@dataclass(frozen=True)
class Backlog:
    job: str  # the scheduler's name of the job that works the queue
    waiting: int | None  # items due or waiting for a retry; None: not counted
    oldest_due: float | None  # when the oldest item that is due now became due


class BacklogRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def backlogs(self, now: float, audit_cut_through: int) -> list[Backlog]:
        """Every queue's backlog at `now` (service time); `audit_cut_through` is the last audit
        record id already in a log file."""
        with self._engine.connect() as connection:
            return [
                _rotations(connection, now),
                _deliveries(connection, now),
                _schedules(connection, now),
                _audit_delivery(connection, audit_cut_through),
            ]


def _rotations(connection: Connection, now: float) -> Backlog:
    """Secrets whose rotation window opened and that have not rotated since (a rotation under
    way or failing keeps its window open)."""
    s = sm_secrets.c
    count, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(s.next_rotation_date)).where(
            s.next_rotation_date <= now,
            s.rotation_enabled.is_(True),
            s.deleted_date.is_(None),
        )
    ).one()
    return Backlog("secretsmanager.rotate", int(count), oldest)


def _deliveries(connection: Connection, now: float) -> Backlog:
    """SNS's outbox: deliveries waiting for their first attempt or a retry (or held by a
    claimant, until its lease ends)."""
    d = sns_deliveries.c
    count, oldest = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.min(sa.case((d.due <= now, d.due))),
        ).where(d.due.is_not(None))
    ).one()
    return Backlog("sns.deliver", int(count), oldest)


def _schedules(connection: Connection, now: float) -> Backlog:
    """Scheduled EventBridge rules whose firing is due."""
    r = events_rules.c
    count, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(r.next_due)).where(
            r.next_due.is_not(None), r.next_due <= now
        )
    ).one()
    return Backlog("events.schedules", int(count), oldest)


def _audit_delivery(connection: Connection, cut_through: int) -> Backlog:
    """Audit records not yet in a log file (cut once a minute): only the oldest is read, as
    counting a busy minute's records would cost each scrape a scan."""
    r = audit_records.c
    oldest = connection.scalar(
        sa.select(r.event_time).where(r.id > cut_through).order_by(r.id).limit(1)
    )
    return Backlog("audit.deliver", None, oldest)
