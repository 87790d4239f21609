"""Secrets Manager rotation: each secret's rotation configuration and next window, and the
rotations under way; deletion dates indexed for the purge job.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sm_secrets") as batch:
        batch.add_column(
            sa.Column("rotation_enabled", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("rotation_lambda_arn", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("rotation_rules", sa.Text, nullable=True))
        batch.add_column(sa.Column("last_rotated_date", sa.Float, nullable=True))
        batch.add_column(sa.Column("next_rotation_date", sa.Float, nullable=True))
        batch.create_index("ix_sm_secrets_next_rotation_date", ["next_rotation_date"])
        batch.create_index("ix_sm_secrets_deleted_date", ["deleted_date"])
    op.create_table(
        "sm_rotations",
        sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("test_only", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=True),
    )
    op.create_index("ix_sm_rotations_next_attempt", "sm_rotations", ["next_attempt"])


def downgrade() -> None:
    op.drop_index("ix_sm_rotations_next_attempt", table_name="sm_rotations")
    op.drop_table("sm_rotations")
    with op.batch_alter_table("sm_secrets") as batch:
        batch.drop_index("ix_sm_secrets_deleted_date")
        batch.drop_index("ix_sm_secrets_next_rotation_date")
        for column in (
            "next_rotation_date",
            "last_rotated_date",
            "rotation_rules",
            "rotation_lambda_arn",
            "rotation_enabled",
        ):
            batch.drop_column(column)
