"""Tests for strongroom.protocol.shapes against real botocore KMS / Secrets Manager models."""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest
from botocore.model import ServiceModel, Shape, ShapeResolver, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.protocol.java_regex import compile_java_pattern
from strongroom.protocol.shapes import (
    SerializationError,
    ValidationError,
    decode_input,
    encode_output,
)

_SESSION = botocore.session.get_session()
KMS = _SESSION.get_service_model("kms")
SM = _SESSION.get_service_model("secretsmanager")

ALL_OPERATIONS = [
    pytest.param(model, name, id=f"{model.service_name}.{name}")
    for model in (KMS, SM)
    for name in model.operation_names
]

PROPERTY_SETTINGS = settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def input_shape(model: ServiceModel, operation: str) -> StructureShape:
    shape = model.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def custom_shape(shapes: dict[str, Any], name: str = "Input") -> Any:
    """A shape from a hand-written model fragment, for traits KMS/SM don't exercise."""
    return ShapeResolver(shapes).get_shape_by_name(name)


def validation_message(shape: StructureShape, data: object) -> str:
    with pytest.raises(ValidationError) as info:
        decode_input(shape, data)
    return str(info.value)


def serialization_message(shape: StructureShape | None, data: object) -> str:
    with pytest.raises(SerializationError) as info:
        decode_input(shape, data)
    return str(info.value)


ENCRYPT = input_shape(KMS, "Encrypt")
PLAINTEXT = b64(b"ABC")

# --------------------------------------------------------------------------------------------
# Exact ValidationException messages
# --------------------------------------------------------------------------------------------


def test_string_too_long_echoes_value() -> None:
    key_id = "k" * 2049
    assert validation_message(ENCRYPT, {"KeyId": key_id, "Plaintext": PLAINTEXT}) == (
        f"1 validation error detected: Value '{key_id}' at 'keyId' failed to satisfy "
        "constraint: Member must have length less than or equal to 2048"
    )


def test_missing_required_member() -> None:
    assert validation_message(ENCRYPT, {"Plaintext": PLAINTEXT}) == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_json_null_counts_as_absent() -> None:
    assert "Value null at 'keyId'" in validation_message(
        ENCRYPT, {"KeyId": None, "Plaintext": PLAINTEXT}
    )
    decoded = decode_input(ENCRYPT, {"KeyId": "k", "Plaintext": PLAINTEXT, "GrantTokens": None})
    assert decoded == {"KeyId": "k", "Plaintext": b"ABC"}


def test_sensitive_blob_too_long_is_not_echoed() -> None:
    message = validation_message(ENCRYPT, {"KeyId": "k", "Plaintext": b64(b"p" * 4097)})
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_blob_length_is_counted_in_bytes() -> None:
    assert decode_input(ENCRYPT, {"KeyId": "k", "Plaintext": b64(b"\xff" * 4096)})
    message = validation_message(ENCRYPT, {"KeyId": "k", "Plaintext": ""})
    assert message.endswith(
        "Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_pattern_violation() -> None:
    shape = input_shape(KMS, "CreateAlias")
    assert validation_message(shape, {"AliasName": "bad name!", "TargetKeyId": "k"}) == (
        "1 validation error detected: Value 'bad name!' at 'aliasName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_enum_violation_lists_model_values_in_order() -> None:
    enum = ENCRYPT.members["EncryptionAlgorithm"].enum
    assert enum[0] == "SYMMETRIC_DEFAULT"
    data = {"KeyId": "k", "Plaintext": PLAINTEXT, "EncryptionAlgorithm": "X"}
    assert validation_message(ENCRYPT, data) == (
        "1 validation error detected: Value 'X' at 'encryptionAlgorithm' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(enum)}]"
    )


@pytest.mark.parametrize(
    ("limit", "constraint"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (1001, "Member must have value less than or equal to 1000"),
    ],
)
def test_integer_range(limit: int, constraint: str) -> None:
    assert validation_message(input_shape(KMS, "ListKeys"), {"Limit": limit}) == (
        f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
        f"constraint: {constraint}"
    )


def test_multiple_errors_are_counted_and_joined_in_model_order() -> None:
    data = {"Plaintext": b64(b"p" * 4097), "EncryptionAlgorithm": "X"}
    enum = ", ".join(ENCRYPT.members["EncryptionAlgorithm"].enum)
    assert validation_message(ENCRYPT, data) == (
        "3 validation errors detected: "
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096; "
        "Value 'X' at 'encryptionAlgorithm' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{enum}]"
    )


def test_validation_error_exposes_individual_violations() -> None:
    with pytest.raises(ValidationError) as info:
        decode_input(ENCRYPT, {})
    assert info.value.violations == (
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        "Value null at 'plaintext' failed to satisfy constraint: Member must not be null",
    )


def test_string_violating_length_and_pattern_reports_both() -> None:
    shape = input_shape(KMS, "CreateAlias")
    message = validation_message(shape, {"AliasName": "", "TargetKeyId": "k"})
    assert message.startswith("2 validation errors detected: Value '' at 'aliasName'")
    assert "Member must have length greater than or equal to 1; Value '' at 'aliasName'" in message


def test_list_size_and_nested_member_paths() -> None:
    shape = input_shape(KMS, "CreateKey")
    data = {"Tags": [{"TagKey": "ok", "TagValue": "v"}, {"TagKey": ""}]}
    assert validation_message(shape, data) == (
        "2 validation errors detected: "
        "Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value null at 'tags.2.member.tagValue' failed to satisfy constraint: "
        "Member must not be null"
    )
    tokens = {"KeyId": "k", "Plaintext": PLAINTEXT, "GrantTokens": ["t"] * 11}
    assert validation_message(ENCRYPT, tokens) == (
        "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: "
        "Member must have length less than or equal to 10"
    )


@pytest.mark.parametrize(
    ("service", "operation", "data", "path"),
    [
        (SM, "CreateSecret", {"Name": "n", "SecretString": ""}, "secretString"),
        (SM, "PutSecretValue", {"SecretId": "s", "SecretString": "x" * 65537}, "secretString"),
        (KMS, "CreateCustomKeyStore", {"CustomKeyStoreName": "n", "KeyStorePassword": "short"},
         "keyStorePassword"),
    ],
)  # fmt: skip
def test_sensitive_strings_are_never_echoed(
    service: ServiceModel, operation: str, data: dict[str, Any], path: str
) -> None:
    message = validation_message(input_shape(service, operation), data)
    assert f"Value at '{path}' failed" in message
    secret = next(v for k, v in data.items() if path == k[0].lower() + k[1:])
    assert f"'{secret}'" not in message


def test_members_of_sensitive_containers_are_never_echoed() -> None:
    shape = custom_shape(
        {
            "Input": {"type": "structure", "members": {"Creds": {"shape": "Creds"}}},
            "Creds": {
                "type": "structure",
                "sensitive": True,
                "required": ["User"],
                "members": {"User": {"shape": "Short"}, "Tags": {"shape": "TagList"}},
            },
            "TagList": {"type": "list", "member": {"shape": "Short"}},
            "Short": {"type": "string", "max": 3},
        }
    )
    message = validation_message(shape, {"Creds": {"User": "hunter2", "Tags": ["topsecret"]}})
    assert message == (
        "2 validation errors detected: Value at 'creds.user' failed to satisfy constraint: "
        "Member must have length less than or equal to 3; Value at 'creds.tags.1.member' "
        "failed to satisfy constraint: Member must have length less than or equal to 3"
    )


def test_map_constraints_and_paths() -> None:
    shape = custom_shape(
        {
            "Input": {"type": "structure", "members": {"Labels": {"shape": "Labels"}}},
            "Labels": {
                "type": "map",
                "key": {"shape": "Key"},
                "value": {"shape": "Count"},
                "max": 2,
            },
            "Key": {"type": "string", "min": 2},
            "Count": {"type": "long", "min": 0},
        }
    )
    assert decode_input(shape, {"Labels": {"ab": 1}}) == {"Labels": {"ab": 1}}
    message = validation_message(shape, {"Labels": {"ab": -1, "x": 0, "cd": 2}})
    assert message == (
        "3 validation errors detected: "
        "Value at 'labels' failed to satisfy constraint: "
        "Member must have length less than or equal to 2; "
        "Value '-1' at 'labels.ab' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0; "
        "Value at 'labels' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length greater than or equal to 2]"
    )


def test_double_range_and_decoding() -> None:
    shape = custom_shape(
        {
            "Input": {"type": "structure", "members": {"Ratio": {"shape": "Ratio"}}},
            "Ratio": {"type": "double", "min": 1, "max": 2.5},
        }
    )
    assert decode_input(shape, {"Ratio": 2}) == {"Ratio": 2.0}
    assert validation_message(shape, {"Ratio": 0.5}) == (
        "1 validation error detected: Value '0.5' at 'ratio' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert validation_message(shape, {"Ratio": 3}).endswith("less than or equal to 2.5")
    for bad in (True, "1.5", [1.0]):
        assert serialization_message(shape, {"Ratio": bad}) == (
            "Unexpected value type for 'ratio': expected number"
        )


# --------------------------------------------------------------------------------------------
# SerializationException (type errors)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "data", "message"),
    [
        ("Encrypt", {"KeyId": 123, "Plaintext": PLAINTEXT}, "'keyId': expected string"),
        ("Encrypt", {"KeyId": "k", "Plaintext": 5}, "'plaintext': expected base64-encoded string"),
        ("Encrypt", {"KeyId": "k", "Plaintext": PLAINTEXT, "EncryptionContext": {"a": 1}},
         "'encryptionContext.a': expected string"),
        ("Encrypt", {"KeyId": "k", "Plaintext": PLAINTEXT, "EncryptionContext": ["a"]},
         "'encryptionContext': expected object"),
        ("Encrypt", {"KeyId": "k", "Plaintext": PLAINTEXT, "GrantTokens": "t"},
         "'grantTokens': expected array"),
        ("Encrypt", {"KeyId": "k", "Plaintext": PLAINTEXT, "GrantTokens": [None]},
         "'grantTokens.1.member': expected string"),
        ("Encrypt", {"KeyId": "k", "Plaintext": PLAINTEXT, "DryRun": "true"},
         "'dryRun': expected boolean"),
        ("ListKeys", {"Limit": "5"}, "'limit': expected integer"),
        ("ListKeys", {"Limit": True}, "'limit': expected integer"),
        ("ListKeys", {"Limit": 5.0}, "'limit': expected integer"),
        ("ListKeys", {"Limit": 2**31}, "'limit': expected integer"),
        ("CreateKey", {"Tags": [{"TagKey": "k", "TagValue": 1}]},
         "'tags.1.member.tagValue': expected string"),
        ("CreateKey", {"Tags": [7]}, "'tags.1.member': expected object"),
    ],
)  # fmt: skip
def test_type_errors(operation: str, data: dict[str, Any], message: str) -> None:
    assert serialization_message(input_shape(KMS, operation), data) == (
        f"Unexpected value type for {message}"
    )


@pytest.mark.parametrize("body", [[], "x", 1, None, True])
def test_top_level_must_be_an_object(body: object) -> None:
    assert "expected object" in serialization_message(ENCRYPT, body)
    with pytest.raises(SerializationError):
        decode_input(None, body)


@pytest.mark.parametrize("bad", ["not base64!", "QUJ", "QQ=", "=QUJD", "QU JD", "ÄBCD", "YWJj\n"])
def test_bad_base64_is_a_serialization_error(bad: str) -> None:
    shape = input_shape(SM, "CreateSecret")
    message = serialization_message(shape, {"Name": "n", "SecretBinary": bad})
    assert message == "Invalid base64 value for 'secretBinary'"


def test_type_errors_never_echo_the_value() -> None:
    shape = input_shape(SM, "CreateSecret")
    message = serialization_message(shape, {"Name": "n", "SecretString": ["hunter2"]})
    assert "hunter2" not in message


def test_unknown_members_are_dropped() -> None:
    data = {"KeyId": "k", "Plaintext": PLAINTEXT, "Bogus": {"x": [1]}, "keyid": 5}
    assert decode_input(ENCRYPT, data) == {"KeyId": "k", "Plaintext": b"ABC"}
    tags = {"Tags": [{"TagKey": "a", "TagValue": "b", "Extra": None}]}
    assert decode_input(input_shape(KMS, "CreateKey"), tags) == {
        "Tags": [{"TagKey": "a", "TagValue": "b"}]
    }


def test_empty_body_and_shapeless_operations() -> None:
    assert decode_input(input_shape(KMS, "CreateKey"), {}) == {}
    assert decode_input(None, {}) == {}
    assert decode_input(None, {"Anything": 1}) == {}


TIMESTAMP_SHAPE = custom_shape(
    {
        "Input": {"type": "structure", "members": {"At": {"shape": "At"}}},
        "At": {"type": "timestamp"},
    }
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1700000000.5, datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        ("2024-02-29T12:00:00Z", datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("2024-02-29T12:00:00", datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("2024-02-29T14:00:00+02:00", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_timestamp_decoding(raw: object, expected: datetime) -> None:
    decoded = decode_input(TIMESTAMP_SHAPE, {"At": raw})["At"]
    assert decoded == expected
    assert decoded.tzinfo is UTC


@pytest.mark.parametrize("raw", [True, "yesterday", math.nan, math.inf, 1e20, [0], {}])
def test_bad_timestamps(raw: object) -> None:
    assert serialization_message(TIMESTAMP_SHAPE, {"At": raw}).startswith(
        "Unexpected value type for 'at': expected timestamp"
    )


def test_location_name_is_used_on_the_wire() -> None:
    shape = custom_shape(
        {
            "Input": {
                "type": "structure",
                "members": {"Name": {"shape": "Str", "locationName": "name"}},
            },
            "Str": {"type": "string"},
        }
    )
    assert decode_input(shape, {"name": "x", "Name": "ignored"}) == {"Name": "x"}
    assert encode_output(shape, {"Name": "x"}) == {"name": "x"}


def test_deeply_nested_recursive_shape_is_a_serialization_error() -> None:
    shape = custom_shape(
        {
            "Input": {"type": "structure", "members": {"Next": {"shape": "Input"}}},
        }
    )
    data: dict[str, Any] = {}
    for _ in range(5000):
        data = {"Next": data}
    assert serialization_message(shape, data) == "Request body is nested too deeply"


# --------------------------------------------------------------------------------------------
# Java regex translation
# --------------------------------------------------------------------------------------------


def compiled(pattern: str) -> re.Pattern[str]:
    result = compile_java_pattern(pattern)
    assert result is not None, pattern
    return result


def test_unicode_property_classes() -> None:
    tag_pattern = compiled(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$")
    assert tag_pattern.fullmatch("héllo wörld 1:@/日本")
    assert not tag_pattern.fullmatch("semi;colon")
    assert compiled(r"\P{Lu}+").fullmatch("abc")
    assert not compiled(r"\pL+").fullmatch("ab1")


def test_surrogate_pair_escapes_form_supplementary_ranges() -> None:
    pattern = compiled(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert pattern.fullmatch("tab\there 😀")
    assert not pattern.fullmatch("bell\x07")


def test_java_semantics_are_kept() -> None:
    assert not compiled(r"[\w]+").fullmatch("é")  # Java \w is ASCII-only.
    assert not compiled(r"\p{Alpha}+").fullmatch("é")  # POSIX classes too.
    assert not compiled("a*+a").fullmatch("aaa")  # Possessive quantifier.
    assert compiled(r"\Qa.b\E").fullmatch("a.b")
    assert not compiled(r"\Qa.b\E").fullmatch("axb")
    assert compiled(r"(?<x>a)\k<x>").fullmatch("aa")
    assert compiled(r"\x{1F600}").fullmatch("😀")
    assert not compiled("a.b").fullmatch("a\rb")


@pytest.mark.parametrize("pattern", [r"[a-z&&[^aeiou]]", r"\p{IsLatin}", r"\G", "[", "(?i"])
def test_untranslatable_patterns_are_skipped(pattern: str) -> None:
    assert compile_java_pattern(pattern) is None
    shape = custom_shape(
        {
            "Input": {"type": "structure", "members": {"S": {"shape": "S"}}},
            "S": {"type": "string", "pattern": pattern},
        }
    )
    assert decode_input(shape, {"S": "anything"}) == {"S": "anything"}


# --------------------------------------------------------------------------------------------
# encode_output
# --------------------------------------------------------------------------------------------


def test_encode_output_basics() -> None:
    shape = KMS.operation_model("Encrypt").output_shape
    value = {"CiphertextBlob": b"abc", "KeyId": "k", "EncryptionAlgorithm": None, "Junk": 1}
    assert encode_output(shape, value) == {"CiphertextBlob": "YWJj", "KeyId": "k"}
    assert encode_output(None, {"a": 1}) == {}
    assert encode_output(shape, None) == {}


def test_encode_output_nested_and_timestamps() -> None:
    shape = KMS.operation_model("DescribeKey").output_shape
    created = datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    value = {
        "KeyMetadata": {
            "KeyId": "k",
            "CreationDate": created,
            "DeletionDate": datetime(2024, 1, 2, 3, 4, 5),  # Naive: taken as UTC.
            "ValidTo": 1700000000,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "Enabled": True,
            "Description": None,
        }
    }
    encoded = encode_output(shape, value)
    assert encoded == {
        "KeyMetadata": {
            "KeyId": "k",
            "CreationDate": created.timestamp(),
            "DeletionDate": created.timestamp() - 0.25,
            "ValidTo": 1700000000.0,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "Enabled": True,
        }
    }
    assert isinstance(encoded["KeyMetadata"]["ValidTo"], float)
    offset = datetime(2024, 1, 2, 5, 4, 5, 250000, tzinfo=timezone(timedelta(hours=2)))
    again = encode_output(shape, {"KeyMetadata": {"KeyId": "k", "CreationDate": offset}})
    assert again["KeyMetadata"]["CreationDate"] == created.timestamp()


def test_encode_output_maps_and_lists() -> None:
    shape = SM.operation_model("ListSecretVersionIds").output_shape
    value = {"Versions": [{"VersionId": "v", "VersionStages": ["AWSCURRENT"], "KmsKeyIds": []}]}
    assert encode_output(shape, value) == value
    secret = SM.operation_model("DescribeSecret").output_shape
    stages = {"VersionIdsToStages": {"v1": ["AWSCURRENT"]}, "Name": "n"}
    assert encode_output(secret, stages) == stages


# --------------------------------------------------------------------------------------------
# Properties over every KMS and Secrets Manager operation
# --------------------------------------------------------------------------------------------

_SIMPLE_CLASS_REPEAT = re.compile(r"\^?(\[[^\]]+\])([+*])\$?")
_MAX_DEPTH = 6


def _string_values(shape: Shape) -> st.SearchStrategy[str]:
    enum = shape.metadata.get("enum")
    if enum:
        return st.sampled_from(enum)
    low = shape.metadata.get("min", 0)
    high = shape.metadata.get("max", low + 20)
    cap = min(high, low + 20)
    pattern = shape.metadata.get("pattern")
    if pattern is None:
        return st.text(min_size=low, max_size=cap)
    # "[class]+" patterns with large minimum lengths are best generated with explicit bounds.
    simple = _SIMPLE_CLASS_REPEAT.fullmatch(pattern)
    if simple is None:
        regex = compiled(pattern)
    else:
        at_least = max(low, 1) if simple.group(2) == "+" else low
        regex = compiled(f"{simple.group(1)}{{{at_least},{max(cap, at_least)}}}")
    return st.from_regex(regex, fullmatch=True).filter(lambda s: low <= len(s) <= high)


def _number_values(shape: Shape) -> st.SearchStrategy[Any]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if shape.type_name in ("float", "double"):
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    bits = 31 if shape.type_name == "integer" else 63
    low = -(2**bits) if low is None else low
    high = 2**bits - 1 if high is None else high
    return st.integers(low, high)


def valid_values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values (in decoded form) that satisfy every constraint of ``shape``."""
    kind, meta = shape.type_name, shape.metadata
    low = meta.get("min", 0)
    cap = min(meta.get("max", low + 3), low + 3)
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        required = set(shape.required_members)
        members = shape.members.items()
        return st.fixed_dictionaries(
            {name: valid_values(m, depth + 1) for name, m in members if name in required},
            optional={
                name: valid_values(m, depth + 1)
                for name, m in members
                if name not in required and depth < _MAX_DEPTH
            },
        )
    if kind == "list":
        return st.lists(valid_values(shape.member, depth + 1), min_size=low, max_size=cap)
    if kind == "map":
        keys, values = valid_values(shape.key, depth + 1), valid_values(shape.value, depth + 1)
        return st.dictionaries(keys, values, min_size=low, max_size=cap)
    if kind == "string":
        return _string_values(shape)
    if kind == "blob":
        return st.binary(min_size=low, max_size=min(meta.get("max", low + 32), low + 32))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    return _number_values(shape)


@pytest.mark.parametrize(("model", "operation"), ALL_OPERATIONS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_valid_inputs_round_trip(model: ServiceModel, operation: str, data: st.DataObject) -> None:
    shape = model.operation_model(operation).input_shape
    if shape is None:
        return
    value = data.draw(valid_values(shape), label="value")
    wire = json.loads(json.dumps(encode_output(shape, value)))
    assert decode_input(shape, wire) == value


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def fuzz_values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, steered towards the shape so that deep members are reached too."""
    if depth > _MAX_DEPTH:
        return JSON_VALUES
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        optional = {name: fuzz_values(m, depth + 1) for name, m in shape.members.items()}
        return JSON_VALUES | st.fixed_dictionaries({}, optional=optional)
    if kind == "list":
        return JSON_VALUES | st.lists(fuzz_values(shape.member, depth + 1), max_size=4)
    if kind == "map":
        values = fuzz_values(shape.value, depth + 1)
        return JSON_VALUES | st.dictionaries(st.text(max_size=8), values, max_size=3)
    if kind == "blob":
        return JSON_VALUES | st.binary(max_size=8).map(b64)
    if kind == "timestamp":
        return JSON_VALUES | st.datetimes().map(datetime.isoformat)
    return JSON_VALUES | st.integers(-2, 2**64) | st.text(max_size=300)


@pytest.mark.parametrize(("model", "operation"), ALL_OPERATIONS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_arbitrary_json_only_raises_protocol_errors(
    model: ServiceModel, operation: str, data: st.DataObject
) -> None:
    shape = model.operation_model(operation).input_shape
    body = data.draw(JSON_VALUES | fuzz_values(shape) if shape else JSON_VALUES, label="body")
    try:
        decoded = decode_input(shape, body)
    except (SerializationError, ValidationError) as error:
        assert str(error)
    else:
        assert isinstance(decoded, dict)


@PROPERTY_SETTINGS
@given(limit=st.integers(-(2**31), 2**31 - 1).filter(lambda n: not 1 <= n <= 1000))
def test_out_of_range_limits_have_exact_messages(limit: int) -> None:
    bound = "greater than or equal to 1" if limit < 1 else "less than or equal to 1000"
    assert validation_message(input_shape(KMS, "ListKeys"), {"Limit": limit}) == (
        f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
        f"constraint: Member must have value {bound}"
    )


def test_validation_error_can_carry_a_custom_message() -> None:
    error = ValidationError("Custom rule broken")
    assert str(error) == "Custom rule broken"
    assert error.violations == ()
