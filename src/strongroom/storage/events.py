"""EventBridge: rules, their targets and tags, and the due times of scheduled rules.

Changes to a rule's targets or tags first lock the rule's row (a no-op UPDATE), as DeleteRule
does, so a rule never loses its targets to a racing delete nor is deleted while a target is
being added. The scheduler's two calls, `due_rules` and `advance`, are safe for any number of
processes: `advance` is a compare-and-set on the due time the caller read, so of two processes
that read the same due rule exactly one advances it (and fires it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.services.events.model import Rule, Target
from strongroom.storage.engine import WriterQueue
from strongroom.storage.schema import events_rules, events_tags, events_targets

_RULE_COLUMNS = [events_rules.c[f.name] for f in fields(Rule)]
# What PutRule sets; the rest (id, created, last_fired) is the rule's own.
_RULE_SETTINGS = (
    "description",
    "schedule_expression",
    "event_pattern",
    "state",
    "role_arn",
    "managed_by",
    "schedule_anchor",
    "next_due",
)


class TooMany(Exception):
    """The change would take an event bus, or a rule, over a limit."""


class Gone(Exception):
    """The rule was deleted meanwhile."""


class HasTargets(Exception):
    """DeleteRule: the rule still has targets."""


@dataclass(frozen=True)
class RuleSettings:
    """What PutRule says of a rule."""

    description: str | None
    schedule_expression: str | None
    event_pattern: str | None
    state: str
    role_arn: str | None
    managed_by: str | None
    schedule_anchor: float | None
    next_due: float | None


def _starts_with(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    # A range, not LIKE: exact on both backends (SQLite's LIKE ignores case) and indexed.
    # Rule names are ASCII ([.\-_A-Za-z0-9]+): the successor of the prefix's last character
    # bounds every name that starts with it.
    if not prefix:
        return sa.true()
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(column >= prefix, column < upper)


class EventsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writers = WriterQueue(engine)

    # Rules

    def put_rule(
        self,
        account_id: str,
        region: str,
        bus: str,
        name: str,
        settings: RuleSettings,
        now: float,
        tags: Mapping[str, str],
        max_rules: int,
        max_tags: int,
    ) -> Rule:
        """Create the rule, or replace what PutRule says of an existing one (its targets stay);
        tags are added to the rule's. TooMany when the bus would hold more than `max_rules`
        rules or the rule more than `max_tags` tags."""
        rule = events_rules.c
        key = (rule.account_id == account_id, rule.region == region, rule.event_bus_name == bus)
        values = {k: getattr(settings, k) for k in _RULE_SETTINGS}
        with self._writers.turn(f"{account_id}/{region}"), self._engine.begin() as connection:
            rule_id = connection.scalar(
                sa.update(events_rules)
                .where(*key, rule.name == name)
                .values(**values)
                .returning(rule.id)
            )
            if rule_id is None:
                count = connection.scalar(sa.select(sa.func.count()).where(*key))
                if int(count or 0) >= max_rules:
                    raise TooMany(name)
                rule_id = connection.scalar(
                    sa.insert(events_rules)
                    .values(
                        account_id=account_id,
                        region=region,
                        event_bus_name=bus,
                        name=name,
                        created=now,
                        **values,
                    )
                    .returning(rule.id)
                )
            if tags:
                self._tag(connection, int(rule_id), tags, max_tags)
            found = self._rule(connection, rule.id == rule_id)
        assert found is not None
        return found

    def rule(self, account_id: str, region: str, bus: str, name: str) -> Rule | None:
        rule = events_rules.c
        with self._engine.connect() as connection:
            return self._rule(
                connection,
                rule.account_id == account_id,
                rule.region == region,
                rule.event_bus_name == bus,
                rule.name == name,
            )

    @staticmethod
    def _rule(connection: Connection, *conditions: sa.ColumnElement[bool]) -> Rule | None:
        row = connection.execute(sa.select(*_RULE_COLUMNS).where(*conditions)).first()
        return Rule(*row) if row else None

    def rules(
        self,
        account_id: str,
        region: str,
        bus: str,
        prefix: str | None,
        after: str | None,
        limit: int,
    ) -> list[Rule]:
        """Up to `limit` rules in name order after the name `after`."""
        rule = events_rules.c
        conditions = [rule.account_id == account_id, rule.region == region]
        conditions.append(rule.event_bus_name == bus)
        if prefix is not None:
            conditions.append(_starts_with(rule.name, prefix))
        if after is not None:
            conditions.append(rule.name > after)
        query = sa.select(*_RULE_COLUMNS).where(*conditions).order_by(rule.name).limit(limit)
        with self._engine.connect() as connection:
            return [Rule(*row) for row in connection.execute(query)]

    def set_state(self, rule_id: int, state: str, next_due: float | None) -> bool:
        """EnableRule, DisableRule: the state and the next due time; False when the rule is gone."""
        with self._writers.turn(str(rule_id)), self._engine.begin() as connection:
            result = connection.execute(
                sa.update(events_rules)
                .where(events_rules.c.id == rule_id)
                .values(state=state, next_due=next_due)
            )
        return result.rowcount == 1

    def delete_rule(self, rule_id: int) -> bool:
        """Delete the rule and its tags; HasTargets (and nothing changes) while it has any.
        False when it was gone already."""
        with self._writers.turn(str(rule_id)), self._engine.begin() as connection:
            if not self._lock(connection, rule_id):
                return False
            has_targets = connection.scalar(
                sa.select(sa.func.count()).where(events_targets.c.rule_id == rule_id)
            )
            if has_targets:
                raise HasTargets(rule_id)
            connection.execute(sa.delete(events_tags).where(events_tags.c.rule_id == rule_id))
            connection.execute(sa.delete(events_rules).where(events_rules.c.id == rule_id))
        return True

    @staticmethod
    def _lock(connection: Connection, rule_id: int) -> bool:
        """Lock the rule's row for the transaction; False when the rule is gone."""
        result = connection.execute(
            sa.update(events_rules)
            .where(events_rules.c.id == rule_id)
            .values(state=events_rules.c.state)
        )
        return result.rowcount == 1

    # Targets

    def put_targets(self, rule_id: int, targets: Sequence[Target], limit: int) -> None:
        """Add or replace targets by id; TooMany (and nothing changes) when the rule would then
        have more than `limit`."""
        target = events_targets.c
        ids = [t.target_id for t in targets]
        with self._writers.turn(str(rule_id)), self._engine.begin() as connection:
            if not self._lock(connection, rule_id):
                raise Gone(rule_id)
            connection.execute(
                sa.delete(events_targets).where(
                    target.rule_id == rule_id, target.target_id.in_(ids)
                )
            )
            connection.execute(
                sa.insert(events_targets),
                [
                    {
                        "rule_id": rule_id,
                        "target_id": t.target_id,
                        "arn": t.arn,
                        "definition": t.definition,
                    }
                    for t in {t.target_id: t for t in targets}.values()
                ],
            )
            count = connection.scalar(sa.select(sa.func.count()).where(target.rule_id == rule_id))
            if int(count or 0) > limit:
                raise TooMany(rule_id)  # the transaction rolls back

    def targets(self, rule_id: int, after: str | None, limit: int) -> list[Target]:
        target = events_targets.c
        conditions = [target.rule_id == rule_id]
        if after is not None:
            conditions.append(target.target_id > after)
        query = (
            sa.select(target.target_id, target.arn, target.definition)
            .where(*conditions)
            .order_by(target.target_id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [Target(*row) for row in connection.execute(query)]

    def remove_targets(self, rule_id: int, ids: Iterable[str]) -> set[str]:
        """Remove the targets of these ids; the ids the rule had."""
        target = events_targets.c
        ids = list(ids)
        with self._writers.turn(str(rule_id)), self._engine.begin() as connection:
            if not self._lock(connection, rule_id):
                raise Gone(rule_id)
            had = set(
                connection.scalars(
                    sa.select(target.target_id).where(
                        target.rule_id == rule_id, target.target_id.in_(ids)
                    )
                )
            )
            connection.execute(
                sa.delete(events_targets).where(
                    target.rule_id == rule_id, target.target_id.in_(ids)
                )
            )
        return had

    def rule_names_by_target(
        self, account_id: str, region: str, bus: str, arn: str, after: str | None, limit: int
    ) -> list[str]:
        rule, target = events_rules.c, events_targets.c
        conditions = [
            rule.account_id == account_id,
            rule.region == region,
            rule.event_bus_name == bus,
            target.arn == arn,
        ]
        if after is not None:
            conditions.append(rule.name > after)
        query = (
            sa.select(rule.name)
            .distinct()
            .join(events_targets, target.rule_id == rule.id)
            .where(*conditions)
            .order_by(rule.name)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return list(connection.scalars(query))

    # Tags

    def tags(self, rule_id: int) -> dict[str, str]:
        tag = events_tags.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(tag.tag_key, tag.tag_value)
                .where(tag.rule_id == rule_id)
                .order_by(tag.tag_key)
            )
            return {key: value for key, value in rows}

    def tag(self, rule_id: int, tags: Mapping[str, str], limit: int) -> None:
        with self._writers.turn(str(rule_id)), self._engine.begin() as connection:
            if not self._lock(connection, rule_id):
                raise Gone(rule_id)
            self._tag(connection, rule_id, tags, limit)

    @staticmethod
    def _tag(connection: Connection, rule_id: int, tags: Mapping[str, str], limit: int) -> None:
        tag = events_tags.c
        connection.execute(
            sa.delete(events_tags).where(tag.rule_id == rule_id, tag.tag_key.in_(list(tags)))
        )
        connection.execute(
            sa.insert(events_tags),
            [{"rule_id": rule_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
        )
        count = connection.scalar(sa.select(sa.func.count()).where(tag.rule_id == rule_id))
        if int(count or 0) > limit:
            raise TooMany(rule_id)  # the transaction rolls back

    def untag(self, rule_id: int, keys: Iterable[str]) -> None:
        tag = events_tags.c
        with self._writers.turn(str(rule_id)), self._engine.begin() as connection:
            connection.execute(
                sa.delete(events_tags).where(tag.rule_id == rule_id, tag.tag_key.in_(list(keys)))
            )

    # The scheduler

    def due_rules(self, now: float, limit: int) -> list[Rule]:
        """Up to `limit` enabled scheduled rules whose next firing is at or before `now`, the
        most overdue first (an index range scan on `next_due`). Reading takes nothing: fire a
        rule only after `advance` on it returned True."""
        rule = events_rules.c
        query = (
            sa.select(*_RULE_COLUMNS)
            .where(rule.next_due.is_not(None), rule.next_due <= now)
            .order_by(rule.next_due, rule.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [Rule(*row) for row in connection.execute(query)]

    def advance(self, rule: Rule, fired_at: float, next_due: float | None) -> bool:
        """Claim one firing of a rule `due_rules` returned: record that it fired at `fired_at`
        and set its next due time (None: its schedule has no further firing). A compare-and-set
        on the due time `rule` was read with: True for exactly one of any number of callers
        racing on the same firing, False when another process claimed it first or the rule was
        meanwhile changed (PutRule, DisableRule, DeleteRule), in which case do not fire it."""
        columns = events_rules.c
        with self._writers.turn(str(rule.id)), self._engine.begin() as connection:
            result = connection.execute(
                sa.update(events_rules)
                .where(
                    columns.id == rule.id,
                    columns.next_due == rule.next_due,
                    columns.schedule_expression == rule.schedule_expression,
                    columns.state == rule.state,
                )
                .values(next_due=next_due, last_fired=fired_at)
            )
        return result.rowcount == 1
