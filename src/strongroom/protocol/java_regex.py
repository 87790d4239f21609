"""Botocore models carry Java regular expressions (AWS validates with java.util.regex); this
translates them to Python's `re`, or reports that a pattern cannot be checked faithfully."""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable
from functools import cache, lru_cache
from typing import ClassVar

__all__ = ["compile_java_pattern"]


# Java's POSIX classes are US-ASCII only (without UNICODE_CHARACTER_CLASS).
_POSIX_CLASSES: dict[str, str] = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": r"\x00-\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": r"\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e",
    "Graph": r"\x21-\x7e",
    "Print": r"\x20-\x7e",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0b\f\r",
}
_BINARY_PROPERTY_CATEGORIES = {"Letter": "L", "Digit": "Nd", "Punctuation": "P", "Control": "Cc"}
_GENERAL_CATEGORIES = frozenset(
    {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No"}
    | {"P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So"}
    | {"Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cs", "Cn"}
)
# Escapes whose Java meaning differs from (or is missing in) Python, as class bodies.
_CLASS_ESCAPES: dict[str, str] = {
    "h": r" \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000",
    "v": r"\n\x0b\f\r\x85\u2028\u2029",
}
_LINE_TERMINATORS = r"\n\r\x85\u2028\u2029"
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


class _Untranslatable(Exception):
    """A Java regex construct with no faithful Python equivalent."""


@cache
def compile_java_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a model (Java) pattern once; ``None`` means the check is skipped."""
    try:
        translated = _JavaRegexTranslator(pattern).translate()
        with warnings.catch_warnings():
            # FutureWarnings about possible future set syntax are irrelevant here.
            warnings.simplefilter("ignore")
            # re.ASCII: Java's \w, \d, \s, \b and case folding are ASCII-only by default.
            return re.compile(translated, re.ASCII)
    except (_Untranslatable, re.error, OverflowError, RecursionError):
        return None


@lru_cache(maxsize=1)
def _category_runs() -> tuple[tuple[int, int, str], ...]:
    """All code points as (start, end, general category) runs; built once, lazily."""
    runs: list[tuple[int, int, str]] = []
    start, current = 0, unicodedata.category("\0")
    for cp in range(1, 0x110000):
        category = unicodedata.category(chr(cp))
        if category != current:
            runs.append((start, cp - 1, current))
            start, current = cp, category
    runs.append((start, 0x10FFFF, current))
    return tuple(runs)


@cache
def _category_class_body(category: str) -> str:
    parts: list[str] = []
    for start, end, run_category in _category_runs():
        if run_category.startswith(category):
            parts.append(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}")
    return "".join(parts)


def _property_class_body(name: str) -> str:
    """Class body (no brackets) for a Java ``\\p{name}``."""
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    for prefix in ("general_category=", "gc=", "Is"):
        if name.startswith(prefix) and name[len(prefix) :] in _GENERAL_CATEGORIES:
            name = name[len(prefix) :]
    name = _BINARY_PROPERTY_CATEGORIES.get(name.removeprefix("Is"), name)
    if name in _GENERAL_CATEGORIES:
        return _category_class_body(name)
    raise _Untranslatable(name)  # Scripts, blocks, java* properties, ...


class _JavaRegexTranslator:
    """Single left-to-right scan rewriting the Java-only parts of a pattern."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        self.in_class = False
        self.class_start = 0  # Output index just past "[" or "[^".

    def translate(self) -> str:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "\\":
                self._escape()
            elif self.in_class:
                self._class_char(char)
            else:
                self._plain_char(char)
        if self.in_class:
            raise _Untranslatable("unterminated character class")
        return "".join(self.out)

    def _plain_char(self, char: str) -> None:
        self.pos += 1
        if char == "[":
            self.in_class = True
            if self.src.startswith("^", self.pos):
                self.pos += 1
                char = "[^"
            self.out.append(char)
            self.class_start = len(self.out)
        elif char == ".":
            self.out.append(f"[^{_LINE_TERMINATORS}]")  # Java's "." excludes all terminators.
        elif char == "(" and self.src.startswith("?<", self.pos) and self._named_group_follows():
            self.out.append("(?P<")
            self.pos += 2
        else:
            self.out.append(char)

    def _named_group_follows(self) -> bool:
        nxt = self.src[self.pos + 2 : self.pos + 3]
        return nxt not in ("=", "!", "")

    def _class_char(self, char: str) -> None:
        if char == "[" or (char == "&" and self.src.startswith("&&", self.pos)):
            raise _Untranslatable("class union/intersection")  # No Python equivalent.
        if char == "]" and len(self.out) > self.class_start:
            self.in_class = False
        self.out.append(char)
        self.pos += 1

    def _escape(self) -> None:
        if self.pos + 1 >= len(self.src):
            raise _Untranslatable("trailing backslash")
        letter = self.src[self.pos + 1]
        self.pos += 2
        handler = self._ESCAPE_HANDLERS.get(letter)
        if handler is not None:
            handler(self, letter)
        else:
            self.out.append("\\" + letter)  # Python agrees with Java on the rest.

    def _emit_class_body(self, body: str, negated: bool) -> None:
        if not self.in_class:
            self.out.append(f"[^{body}]" if negated else f"[{body}]")
        elif negated:
            raise _Untranslatable("negated property inside a class")
        else:
            self.out.append(body)

    def _emit_literal(self, text: str) -> None:
        self.out.append("".join(f"\\U{ord(c):08x}" for c in text))

    def _property(self, letter: str) -> None:
        if self.src.startswith("{", self.pos):
            end = self.src.find("}", self.pos)
            if end < 0:
                raise _Untranslatable("unterminated property")
            name, self.pos = self.src[self.pos + 1 : end], end + 1
        else:
            name, self.pos = self.src[self.pos : self.pos + 1], self.pos + 1
        self._emit_class_body(_property_class_body(name), negated=letter == "P")

    def _class_escape(self, letter: str) -> None:
        self._emit_class_body(_CLASS_ESCAPES[letter.lower()], negated=letter.isupper())

    def _quote(self, letter: str) -> None:
        end = self.src.find("\\E", self.pos)
        end = len(self.src) if end < 0 else end
        self._emit_literal(self.src[self.pos : end])
        self.pos = end + 2

    def _unicode(self, letter: str) -> None:
        code = self._hex4(self.pos)
        self.pos += 4
        # Java allows a supplementary character as an escaped UTF-16 surrogate pair.
        if 0xD800 <= code <= 0xDBFF and self.src.startswith("\\u", self.pos):
            low = self._hex4(self.pos + 2)
            if 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                self.pos += 6
        self.out.append(f"\\U{code:08x}")

    def _hex4(self, at: int) -> int:
        digits = self.src[at : at + 4]
        if not _HEX4.fullmatch(digits):
            raise _Untranslatable("bad \\u escape")
        return int(digits, 16)

    def _hex(self, letter: str) -> None:
        if not self.src.startswith("{", self.pos):
            self.out.append("\\x")  # Plain \xhh means the same in Python.
            return
        end = self.src.find("}", self.pos)
        try:
            self._emit_literal(chr(int(self.src[self.pos + 1 : end], 16)))
        except ValueError:
            raise _Untranslatable("bad \\x{} escape") from None
        self.pos = end + 1

    def _end_of_input(self, letter: str) -> None:
        if self.in_class:
            raise _Untranslatable("\\z or \\Z inside a class")
        # Java \z is Python \Z; Java \Z also allows one final line terminator.
        self.out.append(r"\Z" if letter == "z" else rf"(?=(?:\r\n|[{_LINE_TERMINATORS}])?\Z)")

    def _named_backref(self, letter: str) -> None:
        end = self.src.find(">", self.pos)
        if not self.src.startswith("<", self.pos) or end < 0:
            raise _Untranslatable("bad \\k escape")
        self.out.append(f"(?P={self.src[self.pos + 1 : end]})")
        self.pos = end + 1

    def _escape_char(self, letter: str) -> None:
        self.out.append(r"\x1b")

    def _unsupported(self, letter: str) -> None:
        raise _Untranslatable("\\" + letter)

    _ESCAPE_HANDLERS: ClassVar[dict[str, Callable[[_JavaRegexTranslator, str], None]]] = {
        "p": _property,
        "P": _property,
        "h": _class_escape,
        "H": _class_escape,
        "v": _class_escape,
        "V": _class_escape,
        "Q": _quote,
        "u": _unicode,
        "x": _hex,
        "z": _end_of_input,
        "Z": _end_of_input,
        "k": _named_backref,
        "e": _escape_char,
        "c": _unsupported,
        "G": _unsupported,
        "R": _unsupported,
        "X": _unsupported,
    }
