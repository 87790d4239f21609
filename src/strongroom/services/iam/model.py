"""IAM entities, quotas, ids, ARNs and naming rules; no storage, no wire format.

IAM is global: entities belong to an account, never to a Region. Names of users, groups, roles
and managed policies are unique within an account whatever their case ("Alice" and "alice"
are one name), so storage keys them by `name_key`, the lower-cased name, and keeps the name as
given. Times are seconds since the epoch.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field

# Quotas (IAM User Guide, "IAM and AWS STS quotas"), as GetAccountSummary reports them.
USERS_QUOTA = 5000
GROUPS_QUOTA = 300
ROLES_QUOTA = 1000
POLICIES_QUOTA = 1500  # customer managed policies per account
GROUPS_PER_USER = 10
ATTACHED_POLICIES_PER_ENTITY = 10  # managed policies attached to one user, group or role
ACCESS_KEYS_PER_USER = 2
MFA_DEVICES_PER_USER = 8
VERSIONS_PER_POLICY = 5
POLICY_VERSIONS_IN_USE_QUOTA = 10000
TAGS_PER_ENTITY = 50
# Sizes in characters, white space not counted (as IAM counts them).
MANAGED_POLICY_SIZE = 6144
USER_INLINE_SIZE = 2048  # all inline policies of one user together
GROUP_INLINE_SIZE = 5120
ROLE_INLINE_SIZE = 10240
TRUST_POLICY_SIZE = 2048
DEFAULT_MAX_SESSION_DURATION = 3600
DEFAULT_MAX_ITEMS = 100
DEFAULT_PATH = "/"
ACTIVE, INACTIVE = "Active", "Inactive"
AWS_ACCOUNT = "aws"  # the account part of AWS managed policies' ARNs
# The resource types audit records name.
USER_RESOURCE = "AWS::IAM::User"
GROUP_RESOURCE = "AWS::IAM::Group"
ROLE_RESOURCE = "AWS::IAM::Role"
POLICY_RESOURCE = "AWS::IAM::ManagedPolicy"
ACCESS_KEY_RESOURCE = "AWS::IAM::AccessKey"
MFA_RESOURCE = "AWS::IAM::VirtualMFADevice"

# Unique ids: a prefix telling the kind, then 17 characters of the base32 alphabet, as AWS's.
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
USER_ID_PREFIX, GROUP_ID_PREFIX, ROLE_ID_PREFIX, POLICY_ID_PREFIX = "AIDA", "AGPA", "AROA", "ANPA"
ACCESS_KEY_PREFIX = "AKIA"
_POLICY_ARN = re.compile(r"arn:aws:iam::([0-9]{12}|aws):policy(/(?:[!-~]*/)?)([\w+=,.@-]+)")
# Tag keys IAM keeps for itself.
_RESERVED_TAG_PREFIX = "aws:"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def new_access_key() -> tuple[str, str]:
    """A new access key id and its secret (40 characters, as AWS's)."""
    key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    return key_id, base64.b64encode(secrets.token_bytes(30)).decode()


def name_key(name: str) -> str:
    return name.lower()


def arn(account_id: str, kind: str, path: str, name: str) -> str:
    """An entity's ARN: arn:aws:iam::ACCOUNT:user/PATH/NAME (the path without its outer
    slashes), for kind user, group, role, policy or mfa."""
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def parse_policy_arn(text: str) -> tuple[str, str, str] | None:
    """(account id or "aws", path, name) of a managed policy's ARN."""
    match = _POLICY_ARN.fullmatch(text)
    return (match[1], match[2], match[3]) if match else None


def policy_size(document: str) -> int:
    """A document's size as IAM counts it against its quotas: white space left out."""
    return sum(1 for character in document if not character.isspace())


def reserved_tag_key(key: str) -> bool:
    return key.lower().startswith(_RESERVED_TAG_PREFIX)


@dataclass(frozen=True)
class IamUser:
    account_id: str
    name: str
    user_id: str
    arn: str
    path: str
    created: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IamRole:
    account_id: str
    name: str
    role_id: str
    arn: str
    path: str
    created: float
    trust_policy: str
    max_session_duration: int
    description: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IamGroup:
    account_id: str
    name: str
    group_id: str
    arn: str
    path: str
    created: float


@dataclass(frozen=True)
class ManagedPolicy:
    account_id: str  # "aws" for AWS managed policies
    name: str
    policy_id: str
    arn: str
    path: str
    description: str
    default_version: str
    created: float
    updated: float

    @property
    def aws_managed(self) -> bool:
        return self.account_id == AWS_ACCOUNT


@dataclass(frozen=True)
class PolicyVersion:
    version_id: str  # "v1", "v2", ... never reused within a policy
    document: str
    created: float


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account_id: str
    user_name: str
    user_id: str
    status: str
    created: float


@dataclass(frozen=True)
class AccessKeyUse:
    used_at: float
    service: str
    region: str


@dataclass(frozen=True)
class MfaDevice:
    """A virtual MFA device: its seed only as barrier ciphertext; assigned to a user once
    enabled."""

    serial_number: str
    account_id: str
    path: str
    name: str
    seed_blob: bytes
    created: float
    user_id: str | None
    enabled: float | None


@dataclass(frozen=True)
class Attachment:
    """A managed policy attached to a user, group or role."""

    kind: str  # "user", "group", "role"
    entity_id: str
    policy_arn: str


@dataclass(frozen=True)
class AccountCounts:
    users: int
    groups: int
    roles: int
    policies: int  # customer managed
    attachments: int
    mfa_devices: int
    mfa_devices_in_use: int
