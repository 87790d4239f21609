"""GetRandomPassword: a password drawn from the character types AWS Secrets Manager documents.

The types are lowercase a-z, uppercase A-Z, digits 0-9 and the 32 ASCII punctuation characters
(``string.punctuation``), each dropped by its ``Exclude*`` switch, plus the space character when
``IncludeSpace`` is set. ``ExcludeCharacters`` removes its characters from every type.

``RequireEachIncludedType`` (AWS's default) guarantees one character of each of the four
documented types that is switched on and still has characters after ``ExcludeCharacters``; the
space is admitted but never required, as AWS's documentation lists only letters, numbers and
punctuation for this switch. Those guaranteed characters sit at random positions.

Every draw comes from ``secrets`` (the operating system's CSPRNG). Error messages never contain
the password.
"""

from __future__ import annotations

import secrets
import string

__all__ = ["MAX_PASSWORD_LENGTH", "PUNCTUATION", "InvalidParameter", "random_password"]

MAX_PASSWORD_LENGTH = 4096
PUNCTUATION = string.punctuation  # !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ (32 characters)

_rng = secrets.SystemRandom()


class InvalidParameter(ValueError):
    """The request cannot be satisfied; the message is AWS's InvalidParameterException text."""


def random_password(
    PasswordLength: int = 32,
    ExcludeCharacters: str = "",
    ExcludeNumbers: bool = False,
    ExcludePunctuation: bool = False,
    ExcludeUppercase: bool = False,
    ExcludeLowercase: bool = False,
    IncludeSpace: bool = False,
    RequireEachIncludedType: bool = True,
) -> str:
    """Return a random password of exactly ``PasswordLength`` characters.

    Raises InvalidParameter when no character is left to choose from, or when
    ``RequireEachIncludedType`` needs more characters than ``PasswordLength`` allows.
    """
    if not 1 <= PasswordLength <= MAX_PASSWORD_LENGTH:
        raise InvalidParameter(
            f"Password length must be between 1 and {MAX_PASSWORD_LENGTH} characters."
        )
    excluded = set(ExcludeCharacters)

    def keep(chars: str) -> str:
        return "".join(c for c in chars if c not in excluded)

    types = [
        keep(chars)
        for chars, switched_off in (
            (string.ascii_lowercase, ExcludeLowercase),
            (string.ascii_uppercase, ExcludeUppercase),
            (string.digits, ExcludeNumbers),
            (PUNCTUATION, ExcludePunctuation),
        )
        if not switched_off
    ]
    types = [chars for chars in types if chars]
    alphabet = "".join(types) + (keep(" ") if IncludeSpace else "")
    if not alphabet:
        raise InvalidParameter(
            "All characters have been excluded from selection: no characters to choose from."
        )

    required = types if RequireEachIncludedType else []
    if PasswordLength < len(required):
        raise InvalidParameter("Password length is too short based on the required types.")

    chars = [secrets.choice(kind) for kind in required]
    chars += [secrets.choice(alphabet) for _ in range(PasswordLength - len(chars))]
    _rng.shuffle(chars)
    return "".join(chars)
