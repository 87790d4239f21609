"""Secrets Manager entities and naming rules; no storage, no wire format."""

from __future__ import annotations

import re
import secrets as _random
import string
from dataclasses import dataclass

AWSCURRENT = "AWSCURRENT"
AWSPREVIOUS = "AWSPREVIOUS"
AWSPENDING = "AWSPENDING"
# The resource type audit records name.
SECRET_RESOURCE = "AWS::SecretsManager::Secret"  # noqa: S105 - not a password
DEFAULT_KEY_ALIAS = "alias/aws/secretsmanager"
DEFAULT_KEY_DESCRIPTION = (
    "Default key that protects my Secrets Manager data when no other key is defined"
)
# Answered from process caches (see services/kms/model.py). GetSecretValue also writes, but
# only the first read of a secret each day (LastAccessedDate has day granularity).
CACHED_OPERATIONS = frozenset({"GetSecretValue", "GetRandomPassword"})
# ReplicationStatus values: a copy is current, being brought up to date, or could not be made.
IN_SYNC, IN_PROGRESS, FAILED = "InSync", "InProgress", "Failed"
MAX_VALUE_BYTES = 65536  # of SecretString (UTF-8) or SecretBinary
MAX_VERSIONS = 100  # AWS keeps at most this many versions; the oldest unlabelled go first
_SUFFIX_ALPHABET = string.ascii_letters + string.digits
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")  # the characters CreateSecret documents
_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$")


def valid_name(name: str) -> bool:
    return _NAME.match(name) is not None


def secret_arn(region: str, account_id: str, name: str) -> str:
    """A new ARN: the name and six random characters, as AWS makes them."""
    suffix = "".join(_random.choice(_SUFFIX_ALPHABET) for _ in range(6))
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name}-{suffix}"


def replica_arn(primary_arn: str, region: str) -> str:
    """A replica's ARN: the primary's, in the replica's region (same name and suffix)."""
    parts = primary_arn.split(":", 4)
    return ":".join([*parts[:3], region, parts[4]])


def parse_arn(text: str) -> tuple[str, str, str] | None:
    """(region, account id, name with or without the suffix) of a secret ARN."""
    match = _ARN.match(text)
    return (match[1], match[2], match[3]) if match else None


@dataclass(frozen=True)
class Secret:
    arn: str
    account_id: str
    region: str
    name: str
    description: str | None
    kms_key_id: str | None
    created_date: float
    last_changed_date: float
    last_accessed_date: float | None
    deleted_date: float | None
    secret_type: str | None = None
    resource_policy: str | None = None
    primary_arn: str | None = None  # set on a replica: the secret it copies
    # Rotation (see rotation.py): the function and rules RotateSecret stored, whether they are
    # on, and when the next window opens (None: no rotation scheduled).
    rotation_enabled: bool = False
    rotation_lambda_arn: str | None = None
    rotation_rules: str | None = None  # JSON, as RotateSecret took them
    last_rotated_date: float | None = None
    next_rotation_date: float | None = None

    @property
    def is_replica(self) -> bool:
        return self.primary_arn is not None


@dataclass(frozen=True)
class ReplicaStatus:
    """A region a primary secret is replicated to, and how that copy stands."""

    region: str
    kms_key_id: str | None
    status: str
    status_message: str | None


@dataclass(frozen=True)
class SecretVersion:
    version_id: str
    created_date: float
    kms_key_arn: str
    is_binary: bool
    value_blob: bytes
    value_mac: bytes


@dataclass(frozen=True)
class Rotation:
    """A rotation under way: the version it makes (AWSPENDING), whether it only tests the
    function (RotateImmediately false), and its failed attempts so far."""

    version_id: str
    test_only: bool
    started_at: float
    attempts: int
    next_attempt: float
