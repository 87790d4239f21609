"""The audit trail: records (and the resources of each beyond its first), reservations of
calls in flight, log files, digests and the keys that sign them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

AUDIT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", AUDIT_ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("event_time", sa.Float, nullable=False),
        sa.Column("event_source", sa.String(64), nullable=False),
        sa.Column("event_name", sa.String(128), nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("username", sa.String(128), nullable=True),
        sa.Column("access_key_id", sa.String(128), nullable=True),
        sa.Column("resource_type", sa.String(64), nullable=True),
        sa.Column("resource_name", sa.String(2048), nullable=True),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_records_time", "audit_records", ["account_id", "event_time"])
    op.create_index(
        "ix_audit_records_name", "audit_records", ["account_id", "event_name", "event_time"]
    )
    op.create_index(
        "ix_audit_records_resource", "audit_records", ["account_id", "resource_name", "event_time"]
    )
    op.create_index(
        "ix_audit_records_user", "audit_records", ["account_id", "username", "event_time"]
    )
    op.create_table(
        "audit_record_resources",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("resource_name", sa.String(2048), nullable=False),
        sa.Column("event_time", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_audit_record_resources",
        "audit_record_resources",
        ["account_id", "resource_name", "event_time"],
    )
    op.create_table(
        "audit_reservations",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_table(
        "audit_log_files",
        sa.Column("object_key", sa.String(512), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("after_id", AUDIT_ID, nullable=False),
        sa.Column("through_id", AUDIT_ID, nullable=False),
        sa.Column("oldest_event_time", sa.Float, nullable=False),
        sa.Column("newest_event_time", sa.Float, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("digest_key", sa.String(512), nullable=True),
    )
    op.create_index(
        "ix_audit_log_files_undigested",
        "audit_log_files",
        ["account_id", "region", "digest_key"],
    )
    op.create_table(
        "audit_digests",
        sa.Column("object_key", sa.String(512), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.String(1024), nullable=False),
    )
    op.create_index("ix_audit_digests_end", "audit_digests", ["account_id", "region", "end_time"])
    op.create_table(
        "audit_signing_keys",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("private_blob", sa.LargeBinary, nullable=False),
        sa.Column("valid_from", sa.Float, nullable=False),
        sa.Column("valid_to", sa.Float, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "audit_signing_keys",
        "audit_digests",
        "audit_log_files",
        "audit_reservations",
        "audit_record_resources",
        "audit_records",
    ):
        op.drop_table(table)
