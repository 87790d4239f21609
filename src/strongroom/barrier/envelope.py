"""Envelope encryption for values stored under a KMS data key.

    wrapped key length (2) | wrapped data key (KMS ciphertext) | salt | nonce | ct | tag

The caller gets the data key from KMS (wrapped and plain); this module seals the value with it
and later splits the blob so the wrapped key can go back to KMS for unwrapping.
"""

from __future__ import annotations

import struct

from strongroom.barrier import aead

_LENGTH = struct.Struct(">H")
_PURPOSE = b"strongroom envelope v1"


def seal(data_key: bytes, wrapped: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return _LENGTH.pack(len(wrapped)) + wrapped + aead.encrypt(data_key, plaintext, aad, _PURPOSE)


def wrapped_key(blob: bytes) -> bytes:
    """The KMS ciphertext of the data key; IntegrityError when the blob is malformed."""
    if len(blob) < _LENGTH.size:
        raise aead.IntegrityError("envelope too short")
    (length,) = _LENGTH.unpack_from(blob)
    if len(blob) < _LENGTH.size + length + aead.OVERHEAD:
        raise aead.IntegrityError("envelope too short")
    return blob[_LENGTH.size : _LENGTH.size + length]


def open_blob(data_key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Raise IntegrityError when the blob, its associated data or the data key is wrong."""
    sealed = blob[_LENGTH.size + len(wrapped_key(blob)) :]
    return aead.decrypt(data_key, sealed, aad, _PURPOSE)
