"""Tests for strongroom.services.logs.filter_pattern (the CloudWatch Logs filter pattern language).

The table of `tests.support.filter_patterns` holds every example of AWS's filter pattern pages,
AWS's CloudTrail alarm patterns, behaviour observed on AWS and realistic events; the refused
patterns carry the message AWS gives. Hypothesis checks that `parse` fails only with
`InvalidFilterPattern`, that matching never raises, that a word of an event finds it, that the
regex engine agrees with Python's `re` on the dialect they share, that space-delimited matching
agrees with a brute-force search, and that `required_equalities` never claims an equality a
matching event does not have.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strongroom.services.logs.filter_pattern import (
    GENERIC_MESSAGE,
    METRIC_FILTER_MESSAGE,
    InvalidFilterPattern,
    Match,
    parse,
)
from tests.support.filter_patterns import (
    APACHE_404_HTML,
    CASES,
    GET_SECRET_VALUE,
    INVALID_CASES,
    Case,
    InvalidCase,
)

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _case_id(case: Case | InvalidCase) -> str:
    return case.pattern[:60] or "<empty>"


# --- The table ----------------------------------------------------------------------------------


def test_the_table_is_large_and_mixed() -> None:
    assert len(CASES) >= 80
    assert {parse(case.pattern).kind for case in CASES} == {"terms", "json", "space-delimited"}
    assert {case.matches for case in CASES} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_pattern_matches_event_or_not(case: Case) -> None:
    assert (parse(case.pattern).match(case.message) is not None) is case.matches


@pytest.mark.parametrize("case", [c for c in CASES if c.extracted is not None], ids=_case_id)
def test_extracted_values(case: Case) -> None:
    match = parse(case.pattern).match(case.message)
    assert match is not None
    assert match.extracted_values == case.extracted


@pytest.mark.parametrize("case", INVALID_CASES, ids=_case_id)
def test_refused_pattern_gets_the_aws_message(case: InvalidCase) -> None:
    with pytest.raises(InvalidFilterPattern) as raised:
        parse(case.pattern)
    assert str(raised.value) == case.message
    assert raised.value.reason  # says what is wrong, for logs


def test_generic_message_is_worded_per_operation() -> None:
    with pytest.raises(InvalidFilterPattern) as generic:
        parse("{ $.a = 1")
    assert generic.value.generic
    assert str(generic.value) == GENERIC_MESSAGE
    assert generic.value.metric_filter_message == METRIC_FILTER_MESSAGE
    with pytest.raises(InvalidFilterPattern) as specific:
        parse("ERROR:")
    assert not specific.value.generic
    assert specific.value.metric_filter_message == "Invalid character(s) in term ':'"
    assert isinstance(specific.value, ValueError)


def test_length_limit_is_1024_characters() -> None:
    assert parse("x" * 1024).match("x" * 1024) is not None
    with pytest.raises(InvalidFilterPattern):
        parse("x" * 1025)


def test_blanks_around_a_pattern_do_not_count() -> None:
    assert parse("  { $.a = 1 }  ").match('{"a": 1}') is not None
    assert parse(" [a, b] ").kind == "space-delimited"
    assert parse("   ").match("") is not None


def test_kind_and_regex_count() -> None:
    assert (parse("ERROR").kind, parse("ERROR").regex_count) == ("terms", 0)
    assert parse("%a% -%b%").regex_count == 2
    assert parse("{ $.a = %x% || $.b = 1 }").regex_count == 1
    assert parse("[a = %x%, b = %y% || b = 2]").regex_count == 2


# --- What metric transformations read -----------------------------------------------------------


def test_json_match_values() -> None:
    match = parse("{ $.latency = * }").match(
        '{"latency": 50, "requestType": "GET", "big": 123456789012345678901, "ok": true,'
        ' "none": null, "list": [1.5e3], "obj": {}}'
    )
    assert match is not None
    assert match.value("$.latency") == 50.0
    assert isinstance(match.value("$.latency"), float)
    assert match.text("$.latency") == "50"
    assert match.value("$.requestType") == "GET"
    assert match.text("$.big") == "123456789012345678901"  # every digit kept
    assert match.value("$.list[0]") == 1500.0
    assert match.text("$.list[0]") == "1.5e3"
    assert match.value("$.ok") == "true"
    for absent in ("$.none", "$.obj", "$.list", "$.missing", "$.list[9]", "latency", "$.", ""):
        assert match.value(absent) is None
        assert match.text(absent) is None
    assert match.extracted_values == {}


def test_json_match_value_through_a_wildcard_selector() -> None:
    match = parse("{ $.tags[*] = b* }").match('{"tags": [null, "a", "b"]}')
    assert match is not None
    assert match.value("$.tags[*]") == "a"  # the first value node


def test_space_delimited_match_values() -> None:
    match = parse("[ip, server, username, timestamp, request, status_code, bytes]").match(
        APACHE_404_HTML
    )
    assert match is not None
    assert match.value("$bytes") == 1534.0
    assert match.text("$bytes") == "1534"
    assert match.value("$server") == "Prod"
    assert match.value("$status_code") == 404.0
    assert match.text("$status_code") == "404"  # as a dimension value
    assert match.value("$request") == "GET /index.html HTTP/1.0"
    assert match.value("$7") == 1534.0  # by position
    assert match.value("$timestamp") == "10/Oct/2000:13:25:15 -0700"
    assert match.value("$missing") is None
    assert match.value("$.bytes") is None


def test_terms_match_has_no_values() -> None:
    match = parse("GetSecretValue").match(GET_SECRET_VALUE)
    assert match is not None
    assert match.value("$.eventName") is None
    assert match.extracted_values == {}
    assert Match().value("$x") is None


# --- required_equalities ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "required"),
    [
        (
            "{ $.eventName = GetSecretValue && $.x > 1 }",
            {"$.eventName": "GetSecretValue"},
        ),
        (
            '{ ($.eventSource = "kms.amazonaws.com") && (($.eventName = DisableKey) || '
            "($.eventName = ScheduleKeyDeletion)) }",
            {"$.eventSource": "kms.amazonaws.com"},
        ),
        ('{ $.a.b[0] = "x y" && $.c = "" }', {"$.a.b[0]": "x y", "$.c": ""}),
        ('{ $.a = "x\\"y" }', {"$.a": 'x"y'}),
        ("{ $.['cluster.name'] = prod }", {"$.['cluster.name']": "prod"}),
        ("{ $.a = x || $.b = y }", {}),
        ("{ $.a != x }", {}),
        ("{ $.a = x* }", {}),
        ('{ $.a = "x*" }', {}),
        ("{ $.a = %x% }", {}),
        ("{ $.a = 123 }", {}),
        ('{ $.a = "123" }', {}),  # also equals the number 123
        ('{ $.a = "1e3" }', {}),
        ('{ $.a = "true" }', {}),  # also equals the boolean
        ("{ $.a[*] = x }", {}),
        ("{ $.* = x }", {}),
        ("{ $.a IS NULL && $.b NOT EXISTS }", {}),
        ("{ ($.a = x) }", {"$.a": "x"}),
        ("{ $.a = x && $.a = y }", {"$.a": "x"}),  # never matches; either is required
        ("GetSecretValue", {}),
        ("[a = x, b]", {}),
        ("", {}),
    ],
)
def test_required_equalities(pattern: str, required: dict[str, str]) -> None:
    assert parse(pattern).required_equalities() == required


# --- Edges of the event -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "",
        "null",
        "[]",
        "123",
        '"a"',
        '{"a": NaN}',
        '{"a": Infinity}',
        "[" * 50_000 + "]" * 50_000,
        '{"a": 1}{"a": 1}',
        "\ud800",
        "\x00",
    ],
)
def test_json_pattern_on_odd_messages(message: str) -> None:
    assert parse("{ $.a = * }").match(message) is None


@pytest.mark.parametrize(
    ("pattern", "message", "matches"),
    [
        ("{ $.a > 1 }", '{"a": 1e99999999999999999999}', True),
        ("{ $.a < -1 }", '{"a": -1e99999999999999999999}', True),
        ("{ $.a < 1e-300 }", '{"a": 1e-99999999999999999999}', True),
        ("{ $.a = 1e99999999999999999999 }", '{"a": 1E+99999999999999999999}', True),
        ("{ $.a > 1e99999999999999999999 }", '{"a": 5}', False),
        ("[a > 5]", "1e99999999999999999999", True),
    ],
)
def test_numbers_beyond_decimal_range(pattern: str, message: str, matches: bool) -> None:
    match = parse(pattern).match(message)
    assert (match is not None) is matches
    if match is not None and pattern.startswith("{"):
        assert match.value("$.a") in (float("inf"), float("-inf"), 0.0)


def test_is_true_and_is_null_are_exact() -> None:
    assert parse("{ $.a IS TRUE }").match('{"a": 1}') is None
    assert parse("{ $.a IS FALSE }").match('{"a": 0}') is None
    assert parse("{ $.a IS NULL }").match("{}") is None
    assert parse("{ $.a IS TRUE }").match('{"a": [true]}') is None


def test_space_delimited_fields() -> None:
    pattern = parse("[a, b, c, d]")
    match = pattern.match('  one\t"two three"  [four five]   six  ')
    assert match is not None
    assert match.extracted_values == {
        "$a": "one",
        "$b": "two three",
        "$c": "four five",
        "$d": "six",
    }
    assert parse("[...]").match("") is not None
    assert parse("[a]").match("") is None
    assert parse("[a, ..., ..., b]").match("x y") is not None


def test_ellipsis_between_conditions_needs_no_backtracking() -> None:
    # Dynamic programming: many fields and several ellipses stay cheap.
    pattern = parse("[..., a = x, ..., b = y, ..., c = z, ...]")
    assert pattern.match(" ".join(["w"] * 3000 + ["x", "y", "z"])) is not None
    assert pattern.match(" ".join(["w"] * 3000 + ["z", "y", "x"])) is None


def test_regex_cannot_backtrack_catastrophically() -> None:
    # Exponential for a backtracking engine; linear here (no timing asserted).
    pattern = parse("%a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c%")
    assert pattern.match("a" * 20_000) is None
    assert pattern.match("a" * 20_000 + "c") is not None


def test_regex_on_many_distinct_characters() -> None:
    # Each character met adds transitions to the automaton's cache, which is emptied when full.
    pattern = parse("%[a-z]+[0-9]{1,3}$%")
    for i in range(200):
        assert pattern.match(f"{string.ascii_lowercase * 3}{i % 1000}") is not None
        assert pattern.match("".join(map(chr, range(0x400 + i, 0x440 + i)))) is None


# --- Properties ---------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "{", "}", "[", "]", "(", ")", "$", "$.a", "$.b[0]", "[*]", ".*", "['x.y']", "=", "!=",
        "<", ">=", "&&", "||", "&", "|", '"', '"x"', "\\", "%", "%a%", "%[a-", "{2,1}", "...",
        ",", "IS", "NULL", "TRUE", "NOT", "EXISTS", "*", "1e3", "-1", "?", "-", " ", "ERROR",
        "\u00e9", "\n", "'", "^", "$",
    ]
)  # fmt: skip


@PROPERTY_SETTINGS
@given(st.one_of(st.text(max_size=60), st.lists(_FRAGMENTS, max_size=25).map("".join)))
def test_parse_fails_only_with_invalid_filter_pattern(pattern: str) -> None:
    try:
        parsed = parse(pattern)
    except InvalidFilterPattern as error:
        assert str(error) == GENERIC_MESSAGE or str(error).startswith(
            "Invalid character(s) in term '"
        )
        return
    assert parsed.kind in ("terms", "json", "space-delimited")


_WORDS = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=6)
_SAFE_TEXT = st.text(
    alphabet=st.characters(exclude_characters='"\\%', exclude_categories=["Cs"]), max_size=8
)
_REGEXES = st.sampled_from(["%a%", "%^[0-9]+$%", r"%\d{2,}%", "%x|y%", "%.*%"])
_SELECTORS = ["$.a", "$.b", "$.c.d", "$.e[0]", "$.e[*]", "$.*"]
_HUGE = "1e99999999999999999999"  # beyond the exponents Decimal holds
_JSON_VALUES = st.one_of(
    _WORDS,
    _SAFE_TEXT.map(lambda text: f'"{text}"'),
    st.sampled_from(["1", "-2.5", "1e3", "x*", "*", '"1*"', '"true"', "true", "%a%", _HUGE]),
)


@st.composite
def _terms_patterns(draw: st.DrawFn) -> str:
    terms = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["", "-", "?", "- "]),
                st.one_of(_WORDS, _SAFE_TEXT.map(lambda text: f'"{text}"'), _REGEXES),
            ),
            max_size=4,
        )
    )
    return " ".join(prefix + term for prefix, term in terms)


def _json_conditions(selectors: list[str]) -> st.SearchStrategy[str]:
    comparisons = st.one_of(
        st.builds(
            "{} {} {}".format,
            st.sampled_from(selectors),
            st.sampled_from(["=", "!="]),
            _JSON_VALUES,
        ),
        st.builds(
            "{} {} {}".format,
            st.sampled_from(selectors),
            st.sampled_from(["<", ">", "<=", ">="]),
            st.sampled_from(["1", "-2.5", "1e3", "+0", _HUGE, "-" + _HUGE]),
        ),
        st.builds(
            "{} {}".format,
            st.sampled_from(selectors),
            st.sampled_from(["IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"]),
        ),
    )
    return st.recursive(
        comparisons,
        lambda inner: st.one_of(
            st.builds("({})".format, inner),
            st.builds("{} && {}".format, inner, inner),
            st.builds("{} || {}".format, inner, inner),
        ),
        max_leaves=5,
    )


def _json_patterns(selectors: list[str]) -> st.SearchStrategy[str]:
    return _json_conditions(selectors).map(lambda condition: "{ " + condition + " }")


def _valid(pattern: str) -> bool:
    try:
        parse(pattern)
    except InvalidFilterPattern:
        return False
    return True


@st.composite
def _space_delimited_patterns(draw: st.DrawFn) -> str:
    slots = []
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(["a", "b", "w1", "status_code", "...", ""]))
        if name in ("...", "") or draw(st.booleans()):
            slots.append(name)
            continue
        tests = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["=", "!=", ">", "<="]),
                    st.sampled_from(["1", "4*", "x", '"a b"', "%^[0-9]+$%", "1e3"]),
                ),
                min_size=1,
                max_size=3,
            )
        )
        parts = [f"{name} {operator} {value}" for operator, value in tests]
        joiners = draw(st.lists(st.sampled_from(["&&", "||"]), min_size=len(parts) - 1))
        joined = zip(joiners[: len(parts) - 1], parts[1:], strict=True)
        slots.append(parts[0] + "".join(f" {joiner} {part}" for joiner, part in joined))
    return "[" + ", ".join(slots) + "]"


_PATTERNS = st.one_of(_terms_patterns(), _json_patterns(_SELECTORS), _space_delimited_patterns())
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2000), st.floats(allow_nan=False), _SAFE_TEXT
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), inner, max_size=4),
    ),
    max_leaves=10,
)
_MESSAGES = st.one_of(
    st.text(max_size=80),
    _DOCUMENTS.map(json.dumps),
    st.just(f'{{"a": {_HUGE}, "e": [-{_HUGE}, 1e-99999999999999999999]}}'),
    st.lists(st.sampled_from(["1", "x", '"a b"', "[c d]", "1e3", "-", "4", " "]), max_size=8).map(
        " ".join
    ),
)


@PROPERTY_SETTINGS
@given(_PATTERNS, _MESSAGES)
def test_match_never_raises(pattern: str, message: str) -> None:
    assume(_valid(pattern))
    match = parse(pattern).match(message)
    if match is not None:
        for selector in ("$.a", "$.e[*]", "$a", "$1", "$status_code"):
            match.value(selector)
            match.text(selector)
        assert isinstance(match.extracted_values, dict)


@PROPERTY_SETTINGS
@given(_WORDS, st.text(max_size=20), st.text(max_size=20))
def test_a_word_of_the_event_finds_it(word: str, before: str, after: str) -> None:
    message = before + word + after
    assert parse(word).match(message) is not None
    assert parse(f"-{word}").match(message) is None
    assert parse(f"?{word} ?{word}x{word}").match(message) is not None


@PROPERTY_SETTINGS
@given(st.text(max_size=20), st.text(min_size=1, max_size=12), st.text(max_size=20))
def test_a_quoted_phrase_of_the_event_finds_it(before: str, phrase: str, after: str) -> None:
    assume(phrase.strip() and phrase == phrase.strip())
    escaped = phrase.replace("\\", "\\\\").replace('"', '\\"')
    assume(len(escaped) + 2 <= 1024)
    assert parse(f'"{escaped}"').match(before + phrase + after) is not None


_REGEX_ATOMS = st.sampled_from(
    ["a", "b", "1", " ", "_", ".", r"\.", "[a-c]", "[^b]", "[ab1]", r"\d", r"\D", r"\w", r"\W",
     r"\s", r"\S", r"\x61", "]", "}", "-", ":"]
)  # fmt: skip
_REGEX_QUANTIFIERS = st.sampled_from(
    ["", "", "", "*", "+", "?", "{2}", "{1,2}", "{,2}", "{1,}", "*?"]
)


@st.composite
def _regex_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """An AWS regex and the Python regex that means the same."""
    aws, python = [], []
    for _ in range(draw(st.integers(1, 3))):
        body = "".join(
            atom + quantifier
            for atom, quantifier in draw(
                st.lists(st.tuples(_REGEX_ATOMS, _REGEX_QUANTIFIERS), min_size=1, max_size=4)
            )
        )
        start, end = draw(st.booleans()), draw(st.booleans())
        aws.append(("^" if start else "") + body + ("$" if end else ""))
        python.append(("^" if start else "") + body + (r"\Z" if end else ""))
    return "|".join(aws), "|".join(python)


@PROPERTY_SETTINGS
@given(_regex_pairs(), st.text(alphabet="ab1 ._-:]}\n\tc", max_size=12))
def test_regex_engine_agrees_with_python_re(pair: tuple[str, str], text: str) -> None:
    aws, python = pair
    expected = re.search(python, text, re.ASCII) is not None
    assert (parse(f"%{aws}%").match(text) is not None) is expected


def _at(document: Any, selector: str) -> Any:
    node = document
    for step in re.findall(r"\.(\w+)|\[(\d+)\]", selector):
        name, index = step
        if name:
            if not isinstance(node, dict) or name not in node:
                return None
            node = node[name]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
    return node


_FLAT_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "a": _SCALARS | st.sampled_from(["x", "1", "true", ""]),
        "b": _SCALARS | st.sampled_from(["y", "x"]),
        "c": st.fixed_dictionaries({}, optional={"d": _SCALARS | st.just("x")}),
        "e": st.lists(_SCALARS | st.just("x"), max_size=2),
    },
)


@PROPERTY_SETTINGS
@given(_json_patterns(["$.a", "$.b", "$.c.d", "$.e[0]", "$.e[*]"]), _FLAT_DOCUMENTS)
def test_required_equalities_hold_in_every_matching_event(
    pattern: str, document: dict[str, Any]
) -> None:
    assume(_valid(pattern))
    parsed = parse(pattern)
    if parsed.match(json.dumps(document)) is None:
        return
    for selector, value in parsed.required_equalities().items():
        assert _at(document, selector) == value
        assert isinstance(_at(document, selector), str)


_CELLS = st.sampled_from(["x", "y", "1", "12"])


def _reference_space_delimited(slots: list[str], fields: list[str]) -> bool:
    """Brute force over every way the ellipses can split the fields (lines without quotes)."""

    def accepts(slot: str, field: str) -> bool:
        if slot == "f":
            return True
        return any(
            all(_cell_test(test, field) for test in conjunction.split(" && "))
            for conjunction in slot.split(" || ")
        )

    def fits(i: int, j: int) -> bool:
        if i == len(slots):
            return j == len(fields)
        if slots[i] == "...":
            return any(fits(i + 1, k) for k in range(j, len(fields) + 1))
        return j < len(fields) and accepts(slots[i], fields[j]) and fits(i + 1, j + 1)

    if "..." in slots:
        return fits(0, 0)
    if len(fields) < len(slots):
        return False
    texts = [*fields[: len(slots) - 1], " ".join(fields[len(slots) - 1 :])]
    return all(accepts(slot, text) for slot, text in zip(slots, texts, strict=True))


def _cell_test(test: str, field: str) -> bool:
    operator, value = test.split(" ")[1:]
    if operator == "=":
        return field == value or (value.endswith("*") and field.startswith(value[:-1]))
    if operator == "!=":
        return not _cell_test(f"f = {value}", field)
    number = float(field) if field.isdigit() else None
    return number is not None and {"<": number < float(value), ">": number > float(value)}[operator]


@st.composite
def _cell_slots(draw: st.DrawFn) -> list[str]:
    slots = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            slots.append(draw(st.sampled_from(["...", "f"])))
            continue
        tests = [
            f"f {operator} {value}"
            for operator, value in draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["=", "!=", "<", ">"]), st.sampled_from(["x", "1*", "5"])
                    ),
                    min_size=1,
                    max_size=3,
                )
            )
            if not (operator in "<>" and not value.isdigit())
        ] or ["f = x"]
        joiners = draw(st.lists(st.sampled_from([" && ", " || "]), min_size=len(tests) - 1))
        slots.append(tests[0] + "".join(j + t for j, t in zip(joiners, tests[1:], strict=False)))
    return slots


@PROPERTY_SETTINGS
@given(_cell_slots(), st.lists(_CELLS, max_size=7))
def test_space_delimited_agrees_with_brute_force(slots: list[str], fields: list[str]) -> None:
    pattern = parse("[" + ", ".join(slots) + "]")
    expected = _reference_space_delimited(slots, fields)
    assert (pattern.match(" ".join(fields)) is not None) is expected
