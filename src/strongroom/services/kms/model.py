"""KMS entities and the rules about their names; no storage, no wire format."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass

ENABLED = "Enabled"
DISABLED = "Disabled"
PENDING_DELETION = "PendingDeletion"
MIN_DELETION_WINDOW_DAYS, MAX_DELETION_WINDOW_DAYS = 7, 30

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"

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
    }
)

# Key ids are lower-case canonical UUIDs, as uuid4() prints them.
_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
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


def new_key_id() -> str:
    return str(uuid.uuid4())


def is_key_id(text: str) -> bool:
    return _KEY_ID.fullmatch(text) is not None


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

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{self.key_id}"

    def record(self) -> bytes:
        """Every field, canonically: what the row's integrity tag covers. A key never
        scheduled for deletion is recorded without deletion_date, as rows were before it."""
        fields = asdict(self)
        if fields["deletion_date"] is None:
            del fields["deletion_date"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


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
