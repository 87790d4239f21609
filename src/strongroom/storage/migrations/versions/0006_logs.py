"""CloudWatch Logs: log groups, streams, events (messages as barrier ciphertext), metric
filters and tags.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


LOGS_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
LOGS_NAME = sa.String(512).with_variant(sa.String(512, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "logs_groups",
        sa.Column("id", LOGS_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", LOGS_NAME, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("retention_in_days", sa.Integer, nullable=True),
        sa.Column("log_group_class", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_logs_groups_name"),
    )
    op.create_table(
        "logs_streams",
        sa.Column("id", LOGS_ID, primary_key=True, autoincrement=True),
        sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), nullable=False),
        sa.Column("name", LOGS_NAME, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("first_event_timestamp", sa.BigInteger, nullable=True),
        sa.Column("last_event_timestamp", sa.BigInteger, nullable=True),
        sa.Column("last_ingestion_time", sa.BigInteger, nullable=True),
        sa.Column("stored_bytes", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("group_id", "name", name="uq_logs_streams_name"),
    )
    op.create_index(
        "ix_logs_streams_last_event", "logs_streams", ["group_id", "last_event_timestamp"]
    )
    op.create_table(
        "logs_events",
        sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("stream_id", LOGS_ID, sa.ForeignKey("logs_streams.id"), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("ingestion_time", sa.BigInteger, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("message_blob", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_logs_events_group_time", "logs_events", ["group_id", "timestamp", "seq"])
    op.create_index(
        "ix_logs_events_stream_time",
        "logs_events",
        ["group_id", "stream_id", "timestamp", "seq"],
    )
    op.create_table(
        "logs_metric_filters",
        sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), primary_key=True),
        sa.Column("filter_name", LOGS_NAME, primary_key=True),
        sa.Column("filter_pattern", sa.Text, nullable=False),
        sa.Column("metric_name", sa.String(255), nullable=False),
        sa.Column("metric_namespace", sa.String(255), nullable=False),
        sa.Column("metric_value", sa.String(100), nullable=False),
        sa.Column("default_value", sa.Float, nullable=True),
        sa.Column("dimensions", sa.Text, nullable=True),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("regex_count", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_logs_metric_filters_metric",
        "logs_metric_filters",
        ["metric_namespace", "metric_name"],
    )
    op.create_table(
        "logs_tags",
        sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
