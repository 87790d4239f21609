"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP) as virtual MFA devices make
them: HMAC-SHA-1, 30-second steps from the Unix epoch, 6 digits; and the seeds and
provisioning images of new devices."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import struct
from urllib.parse import quote

import segno

STEP_SECONDS = 30
DIGITS = 6
SEED_BYTES = 40  # 64 characters of base32, as AWS's seeds


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def base32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii")


def step(at: float) -> int:
    """The number of the time step that `at` (seconds since the epoch) falls in."""
    return int(at // STEP_SECONDS)


def code(seed: bytes, step_number: int) -> str:
    """HOTP(seed, step): dynamic truncation of HMAC-SHA-1, RFC 4226 section 5.3."""
    digest = hmac.new(seed, struct.pack(">Q", step_number), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matches(seed: bytes, step_number: int, candidate: str) -> bool:
    return hmac.compare_digest(code(seed, step_number), candidate)


def provisioning_uri(device_name: str, account_name: str, seed: bytes) -> str:
    """What an authenticator app reads from the QR code, in AWS's form:
    otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String."""
    label = quote(f"{device_name}@{account_name}", safe="@")
    return f"otpauth://totp/{label}?secret={base32(seed)}"


def qr_code_png(text: str) -> bytes:
    image = io.BytesIO()
    segno.make_qr(text, error="m").save(image, kind="png", scale=4)
    return image.getvalue()
