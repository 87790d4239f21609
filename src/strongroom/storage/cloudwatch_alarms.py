"""CloudWatch alarms in storage: alarms, their history, and the notifications of state
transitions not yet handed to SNS (see schema.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.storage.logs import successor
from strongroom.storage.schema import cw_alarm_actions, cw_alarm_history, cw_alarms


@dataclass(frozen=True)
class StoredAlarm:
    id: int
    account_id: str
    region: str
    name: str
    definition: dict[str, Any]
    tags: dict[str, str]
    actions_enabled: bool
    configuration_updated: float
    state_value: str
    state_reason: str
    state_reason_data: str | None
    state_updated: float
    state_transitioned: float
    next_evaluation: float
    version: int


@dataclass(frozen=True)
class HistoryItem:
    id: int
    alarm_name: str
    timestamp: float
    item_type: str  # ConfigurationUpdate, StateUpdate, Action
    summary: str
    data: str


@dataclass(frozen=True)
class NewHistoryItem:
    item_type: str
    summary: str
    data: str


@dataclass(frozen=True)
class StateChange:
    """A transition: the new state, and what it leaves behind (history, notifications)."""

    state_value: str
    state_reason: str
    state_reason_data: str | None
    history: NewHistoryItem
    notifications: Sequence[tuple[str, str, str]]  # (topic ARN, subject, message)


@dataclass(frozen=True)
class PendingAction:
    id: int
    account_id: str
    region: str
    alarm_name: str
    action_arn: str
    subject: str
    message: str


@dataclass(frozen=True)
class AlarmListing:
    names: Sequence[str] | None = None
    prefix: str | None = None
    state_value: str | None = None
    after_name: str | None = None
    limit: int | None = None


class AlarmRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Configuration

    def put(
        self,
        account_id: str,
        region: str,
        name: str,
        definition: Mapping[str, Any],
        actions_enabled: bool,
        tags: Mapping[str, str],
        now: float,
        history: NewHistoryItem,
        created_history: NewHistoryItem,
    ) -> bool:
        """Create the alarm (INSUFFICIENT_DATA, with `tags`) or replace an existing one's
        configuration (its state and tags stay); True when it was created. Either way it is
        evaluated at the next tick."""
        a = cw_alarms.c
        values = {
            "definition": json.dumps(definition),
            "actions_enabled": actions_enabled,
            "configuration_updated": now,
            "next_evaluation": now,
        }
        with self._engine.begin() as connection:
            updated = connection.execute(
                sa.update(cw_alarms)
                .where(a.account_id == account_id, a.region == region, a.name == name)
                .values(**values, version=a.version + 1)
            ).rowcount
            if not updated:
                connection.execute(
                    sa.insert(cw_alarms).values(
                        account_id=account_id,
                        region=region,
                        name=name,
                        tags=json.dumps(dict(tags)),
                        state_value="INSUFFICIENT_DATA",
                        state_reason="Unchecked: Initial alarm creation",
                        state_reason_data=None,
                        state_updated=now,
                        state_transitioned=now,
                        version=1,
                        **values,
                    )
                )
            item = history if updated else created_history
            self._add_history(connection, account_id, region, name, now, item)
        return not updated

    def alarm(self, account_id: str, region: str, name: str) -> StoredAlarm | None:
        a = cw_alarms.c
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(cw_alarms).where(
                    a.account_id == account_id, a.region == region, a.name == name
                )
            ).first()
        return _alarm(row) if row is not None else None

    def alarms(self, account_id: str, region: str, listing: AlarmListing) -> list[StoredAlarm]:
        """Alarms in name order after `after_name`, narrowed as the listing says."""
        a = cw_alarms.c
        query = (
            sa.select(cw_alarms)
            .where(a.account_id == account_id, a.region == region)
            .order_by(a.name)
        )
        if listing.names is not None:
            query = query.where(a.name.in_(listing.names))
        if listing.prefix is not None:
            query = query.where(a.name >= listing.prefix)
            end = successor(listing.prefix)
            if end is not None:
                query = query.where(a.name < end)
        if listing.state_value is not None:
            query = query.where(a.state_value == listing.state_value)
        if listing.after_name is not None:
            query = query.where(a.name > listing.after_name)
        if listing.limit is not None:
            query = query.limit(listing.limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_alarm(row) for row in rows]

    def delete(self, account_id: str, region: str, names: Sequence[str]) -> list[str]:
        """Delete the named alarms, all or none: the names that do not exist (nothing is
        deleted when there are any)."""
        a = cw_alarms.c
        where = (a.account_id == account_id, a.region == region, a.name.in_(names))
        with self._engine.begin() as connection:
            found = set(connection.execute(sa.select(a.name).where(*where)).scalars())
            missing = [name for name in names if name not in found]
            if not missing:
                connection.execute(sa.delete(cw_alarms).where(*where))
        return missing

    def set_actions_enabled(
        self, account_id: str, region: str, names: Sequence[str], enabled: bool
    ) -> None:
        a = cw_alarms.c
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(cw_alarms)
                .where(a.account_id == account_id, a.region == region, a.name.in_(names))
                .values(actions_enabled=enabled, version=a.version + 1)
            )

    def set_tags(self, alarm_id: int, tags: Mapping[str, str]) -> bool:
        with self._engine.begin() as connection:
            return bool(
                connection.execute(
                    sa.update(cw_alarms)
                    .where(cw_alarms.c.id == alarm_id)
                    .values(tags=json.dumps(dict(tags)))
                ).rowcount
            )

    # Evaluation

    def due(self, now: float, limit: int) -> list[StoredAlarm]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(cw_alarms)
                .where(cw_alarms.c.next_evaluation <= now)
                .order_by(cw_alarms.c.next_evaluation)
                .limit(limit)
            ).all()
        return [_alarm(row) for row in rows]

    def reschedule(self, alarm: StoredAlarm, next_evaluation: float) -> None:
        a = cw_alarms.c
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(cw_alarms)
                .where(a.id == alarm.id, a.version == alarm.version)
                .values(next_evaluation=next_evaluation)
            )

    def change_state(
        self, alarm: StoredAlarm, change: StateChange, now: float, next_evaluation: float
    ) -> bool:
        """Move the alarm to a new state, with its history item and notifications, if it is
        still as `alarm` saw it (compare-and-set on its version); False when it changed
        meanwhile (another evaluation, a reconfiguration, a deletion)."""
        a = cw_alarms.c
        with self._engine.begin() as connection:
            changed = connection.execute(
                sa.update(cw_alarms)
                .where(a.id == alarm.id, a.version == alarm.version)
                .values(
                    state_value=change.state_value,
                    state_reason=change.state_reason,
                    state_reason_data=change.state_reason_data,
                    state_updated=now,
                    state_transitioned=now,
                    next_evaluation=next_evaluation,
                    version=a.version + 1,
                )
            ).rowcount
            if not changed:
                return False
            self._add_history(
                connection, alarm.account_id, alarm.region, alarm.name, now, change.history
            )
            if change.notifications:
                connection.execute(
                    sa.insert(cw_alarm_actions),
                    [
                        {
                            "account_id": alarm.account_id,
                            "region": alarm.region,
                            "alarm_name": alarm.name,
                            "action_arn": arn,
                            "subject": subject,
                            "message": message,
                            "created": now,
                        }
                        for arn, subject, message in change.notifications
                    ],
                )
            return True

    # Notifications

    def pending_actions(self, limit: int) -> list[PendingAction]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    cw_alarm_actions.c.id,
                    cw_alarm_actions.c.account_id,
                    cw_alarm_actions.c.region,
                    cw_alarm_actions.c.alarm_name,
                    cw_alarm_actions.c.action_arn,
                    cw_alarm_actions.c.subject,
                    cw_alarm_actions.c.message,
                )
                .order_by(cw_alarm_actions.c.id)
                .limit(limit)
            ).all()
        return [PendingAction(*row) for row in rows]

    def action_done(self, action: PendingAction, now: float, history: NewHistoryItem) -> None:
        with self._engine.begin() as connection:
            deleted = connection.execute(
                sa.delete(cw_alarm_actions).where(cw_alarm_actions.c.id == action.id)
            ).rowcount
            if deleted:
                self._add_history(
                    connection, action.account_id, action.region, action.alarm_name, now, history
                )

    # History

    def add_history(
        self, account_id: str, region: str, name: str, now: float, item: NewHistoryItem
    ) -> None:
        with self._engine.begin() as connection:
            self._add_history(connection, account_id, region, name, now, item)

    @staticmethod
    def _add_history(
        connection: Connection,
        account_id: str,
        region: str,
        name: str,
        now: float,
        item: NewHistoryItem,
    ) -> None:
        connection.execute(
            sa.insert(cw_alarm_history).values(
                account_id=account_id,
                region=region,
                alarm_name=name,
                timestamp=now,
                item_type=item.item_type,
                summary=item.summary,
                data=item.data,
            )
        )

    def history(
        self,
        account_id: str,
        region: str,
        name: str | None,
        item_type: str | None,
        start: float,
        end: float,
        after: tuple[float, int] | None,
        ascending: bool,
        limit: int,
    ) -> list[HistoryItem]:
        h = cw_alarm_history.c
        query = sa.select(h.id, h.alarm_name, h.timestamp, h.item_type, h.summary, h.data).where(
            h.account_id == account_id,
            h.region == region,
            h.timestamp >= start,
            h.timestamp <= end,
        )
        if name is not None:
            query = query.where(h.alarm_name == name)
        if item_type is not None:
            query = query.where(h.item_type == item_type)
        if after is not None:
            position = sa.tuple_(h.timestamp, h.id)
            query = query.where(position > after if ascending else position < after)
        order = (h.timestamp, h.id) if ascending else (h.timestamp.desc(), h.id.desc())
        with self._engine.connect() as connection:
            rows = connection.execute(query.order_by(*order).limit(limit)).all()
        return [HistoryItem(*row) for row in rows]

    def expire_history(self, before: float) -> int:
        with self._engine.begin() as connection:
            return int(
                connection.execute(
                    sa.delete(cw_alarm_history).where(cw_alarm_history.c.timestamp < before)
                ).rowcount
            )


def _alarm(row: Any) -> StoredAlarm:
    return StoredAlarm(
        id=int(row.id),
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        definition=json.loads(row.definition),
        tags=json.loads(row.tags),
        actions_enabled=bool(row.actions_enabled),
        configuration_updated=row.configuration_updated,
        state_value=row.state_value,
        state_reason=row.state_reason,
        state_reason_data=row.state_reason_data,
        state_updated=row.state_updated,
        state_transitioned=row.state_transitioned,
        next_evaluation=row.next_evaluation,
        version=int(row.version),
    )
