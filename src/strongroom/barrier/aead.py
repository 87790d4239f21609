"""AES-256-GCM with a fresh HKDF-derived key per message.

GCM with random 96-bit nonces is limited to 2^32 messages per key (NIST SP 800-38D). Deriving a
one-time key from the long-lived key and a random 128-bit salt (as AWS KMS does) removes that
limit: the long-lived key never encrypts anything directly.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_LEN = 32
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
OVERHEAD = SALT_LEN + NONCE_LEN + TAG_LEN


class IntegrityError(Exception):
    """Ciphertext, its associated data or the key is wrong; nothing is revealed about which."""


def new_key() -> bytes:
    return os.urandom(KEY_LEN)


def _message_key(key: bytes, salt: bytes, purpose: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=salt, info=purpose).derive(key)
    return AESGCM(derived)


def encrypt(key: bytes, plaintext: bytes, aad: bytes, purpose: bytes) -> bytes:
    """Return salt | nonce | ciphertext | tag; `purpose` separates keys derived for other uses."""
    salt = os.urandom(SALT_LEN)
    nonce = os.urandom(NONCE_LEN)
    return salt + nonce + _message_key(key, salt, purpose).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes, purpose: bytes) -> bytes:
    if len(blob) < OVERHEAD:
        raise IntegrityError("ciphertext too short")
    salt, nonce, body = (
        blob[:SALT_LEN],
        blob[SALT_LEN : SALT_LEN + NONCE_LEN],
        blob[SALT_LEN + NONCE_LEN :],
    )
    try:
        return _message_key(key, salt, purpose).decrypt(nonce, body, aad)
    except InvalidTag:
        raise IntegrityError("ciphertext failed authentication") from None
