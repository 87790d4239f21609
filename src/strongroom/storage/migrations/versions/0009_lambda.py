"""Lambda functions: configuration, code and environment variables (barrier ciphertext), the
resource policy and tags.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LAMBDA_NAME = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lambda_functions",
        sa.Column("function_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", LAMBDA_NAME, nullable=False),
        sa.Column("revision_id", sa.String(36), nullable=False),
        sa.Column("configuration", sa.Text, nullable=False),
        sa.Column("environment_blob", sa.LargeBinary, nullable=False),
        sa.Column("code_blob", sa.LargeBinary, nullable=False),
        sa.Column("policy", sa.Text, nullable=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_lambda_functions_name"),
    )


def downgrade() -> None:
    op.drop_table("lambda_functions")
