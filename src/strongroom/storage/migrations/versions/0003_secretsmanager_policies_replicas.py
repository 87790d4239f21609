"""Secrets Manager: secret types, resource policies, replication to other regions, and an index
for listing in creation order.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sm_secrets") as batch:
        batch.add_column(sa.Column("secret_type", sa.String(256), nullable=True))
        batch.add_column(sa.Column("resource_policy", sa.Text, nullable=True))
        batch.add_column(sa.Column("primary_arn", sa.String(2048), nullable=True))
        batch.create_index("ix_sm_secrets_primary_arn", ["primary_arn"])
        batch.create_index("ix_sm_secrets_listing", ["account_id", "region", "created_date"])
    op.create_table(
        "sm_replicas",
        sa.Column(
            "primary_arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True
        ),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("kms_key_id", sa.String(2048), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
    )
