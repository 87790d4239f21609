"""SNS: topics, their tags, subscriptions, and the delivery outbox (messages and deliveries,
with the next attempt of each pending delivery indexed for the delivery job).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SNS_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
SNS_NAME = sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sns_topics",
        sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", SNS_NAME, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_sns_topics"),
    )
    op.create_table(
        "sns_tags",
        sa.Column("topic_id", SNS_ID, sa.ForeignKey("sns_topics.id"), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
    op.create_table(
        "sns_subscriptions",
        sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
        sa.Column("arn", sa.String(512), nullable=False),
        sa.Column("topic_id", SNS_ID, sa.ForeignKey("sns_topics.id"), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("endpoint_blob", sa.LargeBinary, nullable=False),
        sa.Column("endpoint_tag", sa.String(64), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("pending", sa.Boolean, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.UniqueConstraint("arn", name="uq_sns_subscriptions_arn"),
    )
    op.create_index("ix_sns_subscriptions_topic", "sns_subscriptions", ["topic_id", "endpoint_tag"])
    op.create_index(
        "ix_sns_subscriptions_account", "sns_subscriptions", ["account_id", "region", "id"]
    )
    op.create_index("ix_sns_subscriptions_token", "sns_subscriptions", ["token_hash"])
    op.create_table(
        "sns_messages",
        sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("topic_id", SNS_ID, nullable=False),
        sa.Column("body_blob", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_index("ix_sns_messages_topic", "sns_messages", ["topic_id"])
    op.create_table(
        "sns_deliveries",
        sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
        sa.Column("message_row", SNS_ID, sa.ForeignKey("sns_messages.id"), nullable=False),
        sa.Column("subscription_id", SNS_ID, nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due", sa.Float, nullable=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("finished", sa.Float, nullable=True),
    )
    op.create_index("ix_sns_deliveries_due", "sns_deliveries", ["due"])
    op.create_index("ix_sns_deliveries_message", "sns_deliveries", ["message_row"])
    op.create_index("ix_sns_deliveries_finished", "sns_deliveries", ["finished"])


def downgrade() -> None:
    for index, table in (
        ("ix_sns_deliveries_finished", "sns_deliveries"),
        ("ix_sns_deliveries_message", "sns_deliveries"),
        ("ix_sns_deliveries_due", "sns_deliveries"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("sns_deliveries")
    op.drop_index("ix_sns_messages_topic", table_name="sns_messages")
    op.drop_table("sns_messages")
    for index in (
        "ix_sns_subscriptions_token",
        "ix_sns_subscriptions_account",
        "ix_sns_subscriptions_topic",
    ):
        op.drop_index(index, table_name="sns_subscriptions")
    op.drop_table("sns_subscriptions")
    op.drop_table("sns_tags")
    op.drop_table("sns_topics")
