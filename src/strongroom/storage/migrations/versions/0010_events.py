"""EventBridge: rules on the default event bus (with the next due time of scheduled ones,
indexed for the scheduler), their targets and tags.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EVENTS_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
EVENTS_NAME = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events_rules",
        sa.Column("id", EVENTS_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("event_bus_name", sa.String(256), nullable=False),
        sa.Column("name", EVENTS_NAME, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("schedule_expression", sa.String(256), nullable=True),
        sa.Column("event_pattern", sa.Text, nullable=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("role_arn", sa.Text, nullable=True),
        sa.Column("managed_by", sa.String(128), nullable=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("schedule_anchor", sa.Float, nullable=True),
        sa.Column("next_due", sa.Float, nullable=True),
        sa.Column("last_fired", sa.Float, nullable=True),
        sa.UniqueConstraint(
            "account_id", "region", "event_bus_name", "name", name="uq_events_rules"
        ),
    )
    op.create_index("ix_events_rules_next_due", "events_rules", ["next_due"])
    op.create_table(
        "events_targets",
        sa.Column("rule_id", EVENTS_ID, sa.ForeignKey("events_rules.id"), primary_key=True),
        sa.Column("target_id", EVENTS_NAME, primary_key=True),
        sa.Column("arn", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
    )
    op.create_index("ix_events_targets_arn", "events_targets", ["arn"])
    op.create_table(
        "events_tags",
        sa.Column("rule_id", EVENTS_ID, sa.ForeignKey("events_rules.id"), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("events_tags")
    op.drop_index("ix_events_targets_arn", table_name="events_targets")
    op.drop_table("events_targets")
    op.drop_index("ix_events_rules_next_due", table_name="events_rules")
    op.drop_table("events_rules")
