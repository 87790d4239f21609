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
    sa.Index("ix_access_keys_user", "user_id"),  # ListAccessKeys
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
    # Indexed for the purge job, which looks for the secrets whose recovery window ended.
    sa.Column("deleted_date", sa.Float, nullable=True, index=True),
    sa.Column("secret_type", sa.String(256), nullable=True),
    sa.Column("resource_policy", sa.Text, nullable=True),
    # Set on a replica: the secret in another region that it copies.
    sa.Column("primary_arn", sa.String(2048), nullable=True, index=True),
    sa.Column("rotation_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("rotation_lambda_arn", sa.String(2048), nullable=True),
    sa.Column("rotation_rules", sa.Text, nullable=True),
    sa.Column("last_rotated_date", sa.Float, nullable=True),
    # Set while rotation is on: the scheduler looks for the windows that have opened.
    sa.Column("next_rotation_date", sa.Float, nullable=True, index=True),
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

# Rotations under way, one per secret at most: the leader's runner claims one by setting its
# lease (a crashed runner's lease runs out and the rotation is taken up again).
sm_rotations = sa.Table(
    "sm_rotations",
    metadata,
    sa.Column("arn", sa.String(2048), sa.ForeignKey("sm_secrets.arn"), primary_key=True),
    sa.Column("version_id", sa.String(64), nullable=False),
    sa.Column("test_only", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt", sa.Float, nullable=False, index=True),
    sa.Column("lease_until", sa.Float, nullable=True),
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

# The audit trail (never wiped by a dev reset: it is evidence). Record ids give the order of
# the trail; a record is found by time, event name, resource or user through the indexes.
AUDIT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: the rowid

audit_records = sa.Table(
    "audit_records",
    metadata,
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
    sa.Index("ix_audit_records_time", "account_id", "event_time"),
    sa.Index("ix_audit_records_name", "account_id", "event_name", "event_time"),
    sa.Index("ix_audit_records_resource", "account_id", "resource_name", "event_time"),
    sa.Index("ix_audit_records_user", "account_id", "username", "event_time"),
)

# The resources of a record beyond its first (which audit_records holds): a call on several
# (BatchGetSecretValue, ReEncrypt) is found by any of them.
audit_record_resources = sa.Table(
    "audit_record_resources",
    metadata,
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("resource_name", sa.String(2048), nullable=False),
    sa.Column("event_time", sa.Float, nullable=False),
    sa.Index("ix_audit_record_resources", "account_id", "resource_name", "event_time"),
)

# A mutating call reserves its record before it runs (a call whose record cannot be stored
# must change nothing); the record replaces the reservation. A reservation left by a crash
# becomes a record of a call whose outcome is unknown.
audit_reservations = sa.Table(
    "audit_reservations",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)

# Log files: the records of one account and Region with after_id < id <= through_id, in id
# order, as CloudTrail's {"Records": [...]} file. The file is rebuilt from the records when
# read, so an edited, deleted or inserted record changes its hash.
audit_log_files = sa.Table(
    "audit_log_files",
    metadata,
    sa.Column("object_key", sa.String(512), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("after_id", AUDIT_ID, nullable=False),
    sa.Column("through_id", AUDIT_ID, nullable=False),
    sa.Column("oldest_event_time", sa.Float, nullable=False),
    sa.Column("newest_event_time", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("digest_key", sa.String(512), nullable=True),  # set once a digest lists it
    sa.Index("ix_audit_log_files_undigested", "account_id", "region", "digest_key"),
)

# Digest files, exactly as delivered (the uncompressed JSON), with their SHA256withRSA
# signature in hex; each names the one before it in its account and Region.
audit_digests = sa.Table(
    "audit_digests",
    metadata,
    sa.Column("object_key", sa.String(512), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("end_time", sa.Float, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("signature", sa.String(1024), nullable=False),
    sa.Index("ix_audit_digests_end", "account_id", "region", "end_time"),
)

# Keys that sign digests: the private key only as barrier ciphertext.
audit_signing_keys = sa.Table(
    "audit_signing_keys",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),  # DER, PKCS #1
    sa.Column("private_blob", sa.LargeBinary, nullable=False),
    sa.Column("valid_from", sa.Float, nullable=False),
    sa.Column("valid_to", sa.Float, nullable=True),
)

# CloudWatch Logs. Names sort as AWS sorts them, by code point ("C" collation on PostgreSQL;
# SQLite compares UTF-8 bytes, the same order). Event messages are barrier ciphertext bound to
# their group, sequence number, stream and times; everything else is in the clear.
LOGS_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: the rowid
LOGS_NAME = sa.String(512).with_variant(sa.String(512, collation="C"), "postgresql")

logs_groups = sa.Table(
    "logs_groups",
    metadata,
    sa.Column("id", LOGS_ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", LOGS_NAME, nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("retention_in_days", sa.Integer, nullable=True),
    sa.Column("log_group_class", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # the EventSource holding its events
    sa.Column("last_seq", sa.BigInteger, nullable=False),  # event sequence numbers handed out
    sa.UniqueConstraint("account_id", "region", "name", name="uq_logs_groups_name"),
)

logs_streams = sa.Table(
    "logs_streams",
    metadata,
    sa.Column("id", LOGS_ID, primary_key=True, autoincrement=True),
    sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), nullable=False),
    sa.Column("name", LOGS_NAME, nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("first_event_timestamp", sa.BigInteger, nullable=True),
    sa.Column("last_event_timestamp", sa.BigInteger, nullable=True),
    sa.Column("last_ingestion_time", sa.BigInteger, nullable=True),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("group_id", "name", name="uq_logs_streams_name"),
    sa.Index("ix_logs_streams_last_event", "group_id", "last_event_timestamp"),
)

logs_events = sa.Table(
    "logs_events",
    metadata,
    sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("stream_id", LOGS_ID, sa.ForeignKey("logs_streams.id"), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),  # UTF-8 bytes of the message
    sa.Column("message_blob", sa.LargeBinary, nullable=False),
    # A group's events over a time range, and one stream's (GetLogEvents), in reading order.
    sa.Index("ix_logs_events_group_time", "group_id", "timestamp", "seq"),
    sa.Index("ix_logs_events_stream_time", "group_id", "stream_id", "timestamp", "seq"),
)

logs_metric_filters = sa.Table(
    "logs_metric_filters",
    metadata,
    sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), primary_key=True),
    sa.Column("filter_name", LOGS_NAME, primary_key=True),
    sa.Column("filter_pattern", sa.Text, nullable=False),
    sa.Column("metric_name", sa.String(255), nullable=False),
    sa.Column("metric_namespace", sa.String(255), nullable=False),
    sa.Column("metric_value", sa.String(100), nullable=False),
    sa.Column("default_value", sa.Float, nullable=True),
    sa.Column("dimensions", sa.Text, nullable=True),  # JSON object
    sa.Column("unit", sa.String(32), nullable=True),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("regex_count", sa.Integer, nullable=False),
    sa.Index("ix_logs_metric_filters_metric", "metric_namespace", "metric_name"),
)

logs_tags = sa.Table(
    "logs_tags",
    metadata,
    sa.Column("group_id", LOGS_ID, sa.ForeignKey("logs_groups.id"), primary_key=True),
    sa.Column("tag_key", sa.String(128), primary_key=True),
    sa.Column("tag_value", sa.String(256), nullable=False),
)

# EventBridge rules on the default event bus, their targets and tags. Nothing here is secret.
# `next_due` is the next firing of an enabled rule with a schedule (NULL otherwise), indexed so
# that the scheduler finds due rules without a scan.
EVENTS_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
EVENTS_NAME = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")

events_rules = sa.Table(
    "events_rules",
    metadata,
    sa.Column("id", EVENTS_ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("event_bus_name", sa.String(256), nullable=False),
    sa.Column("name", EVENTS_NAME, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("schedule_expression", sa.String(256), nullable=True),
    sa.Column("event_pattern", sa.Text, nullable=True),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("role_arn", sa.Text, nullable=True),
    sa.Column("managed_by", sa.String(128), nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("schedule_anchor", sa.Float, nullable=True),
    sa.Column("next_due", sa.Float, nullable=True),
    sa.Column("last_fired", sa.Float, nullable=True),
    sa.UniqueConstraint("account_id", "region", "event_bus_name", "name", name="uq_events_rules"),
    sa.Index("ix_events_rules_next_due", "next_due"),
)

events_targets = sa.Table(
    "events_targets",
    metadata,
    sa.Column("rule_id", EVENTS_ID, sa.ForeignKey("events_rules.id"), primary_key=True),
    sa.Column("target_id", EVENTS_NAME, primary_key=True),
    sa.Column("arn", sa.Text, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # the Target structure as given (JSON)
    sa.Index("ix_events_targets_arn", "arn"),  # ListRuleNamesByTarget
)

events_tags = sa.Table(
    "events_tags",
    metadata,
    sa.Column("rule_id", EVENTS_ID, sa.ForeignKey("events_rules.id"), primary_key=True),
    sa.Column("tag_key", sa.String(128), primary_key=True),
    sa.Column("tag_value", sa.String(256), nullable=False),
)

# CloudWatch metrics (nothing here is secret). A metric is its account, Region, namespace,
# name and dimensions (JSON `[[name, value], ...]` sorted by name); `identity` is the SHA-256
# of those, unique. Datapoints are each PutMetricData's contribution to one period (a minute,
# or a second for high-resolution data): count, sum, minimum, maximum and a sketch of the
# values for percentiles (services/cloudwatch/model.py). Append-only: writers never wait for
# one another's rows; a query adds the contributions of each period up.
CW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CW_NAME = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")

cw_metrics = sa.Table(
    "cw_metrics",
    metadata,
    sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
    sa.Column("identity", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("namespace", CW_NAME, nullable=False),
    sa.Column("metric_name", CW_NAME, nullable=False),
    sa.Column("dimensions", sa.Text, nullable=False),
    sa.Column("last_put", sa.Float, nullable=False),  # ListMetrics RecentlyActive
    sa.UniqueConstraint("identity", name="uq_cw_metrics_identity"),
    sa.Index("ix_cw_metrics_listing", "account_id", "region", "namespace", "metric_name"),
)

cw_datapoints = sa.Table(
    "cw_datapoints",
    metadata,
    sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
    sa.Column("metric_id", CW_ID, sa.ForeignKey("cw_metrics.id"), nullable=False),
    sa.Column("resolution", sa.Integer, nullable=False),  # seconds: 60, or 1
    sa.Column("period_start", sa.BigInteger, nullable=False),  # epoch seconds
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("sample_count", sa.Float, nullable=False),
    sa.Column("sum", sa.Float, nullable=False),
    sa.Column("minimum", sa.Float, nullable=False),
    sa.Column("maximum", sa.Float, nullable=False),
    sa.Column("sketch", sa.Text, nullable=False),  # JSON {bucket: count}
    sa.Index("ix_cw_datapoints_metric_time", "metric_id", "resolution", "period_start"),
)

# IAM (global: no Region). Users, groups, roles and managed policies are keyed by their ids;
# `name_key` is the lower-cased name, unique in an account (IAM names ignore case). Names sort
# by code point ("C" collation on PostgreSQL, as SQLite compares). Nothing here is secret but
# the MFA seeds, held as barrier ciphertext; access keys live in `access_keys`.
IAM_ID = sa.String(32)
IAM_NAME = sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")
IAM_TEXT = sa.String(2048).with_variant(sa.String(2048, collation="C"), "postgresql")

iam_users = sa.Table(
    "iam_users",
    metadata,
    sa.Column("user_id", IAM_ID, primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("name", IAM_NAME, nullable=False),
    sa.Column("name_key", IAM_NAME, nullable=False),
    sa.Column("path", IAM_TEXT, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_users_name"),
)

iam_groups = sa.Table(
    "iam_groups",
    metadata,
    sa.Column("group_id", IAM_ID, primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("name", IAM_NAME, nullable=False),
    sa.Column("name_key", IAM_NAME, nullable=False),
    sa.Column("path", IAM_TEXT, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_groups_name"),
)

iam_roles = sa.Table(
    "iam_roles",
    metadata,
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

# Customer managed policies (AWS managed ones are data: services/iam/managed_policies.py).
iam_policies = sa.Table(
    "iam_policies",
    metadata,
    sa.Column("policy_id", IAM_ID, primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("name", IAM_NAME, nullable=False),
    sa.Column("name_key", IAM_NAME, nullable=False),
    sa.Column("path", IAM_TEXT, nullable=False),
    sa.Column("arn", IAM_TEXT, nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("default_version", sa.String(32), nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False),  # version numbers handed out
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_policies_name"),
)

iam_policy_versions = sa.Table(
    "iam_policy_versions",
    metadata,
    sa.Column("policy_id", IAM_ID, sa.ForeignKey("iam_policies.policy_id"), primary_key=True),
    sa.Column("version_id", sa.String(32), primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

# Managed policies attached to users, groups and roles (by the entity's id: renames keep them).
iam_attachments = sa.Table(
    "iam_attachments",
    metadata,
    sa.Column("entity_id", IAM_ID, primary_key=True),
    sa.Column("policy_arn", IAM_TEXT, primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("entity_kind", sa.String(8), nullable=False),  # user, group, role
    sa.Column("attached", sa.Float, nullable=False),
    sa.Index("ix_iam_attachments_policy", "account_id", "policy_arn"),
)

# Inline policies of users, groups and roles, by the owner's id.
iam_inline_policies = sa.Table(
    "iam_inline_policies",
    metadata,
    sa.Column("owner_id", IAM_ID, primary_key=True),
    sa.Column("policy_name", IAM_NAME, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
)

iam_group_members = sa.Table(
    "iam_group_members",
    metadata,
    sa.Column("group_id", IAM_ID, sa.ForeignKey("iam_groups.group_id"), primary_key=True),
    sa.Column("user_id", IAM_ID, sa.ForeignKey("iam_users.user_id"), primary_key=True),
    sa.Column("added", sa.Float, nullable=False),
    sa.Index("ix_iam_group_members_user", "user_id"),
)

# Tags of users, roles, managed policies (by id) and MFA devices (by serial number).
iam_tags = sa.Table(
    "iam_tags",
    metadata,
    sa.Column("owner_id", sa.String(256), primary_key=True),
    sa.Column("tag_key", sa.String(128), primary_key=True),
    sa.Column("tag_value", sa.String(256), nullable=False),
)

# Virtual MFA devices: the TOTP seed as barrier ciphertext only. `last_step` is the newest
# time step whose code was accepted: no code is accepted twice.
iam_mfa_devices = sa.Table(
    "iam_mfa_devices",
    metadata,
    sa.Column("serial_number", sa.String(256), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("path", IAM_TEXT, nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("seed_blob", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("user_id", IAM_ID, nullable=True),  # set while enabled (assigned)
    sa.Column("enabled", sa.Float, nullable=True),
    sa.Column("last_step", sa.BigInteger, nullable=True),
    sa.Index("ix_iam_mfa_devices_account", "account_id"),
    sa.Index("ix_iam_mfa_devices_user", "user_id"),
)

# When each access key was last used, for which service and Region (GetAccessKeyLastUsed):
# noted off the request path, stored coalesced.
iam_access_key_usage = sa.Table(
    "iam_access_key_usage",
    metadata,
    sa.Column("access_key_id", sa.String(128), primary_key=True),
    sa.Column("used_at", sa.Float, nullable=False),
    sa.Column("service", sa.String(64), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
)

# The IAM tables a dev reset empties (it then restores the bootstrap administrator).
IAM_TABLES = (
    iam_access_key_usage,
    iam_mfa_devices,
    iam_tags,
    iam_group_members,
    iam_inline_policies,
    iam_attachments,
    iam_policy_versions,
    iam_policies,
    iam_roles,
    iam_groups,
    iam_users,
)

# What `--dev` reset wipes: every service's resources, children before parents. Accounts,
# credentials and the barrier stay, so the documented test credentials keep working.
# Lambda functions. Code and environment variables are barrier ciphertext (either may embed
# secrets); the configuration (runtime, role, handler, limits, code hash) is JSON metadata.
LAMBDA_NAME = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")

lambda_functions = sa.Table(
    "lambda_functions",
    metadata,
    sa.Column("function_id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", LAMBDA_NAME, nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
    sa.Column("configuration", sa.Text, nullable=False),
    sa.Column("environment_blob", sa.LargeBinary, nullable=False),
    sa.Column("code_blob", sa.LargeBinary, nullable=False),
    sa.Column("policy", sa.Text, nullable=True),  # the resource policy AddPermission builds
    sa.Column("tags", sa.Text, nullable=False),  # JSON object
    sa.UniqueConstraint("account_id", "region", "name", name="uq_lambda_functions_name"),
)

# SNS topics (attributes as JSON: nothing secret), their tags, subscriptions and the delivery
# outbox. A subscription's endpoint is barrier ciphertext (webhook URLs carry secrets) with a
# barrier MAC for Subscribe's idempotence; its confirmation token is kept only as a SHA-256.
# A message's body is barrier ciphertext; each delivery's `due` is its next attempt (NULL once
# done), indexed for the delivery job, which claims a delivery by moving `due` forward with a
# compare-and-set (see storage/sns.py).
SNS_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
SNS_NAME = sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql")

sns_topics = sa.Table(
    "sns_topics",
    metadata,
    sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", SNS_NAME, nullable=False),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("account_id", "region", "name", name="uq_sns_topics"),
)

sns_tags = sa.Table(
    "sns_tags",
    metadata,
    sa.Column("topic_id", SNS_ID, sa.ForeignKey("sns_topics.id"), primary_key=True),
    sa.Column("tag_key", sa.String(128), primary_key=True),
    sa.Column("tag_value", sa.String(256), nullable=False),
)

sns_subscriptions = sa.Table(
    "sns_subscriptions",
    metadata,
    sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
    sa.Column("arn", sa.String(512), nullable=False),
    sa.Column("topic_id", SNS_ID, sa.ForeignKey("sns_topics.id"), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("protocol", sa.String(16), nullable=False),
    sa.Column("endpoint_blob", sa.LargeBinary, nullable=False),
    sa.Column("endpoint_tag", sa.String(64), nullable=False),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("pending", sa.Boolean, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("arn", name="uq_sns_subscriptions_arn"),
    sa.Index("ix_sns_subscriptions_topic", "topic_id", "endpoint_tag"),
    sa.Index("ix_sns_subscriptions_account", "account_id", "region", "id"),
    sa.Index("ix_sns_subscriptions_token", "token_hash"),
)

sns_messages = sa.Table(
    "sns_messages",
    metadata,
    sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("topic_id", SNS_ID, nullable=False),
    sa.Column("body_blob", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Index("ix_sns_messages_topic", "topic_id"),
)

# CloudWatch alarms (nothing here is secret). `definition` is the alarm's configuration as
# PutMetricAlarm gave it (JSON, services/cloudwatch/alarm_model.py); state columns change on
# evaluation under a compare-and-set on `version`, so one transition happens once whichever
# process evaluates. A transition's notifications wait in `cw_alarm_actions` (written in the
# transition's transaction) until they are handed to SNS; history is kept two weeks, as AWS's.
cw_alarms = sa.Table(
    "cw_alarms",
    metadata,
    sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", CW_NAME, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),  # JSON {key: value}
    sa.Column("actions_enabled", sa.Boolean, nullable=False),
    sa.Column("configuration_updated", sa.Float, nullable=False),
    sa.Column("state_value", sa.String(32), nullable=False),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("state_reason_data", sa.Text, nullable=True),
    sa.Column("state_updated", sa.Float, nullable=False),
    sa.Column("state_transitioned", sa.Float, nullable=False),
    sa.Column("next_evaluation", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.UniqueConstraint("account_id", "region", "name", name="uq_cw_alarms_name"),
    sa.Index("ix_cw_alarms_due", "next_evaluation"),
)

cw_alarm_history = sa.Table(
    "cw_alarm_history",
    metadata,
    sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("alarm_name", CW_NAME, nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("item_type", sa.String(32), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Index("ix_cw_alarm_history_time", "account_id", "region", "timestamp"),
    sa.Index("ix_cw_alarm_history_alarm", "account_id", "region", "alarm_name", "timestamp"),
)

cw_alarm_actions = sa.Table(
    "cw_alarm_actions",
    metadata,
    sa.Column("id", CW_ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("alarm_name", CW_NAME, nullable=False),
    sa.Column("action_arn", sa.String(1024), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

sns_deliveries = sa.Table(
    "sns_deliveries",
    metadata,
    sa.Column("id", SNS_ID, primary_key=True, autoincrement=True),
    sa.Column("message_row", SNS_ID, sa.ForeignKey("sns_messages.id"), nullable=False),
    sa.Column("subscription_id", SNS_ID, nullable=False),
    sa.Column("protocol", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("due", sa.Float, nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("finished", sa.Float, nullable=True),
    sa.Index("ix_sns_deliveries_due", "due"),
    sa.Index("ix_sns_deliveries_message", "message_row"),
    sa.Index("ix_sns_deliveries_finished", "finished"),
)

SERVICE_TABLES = (
    cw_alarm_actions,
    cw_alarm_history,
    cw_alarms,
    cw_datapoints,
    cw_metrics,
    sns_deliveries,
    sns_messages,
    sns_subscriptions,
    sns_tags,
    sns_topics,
    events_tags,
    events_targets,
    events_rules,
    lambda_functions,
    logs_tags,
    logs_metric_filters,
    logs_events,
    logs_streams,
    logs_groups,
    sm_replicas,
    sm_rotations,
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
