"""Table definitions (SQLAlchemy Core). Migrations in `migrations/versions` create them.

Storage is untrusted: columns named `*_blob` hold barrier ciphertext, everything else is
non-secret metadata.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Barrier state (keyring blob, seal config) and server-wide settings such as the dev clock.
system_state = sa.Table(
    "system_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)

# Bumped by every write to a table that processes cache (see storage/changes.py).
change_counter = sa.Table(
    "change_counter",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("counter", sa.BigInteger, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

access_keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("access_key_id", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.account_id"), nullable=False),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("secret_blob", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Key ids in storage: a key id, or for a multi-Region key "mrk-...:region" (one row per Region).
KEY_ID = sa.String(64)

kms_keys = sa.Table(
    "kms_keys",
    metadata,
    sa.Column("key_id", KEY_ID, primary_key=True),
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
    sa.Column("deletion_date", sa.Float, nullable=True),  # set while PendingDeletion
    sa.Column("rotation_period_days", sa.Integer, nullable=True),  # set while rotation is on
    sa.Column("next_rotation_date", sa.Float, nullable=True),
    sa.Column("valid_to", sa.Float, nullable=True),  # imported material expires then
    sa.Column("expiration_model", sa.String(32), nullable=True),
    sa.Column("imported_material_mac", sa.String(128), nullable=True),  # hex barrier MAC
    sa.Column("primary_region", sa.String(32), nullable=True),  # multi-Region keys
    sa.Column("pending_window_days", sa.Integer, nullable=True),
    # Barrier integrity tag over every column above: storage cannot re-enable a key, move it
    # to another account or rewrite its policy unnoticed.
    sa.Column("row_mac", sa.LargeBinary, nullable=False),
    sa.Index("ix_kms_keys_account_region", "account_id", "region"),
)

kms_key_materials = sa.Table(
    "kms_key_materials",
    metadata,
    sa.Column("key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("material_blob", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("rotation_type", sa.String(16), nullable=True),  # AUTOMATIC, ON_DEMAND; None: first
)

kms_aliases = sa.Table(
    "kms_aliases",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("alias_name", sa.String(256), primary_key=True),
    sa.Column("target_key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), nullable=False),
    sa.Column("creation_date", sa.Float, nullable=False),
    sa.Column("last_updated_date", sa.Float, nullable=False),
)

kms_tags = sa.Table(
    "kms_tags",
    metadata,
    sa.Column("key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), primary_key=True),
    sa.Column("tag_key", sa.String(128), primary_key=True),
    sa.Column("tag_value", sa.String(256), nullable=False),
)

kms_grants = sa.Table(
    "kms_grants",
    metadata,
    sa.Column("grant_id", sa.String(64), primary_key=True),
    sa.Column("key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=True),
    sa.Column("grantee_principal", sa.String(256), nullable=False),
    sa.Column("retiring_principal", sa.String(256), nullable=True),
    sa.Column("issuing_account", sa.String(256), nullable=False),
    sa.Column("operations", sa.Text, nullable=False),  # JSON list
    sa.Column("constraints", sa.Text, nullable=True),  # JSON object
    sa.Column("creation_date", sa.Float, nullable=False),
    # A grant gives access: its integrity tag keeps storage from widening one unnoticed.
    sa.Column("row_mac", sa.LargeBinary, nullable=False),
    sa.Index("ix_kms_grants_key", "key_id"),
    sa.Index("ix_kms_grants_retiring", "retiring_principal"),
)

# The last successful cryptographic use of each key (GetKeyLastUsage), kept apart from the key
# row: it changes on every use, and the key row is integrity-tagged and cached.
kms_key_usage = sa.Table(
    "kms_key_usage",
    metadata,
    sa.Column("key_id", KEY_ID, sa.ForeignKey("kms_keys.key_id"), primary_key=True),
    sa.Column("tracking_start", sa.Float, nullable=False),
    sa.Column("operation", sa.String(64), nullable=True),
    sa.Column("used_at", sa.Float, nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
)

sm_secrets = sa.Table(
    "sm_secrets",
    metadata,
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
    sa.Column("secret_type", sa.String(256), nullable=True),
    sa.Column("resource_policy", sa.Text, nullable=True),
    # Set on a replica: the secret in another region that it copies.
    sa.Column("primary_arn", sa.String(2048), nullable=True, index=True),
    sa.UniqueConstraint("account_id", "region", "name", name="uq_sm_secrets_name"),
    # ListSecrets pages in creation order by default (the name order has the constraint above).
    sa.Index("ix_sm_secrets_listing", "account_id", "region", "created_date"),
)

# One row per secret version: the value encrypted under a data key that KMS wraps (envelope),
# and a barrier tag of the value so an idempotent retry can be recognised without plaintext.
sm_versions = sa.Table(
    "sm_versions",
    metadata,
    sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
    sa.Column("version_id", sa.String(64), primary_key=True),
    sa.Column("created_date", sa.Float, nullable=False),
    sa.Column("kms_key_arn", sa.String(2048), nullable=False),
    sa.Column("is_binary", sa.Boolean, nullable=False),
    sa.Column("value_blob", sa.LargeBinary, nullable=False),
    sa.Column("value_mac", sa.LargeBinary, nullable=False),
)

sm_stages = sa.Table(
    "sm_stages",
    metadata,
    sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
    sa.Column("stage", sa.String(256), primary_key=True),
    sa.Column("version_id", sa.String(64), nullable=False),
)

sm_tags = sa.Table(
    "sm_tags",
    metadata,
    sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
    sa.Column("tag_key", sa.String(128), primary_key=True),
    sa.Column("tag_value", sa.String(256), nullable=False),
)

# The regions a primary secret is replicated to, with the state of each copy; a region whose
# copy failed (its name was taken there) has a row here and no replica secret.
sm_replicas = sa.Table(
    "sm_replicas",
    metadata,
    sa.Column("primary_arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("kms_key_id", sa.String(2048), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_message", sa.Text, nullable=True),
)

# What `--dev` reset wipes: every service's resources, children before parents. Accounts,
# credentials and the barrier stay, so the documented test credentials keep working.
SERVICE_TABLES = (
    sm_replicas,
    sm_tags,
    sm_stages,
    sm_versions,
    sm_secrets,
    kms_grants,
    kms_key_usage,
    kms_tags,
    kms_aliases,
    kms_key_materials,
    kms_keys,
)
