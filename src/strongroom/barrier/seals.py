"""Seals protect the root key. `file`: the key lives in a 0600 file that can sit on another
volume. `shamir`: the key is split into N shares, K of which reconstruct it; the server starts
sealed and operators submit shares one at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from strongroom.barrier import aead, shamir

SealKind = Literal["file", "shamir"]


class SealError(Exception):
    """A share or key file was refused; the message never contains key or share bytes."""


@dataclass(frozen=True)
class SealConfig:
    """What storage knows about the seal: never the root key, only how it is protected."""

    kind: SealKind
    shares: int = 0
    threshold: int = 0
    # SHA-256 of each share, so that a wrong or corrupted share is refused when submitted
    # instead of poisoning the combination. A share is 256 random bits: its digest reveals nothing.
    share_digests: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "shares": self.shares,
                "threshold": self.threshold,
                "share_digests": list(self.share_digests),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SealConfig:
        """Raise SealError when the stored configuration is damaged (storage is untrusted)."""
        try:
            document: dict[str, Any] = json.loads(text)
            config = cls(
                kind=document["kind"],
                shares=int(document["shares"]),
                threshold=int(document["threshold"]),
                share_digests=tuple(document["share_digests"]),
            )
        except (ValueError, KeyError, TypeError):
            raise SealError("storage holds a damaged seal configuration") from None
        if config.kind not in ("file", "shamir"):
            raise SealError("storage holds a damaged seal configuration")
        return config


def read_root_key_file(path: Path) -> bytes:
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except FileNotFoundError:
        raise SealError(f"root key file {path} does not exist") from None
    except (binascii.Error, ValueError):
        raise SealError(f"root key file {path} is not a valid key") from None
    if len(key) != aead.KEY_LEN:
        raise SealError(f"root key file {path} is not a valid key")
    return key


def split_root_key(root_key: bytes, shares: int, threshold: int) -> tuple[SealConfig, list[str]]:
    """Split the root key; return the seal config to store and the shares to hand out once."""
    raw_shares = shamir.split(root_key, shares, threshold)
    digests = tuple(hashlib.sha256(s).hexdigest() for s in raw_shares)
    config = SealConfig(kind="shamir", shares=shares, threshold=threshold, share_digests=digests)
    return config, [base64.b64encode(s).decode() for s in raw_shares]


@dataclass(frozen=True)
class UnsealProgress:
    submitted: int
    threshold: int
    root_key: bytes | None = None


class ShamirUnsealer:
    """Collects shares until the threshold is reached; thread-safe, progress is in memory only."""

    def __init__(self, config: SealConfig) -> None:
        self._config = config
        self._shares: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def progress(self) -> UnsealProgress:
        with self._lock:
            return UnsealProgress(len(self._shares), self._config.threshold)

    def reset(self) -> None:
        with self._lock:
            self._shares.clear()

    def submit(self, encoded_share: str) -> UnsealProgress:
        share = self._decode(encoded_share)
        digest = hashlib.sha256(share).hexdigest()
        if not any(hmac.compare_digest(digest, known) for known in self._config.share_digests):
            raise SealError("the share is not one of this server's unseal shares")
        with self._lock:
            self._shares[digest] = share
            if len(self._shares) < self._config.threshold:
                return UnsealProgress(len(self._shares), self._config.threshold)
            shares = list(self._shares.values())
            self._shares.clear()
        try:
            root_key = shamir.combine(shares)
        except shamir.ShamirError:
            # Only reachable when the stored share digests were tampered with.
            raise SealError("the submitted shares cannot be combined; start again") from None
        return UnsealProgress(self._config.threshold, self._config.threshold, root_key)

    @staticmethod
    def _decode(encoded_share: str) -> bytes:
        try:
            return base64.b64decode(encoded_share.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SealError("the share is not valid base64") from None
