"""Secrets Manager: secrets, their envelope-encrypted versions, staging labels and tags.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sm_secrets",
        sa.Column("arn", sa.String(2048), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("kms_key_id", sa.String(2048), nullable=True),
        sa.Column("created_date", sa.Float, nullable=False),
        sa.Column("last_changed_date", sa.Float, nullable=False),
        sa.Column("last_accessed_date", sa.Float, nullable=True),
        sa.Column("deleted_date", sa.Float, nullable=True),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_sm_secrets_name"),
    )
    op.create_table(
        "sm_versions",
        sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("created_date", sa.Float, nullable=False),
        sa.Column("kms_key_arn", sa.String(2048), nullable=False),
        sa.Column("is_binary", sa.Boolean, nullable=False),
        sa.Column("value_blob", sa.LargeBinary, nullable=False),
        sa.Column("value_mac", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "sm_stages",
        sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
        sa.Column("stage", sa.String(256), primary_key=True),
        sa.Column("version_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "sm_tags",
        sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
