"""The awsQuery codec against botocore itself: requests botocore's query serializer writes are
routed and decoded back to their parameters; results and errors the codec writes parse back
with botocore's own QueryParser."""

from __future__ import annotations

import base64
import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.errorfactory import ClientExceptionsFactory
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.protocol import query
from strongroom.protocol.errors import (
    AwsError,
    InternalFailure,
    UnknownOperationException,
    ValidationException,
)
from strongroom.protocol.registry import load_model

MODELS = {name: load_model(name) for name in ("iam", "sts", "sns", "cloudwatch")}
FORM = "application/x-www-form-urlencoded; charset=utf-8"
UTC = datetime.UTC
MOMENT = datetime.datetime(2026, 11, 30, 10, 0, 1, 250000, tzinfo=UTC)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Text a form can carry (no lone surrogates) and XML 1.0 too (no control characters but
# tab, line feed and carriage return).
texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r"),
    max_size=30,
)
# Results are written with milliseconds, as AWS writes them.
moments = st.datetimes(
    min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(2200, 1, 1)
).map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000, tzinfo=UTC))


def request_for(service: str, operation: str, params: dict[str, Any], method: str = "POST"):
    """The request botocore would send for the call (or its GET twin, fields in the URL)."""
    operation_model = MODELS[service].operation_model(operation)
    serialized = create_serializer("query").serialize_to_request(params, operation_model)
    prepare_request_dict(serialized, endpoint_url="https://localhost:8443")
    prepared = create_request_object(serialized).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    headers = [(k.lower(), v) for k, v in prepared.headers.items()]
    url = urlsplit(prepared.url)
    if method == "GET":
        return HttpRequest("GET", url.path, body.decode(), [("host", "localhost")], b"")
    return HttpRequest(prepared.method, url.path, url.query, headers, body)


def form(pairs: list[tuple[str, str]]) -> HttpRequest:
    return HttpRequest("POST", "/", "", [("content-type", FORM)], urlencode(pairs).encode())


def decoded(service: str, operation: str, request: HttpRequest) -> dict[str, Any]:
    assert query.operation_name(MODELS[service], request) == operation
    return query.decode(MODELS[service].operation_model(operation), request)


def parsed(service: str, operation: str | None, response: Any) -> Any:
    shape = MODELS[service].operation_model(operation).output_shape if operation else None
    raw = {
        "status_code": response.status,
        "headers": HeadersDict(response.headers),
        "body": response.body,
    }
    return create_parser("query").parse(raw, shape)


def round_trip(service: str, operation: str, result: dict[str, Any]) -> dict[str, Any]:
    model = MODELS[service]
    response = query.encode_result(model, model.operation_model(operation), result, "req-1")
    assert response.status == 200
    assert dict(response.headers) == {"content-type": "text/xml", "x-amzn-requestid": "req-1"}
    back = parsed(service, operation, response)
    assert back.pop("ResponseMetadata")["RequestId"] == "req-1"
    return back


# Routing


def test_the_action_names_the_operation_in_a_body_or_a_query_string():
    iam = MODELS["iam"]
    assert query.operation_name(iam, form([("Version", "2010-05-08"), ("Action", "GetUser")])) == (
        "GetUser"
    )
    assert query.operation_name(iam, form([("Action", "ListUsers")])) == "ListUsers"
    get = HttpRequest("GET", "/", "Action=ListUsers&Version=2010-05-08", [], b"")
    assert query.operation_name(iam, get) == "ListUsers"
    # The first Action counts, as at AWS.
    assert query.operation_name(iam, form([("Action", "GetUser"), ("Action", "X")])) == "GetUser"


@pytest.mark.parametrize(
    "request_",
    [
        form([("Version", "2010-05-08")]),
        HttpRequest("POST", "/", "", [], b"Action=ListUsers"),  # not a form
        HttpRequest("POST", "/", "", [("content-type", "application/json")], b"Action=ListUsers"),
        HttpRequest("PUT", "/", "", [("content-type", FORM)], b"Action=ListUsers"),
    ],
)
def test_without_a_form_action_there_is_no_operation(request_):
    assert query.operation_name(MODELS["iam"], request_) == ""


def test_routing_never_fails_on_bytes_that_are_not_text():
    request = HttpRequest("POST", "/", "", [("content-type", FORM)], b"Action=Get\xffUser&\xfe")
    assert query.operation_name(MODELS["iam"], request) == "Get\ufffdUser"
    with pytest.raises(query.MalformedInput):
        query.decode(MODELS["iam"].operation_model("GetUser"), request)


# Requests


DECODE_CASES = [
    (
        "iam",
        "CreateUser",
        {
            "UserName": "alice@example.com",
            "Path": "/engineering/",
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/Boundary",
            "Tags": [{"Key": "team", "Value": "records"}, {"Key": "phi", "Value": ""}],
        },
    ),
    (
        "iam",
        "PutUserPolicy",
        {
            "UserName": "alice",
            "PolicyName": "read-secrets",
            "PolicyDocument": '{"Version": "2012-10-17",\r\n "Statement": [{"Effect": "Allow",'
            ' "Action": "secretsmanager:Get*", "Resource": "*", "Sid": "a+b=c&d%e"}]}',
        },
    ),
    (
        "iam",
        "CreatePolicyVersion",
        {
            "PolicyArn": "arn:aws:iam::123456789012:policy/ReadSecrets",
            "PolicyDocument": '{"Version":"2012-10-17","Statement":[]}',
            "SetAsDefault": True,
        },
    ),
    ("iam", "ListUsers", {"PathPrefix": "/", "Marker": "page 2 \u00e9", "MaxItems": 100}),
    (
        "iam",
        "AttachUserPolicy",
        {"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/rotation",
            "RoleSessionName": "rotation-lambda",
            "PolicyArns": [
                {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"arn": "arn:aws:iam::123456789012:policy/Extra"},
            ],
            "Policy": '{"Version":"2012-10-17"}',
            "DurationSeconds": 3600,
            "Tags": [{"Key": "project", "Value": "strongroom"}],
            "TransitiveTagKeys": ["project"],
            "ExternalId": "external-id-1",
            "SerialNumber": "arn:aws:iam::123456789012:mfa/alice",
            "TokenCode": "123456",
            "SourceIdentity": "alice",
        },
    ),
    ("sts", "AssumeRole", {"RoleArn": "a" * 20, "RoleSessionName": "s1", "TransitiveTagKeys": []}),
    ("sts", "GetSessionToken", {"DurationSeconds": 900, "TokenCode": "000000"}),
    ("sts", "GetCallerIdentity", {}),
    (
        "sns",
        "Publish",
        {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
            "Message": "rotation failed: <secret-id> & more\nline two",
            "Subject": "Rotation",
            "MessageAttributes": {
                "severity": {"DataType": "String", "StringValue": "high"},
                "payload": {"DataType": "Binary", "BinaryValue": b"\x00\xff raw"},
                "count": {"DataType": "Number", "StringValue": "3"},
            },
        },
    ),
    (
        "sns",
        "SetTopicAttributes",
        {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
            "AttributeName": "DisplayName",
            "AttributeValue": "Alarms",
        },
    ),
    (
        "cloudwatch",
        "PutMetricAlarm",
        {
            "AlarmName": "rotation-failures",
            "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:alarms"],
            "OKActions": [],
            "ActionsEnabled": False,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 0.5,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "Metrics": [
                {
                    "Id": "failures",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "Strongroom",
                            "MetricName": "RotationFailed",
                            "Dimensions": [
                                {"Name": "SecretId", "Value": "db"},
                                {"Name": "Region", "Value": "us-east-1"},
                            ],
                        },
                        "Period": 300,
                        "Stat": "Sum",
                        "Unit": "Count",
                    },
                    "ReturnData": False,
                },
                {"Id": "e1", "Expression": "failures * 2", "Label": "doubled", "ReturnData": True},
            ],
            "Tags": [{"Key": "phi", "Value": "no"}],
        },
    ),
    (
        "cloudwatch",
        "PutMetricData",
        {
            "Namespace": "Strongroom",
            "MetricData": [
                {
                    "MetricName": "Latency",
                    "Dimensions": [{"Name": "Operation", "Value": "GetSecretValue"}],
                    "Timestamp": MOMENT,
                    "Values": [1.5, 2.25, -0.0, 1e-300],
                    "Counts": [3.0, 1.0, 2.0, 1.0],
                    "Unit": "Milliseconds",
                    "StorageResolution": 1,
                },
                {"MetricName": "Count", "Value": 12345678.125, "Unit": "Count"},
            ],
        },
    ),
]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize(
    ("service", "operation", "params"),
    DECODE_CASES,
    ids=[f"{s}.{o}" for s, o, _ in DECODE_CASES],
)
def test_botocore_requests_decode_to_their_parameters(service, operation, params, method):
    request = request_for(service, operation, params, method)
    assert decoded(service, operation, request) == params


def test_unknown_fields_are_ignored_and_the_first_of_repeated_fields_counts():
    request = form(
        [
            ("Action", "ListUsers"),
            ("Version", "2010-05-08"),
            ("MaxItems", "5"),
            ("MaxItems", "abc"),
            ("Unknown", "value"),
            ("PathPrefix.member.1", "x"),
        ]
    )
    assert decoded("iam", "ListUsers", request) == {"MaxItems": 5}


def test_numbers_are_read_as_javas_parsers_read_them():
    for text, seconds in (("+900", 900), ("0900", 900), ("0" * 5000 + "900", 900)):
        request = form(
            [("Action", "GetSessionToken"), ("Version", "2011-06-15"), ("DurationSeconds", text)]
        )
        assert decoded("sts", "GetSessionToken", request) == {"DurationSeconds": seconds}


# Flattened lists and maps, and locationNames, which the four services' models do not use.
CUSTOM = ServiceModel(
    {
        "metadata": {
            "apiVersion": "2020-01-01",
            "endpointPrefix": "custom",
            "protocol": "query",
            "serviceId": "Custom",
            "signatureVersion": "v4",
            "xmlNamespace": "https://custom.amazonaws.com/doc/2020-01-01/",
        },
        "operations": {
            "Echo": {
                "name": "Echo",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "Shapes"},
                "output": {"shape": "Shapes", "resultWrapper": "EchoResult"},
            }
        },
        "shapes": {
            "Shapes": {
                "type": "structure",
                "members": {
                    "Flat": {"shape": "FlatList"},
                    "FlatNamed": {"shape": "FlatNamedList"},
                    "Named": {"shape": "NamedList", "locationName": "Renamed"},
                    "FlatMap": {"shape": "FlatMap"},
                    "NamedMap": {"shape": "NamedMap"},
                    "Nested": {"shape": "Shapes"},
                    "Data": {"shape": "Blob"},
                    "When": {"shape": "Time"},
                    "Big": {"shape": "Long"},
                },
            },
            "FlatList": {"type": "list", "member": {"shape": "String"}, "flattened": True},
            "FlatNamedList": {
                "type": "list",
                "member": {"shape": "String", "locationName": "Item"},
                "flattened": True,
            },
            "NamedList": {"type": "list", "member": {"shape": "String", "locationName": "Entry"}},
            "FlatMap": {
                "type": "map",
                "key": {"shape": "String"},
                "value": {"shape": "String"},
                "flattened": True,
            },
            "NamedMap": {
                "type": "map",
                "key": {"shape": "String", "locationName": "K"},
                "value": {"shape": "Shapes", "locationName": "V"},
            },
            "String": {"type": "string"},
            "Blob": {"type": "blob"},
            "Time": {"type": "timestamp"},
            "Long": {"type": "long"},
        },
    },
    "custom",
)
CUSTOM_VALUE = {
    "Flat": ["a", "b"],
    "FlatNamed": ["c"],
    "Named": ["d", "e"],
    "FlatMap": {"k1": "v1", "k2": ""},
    "NamedMap": {"x": {"Flat": ["deep"], "Big": 2**63 - 1}},
    "Nested": {"Named": [], "Data": b"\x00\x01"},
    "Data": b"bytes",
    "When": MOMENT,
    "Big": -(2**63),
}


def test_flattened_and_renamed_lists_and_maps_decode_as_botocore_writes_them():
    operation = CUSTOM.operation_model("Echo")
    serialized = create_serializer("query").serialize_to_request(CUSTOM_VALUE, operation)
    body = urlencode(serialized["body"]).encode()
    assert b"Item.1=c" in body and b"Renamed.Entry.2=e" in body and b"NamedMap.entry.1.K=x" in body
    request = HttpRequest("POST", "/", "", [("content-type", FORM)], body)
    assert query.operation_name(CUSTOM, request) == "Echo"
    assert query.decode(operation, request) == CUSTOM_VALUE


def test_flattened_and_renamed_lists_and_maps_encode_as_botocore_reads_them():
    operation = CUSTOM.operation_model("Echo")
    response = query.encode_result(CUSTOM, operation, CUSTOM_VALUE, "r")
    raw = {"status_code": 200, "headers": HeadersDict(response.headers), "body": response.body}
    back = create_parser("query").parse(raw, operation.output_shape)
    back.pop("ResponseMetadata")
    assert back == CUSTOM_VALUE


# Bad input


def bad_input(service: str, operation: str, pairs: list[tuple[str, str]]) -> AwsError:
    version = MODELS[service].api_version
    request = form([("Action", operation), ("Version", version), *pairs])
    with pytest.raises(AwsError) as info:
        query.decode(MODELS[service].operation_model(operation), request)
    return info.value


@pytest.mark.parametrize(
    ("service", "operation", "pairs", "message"),
    [
        (
            "iam",
            "CreateUser",
            [("Path", "/")],
            "1 validation error detected: Value null at 'userName' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            "iam",
            "CreateUser",
            [("UserName", "a" * 65)],
            f"1 validation error detected: Value '{'a' * 65}' at 'userName' failed to satisfy "
            "constraint: Member must have length less than or equal to 64",
        ),
        (
            "iam",
            "CreateUser",
            [("UserName", "bad name")],
            "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy "
            r"constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
        ),
        (
            "iam",
            "CreateUser",
            [("UserName", "alice"), ("Tags.member.1.Value", "v")],
            "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            "iam",
            "ListPolicies",
            [("Scope", "Everywhere"), ("MaxItems", "0")],
            "2 validation errors detected: Value 'Everywhere' at 'scope' failed to satisfy "
            "constraint: Member must satisfy enum value set: [All, AWS, Local]; "
            "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1",
        ),
        (
            "sts",
            "AssumeRole",
            [("RoleArn", "a" * 20), ("RoleSessionName", "s1"), ("DurationSeconds", "899")],
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value greater than or equal to 900",
        ),
        (
            # A sensitive member's value is never repeated.
            "iam",
            "CreateLoginProfile",
            [("UserName", "alice"), ("Password", "p" * 129)],
            "1 validation error detected: Value at 'password' failed to satisfy constraint: "
            "Member must have length less than or equal to 128",
        ),
    ],
)
def test_values_breaking_the_model_are_validation_errors(service, operation, pairs, message):
    error = bad_input(service, operation, pairs)
    assert isinstance(error, ValidationException)
    assert error.message == message
    response = query.encode_error(MODELS[service], error, "r")
    back = parsed(service, None, response)
    assert back["Error"] == {"Type": "Sender", "Code": "ValidationError", "Message": message}
    assert back["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("service", "operation", "pairs", "message"),
    [
        ("iam", "ListUsers", [("MaxItems", "abc")], ""),
        ("iam", "ListUsers", [("MaxItems", "")], "missing value for decimal type"),
        ("iam", "ListUsers", [("MaxItems", "1.0")], ""),
        ("iam", "ListUsers", [("MaxItems", " 1")], ""),
        ("iam", "ListUsers", [("MaxItems", "1_0")], ""),
        ("sts", "GetSessionToken", [("DurationSeconds", "2147483648")], ""),
        ("sts", "GetSessionToken", [("DurationSeconds", "-2147483649")], ""),
        ("sts", "GetSessionToken", [("DurationSeconds", "9" * 5000)], ""),
        (
            "iam",
            "CreatePolicyVersion",
            [("PolicyArn", "a" * 20), ("PolicyDocument", "{}"), ("SetAsDefault", "yes")],
            "boolean must follow xsd1.1 definition",
        ),
        ("cloudwatch", "PutMetricAlarm", [("AlarmName", "a"), ("Threshold", "high")], ""),
    ],
)
def test_values_of_the_wrong_type_are_malformed_input(service, operation, pairs, message):
    error = bad_input(service, operation, pairs)
    assert isinstance(error, query.MalformedInput)
    assert error.message == message
    back = parsed(service, None, query.encode_error(MODELS[service], error, "r"))
    assert back["Error"]["Code"] == "MalformedInput"
    assert back["Error"].get("Message", "") == message
    assert back["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bad_timestamps_and_base64_are_malformed_input_that_does_not_repeat_them():
    error = bad_input(
        "cloudwatch",
        "PutMetricData",
        [
            ("Namespace", "N"),
            ("MetricData.member.1.MetricName", "m"),
            ("MetricData.member.1.Timestamp", "yesterday-ish"),
        ],
    )
    assert isinstance(error, query.MalformedInput)
    assert "metricData.1.member.timestamp" in error.message
    assert "yesterday" not in error.message
    error = bad_input(
        "sns",
        "Publish",
        [
            ("Message", "m"),
            ("MessageAttributes.entry.1.Name", "a"),
            ("MessageAttributes.entry.1.Value.DataType", "Binary"),
            ("MessageAttributes.entry.1.Value.BinaryValue", "not base64!"),
        ],
    )
    assert isinstance(error, query.MalformedInput)
    assert "not base64" not in error.message


@pytest.mark.parametrize(
    ("version", "named"),
    [(None, "NO_VERSION_SPECIFIED"), ("", ""), ("2011-06-15", "2011-06-15")],
)
def test_a_missing_or_other_version_finds_no_operation(version, named):
    pairs = [("Action", "ListUsers")] + ([("Version", version)] if version is not None else [])
    with pytest.raises(query.InvalidAction) as info:
        query.decode(MODELS["iam"].operation_model("ListUsers"), form(pairs))
    assert info.value.message == f"Could not find operation ListUsers for version {named}"


# Results


def test_iam_get_user_round_trips():
    result = {
        "User": {
            "Path": "/engineering/",
            "UserName": "alice",
            "UserId": "AIDAEXAMPLE123456789",
            "Arn": "arn:aws:iam::123456789012:user/engineering/alice",
            "CreateDate": MOMENT,
            "PasswordLastUsed": datetime.datetime(2026, 12, 1, tzinfo=UTC),
            "PermissionsBoundary": {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/Boundary",
            },
            "Tags": [{"Key": "team", "Value": "records & <billing>"}],
        }
    }
    assert round_trip("iam", "GetUser", result) == result


def test_iam_list_users_round_trips_with_an_empty_page():
    user = {
        "Path": "/",
        "UserName": "bob",
        "UserId": "AIDB",
        "Arn": "arn:aws:iam::123456789012:user/bob",
        "CreateDate": MOMENT,
    }
    result = {"Users": [user, {**user, "UserName": "carol"}], "IsTruncated": True, "Marker": "m2"}
    assert round_trip("iam", "ListUsers", result) == result
    assert round_trip("iam", "ListUsers", {"Users": [], "IsTruncated": False}) == {
        "Users": [],
        "IsTruncated": False,
    }


def test_iam_create_access_key_and_list_policies_round_trip():
    key = {
        "AccessKey": {
            "UserName": "alice",
            "AccessKeyId": "AKIAEXAMPLE000000001",
            "Status": "Active",
            "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "CreateDate": MOMENT,
        }
    }
    assert round_trip("iam", "CreateAccessKey", key) == key
    policy = {
        "PolicyName": "ReadSecrets",
        "PolicyId": "ANPAEXAMPLE",
        "Arn": "arn:aws:iam::123456789012:policy/ReadSecrets",
        "Path": "/",
        "DefaultVersionId": "v2",
        "AttachmentCount": 3,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": MOMENT,
        "UpdateDate": datetime.datetime(2027, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
        "Tags": [{"Key": "k", "Value": "v"}],
    }
    result = {"Policies": [policy], "IsTruncated": False}
    assert round_trip("iam", "ListPolicies", result) == result


def test_iam_credential_report_blob_round_trips():
    result = {
        "Content": b"user,arn\n<root>,x\r\n",
        "ReportFormat": "text/csv",
        "GeneratedTime": MOMENT,
    }
    assert round_trip("iam", "GetCredentialReport", result) == result


def test_sts_results_round_trip():
    credentials = {
        "AccessKeyId": "ASIAEXAMPLE000000001",
        "SecretAccessKey": "secret/+=",
        "SessionToken": "FwoGZXIvYXdzEXAMPLE==",
        "Expiration": datetime.datetime(2026, 11, 30, 11, 0, 1, 359000, tzinfo=UTC),
    }
    assumed = {
        "Credentials": credentials,
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAEXAMPLE:rotation",
            "Arn": "arn:aws:sts::123456789012:assumed-role/rotation/rotation",
        },
        "PackedPolicySize": 6,
        "SourceIdentity": "alice",
    }
    assert round_trip("sts", "AssumeRole", assumed) == assumed
    identity = {
        "UserId": "AIDAEXAMPLE",
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:user/alice",
    }
    model = MODELS["sts"]
    response = query.encode_result(model, model.operation_model("GetCallerIdentity"), identity, "r")
    assert response.body.startswith(
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<GetCallerIdentityResult><UserId>AIDAEXAMPLE</UserId>"
    )
    assert round_trip("sts", "GetCallerIdentity", identity) == identity


def test_sns_results_round_trip():
    topics = {"Topics": [{"TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms"}]}
    assert round_trip("sns", "ListTopics", topics) == topics
    attributes = {"Attributes": {"DisplayName": "Alarms", "Policy": '{"a": "<b>"}'}}
    assert round_trip("sns", "GetTopicAttributes", attributes) == attributes


def test_cloudwatch_describe_alarms_round_trips_nested_lists():
    alarm = {
        "AlarmName": "rotation-failures",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:rotation-failures",
        "AlarmConfigurationUpdatedTimestamp": MOMENT,
        "ActionsEnabled": True,
        "OKActions": [],
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:alarms"],
        "StateValue": "ALARM",
        "StateReason": "Threshold Crossed: 1 datapoint [2.0 (30/11/26 10:00:00)] was >= 0.5",
        "StateUpdatedTimestamp": MOMENT,
        "Dimensions": [],
        "EvaluationPeriods": 1,
        "Threshold": 0.5,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Metrics": [
            {
                "Id": "failures",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Strongroom",
                        "MetricName": "RotationFailed",
                        "Dimensions": [{"Name": "SecretId", "Value": "db"}],
                    },
                    "Period": 300,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
        ],
    }
    result = {"MetricAlarms": [alarm], "CompositeAlarms": []}
    assert round_trip("cloudwatch", "DescribeAlarms", result) == result


def test_an_operation_without_output_has_only_response_metadata():
    model = MODELS["iam"]
    response = query.encode_result(model, model.operation_model("DeleteUser"), None, "r")
    assert response.body == (
        b'<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
    )
    assert parsed("iam", "DeleteUser", response)["ResponseMetadata"]["RequestId"] == "r"


def test_text_xml_cannot_carry_is_replaced_not_sent():
    result = {"Topics": [{"TopicArn": "a\x00b\x1bc\ufffe"}]}
    assert round_trip("sns", "ListTopics", result) == {
        "Topics": [{"TopicArn": "a\ufffdb\ufffdc\ufffd"}]
    }


# Errors


class NoSuchEntityException(AwsError):
    pass


class ExpiredTokenException(AwsError):
    pass


class NotFoundException(AwsError):
    pass


class InternalServiceFault(AwsError):
    pass


@pytest.mark.parametrize(
    ("service", "error", "code", "status", "kind"),
    [
        (
            "iam",
            NoSuchEntityException("The user with name bob cannot be found."),
            "NoSuchEntity",
            404,
            "Sender",
        ),
        (
            "sts",
            ExpiredTokenException("The security token included in the request is expired"),
            "ExpiredTokenException",
            400,
            "Sender",
        ),
        ("sns", NotFoundException("Topic does not exist"), "NotFound", 404, "Sender"),
        ("cloudwatch", InternalServiceFault("boom"), "InternalServiceError", 500, "Receiver"),
        ("iam", InternalFailure("An internal error occurred."), "InternalFailure", 500, "Receiver"),
    ],
)
def test_modelled_errors_use_the_models_query_error_code(service, error, code, status, kind):
    response = query.encode_error(MODELS[service], error, "req-9")
    assert response.status == status
    assert response.error_code == code
    assert response.request_id == "req-9"
    back = parsed(service, None, response)
    assert back["Error"] == {"Type": kind, "Code": code, "Message": error.message}
    assert back["ResponseMetadata"] == {
        "RequestId": "req-9",
        "HTTPStatusCode": status,
        "HTTPHeaders": {"content-type": "text/xml", "x-amzn-requestid": "req-9"},
    }
    assert response.body.startswith(
        f'<ErrorResponse xmlns="{MODELS[service].metadata["xmlNamespace"]}">'.encode()
    )


def test_botocore_maps_the_wire_code_to_the_models_exception_class():
    exceptions = ClientExceptionsFactory().create_client_exceptions(MODELS["iam"])
    response = query.encode_error(MODELS["iam"], NoSuchEntityException("gone"), "r")
    assert exceptions.from_code(parsed("iam", None, response)["Error"]["Code"]) is (
        exceptions.NoSuchEntityException
    )


def test_an_unknown_action_is_invalid_action_in_the_aws_fault_namespace():
    error = UnknownOperationException("Operation ListUserz is not supported.", "ListUserz")
    response = query.encode_error(MODELS["iam"], error, "r")
    assert response.status == 400
    assert response.body.startswith(
        b'<ErrorResponse xmlns="http://webservices.amazon.com/AWSFault/2005-15-09">'
    )
    assert parsed("iam", None, response)["Error"] == {
        "Type": "Sender",
        "Code": "InvalidAction",
        "Message": "Could not find operation ListUserz for version 2010-05-08",
    }


@pytest.mark.parametrize(
    ("kind", "message", "code", "status"),
    [
        (
            FailureKind.MISSING_TOKEN,
            "Request is missing Authentication Token",
            "MissingAuthenticationToken",
            403,
        ),
        (
            FailureKind.INCOMPLETE,
            "Authorization header requires 'Signature' parameter.",
            "IncompleteSignature",
            400,
        ),
        (
            FailureKind.UNKNOWN_KEY,
            "The security token included in the request is invalid.",
            "InvalidClientTokenId",
            403,
        ),
        (
            FailureKind.BAD_SIGNATURE,
            "The request signature we calculated does not match",
            "SignatureDoesNotMatch",
            403,
        ),
    ],
)
def test_authentication_failures_use_the_query_services_codes(kind, message, code, status):
    error = query.auth_error(AuthFailure(kind, message))
    response = query.encode_error(MODELS["sts"], error, "r")
    back = parsed("sts", None, response)
    assert back["Error"] == {"Type": "Sender", "Code": code, "Message": message}
    assert back["ResponseMetadata"]["HTTPStatusCode"] == status


# Properties


publish_params = st.fixed_dictionaries(
    {
        "TopicArn": st.just("arn:aws:sns:us-east-1:123456789012:t"),
        "Message": texts,
        "Subject": texts,
        "MessageAttributes": st.dictionaries(
            texts,
            st.one_of(
                st.builds(lambda v: {"DataType": "String", "StringValue": v}, texts),
                st.builds(lambda v: {"DataType": "Binary", "BinaryValue": v}, st.binary()),
            ),
            max_size=4,
        ),
    }
)


@PROPERTY_SETTINGS
@given(publish_params, st.sampled_from(["POST", "GET"]))
def test_any_publish_request_decodes_to_its_parameters(params, method):
    if not params["MessageAttributes"]:
        del params["MessageAttributes"]  # botocore sends nothing for an empty map
    assert decoded("sns", "Publish", request_for("sns", "Publish", params, method)) == params


datum = st.fixed_dictionaries(
    {"MetricName": st.text("abcXYZ09", min_size=1, max_size=8), "Timestamp": moments},
    optional={
        "Value": st.floats(allow_nan=False),
        "Values": st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=3),
        "StorageResolution": st.integers(1, 60),
    },
)


@PROPERTY_SETTINGS
@given(st.lists(datum, min_size=1, max_size=3))
def test_any_put_metric_data_request_decodes_to_its_parameters(data):
    params = {"Namespace": "Strongroom", "MetricData": data}
    request = request_for("cloudwatch", "PutMetricData", params)
    assert decoded("cloudwatch", "PutMetricData", request) == params


user = st.fixed_dictionaries(
    {
        "Path": texts,
        "UserName": texts,
        "UserId": texts,
        "Arn": texts,
        "CreateDate": moments,
    },
    optional={
        "PasswordLastUsed": moments,
        "Tags": st.lists(st.fixed_dictionaries({"Key": texts, "Value": texts}), max_size=2),
    },
)


@PROPERTY_SETTINGS
@given(st.lists(user, max_size=3), st.booleans(), st.one_of(st.none(), texts))
def test_any_list_users_result_parses_back_with_botocore(users, truncated, marker):
    result = {"Users": users, "IsTruncated": truncated}
    if marker is not None:
        result["Marker"] = marker
    assert round_trip("iam", "ListUsers", result) == result


@PROPERTY_SETTINGS
@given(st.dictionaries(texts, texts, max_size=4))
def test_any_map_result_parses_back_with_botocore(attributes):
    result = {"Attributes": attributes}
    assert round_trip("sns", "GetTopicAttributes", result) == result


def test_base64_fields_and_the_codec_agree_on_padding():
    # A blob botocore writes with padding must come back byte-for-byte.
    raw = bytes(range(256))
    params = {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Message": "m",
        "MessageAttributes": {"b": {"DataType": "Binary", "BinaryValue": raw}},
    }
    request = request_for("sns", "Publish", params)
    assert base64.b64encode(raw).decode()[-2:] == "=="
    assert decoded("sns", "Publish", request) == params
