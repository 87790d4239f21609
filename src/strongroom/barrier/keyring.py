"""The keyring: the data-encryption keys of the barrier, protected as one blob by the root key.

Every value the barrier writes carries the term of the keyring key that encrypted it, so the
keyring can gain a new key (rotation) while old values stay readable.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field

from strongroom.barrier import aead

_FORMAT = 1
_HEADER = struct.Struct(">BI")  # format version, keyring term
_VALUE_PURPOSE = b"strongroom barrier value v1"
_KEYRING_PURPOSE = b"strongroom keyring v1"
_KEYRING_AAD = b"strongroom/keyring"


@dataclass
class Keyring:
    keys: dict[int, bytes] = field(default_factory=dict)
    active_term: int = 0

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
