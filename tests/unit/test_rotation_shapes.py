"""The random rotator's shapes: a new value as long as the old, of the same alphabet."""

from __future__ import annotations

import base64
import json
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.services.secretsmanager.rotators.shapes import (
    ShapeError,
    regenerate,
    regenerate_fields,
)

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


@given(st.binary(min_size=1, max_size=96))
def test_base64_stays_base64_of_as_many_bytes(raw):
    old = base64.b64encode(raw).decode()
    if not any(c in old for c in "+/="):
        return  # indistinguishable from plain letters and digits: kept as such (below)
    new = regenerate(old)
    assert len(new) == len(old)
    assert len(base64.b64decode(new, validate=True)) == len(raw)


@given(st.text(alphabet="0123456789abcdef", min_size=1, max_size=64))
def test_hex_stays_hex(old):
    new = regenerate(old)
    assert len(new) == len(old) and set(new) <= set("0123456789abcdef")


def plain(text: str) -> bool:
    """Neither hex nor padded base64 (those keep their own shape, tested above)."""
    hex_like = re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", text) is not None
    base64_like = re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text) is not None and len(text) % 4 == 0
    return not hex_like and not (base64_like and any(c in text for c in "+/="))


@given(st.text(min_size=1, max_size=64).filter(plain))
def test_any_text_keeps_its_length_and_character_classes(old):
    new = regenerate(old)
    assert len(new) == len(old)
    allowed = {c for c in old if not any(c in chars for chars in _CLASSES)}
    for chars in _CLASSES:
        if any(c in chars for c in old):
            allowed |= set(chars)
    assert set(new) <= allowed


def test_each_class_of_the_old_value_is_in_the_new_one():
    for _ in range(50):
        new = regenerate("aB3$")
        assert any(c.islower() for c in new) and any(c.isupper() for c in new)
        assert any(c.isdigit() for c in new) and "$" in new


def test_json_fields_named_are_regenerated_and_the_rest_kept():
    old = json.dumps({"user": "app", "key": "abcdef0123", "n": 1})
    new = json.loads(regenerate_fields(old, ["key"]))
    assert new["user"] == "app" and new["n"] == 1
    assert len(new["key"]) == 10 and new["key"] != "abcdef0123"


@pytest.mark.parametrize(
    ("document", "fields"),
    [("not json", ["key"]), ("[1, 2]", ["key"]), ('{"key": 5}', ["key"]), ("{}", ["key"])],
)
def test_what_cannot_be_regenerated_is_refused_without_quoting_it(document, fields):
    with pytest.raises(ShapeError) as refused:
        regenerate_fields(document, fields)
    assert document not in str(refused.value) or document == "{}"


def test_an_empty_value_is_refused():
    with pytest.raises(ShapeError):
        regenerate("")
