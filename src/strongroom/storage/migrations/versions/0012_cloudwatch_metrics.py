"""CloudWatch metrics: metrics by account, Region, namespace, name and dimensions, and the
datapoints PutMetricData contributes to each minute (or second, for high resolution).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CW_NAME = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cw_metrics",
        sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
        sa.Column("identity", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("namespace", CW_NAME, nullable=False),
        sa.Column("metric_name", CW_NAME, nullable=False),
        sa.Column("dimensions", sa.Text, nullable=False),
        sa.Column("last_put", sa.Float, nullable=False),
        sa.UniqueConstraint("identity", name="uq_cw_metrics_identity"),
    )
    op.create_index(
        "ix_cw_metrics_listing",
        "cw_metrics",
        ["account_id", "region", "namespace", "metric_name"],
    )
    op.create_table(
        "cw_datapoints",
        sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
        sa.Column("metric_id", CW_ID, sa.ForeignKey("cw_metrics.id"), nullable=False),
        sa.Column("resolution", sa.Integer, nullable=False),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("sample_count", sa.Float, nullable=False),
        sa.Column("sum", sa.Float, nullable=False),
        sa.Column("minimum", sa.Float, nullable=False),
        sa.Column("maximum", sa.Float, nullable=False),
        sa.Column("sketch", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_cw_datapoints_metric_time",
        "cw_datapoints",
        ["metric_id", "resolution", "period_start"],
    )


def downgrade() -> None:
    op.drop_index("ix_cw_datapoints_metric_time", table_name="cw_datapoints")
    op.drop_table("cw_datapoints")
    op.drop_index("ix_cw_metrics_listing", table_name="cw_metrics")
    op.drop_table("cw_metrics")
