"""IAM: users, groups, roles, customer managed policies and their versions, attachments,
inline policies, group members, tags, virtual MFA devices (seeds as barrier ciphertext) and
access key last use. Every user that holds access keys already (the bootstrap administrator)
becomes an IAM user with AdministratorAccess attached.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

IAM_ID = sa.String(32)
IAM_NAME = sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")
IAM_TEXT = sa.String(2048).with_variant(sa.String(2048, collation="C"), "postgresql")
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def upgrade() -> None:
    op.create_index("ix_access_keys_user", "access_keys", ["user_id"])
    users = op.create_table(
        "iam_users",
        sa.Column("user_id", IAM_ID, primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", IAM_NAME, nullable=False),
        sa.Column("name_key", IAM_NAME, nullable=False),
        sa.Column("path", IAM_TEXT, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_users_name"),
    )
    op.create_table(
        "iam_groups",
        sa.Column("group_id", IAM_ID, primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", IAM_NAME, nullable=False),
        sa.Column("name_key", IAM_NAME, nullable=False),
        sa.Column("path", IAM_TEXT, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_groups_name"),
    )
    op.create_table(
        "iam_roles",
        sa.Column("role_id", IAM_ID, primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", IAM_NAME, nullable=False),
        sa.Column("name_key", IAM_NAME, nullable=False),
        sa.Column("path", IAM_TEXT, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("trust_policy", sa.Text, nullable=False),
        sa.Column("max_session_duration", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_roles_name"),
    )
    op.create_table(
        "iam_policies",
        sa.Column("policy_id", IAM_ID, primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", IAM_NAME, nullable=False),
        sa.Column("name_key", IAM_NAME, nullable=False),
        sa.Column("path", IAM_TEXT, nullable=False),
        sa.Column("arn", IAM_TEXT, nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("default_version", sa.String(32), nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_policies_name"),
    )
    op.create_table(
        "iam_policy_versions",
        sa.Column("policy_id", IAM_ID, sa.ForeignKey("iam_policies.policy_id"), primary_key=True),
        sa.Column("version_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    attachments = op.create_table(
        "iam_attachments",
        sa.Column("entity_id", IAM_ID, primary_key=True),
        sa.Column("policy_arn", IAM_TEXT, primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("entity_kind", sa.String(8), nullable=False),
        sa.Column("attached", sa.Float, nullable=False),
    )
    op.create_index("ix_iam_attachments_policy", "iam_attachments", ["account_id", "policy_arn"])
    op.create_table(
        "iam_inline_policies",
        sa.Column("owner_id", IAM_ID, primary_key=True),
        sa.Column("policy_name", IAM_NAME, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "iam_group_members",
        sa.Column("group_id", IAM_ID, sa.ForeignKey("iam_groups.group_id"), primary_key=True),
        sa.Column("user_id", IAM_ID, sa.ForeignKey("iam_users.user_id"), primary_key=True),
        sa.Column("added", sa.Float, nullable=False),
    )
    op.create_index("ix_iam_group_members_user", "iam_group_members", ["user_id"])
    op.create_table(
        "iam_tags",
        sa.Column("owner_id", sa.String(256), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
    op.create_table(
        "iam_mfa_devices",
        sa.Column("serial_number", sa.String(256), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("path", IAM_TEXT, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("seed_blob", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("user_id", IAM_ID, nullable=True),
        sa.Column("enabled", sa.Float, nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_iam_mfa_devices_account", "iam_mfa_devices", ["account_id"])
    op.create_index("ix_iam_mfa_devices_user", "iam_mfa_devices", ["user_id"])
    op.create_table(
        "iam_access_key_usage",
        sa.Column("access_key_id", sa.String(128), primary_key=True),
        sa.Column("used_at", sa.Float, nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
    )
    _adopt_key_holders(users, attachments)


def _adopt_key_holders(users: sa.Table, attachments: sa.Table) -> None:
    """Each user that holds access keys (the bootstrap administrator, whose keys predate IAM)
    becomes an IAM user with AdministratorAccess, as bootstrap makes it now."""
    connection = op.get_bind()
    holders = connection.execute(
        sa.text(
            "SELECT account_id, user_name, user_id, min(created_at) FROM access_keys"
            " GROUP BY account_id, user_name, user_id ORDER BY min(created_at)"
        )
    ).all()
    taken: set[tuple[str, str]] = set()
    for account_id, user_name, user_id, created in holders:
        name_key = (account_id, user_name.lower())
        if name_key in taken:  # IAM names ignore case: the oldest holder keeps the name
            continue
        taken.add(name_key)
        connection.execute(
            sa.insert(users).values(
                user_id=user_id,
                account_id=account_id,
                name=user_name,
                name_key=user_name.lower(),
                path="/",
                created=created,
            )
        )
        connection.execute(
            sa.insert(attachments).values(
                entity_id=user_id,
                policy_arn=ADMINISTRATOR_ACCESS,
                account_id=account_id,
                entity_kind="user",
                attached=created,
            )
        )


def downgrade() -> None:
    for table in (
        "iam_access_key_usage",
        "iam_mfa_devices",
        "iam_tags",
        "iam_group_members",
        "iam_inline_policies",
        "iam_attachments",
        "iam_policy_versions",
        "iam_policies",
        "iam_roles",
        "iam_groups",
        "iam_users",
    ):
        op.drop_table(table)
    op.drop_index("ix_access_keys_user", "access_keys")
