"""CloudWatch Logs filter patterns, the language of metric filters, subscription filters,
FilterLogEvents and Live Tail (AWS: "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail", and "Filter pattern syntax for metric filters").

`parse` turns a pattern into a `FilterPattern` or raises `InvalidFilterPattern`. The first
character says which of the three languages a pattern is written in:

- ``{`` JSON: ``{ $.user.id = 1 && ($.eventName = Get* || $.latency > 1e3) }``, selectors with
  ``[0]``, ``[*]``, ``.*`` and ``['dotted.name']``, ``IS NULL``/``TRUE``/``FALSE``, ``NOT EXISTS``;
- ``[`` space-delimited: ``[ip, user, ..., status_code = 4* || status_code = 5*, bytes > 1000]``;
- anything else terms: ``ERROR "exact phrase" -excluded``, ``?either ?or``, ``%regex%``.

Values after ``=``/``!=`` are strings with ``*`` wildcards, numbers, or ``%regex%``; ``<``, ``>``,
``<=``, ``>=`` take numbers only. Regular expressions are AWS's restricted dialect (no groups),
run by a small linear-time engine here: patterns come from API callers, and a backtracking engine
would let one request pin a worker (AWS itself cuts evaluation off after a time limit).

Where the documentation is silent, the choice made is marked "Undocumented:".
"""

from __future__ import annotations

import json
import re
import string
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import ClassVar, NamedTuple

__all__ = [
    "GENERIC_MESSAGE",
    "MAX_PATTERN_LENGTH",
    "METRIC_FILTER_MESSAGE",
    "FilterPattern",
    "InvalidFilterPattern",
    "Match",
    "Message",
    "parse",
]

MAX_PATTERN_LENGTH = 1024  # filterPattern in the API model
MAX_REGEXES = 2  # "a limit of 2 regex for each filter pattern"
MAX_SELECTOR_WILDCARDS = 3  # "up to three wildcard selectors in a filter pattern"
# Undocumented: bounds that keep the regex automaton small (AWS bounds evaluation time instead).
MAX_REGEX_REPEAT = 1000
MAX_REGEX_STATES = 4096
MAX_NESTING = 64  # parentheses in a JSON pattern; keeps recursion far from Python's limit

# FilterLogEvents words a refused pattern "Invalid filter pattern"; PutMetricFilter and
# TestMetricFilter "Invalid metric filter pattern". A character a term may not hold gets
# "Invalid character(s) in term '<characters>'" from all of them.
GENERIC_MESSAGE = "Invalid filter pattern"
METRIC_FILTER_MESSAGE = "Invalid metric filter pattern"


class InvalidFilterPattern(ValueError):
    """A pattern AWS refuses. `str(error)` is the message of the InvalidParameterException; when
    `generic` is true AWS words it per operation (`METRIC_FILTER_MESSAGE` for metric filters).
    `reason` says what is wrong, for logs and tests: AWS does not tell the caller."""

    def __init__(self, term: str | None = None, *, reason: str = "") -> None:
        self.term = term
        self.reason = reason or (f"invalid character(s) {term!r}" if term else "")
        message = GENERIC_MESSAGE if term is None else f"Invalid character(s) in term '{term}'"
        super().__init__(message)

    @property
    def generic(self) -> bool:
        return self.term is None

    @property
    def metric_filter_message(self) -> str:
        return METRIC_FILTER_MESSAGE if self.generic else str(self)


def _invalid(reason: str) -> InvalidFilterPattern:
    return InvalidFilterPattern(reason=reason)


_ALNUM = frozenset(string.ascii_letters + string.digits)
# "Terms that include characters other than alphanumeric or underscore must be placed inside
# double quotes." Undocumented: alphanumeric means ASCII, as it does for JSON strings ("strings
# that have unicode ... must be enclosed in double quotes") and regexes ("A to Z, 0 to 9").
_TERM_CHARS = _ALNUM | {"_"}
_FIELD_NAME_CHARS = _TERM_CHARS
_SELECTOR_NAME_CHARS = _TERM_CHARS | {"-"}
# Unquoted values: the documented examples also use '.', '*' and signs (123.123.*, +1000, 1e-3,
# kms.amazonaws.com in AWS's own CloudTrail alarm patterns).
_VALUE_CHARS = _TERM_CHARS | set(".*+-")
# Regexes may hold only alphanumerics, these symbols and these operators. Undocumented: space is
# allowed, as AWS's own example %^starting|^initializing|^shutting down% needs it.
_REGEX_CHARS = _ALNUM | set(":_#=@/;,- ") | set("^$?[]{}|\\*+.")

# An integer or decimal with an optional sign, optionally in scientific notation.
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)
# What JSON prints for a number: a quoted value of this form could match a number's text.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)


def _invalid_char(text: str, allowed: frozenset[str]) -> str:
    """The first character of `text` outside `allowed`, or "". AWS names only that one: the
    term level\\":\\"error is "Invalid character(s) in term '\\'"."""
    return next((char for char in text if char not in allowed), "")


def _decimal(text: str) -> Decimal:
    """`text`, a number in JSON or pattern syntax, exactly; beyond the exponents Decimal holds
    (1e99999999999999999999) it becomes infinity or zero, as a float would."""
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(float(text))


def _number(text: str) -> Decimal | None:
    return _decimal(text) if _NUMBER.fullmatch(text) else None


# --- Regular expressions ------------------------------------------------------------------------

_MAX_CODE_POINT = 0x10FFFF


@dataclass(frozen=True)
class _CharSet:
    """A set of characters as inclusive code point ranges, possibly complemented."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def contains(self, code: int) -> bool:
        return any(low <= code <= high for low, high in self.ranges) != self.negated

    def single(self) -> int | None:
        """The code point of a one-character set, else None."""
        if len(self.ranges) == 1 and not self.negated and self.ranges[0][0] == self.ranges[0][1]:
            return self.ranges[0][0]
        return None

    def positive_ranges(self) -> tuple[tuple[int, int], ...]:
        if not self.negated:
            return self.ranges
        complement, start = [], 0
        for low, high in sorted(self.ranges):
            if low > start:
                complement.append((start, low - 1))
            start = max(start, high + 1)
        if start <= _MAX_CODE_POINT:
            complement.append((start, _MAX_CODE_POINT))
        return tuple(complement)


def _chars(text: str) -> _CharSet:
    return _CharSet(tuple((ord(char), ord(char)) for char in text))


_DIGIT = _CharSet(((ord("0"), ord("9")),))
_WORD = _CharSet(((ord("0"), ord("9")), (ord("A"), ord("Z")), (ord("_"), ord("_")), (97, 122)))
_SPACE = _chars(" \t\n\x0b\f\r")  # Java's \s, which AWS's tab/space/newline list is part of
_CLASS_ESCAPES = {
    "d": _DIGIT,
    "D": _CharSet(_DIGIT.ranges, negated=True),
    "w": _WORD,
    "W": _CharSet(_WORD.ranges, negated=True),
    "s": _SPACE,
    "S": _CharSet(_SPACE.ranges, negated=True),
}
_ANY_BUT_NEWLINE = _CharSet(((10, 10),), negated=True)  # Undocumented: '.' stops at a newline
_HEX_DIGITS = frozenset(string.hexdigits)
_BOUNDS = re.compile(r"\{(\d*)(,?)(\d*)\}", re.ASCII)  # {m}, {m,}, {,n}, {m,n}


class _Kind:
    CHAR, START, END, ACCEPT = range(4)


class _Repeat:
    ONE, OPTIONAL, STAR = range(3)


class _Unit(NamedTuple):
    """One step of the automaton: a character (repeated once, optionally or any number of
    times), an anchor, or the accepting end of an alternative."""

    kind: int
    chars: _CharSet | None = None
    repeat: int = _Repeat.ONE


_ACCEPT = _Unit(_Kind.ACCEPT)


class _RegexParser:
    """Reads AWS's regex dialect: alternatives of atoms (a character, '.', a class, an escape,
    '^' or '$'), each optionally quantified by *, +, ?, {m}, {m,}, {,n} or {m,n}."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    def units(self) -> tuple[list[_Unit], list[int]]:
        units: list[_Unit] = []
        starts = [0]
        while True:
            units.extend(self._sequence())
            units.append(_ACCEPT)
            if self.pos == len(self.source):
                return units, starts
            self.pos += 1  # the '|' that ended the alternative
            starts.append(len(units))

    def _sequence(self) -> list[_Unit]:
        units: list[_Unit] = []
        while self.pos < len(self.source) and self.source[self.pos] != "|":
            atom = self._atom()
            units.extend(self._quantified(atom))
        return units

    def _atom(self) -> _Unit:
        char = self.source[self.pos]
        self.pos += 1
        if char == "^":
            return _Unit(_Kind.START)
        if char == "$":
            return _Unit(_Kind.END)
        if char == ".":
            return _Unit(_Kind.CHAR, _ANY_BUT_NEWLINE)
        if char == "[":
            return _Unit(_Kind.CHAR, self._class())
        if char == "\\":
            return _Unit(_Kind.CHAR, self._escape())
        if char in "*+?{":
            raise _invalid(f"regex quantifier {char!r} with nothing to repeat")
        return _Unit(_Kind.CHAR, _chars(char))

    def _escape(self) -> _CharSet:
        if self.pos == len(self.source):
            raise _invalid("regex ends with '\\'")
        char = self.source[self.pos]
        self.pos += 1
        if char in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[char]
        if char == "x":
            digits = self.source[self.pos : self.pos + 2]
            if len(digits) != 2 or not set(digits) <= _HEX_DIGITS:
                raise _invalid("regex \\x needs two hexadecimal digits")
            self.pos += 2
            return _chars(chr(int(digits, 16)))
        if char in _ALNUM:
            # Undocumented escapes (\b, \n, \1 ...) are refused rather than guessed at.
            raise _invalid(f"unsupported regex escape \\{char}")
        return _chars(char)

    def _class(self) -> _CharSet:
        negated = self.source.startswith("^", self.pos)
        self.pos += negated
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            if self.pos == len(self.source):
                raise _invalid("regex character class without ']'")
            char = self.source[self.pos]
            if char == "]" and not first:
                self.pos += 1
                return _CharSet(tuple(ranges), negated)
            first = False
            member = self._class_member()
            low = member.single()
            if low is not None and self._at_range_dash():
                self.pos += 1
                high = self._class_member().single()
                if high is None or high < low:
                    raise _invalid("regex range out of order or ending in a class escape")
                ranges.append((low, high))
            else:
                ranges.extend(member.positive_ranges())

    def _at_range_dash(self) -> bool:
        """Whether a '-' follows that makes a range: not one that ends the class, as in [a-]."""
        rest = self.source[self.pos : self.pos + 2]
        return rest.startswith("-") and len(rest) == 2 and rest[1] != "]"

    def _class_member(self) -> _CharSet:
        char = self.source[self.pos]
        self.pos += 1
        if char == "\\":
            return self._escape()
        if char == "[":
            raise _invalid("nested regex character class")
        return _chars(char)

    def _quantified(self, atom: _Unit) -> list[_Unit]:
        bounds = self._quantifier()
        if bounds is None:
            return [atom]
        if atom.kind != _Kind.CHAR:
            raise _invalid("a regex anchor cannot be repeated")
        if self.source.startswith("?", self.pos):
            self.pos += 1  # lazy: the same matches, since only whether one exists counts
        if self.pos < len(self.source) and self.source[self.pos] in "*+?{":
            raise _invalid("regex quantifier follows a quantifier")
        low, high = bounds
        units = [atom] * low
        if high is None:
            units.append(atom._replace(repeat=_Repeat.STAR))
        else:
            units.extend([atom._replace(repeat=_Repeat.OPTIONAL)] * (high - low))
        return units

    def _quantifier(self) -> tuple[int, int | None] | None:
        if self.pos == len(self.source):
            return None
        char = self.source[self.pos]
        simple = {"*": (0, None), "+": (1, None), "?": (0, 1)}
        if char in simple:
            self.pos += 1
            return simple[char]
        if char != "{":
            return None
        found = _BOUNDS.match(self.source, self.pos)
        if not found or not (found[1] or found[3]):
            raise _invalid("regex '{' is not a {m,n} quantifier")
        self.pos = found.end()
        low = int(found[1] or 0)
        high = int(found[3]) if found[3] else (None if found[2] else low)
        if max(low, high or 0) > MAX_REGEX_REPEAT or (high is not None and high < low):
            raise _invalid("regex {m,n} bounds out of range")
        return low, high


class _Regex:
    """A compiled regex: a Thompson automaton run as a lazily built DFA, so a search is linear in
    the text whatever the pattern. `search` answers whether the regex matches anywhere.

    Transitions are cached per set of automaton states and per character group: the edges of
    the regex's character ranges split all characters into groups that every range treats
    alike, so text in any script adds few transitions. The cache is emptied past a budget."""

    _CACHE_BUDGET = 10_000  # cached transitions plus the states they lead to

    def __init__(self, source: str) -> None:
        bad = _invalid_char(source, _REGEX_CHARS)
        if bad:
            raise InvalidFilterPattern(bad, reason=f"{bad!r} is not allowed in a regex")
        if not source:
            raise _invalid("empty regex")
        units, starts = _RegexParser(source).units()
        if len(units) > MAX_REGEX_STATES:
            raise _invalid("regex too large")
        self.source = source
        self._units = tuple(units)
        self._edges = sorted(
            {
                edge
                for unit in units
                if unit.chars is not None
                for low, high in unit.chars.positive_ranges()
                for edge in (low, high + 1)
            }
        )
        self._accepting = frozenset(i for i, unit in enumerate(units) if unit.kind == _Kind.ACCEPT)
        self._starts = frozenset(starts)
        self._begin = self._closure(self._starts, at_start=True, at_end=False)
        self._restart = self._closure(self._starts, at_start=False, at_end=False)
        # Shared by threads: a lost update only costs recomputing one transition.
        self._transitions: dict[tuple[frozenset[int], int], frozenset[int]] = {}
        self._cached = 0

    def search(self, text: str) -> bool:
        if not text:
            return self._accepts(self._closure(self._starts, at_start=True, at_end=True))
        states = self._begin
        for char in text:
            if not self._accepting.isdisjoint(states):
                return True
            states = self._step(states, bisect_right(self._edges, ord(char)))
        return self._accepts(self._closure(states, at_start=False, at_end=True))

    def _accepts(self, states: frozenset[int]) -> bool:
        return not self._accepting.isdisjoint(states)

    def _step(self, states: frozenset[int], group: int) -> frozenset[int]:
        key = (states, group)
        cached = self._transitions.get(key)
        if cached is not None:
            return cached
        code = self._edges[group - 1] if group else 0  # any character of the group will do
        following = set()
        for state in states:
            unit = self._units[state]
            if unit.kind == _Kind.CHAR and unit.chars is not None and unit.chars.contains(code):
                following.add(state if unit.repeat == _Repeat.STAR else state + 1)
        # A match may begin at any position, so the start states join every step.
        result = self._closure(following, at_start=False, at_end=False) | self._restart
        if self._cached > self._CACHE_BUDGET:
            self._transitions, self._cached = {}, 0
        self._transitions[key] = result
        self._cached += 1 + len(result)
        return result

    def _closure(self, states: Iterable[int], *, at_start: bool, at_end: bool) -> frozenset[int]:
        """`states` with every state reachable without reading a character: past optional and
        repeated characters, and past '^' at the start of the text and '$' at its end."""
        reached = set(states)
        pending = list(reached)
        while pending:
            state = pending.pop()
            unit = self._units[state]
            passable = (
                unit.repeat != _Repeat.ONE
                or (unit.kind == _Kind.START and at_start)
                or (unit.kind == _Kind.END and at_end)
            )
            if passable and state + 1 not in reached:
                reached.add(state + 1)
                pending.append(state + 1)
        return frozenset(reached)


# --- Values compared with ------------------------------------------------------------------------


class _Scalar(NamedTuple):
    """What a condition sees of a value: its text, and its number when it is numeric (a JSON
    number, or a space-delimited field written as a number)."""

    text: str
    number: Decimal | None


class _Wildcard:
    """A string where '*' stands for any run of characters (at the start, end or middle).

    Matched the way AWS was observed to match it (TestMetricFilter): each piece between stars is
    found at its first occurrence, without backtracking, and without a trailing star the value
    must end where the last piece does. So *111.111.111 does not match 111.111.111.111, nor does
    111*111 (the first "111" after the prefix ends at the second group), while 1*3 matches 123.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._parts = text.split("*")

    def matches(self, text: str) -> bool:
        if len(self._parts) == 1:
            return text == self.text
        first, *rest = self._parts
        if not text.startswith(first):
            return False
        position = len(first)
        for part in rest:
            found = text.find(part, position)
            if found < 0:
                return False
            position = found + len(part)
        return not rest[-1] or position == len(text)


@dataclass(frozen=True)
class _Literal:
    """The value after an operator: exactly one of `wildcard`, `number`, `regex`."""

    text: str
    wildcard: _Wildcard | None = None
    number: Decimal | None = None
    regex: _Regex | None = None

    def equals(self, value: _Scalar) -> bool:
        if self.regex is not None:
            return self.regex.search(value.text)
        if self.number is not None:
            # Undocumented: a number equals a string by its text ({ $.accountId = 123456789012 }
            # on CloudTrail's string account ids).
            if value.number is None:
                return value.text == self.text
            return value.number == self.number
        assert self.wildcard is not None
        return self.wildcard.matches(value.text)

    def exact_string(self) -> str | None:
        """The only JSON string this literal equals, if nothing but that string can equal it."""
        if self.wildcard is None or "*" in self.text:
            return None
        if self.text in ("true", "false") or _JSON_NUMBER.fullmatch(self.text):
            return None  # could also be a boolean's or a number's text
        return self.text


_RELATIONS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


def _compare(operator: str, literal: _Literal, value: _Scalar) -> bool:
    if operator == "=":
        return literal.equals(value)
    if operator == "!=":
        return not literal.equals(value)
    assert literal.number is not None
    # Strings never compare as numbers, even numeric-looking ones (a JSON "12" is a string).
    return value.number is not None and _RELATIONS[operator](value.number, literal.number)


# --- Tokens of JSON and space-delimited patterns -------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # one of ( ) , && || op quoted regex word
    text: str  # the operator, the decoded string, the regex source, or the word
    end: int  # where the token ends in the pattern


_WORD_STOPS = frozenset('(),"%=!<>&|')


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The string of the double-quoted literal at `start` and the index after it. A backslash
    escapes a double quote or a backslash; any other backslash stands for itself."""
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(chars), position + 1
        if char == "\\" and position + 1 < len(text) and text[position + 1] in '"\\':
            position += 1
            char = text[position]
        chars.append(char)
        position += 1
    raise _invalid("unterminated quoted string")


def _read_regex(text: str, start: int) -> tuple[str, int]:
    end = text.find("%", start + 1)
    if end < 0:
        raise _invalid("unterminated %regex%")
    return text[start + 1 : end], end + 1


def _read_word(text: str, start: int) -> tuple[str, int]:
    """A selector, name, keyword or unquoted value: up to a blank or a character of syntax."""
    end = start
    while end < len(text) and not text[end].isspace() and text[end] not in _WORD_STOPS:
        end += 1
    return text[start:end], end


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        if char in "(),":
            kind, value, position = char, char, position + 1
        elif text.startswith(("&&", "||"), position):
            kind, value, position = text[position : position + 2], "", position + 2
        elif char in "&|":
            raise InvalidFilterPattern(char)
        elif char in "=!<>":
            operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
            if operator is None:
                raise InvalidFilterPattern(char)
            kind, value, position = "op", operator, position + len(operator)
        elif char == '"':
            kind = "quoted"
            value, position = _read_quoted(text, position)
        elif char == "%":
            kind = "regex"
            value, position = _read_regex(text, position)
        else:
            kind = "word"
            value, position = _read_word(text, position)
        tokens.append(_Token(kind, value, position))
    return tokens


class _Tokens:
    """A cursor over the tokens of one pattern."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items = _tokenize(source)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, kind: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise _invalid("pattern ends too early")
        if kind is not None and token.kind != kind:
            raise _invalid(f"expected {kind}, found {token.text or token.kind!r}")
        self.index += 1
        return token

    def accept(self, kind: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == kind:
            self.index += 1
            return True
        return False

    def at_end(self) -> bool:
        return self.index == len(self.items)


def _literal(token: _Token, operator: str) -> _Literal:
    relational = operator in _RELATIONS
    if token.kind == "quoted":
        if relational:
            # What AWS says for { $.a > "x" }: the quoted term holds invalid characters.
            raise InvalidFilterPattern(f'"{token.text}"', reason="a string after " + operator)
        return _Literal(token.text, wildcard=_Wildcard(token.text))
    if token.kind == "regex":
        if relational:
            raise _invalid(f"a regex after {operator}")
        return _Literal(token.text, regex=_Regex(token.text))
    if token.kind != "word":
        raise _invalid(f"a value must follow {operator}")
    bad = _invalid_char(token.text, _VALUE_CHARS)
    if bad:
        raise InvalidFilterPattern(bad, reason=f"{bad!r} in the unquoted value {token.text!r}")
    number = _number(token.text)
    if number is not None:
        return _Literal(token.text, number=number)
    if relational:
        raise InvalidFilterPattern(f'"{token.text}"', reason=f"a string after {operator}")
    return _Literal(token.text, wildcard=_Wildcard(token.text))


# --- Patterns and matches -----------------------------------------------------------------------


class _JsonNumber(str):
    """A JSON number, kept as written: "12.0" compares equal to the number 12 but not to the
    string "12", and large integers keep every digit."""


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _load_json(message: str) -> object:
    try:
        return json.loads(
            message,
            parse_int=_JsonNumber,
            parse_float=_JsonNumber,
            parse_constant=_no_constants,
        )
    except (ValueError, RecursionError):
        return _NOT_JSON


_NOT_JSON = object()
_UNPARSED = object()


class Message:
    """A log event's message as patterns read it. Several patterns testing one event (a log
    group's metric filters) share it, so the message is parsed as JSON at most once, by the
    first JSON pattern that needs it."""

    __slots__ = ("_document", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._document: object = _UNPARSED

    @property
    def document(self) -> object:
        """The message parsed as JSON (`_NOT_JSON` when it is none)."""
        if self._document is _UNPARSED:
            self._document = _load_json(self.text)
        return self._document


def _json_scalar(node: object) -> _Scalar | None:
    """A JSON value node as a condition sees it; None for null, arrays and objects, which no
    comparison matches ("the filter will not be applied")."""
    if isinstance(node, _JsonNumber):
        return _Scalar(node, _decimal(node))
    if isinstance(node, bool):
        return _Scalar("true" if node else "false", None)
    if isinstance(node, str):
        return _Scalar(node, None)
    return None


def _typed(text: str) -> str | float:
    return float(text) if _NUMBER.fullmatch(text) else text


class Match:
    """A matched event, and what metric transformations read from it.

    `value` and `text` take a metric value or dimension reference: ``$.path`` for an event
    matched by a JSON pattern, ``$name`` (a named field) or ``$3`` (the third field) for one
    matched by a space-delimited pattern. `value` gives JSON numbers and numeric fields as
    floats, other values as strings; `text` gives every value as written. Both give None for a
    reference that names nothing (or null, an array, an object).
    """

    __slots__ = ("_document", "_extracted", "_fields")

    def __init__(
        self,
        document: object = _NOT_JSON,
        fields: Mapping[str, str] | None = None,
        extracted: Mapping[str, str] | None = None,
    ) -> None:
        self._document = document
        self._fields = dict(fields or {})
        self._extracted = dict(extracted or {})

    def value(self, selector: str) -> str | float | None:
        if self._document is not _NOT_JSON:
            node = self._json_node(selector)
            if isinstance(node, _JsonNumber):
                return float(node)
            scalar = _json_scalar(node)
            return None if scalar is None else scalar.text
        field = self._fields.get(selector)
        return None if field is None else _typed(field)

    def text(self, selector: str) -> str | None:
        if self._document is not _NOT_JSON:
            scalar = _json_scalar(self._json_node(selector))
            return None if scalar is None else scalar.text
        return self._fields.get(selector)

    @property
    def extracted_values(self) -> dict[str, str]:
        """TestMetricFilter's extractedValues: for a space-delimited pattern ``$name`` for each
        named field and ``$N`` for each unnamed one (also those an ellipsis covers); empty for
        other patterns."""
        return dict(self._extracted)

    def _json_node(self, selector: str) -> object:
        try:
            parsed = _selector(selector)
        except InvalidFilterPattern:
            return None
        for node in parsed.nodes(self._document):
            if _json_scalar(node) is not None:
                return node
        return None


_NO_MATCH_DATA = Match()


class FilterPattern(ABC):
    """A parsed filter pattern; immutable, shareable between threads."""

    kind: ClassVar[str]  # "terms", "json" or "space-delimited"

    def __init__(self, regex_count: int) -> None:
        self.regex_count = regex_count  # for the quota of patterns with a regex per log group

    def match(self, message: str | Message) -> Match | None:
        """The match, or None when the event does not match. Never raises."""
        return self._match(message if isinstance(message, Message) else Message(message))

    @abstractmethod
    def _match(self, message: Message) -> Match | None: ...

    def required_equalities(self) -> dict[str, str]:
        """JSON selectors at which every matching event holds a JSON string equal to the value,
        for narrowing a search before matching; empty when the pattern does not pin any."""
        return {}

    def decided_by_equalities(self) -> bool:
        """Whether the required equalities are the whole pattern: a JSON event matches exactly
        when it holds them (`{ $.eventName = GetSecretValue }`)."""
        return False


# --- Terms ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    text: str
    regex: _Regex | None = None

    def occurs_in(self, message: str) -> bool:
        if self.regex is not None:
            return self.regex.search(message)
        return self.text in message  # case-sensitive, anywhere: ERROR matches ERRORCODE


class _TermsPattern(FilterPattern):
    kind = "terms"

    def __init__(
        self, included: Sequence[_Term], excluded: Sequence[_Term], optional: Sequence[_Term]
    ) -> None:
        super().__init__(sum(term.regex is not None for term in (*included, *excluded, *optional)))
        self.included = tuple(included)
        self.excluded = tuple(excluded)
        # "If you combine ? with other filter patterns, all question mark terms will be ignored."
        self.optional = () if included or excluded else tuple(optional)

    def _match(self, message: Message) -> Match | None:
        text = message.text
        matched = (
            all(term.occurs_in(text) for term in self.included)
            and not any(term.occurs_in(text) for term in self.excluded)
            and (not self.optional or any(term.occurs_in(text) for term in self.optional))
        )
        return _NO_MATCH_DATA if matched else None


def _read_term(text: str, position: int) -> tuple[_Term, int]:
    if text[position] == '"':
        phrase, end = _read_quoted(text, position)
        # AWS documents " " as the pattern that matches everything: a blank phrase is empty.
        return _Term("" if not phrase.strip() else phrase), end
    if text[position] == "%":
        source, end = _read_regex(text, position)
        return _Term(source, _Regex(source)), end
    end = position
    while end < len(text) and not text[end].isspace():
        end += 1
    word = text[position:end]
    bad = _invalid_char(word, _TERM_CHARS)
    if bad:
        raise InvalidFilterPattern(bad, reason=f"{bad!r} in the unquoted term {word!r}")
    return _Term(word), end


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _parse_terms(text: str) -> _TermsPattern:
    groups: dict[str, list[_Term]] = {"": [], "-": [], "?": []}
    position = _skip_space(text, 0)
    while position < len(text):
        prefix = text[position] if text[position] in "-?" else ""
        if prefix:
            # AWS's own example "ERROR" - "Exiting" puts a space between '-' and its term.
            position = _skip_space(text, position + 1)
            if position == len(text):
                raise _invalid(f"{prefix!r} without a term")
        term, position = _read_term(text, position)
        groups[prefix].append(term)
        position = _skip_space(text, position)
    return _TermsPattern(groups[""], groups["-"], groups["?"])


# --- JSON ----------------------------------------------------------------------------------------

_WILDCARD = None  # a selector step that takes every element or field
_Step = str | int | None
_BRACKET = re.compile(r"\[(?:(\d+)|(\*)|'([^']*)')\]", re.ASCII)


@dataclass(frozen=True)
class _Selector:
    text: str
    steps: tuple[_Step, ...]

    @cached_property
    def wildcards(self) -> int:
        return sum(step is _WILDCARD for step in self.steps)

    def nodes(self, document: object) -> list[object]:
        if not self.wildcards:  # one path: walked without a list per step
            node = document
            for step in self.steps:
                if isinstance(step, int):
                    if not isinstance(node, list) or step >= len(node):
                        return []
                elif not isinstance(node, dict) or step not in node:
                    return []
                node = node[step]
            return [node]
        current = [document]
        for step in self.steps:
            following: list[object] = []
            for node in current:
                following.extend(_children(node, step))
            current = following
        return current


def _children(node: object, step: _Step) -> list[object]:
    if step is _WILDCARD:
        if isinstance(node, dict):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    if isinstance(step, int):
        return [node[step]] if isinstance(node, list) and step < len(node) else []
    return [node[step]] if isinstance(node, dict) and step in node else []


@lru_cache(maxsize=256)
def _selector(text: str, following: str = "") -> _Selector:
    """Parses ``$.a.b[0]``, ``$.a[*]``, ``$.*``, ``$.['dotted.name']``. `following` is the
    character after the selector in the pattern, which AWS quotes when the selector stops short
    (``{ $."a-b" = 1 }`` is "Invalid character(s) in term '$."'")."""
    if not text.startswith("$"):
        raise _invalid(f"selector {text!r} does not start with '$'")
    steps: list[_Step] = []
    position = 1
    while position < len(text):
        if text[position] == "." and not text.startswith(".[", position):
            position += 1
            if text.startswith("*", position):
                steps.append(_WILDCARD)
                position += 1
                continue
            end = position
            while end < len(text) and text[end] in _SELECTOR_NAME_CHARS:
                end += 1
            if end == position:
                raise InvalidFilterPattern(
                    text[: position + 1] + (following if end == len(text) else "")
                )
            steps.append(text[position:end])
            position = end
            continue
        if text.startswith(".[", position):
            position += 1
        bracket = _BRACKET.match(text, position)
        if bracket is None:
            raise InvalidFilterPattern(text[: position + 1])
        index, star, name = bracket.groups()
        steps.append(int(index) if index is not None else _WILDCARD if star else name)
        position = bracket.end()
    if not steps or isinstance(steps[0], int):
        # "Array elements ... must follow a property."
        raise _invalid(f"selector {text!r} names no property")
    return _Selector(text, tuple(steps))


class _JsonCondition(ABC):
    @abstractmethod
    def holds(self, document: object) -> bool: ...

    def selectors(self) -> Iterable[_Selector]:
        return ()

    def required_equalities(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class _JsonComparison(_JsonCondition):
    selector: _Selector
    operator: str
    literal: _Literal

    @cached_property
    def exact(self) -> str | None:
        """The JSON string a node must be for "=" to hold, when no other value can be."""
        return self.literal.exact_string() if self.operator == "=" else None

    def holds(self, document: object) -> bool:
        # A wildcard selector holds when any element or field it selects does.
        exact = self.exact
        if exact is not None:  # most comparisons: a plain string, without a scalar per node
            return any(node == exact for node in self.selector.nodes(document))
        for node in self.selector.nodes(document):
            value = _json_scalar(node)
            if value is not None and _compare(self.operator, self.literal, value):
                return True
        return False

    def selectors(self) -> Iterable[_Selector]:
        return (self.selector,)

    def required_equalities(self) -> dict[str, str]:
        exact = self.literal.exact_string()
        if self.operator != "=" or exact is None or self.selector.wildcards:
            return {}
        return {self.selector.text: exact}


_IS_VALUES: dict[str, object] = {"NULL": None, "TRUE": True, "FALSE": False}


@dataclass(frozen=True)
class _JsonIs(_JsonCondition):
    selector: _Selector
    expected: object  # None, True or False

    def holds(self, document: object) -> bool:
        # `is`: True must not match the number 1, nor None a missing field.
        return any(node is self.expected for node in self.selector.nodes(document))

    def selectors(self) -> Iterable[_Selector]:
        return (self.selector,)


@dataclass(frozen=True)
class _JsonNotExists(_JsonCondition):
    selector: _Selector

    def holds(self, document: object) -> bool:
        return not self.selector.nodes(document)

    def selectors(self) -> Iterable[_Selector]:
        return (self.selector,)


@dataclass(frozen=True)
class _JsonAll(_JsonCondition):
    parts: tuple[_JsonCondition, ...]

    def holds(self, document: object) -> bool:
        return all(part.holds(document) for part in self.parts)

    def selectors(self) -> Iterable[_Selector]:
        return [selector for part in self.parts for selector in part.selectors()]

    def required_equalities(self) -> dict[str, str]:
        required: dict[str, str] = {}
        for part in self.parts:
            for selector, value in part.required_equalities().items():
                required.setdefault(selector, value)
        return required


_ExactAlternatives = tuple[tuple[_Selector, frozenset[str]], ...]


@dataclass(frozen=True)
class _JsonAny(_JsonCondition):
    parts: tuple[_JsonCondition, ...]

    @cached_property
    def _split(self) -> tuple[_ExactAlternatives, tuple[_JsonCondition, ...]]:
        """The parts that are plain-string equalities, as the strings each selector may equal
        ({ $.eventName = A || $.eventName = B || ... }: one lookup), and the others."""
        exact: dict[_Selector, set[str]] = {}
        others: list[_JsonCondition] = []
        for part in self.parts:
            if isinstance(part, _JsonComparison) and part.exact is not None:
                exact.setdefault(part.selector, set()).add(part.exact)
            else:
                others.append(part)
        return tuple((s, frozenset(v)) for s, v in exact.items()), tuple(others)

    def holds(self, document: object) -> bool:
        exact, others = self._split
        for selector, strings in exact:
            if any(isinstance(node, str) and node in strings for node in selector.nodes(document)):
                return True
        return any(part.holds(document) for part in others)

    def selectors(self) -> Iterable[_Selector]:
        return [selector for part in self.parts for selector in part.selectors()]


class _JsonParser:
    """``or := and ('||' and)*``, ``and := primary ('&&' primary)*``,
    ``primary := '(' or ')' | selector (op value | IS NULL|TRUE|FALSE | NOT EXISTS)``."""

    def __init__(self, body: str) -> None:
        self.tokens = _Tokens(body)
        self.depth = 0
        self.regexes = 0

    def parse(self) -> _JsonCondition:
        condition = self._any()
        if not self.tokens.at_end():
            raise _invalid(f"unexpected {self.tokens.take().text!r}")
        return condition

    def _any(self) -> _JsonCondition:
        parts = [self._all()]
        while self.tokens.accept("||"):
            parts.append(self._all())
        return parts[0] if len(parts) == 1 else _JsonAny(tuple(parts))

    def _all(self) -> _JsonCondition:
        parts = [self._primary()]
        while self.tokens.accept("&&"):
            parts.append(self._primary())
        return parts[0] if len(parts) == 1 else _JsonAll(tuple(parts))

    def _primary(self) -> _JsonCondition:
        if not self.tokens.accept("("):
            return self._condition()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _invalid("parentheses nested too deeply")
        condition = self._any()
        self.tokens.take(")")
        self.depth -= 1
        return condition

    def _condition(self) -> _JsonCondition:
        word = self.tokens.take("word")
        source = self.tokens.source
        following = source[word.end] if word.end < len(source) else ""
        selector = _selector(word.text, "" if following.isspace() else following)
        token = self.tokens.take()
        if token.kind == "op":
            literal = _literal(self.tokens.take(), token.text)
            self.regexes += literal.regex is not None
            return _JsonComparison(selector, token.text, literal)
        if token.kind == "word" and token.text == "IS":
            value = self.tokens.take("word").text
            if value not in _IS_VALUES:
                raise _invalid(f"IS {value} (only IS NULL, IS TRUE and IS FALSE exist)")
            return _JsonIs(selector, _IS_VALUES[value])
        if token.kind == "word" and token.text == "NOT":
            if self.tokens.take("word").text != "EXISTS":
                raise _invalid("NOT must be followed by EXISTS")
            return _JsonNotExists(selector)
        raise _invalid(f"no condition after {word.text}")


class _JsonPattern(FilterPattern):
    kind = "json"

    def __init__(self, condition: _JsonCondition, regex_count: int) -> None:
        super().__init__(regex_count)
        self.condition = condition

    def _match(self, message: Message) -> Match | None:
        document = message.document  # a message that is not JSON matches no JSON pattern
        if document is _NOT_JSON or not self.condition.holds(document):
            return None
        return Match(document=document)

    def required_equalities(self) -> dict[str, str]:
        return self.condition.required_equalities()

    def decided_by_equalities(self) -> bool:
        condition = self.condition
        parts = condition.parts if isinstance(condition, _JsonAll) else (condition,)
        # Each part one of the equalities, on a selector of its own.
        return len(parts) == len(self.required_equalities()) and all(
            isinstance(part, _JsonComparison) and part.required_equalities() for part in parts
        )


def _parse_json(text: str) -> _JsonPattern:
    if not text.endswith("}"):
        raise _invalid("a JSON pattern must end with '}'")
    parser = _JsonParser(text[1:-1])
    if parser.tokens.at_end():
        raise _invalid("empty JSON pattern")
    condition = parser.parse()
    wildcards = [selector.wildcards for selector in condition.selectors()]
    if any(count > 1 for count in wildcards) or sum(wildcards) > MAX_SELECTOR_WILDCARDS:
        raise _invalid("too many wildcard selectors")
    return _JsonPattern(condition, parser.regexes)


# --- Space-delimited -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldTest:
    operator: str
    literal: _Literal

    def holds(self, field: str) -> bool:
        return _compare(self.operator, self.literal, _Scalar(field, _number(field)))


@dataclass(frozen=True)
class _Slot:
    """One comma-separated position of a space-delimited pattern: an ellipsis, or a field with
    an optional name and a condition (an OR of ANDs of tests on that field)."""

    name: str | None = None
    condition: tuple[tuple[_FieldTest, ...], ...] = ()
    ellipsis: bool = False

    def accepts(self, field: str) -> bool:
        return not self.condition or any(
            all(test.holds(field) for test in conjunction) for conjunction in self.condition
        )


_ELLIPSIS = _Slot(ellipsis=True)


def _field_name(token: _Token) -> str:
    bad = _invalid_char(token.text, _FIELD_NAME_CHARS)
    if bad:
        raise InvalidFilterPattern(bad, reason=f"{bad!r} in the field name {token.text!r}")
    return token.text


def _parse_slot(tokens: list[_Token]) -> _Slot:
    if not tokens:
        return _Slot()  # an unnamed field, as in [..., request, status_code,]
    if tokens[0].kind != "word":
        raise _invalid(f"a field starts with {tokens[0].text!r}")
    if len(tokens) == 1:
        return _ELLIPSIS if tokens[0].text == "..." else _Slot(_field_name(tokens[0]))
    name = _field_name(tokens[0])
    conjunctions: list[tuple[_FieldTest, ...]] = []
    tests: list[_FieldTest] = []
    position = 0
    while True:
        if position + 3 > len(tokens) or tokens[position + 1].kind != "op":
            raise _invalid(f"incomplete condition on field {name}")
        if tokens[position].kind != "word" or _field_name(tokens[position]) != name:
            # [..., status_code = 4* && bytes > 1000] is refused: a condition tests its own field.
            raise _invalid(f"a condition on field {name} names another field")
        operator = tokens[position + 1].text
        tests.append(_FieldTest(operator, _literal(tokens[position + 2], operator)))
        position += 3
        if position == len(tokens):
            conjunctions.append(tuple(tests))
            return _Slot(name, tuple(conjunctions))
        joiner = tokens[position].kind
        if joiner == "||":
            conjunctions.append(tuple(tests))
            tests = []
        elif joiner != "&&":
            raise _invalid(f"unexpected {tokens[position].text!r} in field {name}")
        position += 1


class _Field(NamedTuple):
    text: str
    start: int  # where the field starts in the message, for a last slot that takes the rest


def _split_fields(message: str) -> list[_Field]:
    """The fields of a line: runs of non-whitespace, or what lies between "" or [] (without
    them), as in 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326.
    Undocumented: any whitespace separates fields, a run of it counts once, and an unclosed
    quote or bracket runs to the end of the line."""
    fields: list[_Field] = []
    position = _skip_space(message, 0)
    while position < len(message):
        opener = message[position]
        if opener in '"[':
            close = message.find('"' if opener == '"' else "]", position + 1)
            end = len(message) if close < 0 else close
            fields.append(_Field(message[position + 1 : end], position))
            position = end + 1
        else:
            end = position
            while end < len(message) and not message[end].isspace():
                end += 1
            fields.append(_Field(message[position:end], position))
            position = end
        position = _skip_space(message, position)
    return fields


class _SpaceDelimitedPattern(FilterPattern):
    kind = "space-delimited"

    def __init__(self, slots: Sequence[_Slot], regex_count: int) -> None:
        super().__init__(regex_count)
        self.slots = tuple(slots)
        self.has_ellipsis = any(slot.ellipsis for slot in slots)

    def _match(self, message: Message) -> Match | None:
        fields = _split_fields(message.text)
        if self.has_ellipsis:
            bound = self._bind_around_ellipses(fields)
        else:
            bound = self._bind_in_place(fields, message.text)
        if bound is None:
            return None
        values: dict[str, str] = {}
        extracted: dict[str, str] = {}
        for slot, position, text in bound:
            values[f"${position}"] = text
            if slot.name is None:
                extracted[f"${position}"] = text
            else:
                values[f"${slot.name}"] = extracted[f"${slot.name}"] = text
        return Match(fields=values, extracted=extracted)

    def _bind_in_place(
        self, fields: Sequence[_Field], message: str
    ) -> list[tuple[_Slot, int, str]] | None:
        """Slot i takes field i. Undocumented, but what AWS's "include a blank w2 indicator after
        the w1 term" implies: the last slot takes the rest of a line with more fields."""
        last = len(self.slots) - 1
        if len(fields) <= last:
            return None
        texts = [field.text for field in fields[: last + 1]]
        if len(fields) > last + 1:
            texts[last] = message[fields[last].start :].rstrip()
        pairs = zip(self.slots, texts, strict=True)
        bound = [(slot, i + 1, text) for i, (slot, text) in enumerate(pairs)]
        return bound if all(slot.accepts(text) for slot, _, text in bound) else None

    def _bind_around_ellipses(
        self, fields: Sequence[_Field]
    ) -> list[tuple[_Slot, int, str]] | None:
        """Each ellipsis takes any number of fields, every other slot one. reachable[i][j] says
        whether slots i.. can take fields j.., filled from the end so that no choice is ever
        retried; then each ellipsis takes as many fields as it can."""
        count, slots = len(fields), self.slots
        reachable = [[False] * (count + 1) for _ in range(len(slots) + 1)]
        reachable[len(slots)][count] = True
        for i in reversed(range(len(slots))):
            row, after = reachable[i], reachable[i + 1]
            if slots[i].ellipsis:
                for j in reversed(range(count + 1)):
                    row[j] = after[j] or (j < count and row[j + 1])
            else:
                for j in range(count):
                    row[j] = after[j + 1] and slots[i].accepts(fields[j].text)
        if not reachable[0][0]:
            return None
        bound: list[tuple[_Slot, int, str]] = []
        j = 0
        for i, slot in enumerate(slots):
            if slot.ellipsis:
                end = max(k for k in range(j, count + 1) if reachable[i + 1][k])
                bound.extend((slot, k + 1, fields[k].text) for k in range(j, end))
                j = end
            else:
                bound.append((slot, j + 1, fields[j].text))
                j += 1
        return bound


def _parse_space_delimited(text: str) -> _SpaceDelimitedPattern:
    if not text.endswith("]"):
        raise _invalid("a space-delimited pattern must end with ']'")
    tokens = _Tokens(text[1:-1]).items
    if not tokens:
        raise _invalid("empty space-delimited pattern")
    slots: list[_Slot] = []
    current: list[_Token] = []
    for token in [*tokens, None]:
        if token is not None and token.kind != ",":
            current.append(token)
            continue
        slot = _parse_slot(current)
        if not (slot.ellipsis and slots and slots[-1].ellipsis):  # ..., ... is one ellipsis
            slots.append(slot)
        current = []
    regexes = sum(
        test.literal.regex is not None
        for slot in slots
        for conjunction in slot.condition
        for test in conjunction
    )
    return _SpaceDelimitedPattern(slots, regexes)


# --- Entry point ---------------------------------------------------------------------------------


def parse(pattern: str) -> FilterPattern:
    """The filter pattern `pattern` stands for; raises `InvalidFilterPattern` when AWS would
    refuse it. An empty (or blank) pattern matches every event. Pure, so a caller may cache
    the result per pattern text."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _invalid(f"longer than {MAX_PATTERN_LENGTH} characters")
    # Undocumented: blanks around a pattern do not count.
    text = pattern.strip()
    parsed: FilterPattern
    if text.startswith("{"):
        parsed = _parse_json(text)
    elif text.startswith("["):
        parsed = _parse_space_delimited(text)
    else:
        parsed = _parse_terms(text)
    if parsed.regex_count > MAX_REGEXES:
        raise _invalid(f"more than {MAX_REGEXES} regular expressions")
    return parsed
