"""Wildcards and policy variables, the two ways a policy value can stand for more than itself.

A value is read once, when its policy is compiled, into `Parts`: literal policy text (where `*`
and `?` are wildcards), `${*}` `${?}` `${$}` escapes (never wildcards) and `${key, 'default'}`
variables. At request time `resolve_text` or `resolve_pattern` substitutes the context's values;
a variable whose key is absent, empty or multi-valued, with no default, leaves the value
unresolved (`None`), and the policy element holding it does not match. Substituted values are
always literal: a tag value holding `*` matches only `*`.

Patterns are `Pieces` (literal strings and `STAR`/`ONE` wildcards), turned into regexes by the
three matching rules of the IAM reference: plain strings (StringLike), resource ARNs (a `*` ends
at a colon unless it is the last character of a segment) and ARN conditions (ArnLike: each of
the six colon-separated components matched on its own).
"""

from __future__ import annotations

import os.path
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

Context = Mapping[str, tuple[str, ...]]


class Wildcard:
    """`*` or `?` in a pattern: two singletons, hashed by identity (fast as lru_cache keys)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


STAR = Wildcard("*")
ONE = Wildcard("?")
Pieces = tuple[str | Wildcard, ...]


@dataclass(frozen=True)
class Escaped:
    text: str  # `${*}` is a literal `*`


@dataclass(frozen=True)
class Variable:
    key: str | None  # lower-cased; None when the braces hold no valid key: never resolves
    default: str | None


Parts = tuple[str | Escaped | Variable, ...]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_KEY_AND_DEFAULT = re.compile(r"\s*([^\s,'][^,']*?)\s*(?:,\s*'((?:[^']|'')*)'\s*)?", re.DOTALL)
_ESCAPES = ("*", "?", "$")  # `${*}` `${?}` `${$}`


def has_variables(text: str) -> bool:
    return "${" in text


def parse_parts(text: str) -> Parts:
    parts: list[str | Escaped | Variable] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        if found.start() > position:
            parts.append(text[position : found.start()])
        parts.append(_variable(found.group(1)))
        position = found.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def _variable(inner: str) -> Escaped | Variable:
    if inner in _ESCAPES:
        return Escaped(inner)
    found = _KEY_AND_DEFAULT.fullmatch(inner)
    if found is None:
        return Variable(None, None)
    default = found.group(2)
    return Variable(found.group(1).lower(), None if default is None else default.replace("''", "'"))


def _value(variable: Variable, context: Context) -> str | None:
    values = context.get(variable.key) if variable.key is not None else None
    if values is not None and len(values) == 1:
        return values[0]
    return variable.default


def resolve_text(parts: Parts, context: Context) -> str | None:
    """The value with its variables substituted, for operators without wildcards."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Escaped):
            out.append(part.text)
        else:
            value = _value(part, context)
            if value is None:
                return None
            out.append(value)
    return "".join(out)


def resolve_pattern(parts: Parts, context: Context) -> Pieces | None:
    """The value as wildcard pieces: policy text keeps its wildcards, substitutions do not."""
    pieces: list[str | Wildcard] = []
    for part in parts:
        if isinstance(part, str):
            pieces.extend(glob_pieces(part))
        elif isinstance(part, Escaped):
            pieces.append(part.text)
        else:
            value = _value(part, context)
            if value is None:
                return None
            pieces.append(value)
    return _merged(pieces)


def glob_pieces(text: str) -> Pieces:
    pieces: list[str | Wildcard] = []
    literal: list[str] = []
    for char in text:
        if char in "*?":
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(STAR if char == "*" else ONE)
        else:
            literal.append(char)
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def _merged(pieces: list[str | Wildcard]) -> Pieces:
    """Adjacent literals joined, so a wildcard sees the character that really follows it."""
    out: list[str | Wildcard] = []
    for piece in pieces:
        if isinstance(piece, str):
            if not piece:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += piece
                continue
        out.append(piece)
    return tuple(out)


def _regex(piece: str | Wildcard, star: str, one: str) -> str:
    if isinstance(piece, str):
        return re.escape(piece)
    return star if piece is STAR else one


def like_regex(pieces: Pieces) -> str:
    """StringLike: `*` is any run of characters, `?` any one character."""
    return "".join(_regex(piece, ".*", ".") for piece in pieces)


def resource_regex(pieces: Pieces) -> str:
    """Resource ARNs: wildcards stay within a colon-separated segment, except that a `*` ending
    a segment (followed by `:` or the end) may run on across colons, per the IAM reference."""
    out: list[str] = []
    for index, piece in enumerate(pieces):
        following = pieces[index + 1] if index + 1 < len(pieces) else ":"
        segment_end = isinstance(following, str) and following.startswith(":")
        out.append(_regex(piece, ".*" if segment_end else "[^:]*", "[^:]"))
    return "".join(out)


def arn_regex(pieces: Pieces) -> str | None:
    """ArnLike/ArnEquals: the six components (the last may hold colons) are matched one by one;
    a value with fewer than six components matches nothing (None)."""
    components: list[list[str | Wildcard]] = [[]]
    for piece in pieces:
        if isinstance(piece, str) and len(components) < 6:
            head, *rest = piece.split(":", 6 - len(components))
            components[-1].append(head)
            components.extend([chunk] for chunk in rest)
        else:
            components[-1].append(piece)
    if len(components) < 6:
        return None
    regexes = ["".join(_regex(p, "[^:]*", "[^:]") for p in c) for c in components[:5]]
    regexes.append("".join(_regex(p, ".*", ".") for p in components[5]))
    return ":".join(regexes)


@lru_cache(maxsize=4096)
def compiled(regex: str) -> re.Pattern[str]:
    """Regexes of resolved variable patterns recur request after request: compile each once."""
    return re.compile(regex, re.DOTALL)


def resource_alternation(groups: Sequence[Sequence[Pieces]]) -> str:
    """One regex for the resource patterns of many statements, with one capturing group per
    statement. The text every pattern begins with is matched once, before the groups: Python's
    regex engine would otherwise re-match a shared prefix (and backtrack a shared `*`) in each
    alternative, and gates over many similar ARNs would cost microseconds."""
    patterns = [pieces for group in groups for pieces in group]
    shared, partial = _common_prefix(patterns)
    prefix: Pieces = (*patterns[0][:shared], partial) if partial else patterns[0][:shared]

    def rest(pieces: Pieces) -> Pieces:
        if not partial:
            return pieces[shared:]
        head = pieces[shared]
        assert isinstance(head, str)
        tail = head[len(partial) :]
        return ((tail,) if tail else ()) + pieces[shared + 1 :]

    alternatives = (
        "(" + "|".join(resource_regex(rest(pieces)) for pieces in group) + ")" for group in groups
    )
    return resource_regex(prefix) + "(?:" + "|".join(alternatives) + ")"


def _common_prefix(patterns: Sequence[Pieces]) -> tuple[int, str]:
    """How many leading pieces all patterns share, and the text their next pieces all begin
    with. Never ends on a wildcard: how a `*` translates depends on what follows it."""
    shared = 0
    shortest = min(len(p) for p in patterns)
    while shared < shortest and all(p[shared] == patterns[0][shared] for p in patterns):
        shared += 1
    partial = ""
    nexts = [p[shared] for p in patterns if shared < len(p)]
    if len(nexts) == len(patterns) and all(isinstance(n, str) for n in nexts):
        texts = [n for n in nexts if isinstance(n, str)]
        partial = os.path.commonprefix(texts)  # noqa: RUF071  (text, not paths: by character)
    if not partial:
        while shared and isinstance(patterns[0][shared - 1], Wildcard):
            shared -= 1
    return shared, partial
