"""Shamir's secret sharing over GF(2^8), used to split the barrier's unseal key.

Every byte of the secret is shared independently: it is the constant term of a random
polynomial of degree ``threshold - 1``, and a share holds that polynomial evaluated at
one x-coordinate for every byte, followed by the x-coordinate itself (the same layout
HashiCorp Vault uses, so shares are ``len(secret) + 1`` bytes long).

Python cannot promise constant-time execution or scrub secret ints from memory; the
code below only avoids *branching* on secret values. It still indexes lookup tables
with secret-derived bytes, which may leak through cache timing; that is accepted here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

__all__ = ["ShamirError", "combine", "split"]

_MAX_SHARES = 255  # x-coordinates are the nonzero field elements 1..255


class ShamirError(ValueError):
    """Bad parameters or shares; message never contains share or secret bytes."""


def _build_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    # 0x03 generates the multiplicative group of GF(2^8) mod 0x11B (0x02 does not),
    # so successive powers of 3 enumerate all 255 nonzero elements.
    exp = [0] * 510  # doubled so log[a] + log[b] (<= 508) needs no reduction mod 255
    log = [0] * 256  # log[0] is a dummy; _mul masks the zero case out
    value = 1
    for power in range(255):
        exp[power] = exp[power + 255] = value
        log[value] = power
        doubled = value << 1
        if doubled & 0x100:  # branches on public table-building state only
            doubled ^= 0x11B
        value = doubled ^ value  # value * 3 == value * 2 + value
    return tuple(exp), tuple(log)


_EXP, _LOG = _build_tables()


def _mul(a: int, b: int) -> int:
    """Multiply two field elements without an ``if`` on their (possibly secret) values."""
    product = _EXP[_LOG[a] + _LOG[b]]
    # (v + 255) >> 8 is 1 for v in 1..255 and 0 for v == 0; -1 keeps every bit, -0 none.
    nonzero = ((a + 0xFF) >> 8) & ((b + 0xFF) >> 8)
    return product & -nonzero


def _inv(a: int) -> int:
    """Multiplicative inverse; only ever applied to public, nonzero x-coordinate values."""
    return _EXP[255 - _LOG[a]]


def _evaluate(coefficients: bytes, x: int) -> int:
    """Evaluate the polynomial (constant term first) at ``x`` using Horner's rule."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient  # addition in GF(2^8) is XOR
    return result


def split(secret: bytes, shares: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``shares`` parts, any ``threshold`` of which recover it."""
    if not secret:
        raise ShamirError("secret must not be empty")
    if not 2 <= threshold <= shares <= _MAX_SHARES:
        raise ShamirError(
            f"need 2 <= threshold <= shares <= {_MAX_SHARES}, "
            f"got threshold={threshold}, shares={shares}"
        )

    # Random distinct x-coordinates (as Vault does): a share reveals neither its index
    # nor how many shares were issued.
    xs = secrets.SystemRandom().sample(range(1, _MAX_SHARES + 1), shares)
    outputs = [bytearray(len(secret) + 1) for _ in range(shares)]
    for out, x in zip(outputs, xs, strict=True):
        out[-1] = x

    for index, secret_byte in enumerate(secret):
        # Uniformly random higher coefficients (zero included) give perfect secrecy.
        coefficients = bytes([secret_byte]) + secrets.token_bytes(threshold - 1)
        for out, x in zip(outputs, xs, strict=True):
            out[index] = _evaluate(coefficients, x)

    return [bytes(out) for out in outputs]


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret from ``shares`` by Lagrange interpolation at x = 0.

    With fewer shares than the split threshold this returns an unrelated value rather
    than failing; the caller must verify the result (e.g. by decrypting with it).
    """
    if len(shares) < 2:
        raise ShamirError("at least 2 shares are required")
    if not all(isinstance(share, bytes) for share in shares):
        raise ShamirError("shares must be bytes")
    length = len(shares[0])
    if length < 2:
        raise ShamirError("shares must be at least 2 bytes long")
    if any(len(share) != length for share in shares):
        raise ShamirError("shares must all have the same length")
    xs = [share[-1] for share in shares]
    if 0 in xs:
        raise ShamirError("share x-coordinate must not be zero")
    if len(set(xs)) != len(xs):
        raise ShamirError("shares must have distinct x-coordinates")

    # Lagrange basis values at 0 depend only on the public x-coordinates, so compute
    # them once: l_i(0) = prod_{j != i} x_j / (x_j - x_i), where subtraction is XOR.
    basis: list[int] = []
    for i, x_i in enumerate(xs):
        weight = 1
        for j, x_j in enumerate(xs):
            if j != i:
                weight = _mul(weight, _mul(x_j, _inv(x_j ^ x_i)))
        basis.append(weight)

    secret = bytearray(length - 1)
    for index in range(length - 1):
        value = 0
        for weight, share in zip(basis, shares, strict=True):
            value ^= _mul(weight, share[index])
        secret[index] = value
    return bytes(secret)
