"""CloudWatch alarms: alarms (configuration, state and the next evaluation), their history,
and the notifications of state transitions waiting to be handed to SNS.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CW_NAME = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cw_alarms",
        sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", CW_NAME, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("actions_enabled", sa.Boolean, nullable=False),
        sa.Column("configuration_updated", sa.Float, nullable=False),
        sa.Column("state_value", sa.String(32), nullable=False),
        sa.Column("state_reason", sa.Text, nullable=False),
        sa.Column("state_reason_data", sa.Text, nullable=True),
        sa.Column("state_updated", sa.Float, nullable=False),
        sa.Column("state_transitioned", sa.Float, nullable=False),
        sa.Column("next_evaluation", sa.Float, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_cw_alarms_name"),
    )
    op.create_index("ix_cw_alarms_due", "cw_alarms", ["next_evaluation"])
    op.create_table(
        "cw_alarm_history",
        sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("alarm_name", CW_NAME, nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("item_type", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_cw_alarm_history_time", "cw_alarm_history", ["account_id", "region", "timestamp"]
    )
    op.create_index(
        "ix_cw_alarm_history_alarm",
        "cw_alarm_history",
        ["account_id", "region", "alarm_name", "timestamp"],
    )
    op.create_table(
        "cw_alarm_actions",
        sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("alarm_name", CW_NAME, nullable=False),
        sa.Column("action_arn", sa.String(1024), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cw_alarm_actions")
    op.drop_table("cw_alarm_history")
    op.drop_table("cw_alarms")
