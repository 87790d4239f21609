"""KMS: the date a key scheduled for deletion is deleted.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kms_keys") as batch:
        batch.add_column(sa.Column("deletion_date", sa.Float, nullable=True))
