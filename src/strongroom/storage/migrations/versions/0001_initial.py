"""Barrier state, accounts, access keys and the KMS symmetric core.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "system_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )
    counter = op.create_table(
        "change_counter",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("counter", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counter, [{"name": "cache", "counter": 0}, {"name": "seal", "counter": 0}])
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(128), primary_key=True),
        sa.Column(
            "account_id", sa.String(12), sa.ForeignKey("accounts.account_id"), nullable=False
        ),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("secret_blob", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "kms_keys",
        sa.Column("key_id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("key_usage", sa.String(32), nullable=False),
        sa.Column("key_spec", sa.String(32), nullable=False),
        sa.Column("key_state", sa.String(32), nullable=False),
        sa.Column("key_manager", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(32), nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("multi_region", sa.Boolean, nullable=False),
        sa.Column("current_material_version", sa.Integer, nullable=False),
        sa.Column("creation_date", sa.Float, nullable=False),
        sa.Column("row_mac", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_kms_keys_account_region", "kms_keys", ["account_id", "region"])
    op.create_table(
        "kms_key_materials",
        sa.Column("key_id", sa.String(36), sa.ForeignKey("kms_keys.key_id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("material_blob", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "kms_aliases",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("alias_name", sa.String(256), primary_key=True),
        sa.Column("target_key_id", sa.String(36), sa.ForeignKey("kms_keys.key_id"), nullable=False),
        sa.Column("creation_date", sa.Float, nullable=False),
        sa.Column("last_updated_date", sa.Float, nullable=False),
    )
    op.create_table(
        "kms_tags",
        sa.Column("key_id", sa.String(36), sa.ForeignKey("kms_keys.key_id"), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
