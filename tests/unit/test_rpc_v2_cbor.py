"""The smithy-rpc-v2-cbor codec against botocore itself: requests botocore's RpcV2CBOR
serializer writes, for any input of any CloudWatch operation, decode exactly as the same call
in awsJson1.0 does through the JSON codec (same parameters, or the same error); results the
codec writes for any output parse back with botocore's RpcV2CBORParser; errors carry the
query code botocore reports for a query-compatible service."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import cbor2
import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.protocol import json_codec, rpc_v2_cbor
from strongroom.protocol.errors import AwsError, SerializationException, ValidationException
from strongroom.protocol.registry import load_model
from strongroom.protocol.wire import WireRequest
from strongroom.services.cloudwatch import errors as cloudwatch_errors

MODEL = load_model("cloudwatch")
OPERATIONS = sorted(MODEL.operation_names)
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
MOMENTS = st.integers(0, 7_000_000_000).map(lambda s: datetime.fromtimestamp(s, UTC))
FLOATS = st.floats(allow_nan=False, width=64)
TEXT = st.text(max_size=12)


def values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Any value of the shape's types (constraints aside: the codecs must agree on those)."""
    if isinstance(shape, StructureShape):
        if depth > 5:
            return st.just({})
        members = {name: values(member, depth + 1) for name, member in shape.members.items()}
        if shape.is_tagged_union:  # exactly one member
            return st.one_of(
                [st.fixed_dictionaries({name: member}) for name, member in members.items()]
            )
        return st.fixed_dictionaries({}, optional=members)
    if isinstance(shape, ListShape):
        return st.lists(values(shape.member, depth + 1), max_size=3)
    if isinstance(shape, MapShape):
        return st.dictionaries(TEXT, values(shape.value, depth + 1), max_size=3)
    kind = shape.type_name
    if kind == "string":
        enum = shape.metadata.get("enum")
        return st.sampled_from(enum) | TEXT if enum else TEXT
    if kind == "integer":
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "long":
        return st.integers(-(2**63), 2**63 - 1)
    if kind in ("double", "float"):
        return FLOATS
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return MOMENTS
    if kind == "blob":
        return st.binary(max_size=16)
    raise AssertionError(kind)


def sent(protocol: str, operation: OperationModel, params: dict[str, Any]) -> HttpRequest:
    """The request botocore sends, in the protocol."""
    serializer = create_serializer(protocol, include_validation=False)
    serialized = serializer.serialize_to_request(params, operation)
    headers = [(k.lower(), v) for k, v in serialized["headers"].items()]
    return HttpRequest("POST", serialized["url_path"], "", headers, serialized["body"])


def outcome(codec: Any, operation: OperationModel, request: HttpRequest) -> Any:
    try:
        return codec.decode(operation, request)
    except AwsError as error:
        return (error.code, error.message)


@st.composite
def calls(draw: st.DrawFn) -> tuple[OperationModel, dict[str, Any]]:
    operation = MODEL.operation_model(draw(st.sampled_from(OPERATIONS)))
    shape = operation.input_shape
    return operation, draw(values(shape)) if shape is not None else {}


@PROPERTY
@given(calls())
def test_any_request_decodes_as_its_json_twin_does(call):
    operation, params = call
    cbor_request = sent(rpc_v2_cbor.PROTOCOL, operation, params)
    wire = WireRequest(cbor_request, "127.0.0.1")
    assert rpc_v2_cbor.speaks(wire)
    assert rpc_v2_cbor.operation_name(MODEL, cbor_request) == operation.name
    from_cbor = outcome(rpc_v2_cbor, operation, cbor_request)
    from_json = outcome(json_codec, operation, sent("json", operation, params))
    assert from_cbor == from_json


# Text that Java's `.` matches throughout (no line terminators).
NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1,
    max_size=20,
)
VALID_DATUM = st.fixed_dictionaries(
    {"MetricName": st.text(min_size=1, max_size=20)},
    optional={
        "Dimensions": st.lists(
            st.fixed_dictionaries(
                {"Name": st.text(min_size=1, max_size=5), "Value": st.text(min_size=1, max_size=5)}
            ),
            max_size=3,
        ),
        "Timestamp": MOMENTS,
        "Value": FLOATS,
        "Values": st.lists(FLOATS, max_size=4),
        "Unit": st.sampled_from(["Seconds", "Count", "None", "Bytes/Second"]),
        "StorageResolution": st.sampled_from([1, 60]),
    },
)


@PROPERTY
@given(NAMES.filter(lambda n: n[0] != ":"), st.lists(VALID_DATUM))
def test_any_valid_put_metric_data_decodes_to_its_parameters(namespace, data):
    operation = MODEL.operation_model("PutMetricData")
    params = {"Namespace": namespace, "MetricData": data}
    assert rpc_v2_cbor.decode(operation, sent(rpc_v2_cbor.PROTOCOL, operation, params)) == params


# Results


def normalized(shape: Shape, value: Any) -> Any:
    """The value as botocore's parser gives it back (UTC datetimes)."""
    if isinstance(shape, StructureShape):
        return {k: normalized(shape.members[k], v) for k, v in value.items()}
    if isinstance(shape, ListShape):
        return [normalized(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {k: normalized(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return value.timestamp()
    return value


@st.composite
def results(draw: st.DrawFn) -> tuple[OperationModel, dict[str, Any]]:
    name = draw(st.sampled_from([o for o in OPERATIONS if MODEL.operation_model(o).output_shape]))
    operation = MODEL.operation_model(name)
    return operation, draw(values(operation.output_shape))


def parse(operation: OperationModel | None, response: Any) -> Any:
    raw = {
        "status_code": response.status,
        "headers": HeadersDict(response.headers),
        "body": response.body,
    }
    return create_parser(rpc_v2_cbor.PROTOCOL).parse(
        raw, operation.output_shape if operation else None
    )


@PROPERTY
@given(results())
def test_any_result_parses_back_with_botocore(result):
    operation, value = result
    response = rpc_v2_cbor.encode_result(MODEL, operation, value, "req-1")
    assert response.status == 200
    assert ("smithy-protocol", "rpc-v2-cbor") in response.headers
    back = parse(operation, response)
    assert back.pop("ResponseMetadata")["RequestId"] == "req-1"
    shape = operation.output_shape

    def seconds(shape_: Shape, item: Any) -> Any:
        if shape_.type_name == "timestamp":
            return item.timestamp()
        return item

    assert _walk(shape, back, seconds) == normalized(shape, value)


def _walk(shape: Shape, value: Any, leaf: Any) -> Any:
    if isinstance(shape, StructureShape):
        return {k: _walk(shape.members[k], v, leaf) for k, v in value.items()}
    if isinstance(shape, ListShape):
        return [_walk(shape.member, v, leaf) for v in value]
    if isinstance(shape, MapShape):
        return {k: _walk(shape.value, v, leaf) for k, v in value.items()}
    return leaf(shape, value)


def test_timestamps_are_tag_1_and_blobs_byte_strings():
    operation = MODEL.operation_model("GetMetricData")
    moment = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    result = {"MetricDataResults": [{"Id": "a", "Timestamps": [moment], "Values": [1.5]}]}
    body = rpc_v2_cbor.encode_result(MODEL, operation, result, "r").body
    assert bytes.fromhex("c11a") + int(moment.timestamp()).to_bytes(4, "big") in body
    assert cbor2.loads(body)["MetricDataResults"][0]["Timestamps"] == [moment]
    widget = MODEL.operation_model("GetMetricWidgetImage")
    body = rpc_v2_cbor.encode_result(MODEL, widget, {"MetricWidgetImage": b"\x89PNG"}, "r").body
    assert cbor2.loads(body) == {"MetricWidgetImage": b"\x89PNG"}


def test_an_operation_without_output_answers_an_empty_body():
    operation = MODEL.operation_model("PutMetricData")
    response = rpc_v2_cbor.encode_result(MODEL, operation, None, "r")
    assert response.body == b""
    assert set(parse(None, response)) == {"ResponseMetadata"}


# Requests botocore would not send


def request(
    body: bytes, path: str = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
):
    return HttpRequest("POST", path, "", [("smithy-protocol", "rpc-v2-cbor")], body)


@pytest.mark.parametrize(
    "body",
    [
        b"\xa1\x61",  # cut short
        b"\xa0\x00",  # data after the value
        cbor2.dumps({"Namespace": cbor2.CBORTag(28, "x")}),  # value sharing
        b"\x81" * 100 + b"\x00",  # nested past any shape
        b"\xff",
    ],
)
def test_bodies_that_are_not_one_cbor_value_are_serialization_errors(body):
    with pytest.raises(SerializationException):
        rpc_v2_cbor.decode(MODEL.operation_model("ListMetrics"), request(body))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Namespace": b"bytes"}, "Unexpected value type for 'namespace': expected string"),
        (
            {"StartTime": "2026-01-01T00:00:00Z"},
            "Unexpected value type for 'startTime': expected timestamp",
        ),
    ],
)
def test_values_of_another_cbor_type_are_refused(params, message):
    operation = MODEL.operation_model("ListMetrics" if "Namespace" in params else "GetMetricData")
    with pytest.raises(SerializationException) as info:
        rpc_v2_cbor.decode(operation, request(cbor2.dumps(params)))
    assert info.value.message.startswith(message)


def test_an_empty_body_is_an_empty_input_and_constraints_are_checked():
    assert rpc_v2_cbor.decode(MODEL.operation_model("ListMetrics"), request(b"")) == {}
    with pytest.raises(ValidationException) as info:
        rpc_v2_cbor.decode(
            MODEL.operation_model("ListMetrics"), request(cbor2.dumps({"Namespace": ""}))
        )
    assert "Member must have length greater than or equal to 1" in info.value.message


def test_timestamps_may_be_floats_or_untagged_numbers():
    operation = MODEL.operation_model("GetMetricData")
    moment = datetime(2026, 11, 30, 10, 0, 0, 500000, tzinfo=UTC)
    for value in (moment, moment.timestamp(), cbor2.CBORTag(1, moment.timestamp())):
        params = {"MetricDataQueries": [], "StartTime": value, "EndTime": value}
        decoded = rpc_v2_cbor.decode(
            operation, request(cbor2.dumps(params, datetime_as_timestamp=True))
        )
        assert decoded["StartTime"] == moment


@pytest.mark.parametrize(
    "path",
    [
        "/service/GraniteServiceVersion20100801/operation/",
        "/service/Other/operation/ListMetrics",
        "/service/GraniteServiceVersion20100801/operation/ListMetrics/more",
        "/",
    ],
)
def test_paths_that_name_no_cloudwatch_operation(path):
    assert rpc_v2_cbor.operation_name(MODEL, request(b"", path)) == ""


# Errors


def error_of(error: AwsError) -> dict[str, Any]:
    response = rpc_v2_cbor.encode_error(MODEL, error, "req-9")
    parsed = parse(None, response)
    return {"status": response.status, **parsed["Error"]}


def test_modelled_errors_carry_the_query_code_botocore_reports():
    found = error_of(cloudwatch_errors.InvalidParameterValueException("bad"))
    assert found == {
        "status": 400,
        "Code": "InvalidParameterValue",
        "Message": "bad",
        "QueryErrorCode": "InvalidParameterValueException",
        "Type": "Sender",
    }
    assert error_of(ValidationException("1 validation error"))["Code"] == "ValidationError"


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        (FailureKind.MISSING_TOKEN, "MissingAuthenticationToken", 403),
        (FailureKind.INCOMPLETE, "IncompleteSignature", 400),
        (FailureKind.UNKNOWN_KEY, "InvalidClientTokenId", 403),
        (FailureKind.BAD_SIGNATURE, "SignatureDoesNotMatch", 403),
        (FailureKind.EXPIRED_TOKEN, "ExpiredToken", 403),
    ],
)
def test_authentication_failures_in_the_protocols_words(kind, code, status):
    error = rpc_v2_cbor.auth_error(AuthFailure(kind, "why"))
    found = error_of(error)
    assert (found["status"], found["Code"], found["Message"]) == (status, code, "why")
    body = cbor2.loads(rpc_v2_cbor.encode_error(MODEL, error, "r").body)
    assert body["__type"] == error.code and not math.isnan(len(body))
