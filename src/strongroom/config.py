"""Settings: where data lives, which storage, where to listen, which account and region.

The data directory keeps `config.json` with what the first start chose; later starts reuse it,
and flags or environment variables given later override it and are saved.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import botocore.loaders
import platformdirs

from strongroom.storage.engine import sqlite_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8443
DEFAULT_DEV_PORT = 4566  # LocalStack's port, so existing AWS_ENDPOINT_URL settings keep working
DEFAULT_REGION = "us-east-1"
# The log group the source document's incident commands read (see docs/audit.md).
DEFAULT_AUDIT_LOG_GROUP = "CloudTrail/AlphaVoxSecrets"
DEFAULT_AUDIT_RETENTION_DAYS = 2192  # six years, HIPAA's documentation retention

# Documented credentials of `strongroom server --dev` (AWS's own documentation example keys).
DEV_ACCOUNT_ID = "123456789012"
DEV_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DEV_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 - public test key


def default_data_dir() -> Path:
    return Path(os.environ.get("STRONGROOM_DATA_DIR") or platformdirs.user_data_dir("strongroom"))


def aws_regions() -> frozenset[str]:
    """Every region of the standard AWS partition, as botocore knows them."""
    return frozenset(region_names())


@functools.cache
def region_names() -> dict[str, str]:
    """Each region of the standard AWS partition by its long name, e.g. "US East (N.
    Virginia)" (alarm notifications name Regions so)."""
    endpoints = botocore.loaders.Loader().load_data("endpoints")
    partition = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    return {code: region["description"] for code, region in partition["regions"].items()}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Settings:
    data_dir: Path
    storage_url: str = ""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION
    root_key_file: str = ""
    dev: bool = False
    account_id: str = ""
    audit_log_group: str = DEFAULT_AUDIT_LOG_GROUP
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    # SNS email deliveries: smtp[s]://[user:password@]host[:port][?starttls=true&from=ADDR].
    # Given at each start, never saved (it may hold a password).
    smtp_url: str = field(default="", repr=False)
    # How often each process publishes the API calls it counted (AWS/Usage CallCount).
    usage_flush_seconds: int = 60
    dev_access_key_id: str = field(default=DEV_ACCESS_KEY_ID, repr=False)
    dev_secret_access_key: str = field(default=DEV_SECRET_ACCESS_KEY, repr=False)

    def __post_init__(self) -> None:
        self.storage_url = self.storage_url or sqlite_url(self.data_dir / "strongroom.db")
        self.root_key_file = self.root_key_file or str(self.data_dir / "root.key")

    @property
    def config_file(self) -> Path:
        return self.data_dir / "config.json"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def scheme(self) -> str:
        return "http" if self.dev else "https"

    @property
    def endpoint(self) -> str:
        # The certificate names localhost; clients should use that name, not the address.
        host = "localhost" if is_loopback(self.host) else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    def save(self) -> None:
        """Persist what later starts and the other commands need (never a secret)."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        saved = {
            k: v
            for k, v in asdict(self).items()
            if k
            in (
                "storage_url",
                "host",
                "port",
                "region",
                "root_key_file",
                "account_id",
                "audit_log_group",
                "audit_retention_days",
            )
        }
        saved["data_dir"] = str(self.data_dir)
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(saved, handle, indent=2)

    @classmethod
    def load(cls, data_dir: Path, **overrides: object) -> Settings:
        """Saved settings of `data_dir`, with non-empty overrides applied on top."""
        saved: dict[str, object] = {}
        config_file = data_dir / "config.json"
        if config_file.exists():
            saved = json.loads(config_file.read_text())
        saved.pop("data_dir", None)
        saved.update({k: v for k, v in overrides.items() if v not in (None, "")})
        return cls(data_dir=data_dir, **saved)  # type: ignore[arg-type]
