"""The keyring: the data-encryption keys of the barrier, protected as one blob by the root key.

Every value the barrier writes carries the term of the keyring key that encrypted it, so the
keyring can gain a new key (rotation) while old values stay readable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.barrier import aead

_FORMAT = 1
_HEADER = struct.Struct(">BI")  # format version, keyring term
_VALUE_PURPOSE = b"strongroom barrier value v1"
_MAC_PURPOSE = b"strongroom row integrity v1"
_MAC_HEADER = struct.Struct(">I")  # keyring term
_KEYRING_PURPOSE = b"strongroom keyring v1"
_KEYRING_AAD = b"strongroom/keyring"


@dataclass
class Keyring:
    keys: dict[int, bytes] = field(default_factory=dict)
    active_term: int = 0
    _mac_keys: dict[int, bytes] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def generate(cls) -> Keyring:
        return cls(keys={1: aead.new_key()}, active_term=1)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        header = _HEADER.pack(_FORMAT, self.active_term)
        key = self.keys[self.active_term]
        return header + aead.encrypt(key, plaintext, header + aad, _VALUE_PURPOSE)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < _HEADER.size:
            raise aead.IntegrityError("value too short")
        version, term = _HEADER.unpack_from(blob)
        key = self.keys.get(term)
        if version != _FORMAT or key is None:
            raise aead.IntegrityError("unknown value format or keyring term")
        header = blob[: _HEADER.size]
        return aead.decrypt(key, blob[_HEADER.size :], header + aad, _VALUE_PURPOSE)

    def mac(self, data: bytes) -> bytes:
        """An integrity tag for metadata stored in the clear (term | HMAC-SHA256)."""
        header = _MAC_HEADER.pack(self.active_term)
        return header + hmac.new(self._mac_key(self.active_term), data, hashlib.sha256).digest()

    def verify(self, data: bytes, tag: bytes) -> None:
        """Raise IntegrityError unless `tag` is this keyring's tag of `data`."""
        if len(tag) != _MAC_HEADER.size + hashlib.sha256().digest_size:
            raise aead.IntegrityError("malformed integrity tag")
        (term,) = _MAC_HEADER.unpack_from(tag)
        if term not in self.keys:
            raise aead.IntegrityError("unknown keyring term")
        expected = hmac.new(self._mac_key(term), data, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, tag[_MAC_HEADER.size :]):
            raise aead.IntegrityError("integrity tag mismatch")

    def _mac_key(self, term: int) -> bytes:
        key = self._mac_keys.get(term)
        if key is None:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_PURPOSE).derive(
                self.keys[term]
            )
            self._mac_keys[term] = key
        return key

    def wrap(self, root_key: bytes) -> bytes:
        """Serialise and encrypt the whole keyring under the root key."""
        document = {
            "active_term": self.active_term,
            "keys": {str(t): base64.b64encode(k).decode() for t, k in self.keys.items()},
        }
        return aead.encrypt(root_key, json.dumps(document).encode(), _KEYRING_AAD, _KEYRING_PURPOSE)

    @classmethod
    def unwrap(cls, root_key: bytes, blob: bytes) -> Keyring:
        document = json.loads(aead.decrypt(root_key, blob, _KEYRING_AAD, _KEYRING_PURPOSE))
        keys = {int(t): base64.b64decode(k) for t, k in document["keys"].items()}
        return cls(keys=keys, active_term=int(document["active_term"]))
