"""Tests for strongroom.barrier.shamir (Shamir's secret sharing over GF(2^8))."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.barrier import shamir
from strongroom.barrier.shamir import ShamirError, combine, split


def _slow_mul(a: int, b: int) -> int:
    """Reference shift-and-add multiplication modulo x^8 + x^4 + x^3 + x + 1."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return result


# --- field arithmetic -------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0x53, 0xCA, 0x01),  # AES S-box inverse pair
        (0x57, 0x83, 0xC1),  # FIPS-197 section 4.2
        (0x57, 0x13, 0xFE),  # FIPS-197 section 4.2.1
        (0x01, 0xFF, 0xFF),
        (0x00, 0xAB, 0x00),
        (0xAB, 0x00, 0x00),
        (0x00, 0x00, 0x00),
    ],
)
def test_mul_known_answers(a: int, b: int, expected: int) -> None:
    assert shamir._mul(a, b) == expected
    assert shamir._mul(b, a) == expected


def test_mul_matches_reference_for_all_pairs() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir._mul(a, b) == _slow_mul(a, b), (a, b)


def test_inverse_for_all_nonzero_elements() -> None:
    for a in range(1, 256):
        assert shamir._mul(a, shamir._inv(a)) == 1


# --- known-answer interpolation ----------------------------------------------------


def test_combine_known_answer() -> None:
    # f(x) = 0x42 + 0x01*x  ->  f(1) = 0x43, f(2) = 0x40, f(3) = 0x41
    assert combine([b"\x43\x01", b"\x40\x02"]) == b"\x42"
    assert combine([b"\x41\x03", b"\x43\x01"]) == b"\x42"
    # g(x) = 0x07 + 0x05*x + 0x03*x^2 evaluated with the reference multiply
    points = [
        (x, 0x07 ^ _slow_mul(0x05, x) ^ _slow_mul(0x03, _slow_mul(x, x))) for x in (9, 200, 77)
    ]
    assert combine([bytes([y, x]) for x, y in points]) == b"\x07"


# --- round trips -------------------------------------------------------------------


@st.composite
def _split_case(draw: st.DrawFn) -> tuple[bytes, int, int, list[bytes]]:
    secret = draw(st.binary(min_size=1, max_size=64))
    n = draw(st.integers(min_value=2, max_value=10))
    k = draw(st.integers(min_value=2, max_value=n))
    return secret, n, k, split(secret, n, k)


@given(case=_split_case(), data=st.data())
def test_any_threshold_subset_in_any_order_recombines(
    case: tuple[bytes, int, int, list[bytes]], data: st.DataObject
) -> None:
    secret, n, k, parts = case
    assert len(parts) == n
    assert all(len(part) == len(secret) + 1 for part in parts)
    xs = [part[-1] for part in parts]
    assert len(set(xs)) == n
    assert all(1 <= x <= 255 for x in xs)

    size = data.draw(st.integers(min_value=k, max_value=n), label="subset size")
    subset = data.draw(st.permutations(parts), label="order")[:size]
    assert combine(subset) == secret


def test_every_subset_and_order_small_case() -> None:
    secret = b"strongroom unseal key"
    parts = split(secret, 5, 3)
    for size in (3, 4, 5):
        for subset in itertools.combinations(parts, size):
            for ordering in itertools.permutations(subset):
                assert combine(ordering) == secret


@settings(max_examples=50)
@given(
    secret=st.binary(min_size=32, max_size=32),
    n=st.integers(min_value=3, max_value=10),
    data=st.data(),
)
def test_below_threshold_gives_wrong_value(secret: bytes, n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=3, max_value=n), label="threshold")
    parts = split(secret, n, k)
    subset = data.draw(st.permutations(parts), label="order")[: k - 1]
    # Equal only with probability 2^-256.
    assert combine(subset) != secret


def test_maximum_share_count_uses_every_x() -> None:
    secret = bytes(range(16))
    parts = split(secret, 255, 2)
    assert sorted(part[-1] for part in parts) == list(range(1, 256))
    assert combine(parts[100:102]) == secret
    assert combine(parts) == secret


def test_split_is_randomised() -> None:
    secret = b"\x00" * 32
    assert split(secret, 3, 2) != split(secret, 3, 2)


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "shares", "threshold"),
    [
        (b"", 3, 2),  # empty secret
        (b"k", 3, 1),  # threshold below 2
        (b"k", 3, 0),
        (b"k", 2, 3),  # threshold above shares
        (b"k", 1, 1),
        (b"k", 256, 2),  # more shares than nonzero x values
        (b"k", -1, 2),
    ],
)
def test_split_rejects_bad_parameters(secret: bytes, shares: int, threshold: int) -> None:
    with pytest.raises(ShamirError):
        split(secret, shares, threshold)


def test_shamir_error_is_value_error() -> None:
    assert issubclass(ShamirError, ValueError)


def test_combine_rejects_too_few_shares() -> None:
    parts = split(b"secret", 3, 2)
    with pytest.raises(ShamirError):
        combine([])
    with pytest.raises(ShamirError):
        combine(parts[:1])


def test_combine_rejects_duplicate_shares() -> None:
    parts = split(b"secret", 3, 2)
    with pytest.raises(ShamirError):
        combine([parts[0], parts[0]])
    # Same x-coordinate with different payloads is just as invalid.
    forged = bytes(b ^ 0xFF for b in parts[0][:-1]) + parts[0][-1:]
    with pytest.raises(ShamirError):
        combine([parts[0], forged, parts[1]])


def test_combine_rejects_mismatched_lengths() -> None:
    short = split(b"abc", 2, 2)
    long = split(b"abcd", 2, 2)
    with pytest.raises(ShamirError):
        combine([short[0], long[1]])


def test_combine_rejects_zero_x() -> None:
    parts = split(b"secret", 3, 2)
    zero_x = parts[0][:-1] + b"\x00"
    with pytest.raises(ShamirError):
        combine([zero_x, parts[1]])


def test_combine_rejects_too_short_shares() -> None:
    with pytest.raises(ShamirError):
        combine([b"\x01", b"\x02"])
    with pytest.raises(ShamirError):
        combine([b"", b""])


def test_combine_rejects_non_bytes() -> None:
    with pytest.raises(ShamirError):
        combine(["ab", "cd"])  # type: ignore[list-item]


def test_error_messages_do_not_leak_share_bytes() -> None:
    secret = bytes(range(0x41, 0x41 + 16))
    parts = split(secret, 3, 2)
    bad_inputs: list[list[bytes]] = [
        [parts[0], parts[0]],
        [parts[0], parts[1][:-2] + parts[1][-1:]],
        [parts[0][:-1] + b"\x00", parts[1]],
        [parts[0]],
    ]
    for bad in bad_inputs:
        with pytest.raises(ShamirError) as excinfo:
            combine(bad)
        message = str(excinfo.value)
        for part in bad:
            assert repr(part) not in message
            assert part.hex() not in message
        assert secret.hex() not in message
        assert repr(secret) not in message
