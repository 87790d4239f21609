"""KMS entities and the rules about their names; no storage, no wire format."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass

ENABLED = "Enabled"
DISABLED = "Disabled"
PENDING_DELETION = "PendingDeletion"
PENDING_IMPORT = "PendingImport"
# A multi-Region primary key scheduled for deletion waits in this state until its replicas are
# gone; then its own waiting period starts.
PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
AWS_KMS, EXTERNAL = "AWS_KMS", "EXTERNAL"  # key origins
KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
MIN_DELETION_WINDOW_DAYS, MAX_DELETION_WINDOW_DAYS = 7, 30

MIN_ROTATION_PERIOD_DAYS, MAX_ROTATION_PERIOD_DAYS = 90, 2560
DEFAULT_ROTATION_PERIOD_DAYS = 365
MAX_ON_DEMAND_ROTATIONS = 25  # per key, as the KMS developer guide gives it
AUTOMATIC, ON_DEMAND = "AUTOMATIC", "ON_DEMAND"

KEY_RESOURCE = "AWS::KMS::Key"  # the resource type audit records name
ALIAS_PREFIX = "alias/"
RESERVED_ALIAS_PREFIX = "alias/aws/"
MAX_TAGS_PER_KEY = 50
MAX_ALIASES_PER_KEY = 50

# Operations answered from process caches (storage is touched only on a cache miss). The HTTP
# layer serves them on the event loop; everything else runs on worker threads, so that a commit
# or a list query never stalls other requests.
CACHED_OPERATIONS = frozenset(
    {
        "DescribeKey",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "GetPublicKey",
        "DeriveSharedSecret",
    }
)

# Key ids are lower-case canonical UUIDs, as uuid4() prints them; multi-Region keys' ids are
# "mrk-" and 32 hex digits, the same in every Region the key is replicated to.
_KEY_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
)
MULTI_REGION_PREFIX = "mrk-"
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/(.+)$")
_ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(alias/.+)$")
_ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9:/_-]+")  # the model's AliasNameType pattern


def default_key_policy(account_id: str) -> str:
    """The policy AWS gives a key created without one: the account's IAM policies decide."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def aws_managed_key_policy(account_id: str, region: str, service: str) -> str:
    """The policy AWS gives an AWS managed key: the account may use it only through `service`,
    and may read its metadata; nobody may manage it."""
    via_service = {
        "kms:CallerAccount": account_id,
        "kms:ViaService": f"{service}.{region}.amazonaws.com",
    }
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account "
                    f"that are authorized to use {service}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {"StringEquals": via_service},
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def new_key_id(multi_region: bool = False) -> str:
    return MULTI_REGION_PREFIX + uuid.uuid4().hex if multi_region else str(uuid.uuid4())


def is_key_id(text: str) -> bool:
    return _KEY_ID.fullmatch(text) is not None


def storage_id(key_id: str, region: str) -> str:
    """The id a key's row has in storage. A multi-Region key has one row per Region under
    one key id, so its rows are told apart by Region."""
    return f"{key_id}:{region}" if key_id.startswith(MULTI_REGION_PREFIX) else key_id


def public_key_id(stored_id: str) -> str:
    return stored_id.split(":", 1)[0]


def is_storage_id(text: str) -> bool:
    key_id, _, region = text.partition(":")
    return is_key_id(key_id) and (region != "") == key_id.startswith(MULTI_REGION_PREFIX)


@dataclass(frozen=True)
class KeyReference:
    """What a KeyId parameter names: a key by id, or an alias; with the ARN's region/account."""

    key_id: str | None = None
    alias_name: str | None = None
    region: str | None = None
    account_id: str | None = None


def parse_key_reference(text: str) -> KeyReference | None:
    """Parse a key id, key ARN, alias name or alias ARN; None when it is none of them.

    Names no key or alias can have are None too, so they never reach storage (PostgreSQL
    cannot even compare text holding a NUL character).
    """
    if text.startswith(ALIAS_PREFIX):
        return KeyReference(alias_name=text) if _ALIAS_NAME.fullmatch(text) else None
    if match := _ALIAS_ARN.match(text):
        if not _ALIAS_NAME.fullmatch(match[3]):
            return None
        return KeyReference(alias_name=match[3], region=match[1], account_id=match[2])
    if match := _KEY_ARN.match(text):
        if not is_key_id(match[3]):
            return None
        return KeyReference(key_id=match[3], region=match[1], account_id=match[2])
    if is_key_id(text):
        return KeyReference(key_id=text)
    return None


@dataclass(frozen=True)
class KmsKey:
    key_id: str
    account_id: str
    region: str
    description: str
    key_usage: str
    key_spec: str
    key_state: str
    key_manager: str
    origin: str
    policy: str
    multi_region: bool
    current_material_version: int
    creation_date: float
    deletion_date: float | None = None  # when a key PendingDeletion is deleted
    rotation_period_days: int | None = None  # set while automatic rotation is enabled
    next_rotation_date: float | None = None
    # Keys of origin EXTERNAL: when the imported material expires (if it does), and a MAC of
    # that material, so that a re-import must bring the same material back.
    valid_to: float | None = None
    expiration_model: str | None = None
    imported_material_mac: str | None = None
    primary_region: str | None = None  # multi-Region keys: where the primary key is
    pending_window_days: int | None = None  # PendingReplicaDeletion: the window to come

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.account_id, self.key_id)

    @property
    def storage_id(self) -> str:
        return storage_id(self.key_id, self.region)

    @property
    def is_replica(self) -> bool:
        return self.multi_region and self.region != self.primary_region

    def record(self) -> bytes:
        """Every field, canonically: what the row's integrity tag covers. Optional fields
        that are unset are left out, so rows tagged before a field existed stay intact."""
        fields = {
            name: value
            for name, value in asdict(self).items()
            if value is not None or name not in _OPTIONAL_FIELDS
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


_OPTIONAL_FIELDS = frozenset(
    {
        "deletion_date",
        "rotation_period_days",
        "next_rotation_date",
        "valid_to",
        "expiration_model",
        "imported_material_mac",
        "primary_region",
        "pending_window_days",
    }
)


def key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def qualified_key_reference(key_id: str, region: str, account_id: str) -> str:
    """A KeyId (key id, alias name or either ARN) as an ARN: ids and alias names are taken
    to be in `account_id` and `region`."""
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith(ALIAS_PREFIX):
        return f"arn:aws:kms:{region}:{account_id}:{key_id}"
    return key_arn(region, account_id, key_id)


def key_material_id(key_id: str, version: int) -> str:
    """The 64-hex-digit id AWS gives each key material (CurrentKeyMaterialId, KeyMaterialId)."""
    return hashlib.sha256(f"{key_id}/{version}".encode()).hexdigest()


@dataclass(frozen=True)
class KeyMaterial:
    """One generation of a key's material (without the material itself)."""

    version: int
    created_at: float
    rotation_type: str | None  # AUTOMATIC or ON_DEMAND; None for the key's first material


@dataclass(frozen=True)
class KmsGrant:
    grant_id: str
    key_id: str
    name: str | None
    grantee_principal: str
    retiring_principal: str | None
    issuing_account: str
    operations: tuple[str, ...]
    constraints: dict[str, dict[str, str]] | None
    creation_date: float

    def record(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class KmsAlias:
    account_id: str
    region: str
    alias_name: str
    target_key_id: str
    creation_date: float
    last_updated_date: float

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:{self.alias_name}"
