"""KMS: rotation schedules, the rotation that made each key material, grants, imported key
material, multi-Region keys (key ids in storage grow to "mrk-...:region"), and last-usage
tracking (which starts now for the keys that exist).

Revision ID: 0005
Revises: 0004
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


KEY_ID = sa.String(64)
_KEY_ID_COLUMNS = {
    "kms_keys": "key_id",
    "kms_key_materials": "key_id",
    "kms_aliases": "target_key_id",
    "kms_tags": "key_id",
}


def upgrade() -> None:
    for table, column in _KEY_ID_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=KEY_ID, existing_type=sa.String(36))
    with op.batch_alter_table("kms_keys") as batch:
        batch.add_column(sa.Column("rotation_period_days", sa.Integer, nullable=True))
        batch.add_column(sa.Column("next_rotation_date", sa.Float, nullable=True))
        batch.add_column(sa.Column("valid_to", sa.Float, nullable=True))
        batch.add_column(sa.Column("expiration_model", sa.String(32), nullable=True))
        batch.add_column(sa.Column("imported_material_mac", sa.String(128), nullable=True))
        batch.add_column(sa.Column("primary_region", sa.String(32), nullable=True))
        batch.add_column(sa.Column("pending_window_days", sa.Integer, nullable=True))
    with op.batch_alter_table("kms_key_materials") as batch:
        batch.add_column(sa.Column("rotation_type", sa.String(16), nullable=True))
    op.create_table(
        "kms_grants",
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), nullable=False),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("grantee_principal", sa.String(256), nullable=False),
        sa.Column("retiring_principal", sa.String(256), nullable=True),
        sa.Column("issuing_account", sa.String(256), nullable=False),
        sa.Column("operations", sa.Text, nullable=False),
        sa.Column("constraints", sa.Text, nullable=True),
        sa.Column("creation_date", sa.Float, nullable=False),
        sa.Column("row_mac", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_kms_grants_key", "kms_grants", ["key_id"])
    op.create_index("ix_kms_grants_retiring", "kms_grants", ["retiring_principal"])
    op.create_table(
        "kms_key_usage",
        sa.Column("key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), primary_key=True),
        sa.Column("tracking_start", sa.Float, nullable=False),
        sa.Column("operation", sa.String(64), nullable=True),
        sa.Column("used_at", sa.Float, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.execute(
        sa.text(
            "INSERT INTO kms_key_usage (key_id, tracking_start) SELECT key_id, :now FROM kms_keys"
        ).bindparams(now=time.time())
    )
