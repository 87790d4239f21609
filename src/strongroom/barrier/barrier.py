"""The barrier: the only road between secret material and storage.

While sealed it holds no key and refuses every operation; unsealing needs the root key, which
decrypts the keyring held in storage.
"""

from __future__ import annotations

import threading

from strongroom.barrier.aead import IntegrityError
from strongroom.barrier.keyring import Keyring


class SealedError(Exception):
    """The barrier is sealed: no secret material can be read or written."""


class Barrier:
    def __init__(self) -> None:
        self._keyring: Keyring | None = None
        self._lock = threading.Lock()

    @property
    def sealed(self) -> bool:
        return self._keyring is None

    def unseal(self, root_key: bytes, keyring_blob: bytes) -> None:
        """Raise IntegrityError (and stay sealed) when the root key does not open the keyring."""
        keyring = Keyring.unwrap(root_key, keyring_blob)
        with self._lock:
            self._keyring = keyring

    def seal(self) -> None:
        with self._lock:
            self._keyring = None

    def _active(self) -> Keyring:
        keyring = self._keyring
        if keyring is None:
            raise SealedError("the barrier is sealed")
        return keyring

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt for storage; `aad` binds the value to where it is stored (table, row id)."""
        return self._active().encrypt(plaintext, aad)

    def mac(self, data: bytes) -> bytes:
        """Tag metadata that storage keeps in the clear, so edits to it can be detected."""
        return self._active().mac(data)

    def verify(self, data: bytes, tag: bytes) -> None:
        """Raise IntegrityError when `data` is not what was tagged."""
        self._active().verify(data, tag)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Raise IntegrityError when the stored value was altered or moved to another row."""
        return self._active().decrypt(blob, aad)


__all__ = ["Barrier", "IntegrityError", "SealedError"]
