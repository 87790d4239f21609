"""The KMS ciphertext blob: self-describing and tamper-evident.

    version (1) | key id (16, UUID bytes) | key material version (4) | salt (16) | nonce (12)
    | ciphertext | tag (16)

Version 2 is the same for multi-Region keys, whose key id is "mrk-" and the 16 bytes in hex: a
ciphertext names no Region, so any Region holding a replica of the key decrypts it.

The header and the canonical encryption context are the AES-GCM associated data, so changing
any byte of the blob, or decrypting under another context, fails authentication. The data key
is derived per message from the key material and the salt (HKDF), so the 2^32-message limit of
random GCM nonces never applies to a KMS key.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.barrier import aead

FORMAT_VERSION = 1
MULTI_REGION_FORMAT_VERSION = 2
_MULTI_REGION_PREFIX = "mrk-"
_HEADER = struct.Struct(">B16sI")
_PURPOSE = b"strongroom kms symmetric v1"


class MalformedCiphertext(Exception):
    pass


@dataclass(frozen=True)
class CiphertextHeader:
    key_id: str
    material_version: int


def _context_bytes(context: Mapping[str, str] | None) -> bytes:
    if not context:
        return b"{}"
    return json.dumps(dict(sorted(context.items())), separators=(",", ":")).encode()


def seal(
    key_id: str,
    material_version: int,
    material: bytes,
    plaintext: bytes,
    context: Mapping[str, str] | None,
) -> bytes:
    if key_id.startswith(_MULTI_REGION_PREFIX):
        version, key_bytes = MULTI_REGION_FORMAT_VERSION, bytes.fromhex(key_id[4:])
    else:
        version, key_bytes = FORMAT_VERSION, bytes.fromhex(key_id.replace("-", ""))
    header = _HEADER.pack(version, key_bytes, material_version)
    return header + aead.encrypt(material, plaintext, header + _context_bytes(context), _PURPOSE)


def read_header(blob: bytes) -> CiphertextHeader:
    if len(blob) < _HEADER.size + aead.OVERHEAD:
        raise MalformedCiphertext
    version, key_bytes, material_version = _HEADER.unpack_from(blob)
    if version == FORMAT_VERSION:
        return CiphertextHeader(str(uuid.UUID(bytes=key_bytes)), material_version)
    if version == MULTI_REGION_FORMAT_VERSION:
        return CiphertextHeader(_MULTI_REGION_PREFIX + key_bytes.hex(), material_version)
    raise MalformedCiphertext


def open_blob(blob: bytes, material: bytes, context: Mapping[str, str] | None) -> bytes:
    """Raise aead.IntegrityError when the blob, the context or the key is wrong."""
    header = blob[: _HEADER.size]
    return aead.decrypt(material, blob[_HEADER.size :], header + _context_bytes(context), _PURPOSE)
