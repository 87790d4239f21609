"""The rest-xml codec against botocore itself: requests botocore serializes are routed and
decoded back to their parameters; responses the codec writes parse back with botocore's own
RestXMLParser."""

from __future__ import annotations

import datetime
import io
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import HeadersDict, prepare_request_dict
from botocore.parsers import RestXMLParser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.auth.sigv4 import HttpRequest
from strongroom.protocol import rest_xml
from strongroom.protocol.errors import ValidationException
from strongroom.protocol.registry import load_model
from strongroom.services.s3.errors import NoSuchKey

MODEL = load_model("s3")
BUCKET = "strongroom-cloudtrail-123456789012"
# Object keys: any text XML 1.0 can carry.
keys = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    min_size=1,
    max_size=40,
)


def request_for(operation: str, params: dict[str, Any]) -> HttpRequest:
    """The request botocore would send for the call."""
    serialized = create_serializer("rest-xml").serialize_to_request(
        params, MODEL.operation_model(operation)
    )
    prepare_request_dict(serialized, endpoint_url="https://localhost:8443")
    url = urlsplit(serialized["url"])
    headers = [(k.lower(), str(v)) for k, v in serialized["headers"].items()]
    return HttpRequest(serialized["method"], url.path, url.query, headers, b"")


def parsed(operation: str, status: int, headers: list[tuple[str, str]], body: Any) -> Any:
    shape = MODEL.operation_model(operation).output_shape
    # Header names are case-insensitive, as in botocore's HTTP responses.
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    return RestXMLParser().parse(response, shape)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", f"/{BUCKET}", "location", "GetBucketLocation"),
        ("GET", f"/{BUCKET}", "", "ListObjects"),
        ("GET", f"/{BUCKET}", "prefix=a&marker=b&max-keys=2", "ListObjects"),
        ("GET", f"/{BUCKET}", "list-type=2", "ListObjectsV2"),
        ("GET", f"/{BUCKET}/a/b/c.json.gz", "", "GetObject"),
        ("HEAD", f"/{BUCKET}/a", "", "HeadObject"),
        ("GET", f"/{BUCKET}/a", "acl", "GetObjectAcl"),
        ("GET", f"/{BUCKET}/a", "uploadId=1", "ListParts"),  # a required query member
        ("GET", "/", "", "ListBuckets"),
        ("GET", f"/{BUCKET}/", "", ""),
        ("PATCH", f"/{BUCKET}", "", ""),
    ],
)
def test_routing_picks_the_most_specific_template(method, path, query, expected):
    request = HttpRequest(method, path, query, [], b"")
    assert rest_xml.operation_name(MODEL, request) == expected


@settings(max_examples=100, deadline=None)
@given(keys, st.sampled_from(["GetObject", "HeadObject"]))
def test_object_requests_route_and_decode_to_their_parameters(key, operation):
    params = {"Bucket": BUCKET, "Key": key, "ChecksumMode": "ENABLED"}
    request = request_for(operation, params)
    assert rest_xml.operation_name(MODEL, request) == operation
    assert rest_xml.decode(MODEL.operation_model(operation), request) == params


@settings(max_examples=100, deadline=None)
@given(keys, keys, st.integers(0, 1000))
def test_list_objects_requests_decode_to_their_parameters(prefix, marker, max_keys):
    params = {"Bucket": BUCKET, "Prefix": prefix, "Marker": marker, "MaxKeys": max_keys}
    request = request_for("ListObjects", params)
    assert rest_xml.operation_name(MODEL, request) == "ListObjects"
    assert rest_xml.decode(MODEL.operation_model("ListObjects"), request) == params


def test_bad_values_are_validation_errors():
    operation = MODEL.operation_model("ListObjects")
    for query in ("max-keys=ten", "encoding-type=base64"):
        with pytest.raises(ValidationException):
            rest_xml.decode(operation, HttpRequest("GET", f"/{BUCKET}", query, [], b""))


@settings(max_examples=100, deadline=None)
@given(st.lists(keys, max_size=5, unique=True), st.booleans())
def test_list_results_parse_back_with_botocore(names, truncated):
    moment = datetime.datetime(2026, 11, 30, 10, 0, 1, 250000, tzinfo=datetime.UTC)
    contents = [{"Key": k, "LastModified": moment, "StorageClass": "STANDARD"} for k in names]
    result = {"Name": BUCKET, "IsTruncated": truncated, "MaxKeys": 1000, "Marker": ""}
    result["Contents"] = contents or None
    response = rest_xml.encode_result(
        MODEL, MODEL.operation_model("ListObjects"), result, "request-1"
    )
    back = parsed("ListObjects", response.status, response.headers, response.body)
    assert back.get("Contents", []) == contents
    assert (back["Name"], back["IsTruncated"], back["MaxKeys"]) == (BUCKET, truncated, 1000)
    assert back["ResponseMetadata"]["RequestId"] == "request-1"
    assert b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' in response.body


def test_a_blob_payload_is_the_body_and_headers_carry_the_rest():
    result = {
        "Body": b"\x1f\x8b gzip bytes",
        "ContentType": "application/json",
        "LastModified": 1796032800.0,
        "ETag": '"abc"',
        "Metadata": {"signature": "00ff", "signature-algorithm": "SHA256withRSA"},
    }
    response = rest_xml.encode_result(MODEL, MODEL.operation_model("GetObject"), result, "r")
    assert response.body == result["Body"]
    headers = dict(response.headers)
    assert headers["last-modified"] == "Mon, 30 Nov 2026 10:00:00 GMT"
    assert headers["x-amz-meta-signature"] == "00ff"
    # botocore hands streaming payloads over unread.
    stream = StreamingBody(io.BytesIO(response.body), len(response.body))
    back = parsed("GetObject", 200, response.headers, stream)
    assert back["Body"].read() == result["Body"]
    assert back["Metadata"] == result["Metadata"]
    assert back["ETag"] == '"abc"'


def test_get_bucket_location_is_a_one_value_document():
    operation = MODEL.operation_model("GetBucketLocation")
    for region, text in (("eu-west-1", b">eu-west-1</LocationConstraint>"), (None, b" />")):
        response = rest_xml.encode_result(MODEL, operation, {"LocationConstraint": region}, "r")
        assert response.body.endswith(text)


def test_errors_are_s3_error_documents():
    response = rest_xml.encode_error(MODEL, NoSuchKey("The specified key does not exist."), "r")
    assert response.status == 404
    error = RestXMLParser().parse(
        {"status_code": 404, "headers": dict(response.headers), "body": response.body}, None
    )
    assert error["Error"] == {"Code": "NoSuchKey", "Message": "The specified key does not exist."}
    assert error["ResponseMetadata"]["RequestId"] == "r"
