"""Tests for strongroom.services.secretsmanager.passwords (GetRandomPassword semantics)."""

from __future__ import annotations

import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.services.secretsmanager import passwords
from strongroom.services.secretsmanager.passwords import InvalidParameter, random_password

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
DEFAULT_ALPHABET = LOWER + UPPER + DIGITS + PUNCT

NO_CHARACTERS = "All characters have been excluded from selection: no characters to choose from."
TOO_SHORT = "Password length is too short based on the required types."


def _expected(
    exclude: str,
    no_numbers: bool,
    no_punctuation: bool,
    no_upper: bool,
    no_lower: bool,
    space: bool,
) -> tuple[set[str], list[set[str]]]:
    """The spec, written out: (allowed characters, non-empty types that are switched on)."""
    types = []
    for chars, off in ((LOWER, no_lower), (UPPER, no_upper), (DIGITS, no_numbers)):
        if not off:
            types.append(set(chars) - set(exclude))
    if not no_punctuation:
        types.append(set(PUNCT) - set(exclude))
    types = [kind for kind in types if kind]
    allowed = set().union(*types)
    if space and " " not in exclude:
        allowed.add(" ")
    return allowed, types


# --- character sets and defaults ------------------------------------------------------


def test_punctuation_is_the_32_documented_characters() -> None:
    assert len(PUNCT) == 32
    assert passwords.PUNCTUATION == PUNCT
    assert len(set(DEFAULT_ALPHABET)) == 94


def test_default_password_is_32_chars_with_all_four_types() -> None:
    for _ in range(50):
        password = random_password()
        assert len(password) == 32
        assert set(password) <= set(DEFAULT_ALPHABET)
        for kind in (LOWER, UPPER, DIGITS, PUNCT):
            assert set(password) & set(kind)


def test_passwords_differ() -> None:
    assert len({random_password() for _ in range(100)}) == 100


def test_uses_no_non_cryptographic_random() -> None:
    assert not hasattr(passwords, "random")
    assert isinstance(passwords._rng, passwords.secrets.SystemRandom)


# --- lengths ----------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=4, max_value=passwords.MAX_PASSWORD_LENGTH))
def test_length_is_exact(length: int) -> None:
    assert len(random_password(PasswordLength=length)) == length


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 4096])
def test_length_is_exact_without_required_types(length: int) -> None:
    password = random_password(PasswordLength=length, RequireEachIncludedType=False)
    assert len(password) == length
    assert set(password) <= set(DEFAULT_ALPHABET)


@pytest.mark.parametrize("length", [0, -1, 4097])
def test_out_of_range_length_is_refused(length: int) -> None:
    with pytest.raises(InvalidParameter):
        random_password(PasswordLength=length)


# --- every option combination -----------------------------------------------------------

# Random characters, plus whole types now and then so that exclusions can empty a type.
_exclude_characters = st.builds(
    lambda whole, extra: "".join(whole) + extra,
    st.lists(st.sampled_from([LOWER, UPPER, DIGITS, PUNCT, " "]), max_size=3),
    st.text(alphabet=st.sampled_from(DEFAULT_ALPHABET + " \t\né€"), max_size=60),
)


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(min_value=1, max_value=5) | st.integers(min_value=1, max_value=200),
    exclude=_exclude_characters,
    no_numbers=st.booleans(),
    no_punctuation=st.booleans(),
    no_upper=st.booleans(),
    no_lower=st.booleans(),
    space=st.booleans(),
    require_each=st.booleans(),
)
def test_options_are_honoured(
    length: int,
    exclude: str,
    no_numbers: bool,
    no_punctuation: bool,
    no_upper: bool,
    no_lower: bool,
    space: bool,
    require_each: bool,
) -> None:
    allowed, types = _expected(exclude, no_numbers, no_punctuation, no_upper, no_lower, space)
    call = dict(
        PasswordLength=length,
        ExcludeCharacters=exclude,
        ExcludeNumbers=no_numbers,
        ExcludePunctuation=no_punctuation,
        ExcludeUppercase=no_upper,
        ExcludeLowercase=no_lower,
        IncludeSpace=space,
        RequireEachIncludedType=require_each,
    )
    if not allowed:
        with pytest.raises(InvalidParameter, match="no characters to choose from"):
            random_password(**call)
        return
    if require_each and length < len(types):
        with pytest.raises(InvalidParameter, match="too short"):
            random_password(**call)
        return

    password = random_password(**call)
    assert len(password) == length
    assert set(password) <= allowed
    assert not set(password) & set(exclude)
    if require_each:
        for kind in types:
            assert set(password) & kind


@pytest.mark.parametrize(
    ("option", "chars"),
    [
        ("ExcludeLowercase", LOWER),
        ("ExcludeUppercase", UPPER),
        ("ExcludeNumbers", DIGITS),
        ("ExcludePunctuation", PUNCT),
    ],
)
def test_each_switch_removes_its_type(option: str, chars: str) -> None:
    password = random_password(PasswordLength=4096, **{option: True})
    assert not set(password) & set(chars)
    assert set(password) == set(DEFAULT_ALPHABET) - set(chars)


def test_exclude_characters_removes_from_every_type() -> None:
    exclude = "aZ5!\\\"`' "
    password = random_password(PasswordLength=4096, ExcludeCharacters=exclude, IncludeSpace=True)
    assert not set(password) & set(exclude)


def test_include_space_admits_space_but_does_not_require_it() -> None:
    assert " " not in random_password(PasswordLength=4096)
    assert " " in random_password(PasswordLength=4096, IncludeSpace=True)
    # Four documented types are required; the space is not a fifth.
    password = random_password(PasswordLength=4, IncludeSpace=True)
    assert len(password) == 4
    for kind in (LOWER, UPPER, DIGITS, PUNCT):
        assert set(password) & set(kind)


def test_space_alone_is_a_valid_alphabet() -> None:
    password = random_password(
        PasswordLength=8,
        ExcludeNumbers=True,
        ExcludePunctuation=True,
        ExcludeUppercase=True,
        ExcludeLowercase=True,
        IncludeSpace=True,
    )
    assert password == " " * 8


def test_type_emptied_by_exclude_characters_is_not_required() -> None:
    password = random_password(PasswordLength=3, ExcludeCharacters=DIGITS)
    assert len(password) == 3
    for kind in (LOWER, UPPER, PUNCT):
        assert set(password) & set(kind)


# --- RequireEachIncludedType ------------------------------------------------------------


@pytest.mark.parametrize(
    ("switches", "required"),
    [
        ({}, 4),
        ({"ExcludePunctuation": True}, 3),
        ({"ExcludePunctuation": True, "ExcludeNumbers": True}, 2),
        ({"ExcludePunctuation": True, "ExcludeNumbers": True, "ExcludeUppercase": True}, 1),
    ],
)
def test_minimum_length_is_the_number_of_included_types(
    switches: dict[str, bool], required: int
) -> None:
    for _ in range(200):
        password = random_password(PasswordLength=required, **switches)
        assert len(password) == required
        assert len({_kind(c) for c in password}) == required
    if required > 1:
        with pytest.raises(InvalidParameter) as raised:
            random_password(PasswordLength=required - 1, **switches)
        assert str(raised.value) == TOO_SHORT


def _kind(char: str) -> str:
    return next(kind for kind in (LOWER, UPPER, DIGITS, PUNCT, " ") if char in kind)


def test_required_characters_land_at_random_positions() -> None:
    digit_positions = Counter()
    for _ in range(400):
        password = random_password(PasswordLength=4)
        digit_positions.update(i for i, c in enumerate(password) if c in DIGITS)
    assert set(digit_positions) == {0, 1, 2, 3}


def test_without_require_each_a_type_may_be_missing() -> None:
    # 400 one-character passwords can only ever show one type each.
    kinds = {
        _kind(random_password(PasswordLength=1, RequireEachIncludedType=False)) for _ in range(400)
    }
    assert kinds == {LOWER, UPPER, DIGITS, PUNCT}


# --- impossible combinations ------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        {
            "ExcludeNumbers": True,
            "ExcludePunctuation": True,
            "ExcludeUppercase": True,
            "ExcludeLowercase": True,
        },
        {
            "ExcludeNumbers": True,
            "ExcludePunctuation": True,
            "ExcludeUppercase": True,
            "ExcludeLowercase": True,
            "IncludeSpace": True,
            "ExcludeCharacters": " ",
        },
        {"ExcludeCharacters": DEFAULT_ALPHABET},
        {"ExcludeCharacters": DEFAULT_ALPHABET, "RequireEachIncludedType": False},
        {"ExcludeLowercase": True, "ExcludeCharacters": UPPER + DIGITS + PUNCT},
    ],
)
def test_no_characters_left_is_refused(call: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter) as raised:
        random_password(**call)  # type: ignore[arg-type]
    assert str(raised.value) == NO_CHARACTERS


@pytest.mark.parametrize("length", [1, 2, 3])
def test_too_short_for_the_required_types_is_refused(length: int) -> None:
    with pytest.raises(InvalidParameter) as raised:
        random_password(PasswordLength=length)
    assert str(raised.value) == TOO_SHORT
    assert isinstance(raised.value, ValueError)


# --- distribution -----------------------------------------------------------------------


def _chi_square(counts: Counter[str], chars: str) -> float:
    total = sum(counts[c] for c in chars)
    expected = total / len(chars)
    return sum((counts[c] - expected) ** 2 / expected for c in chars)


def test_characters_are_spread() -> None:
    counts = Counter("".join(random_password() for _ in range(2000)))
    assert set(counts) == set(DEFAULT_ALPHABET)
    # Within each type every character is equally likely (the required characters skew the
    # share of each type, not the characters inside it). Thresholds sit near p = 1e-7.
    for chars, limit in ((LOWER, 80.0), (UPPER, 80.0), (DIGITS, 50.0), (PUNCT, 95.0)):
        assert _chi_square(counts, chars) < limit, chars
