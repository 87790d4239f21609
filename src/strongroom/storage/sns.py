"""SNS: topics, tags, subscriptions and the delivery outbox.

Publish stores its message and one delivery per confirmed subscription in one transaction.
The delivery job reads due deliveries (`due_deliveries`) and claims each with `claim`, a
compare-and-set that moves its `due` past the attempt's lease: of any number of processes
that read the same delivery exactly one claims it, and a claimant that dies leaves it due
again when the lease ends, so nothing is lost. `finish` records the outcome only while the
claim still holds (the same compare-and-set), so an attempt is counted once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.services.sns.model import Delivery, Subscription, Topic
from strongroom.storage.engine import WriterQueue
from strongroom.storage.schema import (
    sns_deliveries,
    sns_messages,
    sns_subscriptions,
    sns_tags,
    sns_topics,
    system_state,
)

_TOPIC = [sns_topics.c[f.name] for f in fields(Topic)]
_SUBSCRIPTION = [sns_subscriptions.c[f.name] for f in fields(Subscription)]
_DELIVERY = [sns_deliveries.c[f.name] for f in fields(Delivery)]
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class TooMany(Exception):
    """The change would take an account, or a topic, over a limit."""


class Gone(Exception):
    """The topic was deleted meanwhile."""


class SnsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writers = WriterQueue(engine)

    # Topics

    def create_topic(
        self,
        account_id: str,
        region: str,
        name: str,
        attributes: str,
        tags: Mapping[str, str],
        now: float,
        max_topics: int,
        max_tags: int,
    ) -> tuple[Topic, bool]:
        """The new topic and True, or the existing one of that name and False."""
        topic = sns_topics.c
        key = (topic.account_id == account_id, topic.region == region)
        with self._writers.turn(f"sns/{account_id}/{region}"), self._engine.begin() as connection:
            existing = _topic(connection, *key, topic.name == name)
            if existing is not None:
                return existing, False
            count = connection.scalar(sa.select(sa.func.count()).where(*key))
            if int(count or 0) >= max_topics:
                raise TooMany(name)
            topic_id = connection.scalar(
                sa.insert(sns_topics)
                .values(
                    account_id=account_id,
                    region=region,
                    name=name,
                    attributes=attributes,
                    created=now,
                )
                .returning(topic.id)
            )
            if tags:
                _tag(connection, int(topic_id), tags, max_tags)
            created = _topic(connection, topic.id == topic_id)
        assert created is not None
        return created, True

    def topic(self, account_id: str, region: str, name: str) -> Topic | None:
        topic = sns_topics.c
        with self._engine.connect() as connection:
            return _topic(
                connection,
                topic.account_id == account_id,
                topic.region == region,
                topic.name == name,
            )

    def topic_by_id(self, topic_id: int) -> Topic | None:
        with self._engine.connect() as connection:
            return _topic(connection, sns_topics.c.id == topic_id)

    def topics(self, account_id: str, region: str, after: int, limit: int) -> list[Topic]:
        topic = sns_topics.c
        query = (
            sa.select(*_TOPIC)
            .where(topic.account_id == account_id, topic.region == region, topic.id > after)
            .order_by(topic.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [Topic(*row) for row in connection.execute(query)]

    def set_topic_attributes(self, topic_id: int, update: Callable[[str], str]) -> bool:
        """Replace the topic's attributes by `update(current)`; False when it is gone."""
        with self._writers.turn(f"sns/topic/{topic_id}"), self._engine.begin() as connection:
            if not _lock(connection, topic_id):
                return False
            current = connection.scalar(
                sa.select(sns_topics.c.attributes).where(sns_topics.c.id == topic_id)
            )
            connection.execute(
                sa.update(sns_topics)
                .where(sns_topics.c.id == topic_id)
                .values(attributes=update(str(current)))
            )
        return True

    def delete_topic(self, topic_id: int) -> None:
        """The topic, its tags and subscriptions, and the deliveries not yet made."""
        with self._writers.turn(f"sns/topic/{topic_id}"), self._engine.begin() as connection:
            messages = sa.select(sns_messages.c.id).where(sns_messages.c.topic_id == topic_id)
            connection.execute(
                sa.delete(sns_deliveries).where(sns_deliveries.c.message_row.in_(messages))
            )
            connection.execute(sa.delete(sns_messages).where(sns_messages.c.topic_id == topic_id))
            connection.execute(
                sa.delete(sns_subscriptions).where(sns_subscriptions.c.topic_id == topic_id)
            )
            connection.execute(sa.delete(sns_tags).where(sns_tags.c.topic_id == topic_id))
            connection.execute(sa.delete(sns_topics).where(sns_topics.c.id == topic_id))

    # Tags

    def tags(self, topic_id: int) -> dict[str, str]:
        tag = sns_tags.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(tag.tag_key, tag.tag_value)
                .where(tag.topic_id == topic_id)
                .order_by(tag.tag_key)
            )
            return {key: value for key, value in rows}

    def tag(self, topic_id: int, tags: Mapping[str, str], limit: int) -> None:
        with self._writers.turn(f"sns/topic/{topic_id}"), self._engine.begin() as connection:
            if not _lock(connection, topic_id):
                raise Gone(topic_id)
            _tag(connection, topic_id, tags, limit)

    def untag(self, topic_id: int, keys: Iterable[str]) -> None:
        tag = sns_tags.c
        with self._writers.turn(f"sns/topic/{topic_id}"), self._engine.begin() as connection:
            connection.execute(
                sa.delete(sns_tags).where(tag.topic_id == topic_id, tag.tag_key.in_(list(keys)))
            )

    # Subscriptions

    def subscribe(
        self,
        values: Mapping[str, object],
        confirmation: tuple[str, bytes] | None,
        now: float,
    ) -> tuple[Subscription, bool]:
        """The new subscription (with its confirmation message queued, if any) and True, or the
        topic's subscription to the same endpoint and False. Gone when the topic is."""
        sub = sns_subscriptions.c
        topic_id = int(values["topic_id"])  # type: ignore[call-overload]
        with self._writers.turn(f"sns/topic/{topic_id}"), self._engine.begin() as connection:
            if not _lock(connection, topic_id):
                raise Gone(topic_id)
            existing = _subscription(
                connection,
                sub.topic_id == topic_id,
                sub.endpoint_tag == values["endpoint_tag"],
                sub.protocol == values["protocol"],
            )
            if existing is not None:
                return existing, False
            sub_id = connection.scalar(
                sa.insert(sns_subscriptions).values(**values, created=now).returning(sub.id)
            )
            if confirmation is not None:
                message_id, body = confirmation
                _enqueue(
                    connection,
                    topic_id,
                    message_id,
                    body,
                    [(int(sub_id), str(values["protocol"]))],
                    now,
                )
            created = _subscription(connection, sub.id == sub_id)
        assert created is not None
        return created, True

    def subscription(self, arn: str) -> Subscription | None:
        with self._engine.connect() as connection:
            return _subscription(connection, sns_subscriptions.c.arn == arn)

    def subscription_by_id(self, subscription_id: int) -> Subscription | None:
        with self._engine.connect() as connection:
            return _subscription(connection, sns_subscriptions.c.id == subscription_id)

    def subscription_by_token(self, token_hash: str) -> Subscription | None:
        with self._engine.connect() as connection:
            return _subscription(connection, sns_subscriptions.c.token_hash == token_hash)

    def subscriptions(
        self, account_id: str, region: str, topic_id: int | None, after: int, limit: int
    ) -> list[Subscription]:
        sub = sns_subscriptions.c
        conditions = [sub.id > after]
        if topic_id is not None:
            conditions.append(sub.topic_id == topic_id)
        else:
            conditions += [sub.account_id == account_id, sub.region == region]
        query = sa.select(*_SUBSCRIPTION).where(*conditions).order_by(sub.id).limit(limit)
        with self._engine.connect() as connection:
            return [Subscription(*row) for row in connection.execute(query)]

    def counts(self, topic_id: int) -> tuple[int, int]:
        """(confirmed, pending) subscriptions of the topic."""
        sub = sns_subscriptions.c
        query = (
            sa.select(sub.pending, sa.func.count())
            .where(sub.topic_id == topic_id)
            .group_by(sub.pending)
        )
        with self._engine.connect() as connection:
            counted = {bool(pending): int(n) for pending, n in connection.execute(query)}
        return counted.get(False, 0), counted.get(True, 0)

    def update_subscription(self, subscription_id: int, **values: object) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                sa.update(sns_subscriptions)
                .where(sns_subscriptions.c.id == subscription_id)
                .values(**values)
            )
        return result.rowcount == 1

    def unsubscribe(self, subscription_id: int) -> None:
        """The subscription and its deliveries not yet made."""
        delivery = sns_deliveries.c
        with self._engine.begin() as connection:
            connection.execute(
                sa.delete(sns_deliveries).where(
                    delivery.subscription_id == subscription_id, delivery.state == PENDING
                )
            )
            connection.execute(
                sa.delete(sns_subscriptions).where(sns_subscriptions.c.id == subscription_id)
            )

    # Publishing

    def publish(
        self,
        topic_id: int,
        messages: Sequence[tuple[str, bytes, Callable[[Subscription], bool]]],
        now: float,
    ) -> None:
        """Store each (message id, body, wants) with a delivery to every confirmed subscription
        of the topic that `wants` it, in one transaction. Gone when the topic is."""
        sub = sns_subscriptions.c
        with self._engine.begin() as connection:
            if (
                connection.scalar(sa.select(sns_topics.c.id).where(sns_topics.c.id == topic_id))
                is None
            ):
                raise Gone(topic_id)
            confirmed = [
                Subscription(*row)
                for row in connection.execute(
                    sa.select(*_SUBSCRIPTION).where(
                        sub.topic_id == topic_id, sub.pending.is_(False)
                    )
                )
            ]
            for message_id, body, wants in messages:
                targets = [(s.id, s.protocol) for s in confirmed if wants(s)]
                _enqueue(connection, topic_id, message_id, body, targets, now)

    # The delivery job

    def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        """Up to `limit` deliveries whose next attempt is due, the most overdue first. Reading
        takes nothing: attempt a delivery only after `claim` on it returned True."""
        delivery = sns_deliveries.c
        query = (
            sa.select(*_DELIVERY)
            .where(delivery.due.is_not(None), delivery.due <= now)
            .order_by(delivery.due, delivery.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [Delivery(*row) for row in connection.execute(query)]

    def claim(self, delivery: Delivery, lease_until: float) -> bool:
        """Claim an attempt at a delivery `due_deliveries` returned: counts the attempt and moves
        its due time to `lease_until` (when it becomes due again should the claimant die).
        True for exactly one of any number of callers racing on the same delivery."""
        columns = sns_deliveries.c
        with self._engine.begin() as connection:
            result = connection.execute(
                sa.update(sns_deliveries)
                .where(columns.id == delivery.id, columns.due == delivery.due)
                .values(due=lease_until, attempts=columns.attempts + 1)
            )
        return result.rowcount == 1

    def finish(
        self, delivery_id: int, lease_until: float, state: str, next_due: float | None, now: float
    ) -> bool:
        """Record an attempt's outcome while its claim holds: delivered or failed for good
        (`next_due` None), or pending again at `next_due`. False when the claim was lost."""
        columns = sns_deliveries.c
        finished = now if state != PENDING else None
        with self._engine.begin() as connection:
            result = connection.execute(
                sa.update(sns_deliveries)
                .where(columns.id == delivery_id, columns.due == lease_until)
                .values(state=state, due=next_due, finished=finished)
            )
        return result.rowcount == 1

    def message_body(self, message_row: int) -> tuple[str, int, bytes] | None:
        """(message id, topic id, body ciphertext) of a stored message."""
        message = sns_messages.c
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(message.message_id, message.topic_id, message.body_blob).where(
                    message.id == message_row
                )
            ).first()
        return (str(row[0]), int(row[1]), bytes(row[2])) if row else None

    def forget_finished(self, before: float, limit: int) -> int:
        """Delete up to `limit` deliveries finished before `before`, and messages left without
        deliveries; how many deliveries went."""
        delivery, message = sns_deliveries.c, sns_messages.c
        with self._engine.begin() as connection:
            rows = list(
                connection.execute(
                    sa.select(delivery.id, delivery.message_row)
                    .where(delivery.finished.is_not(None), delivery.finished < before)
                    .limit(limit)
                )
            )
            if not rows:
                return 0
            connection.execute(
                sa.delete(sns_deliveries).where(delivery.id.in_([r[0] for r in rows]))
            )
            still_used = sa.select(delivery.message_row).where(
                delivery.message_row.in_({r[1] for r in rows})
            )
            connection.execute(
                sa.delete(sns_messages).where(
                    message.id.in_({r[1] for r in rows}), message.id.not_in(still_used)
                )
            )
        return len(rows)

    # The signing key (server-wide, created once)

    def signing_material(self, name: str) -> bytes | None:
        with self._engine.connect() as connection:
            return connection.scalar(
                sa.select(system_state.c.value).where(system_state.c.name == name)
            )

    def add_signing_material(self, values: Mapping[str, bytes]) -> bool:
        """Store the signing key and certificate unless another process did first."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    sa.insert(system_state), [{"name": n, "value": v} for n, v in values.items()]
                )
        except sa.exc.IntegrityError:
            return False
        return True


def _topic(connection: Connection, *conditions: sa.ColumnElement[bool]) -> Topic | None:
    row = connection.execute(sa.select(*_TOPIC).where(*conditions)).first()
    return Topic(*row) if row else None


def _subscription(
    connection: Connection, *conditions: sa.ColumnElement[bool]
) -> Subscription | None:
    row = connection.execute(sa.select(*_SUBSCRIPTION).where(*conditions)).first()
    return Subscription(*row) if row else None


def _lock(connection: Connection, topic_id: int) -> bool:
    """Lock the topic's row for the transaction; False when the topic is gone."""
    result = connection.execute(
        sa.update(sns_topics)
        .where(sns_topics.c.id == topic_id)
        .values(created=sns_topics.c.created)
    )
    return result.rowcount == 1


def _tag(connection: Connection, topic_id: int, tags: Mapping[str, str], limit: int) -> None:
    tag = sns_tags.c
    connection.execute(
        sa.delete(sns_tags).where(tag.topic_id == topic_id, tag.tag_key.in_(list(tags)))
    )
    connection.execute(
        sa.insert(sns_tags),
        [{"topic_id": topic_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
    )
    count = connection.scalar(sa.select(sa.func.count()).where(tag.topic_id == topic_id))
    if int(count or 0) > limit:
        raise TooMany(topic_id)  # the transaction rolls back


def _enqueue(
    connection: Connection,
    topic_id: int,
    message_id: str,
    body: bytes,
    targets: Sequence[tuple[int, str]],
    now: float,
) -> None:
    if not targets:
        return  # a message no subscription receives is not kept
    row = connection.scalar(
        sa.insert(sns_messages)
        .values(message_id=message_id, topic_id=topic_id, body_blob=body, created=now)
        .returning(sns_messages.c.id)
    )
    connection.execute(
        sa.insert(sns_deliveries),
        [
            {
                "message_row": row,
                "subscription_id": subscription_id,
                "protocol": protocol,
                "state": PENDING,
                "attempts": 0,
                "due": now,
                "created": now,
            }
            for subscription_id, protocol in targets
        ],
    )
