"""The audit trail's S3 bucket through a real server, with boto3 and the aws CLI, on SQLite and
PostgreSQL: GetBucketLocation, ListObjects (with its paginator), GetObject and HeadObject, and
S3's errors in S3's XML."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import urllib3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.server import REGION, Server

OTHER_ACCOUNT_BUCKET = "strongroom-cloudtrail-000000000000"
_http = urllib3.PoolManager(retries=False)


def close_period(server: Server) -> list[str]:
    """POST /_strongroom/audit/close as the administrator: the keys of the new digests."""
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/_strongroom/audit/close",
        data=b"{}",
        headers={"content-type": "application/json"},
    )
    SigV4Auth(Credentials(*server.credentials()), "strongroom", REGION).add_auth(request)
    reply = _http.request("POST", request.url, body=request.body, headers=dict(request.headers))
    assert reply.status == 200, reply.data
    return list(json.loads(reply.data)["digests"])


@pytest.fixture(scope="module")
def trail(dev_server: Server) -> dict[str, Any]:
    """Two closed audit periods, so the bucket holds at least two log files and digests."""
    started = datetime.datetime.now(datetime.UTC)
    dev_server.client("kms").list_keys()
    first = close_period(dev_server)
    dev_server.client("kms").list_keys()
    second = close_period(dev_server)
    (digest,) = [key for key in second if f"_{REGION}_" in key]
    account_id = digest.split("/")[1]
    return {
        "bucket": f"strongroom-cloudtrail-{account_id}",
        "account_id": account_id,
        # The CLI validates its own Region; other tests on this server may have used others.
        "digests": [key for key in [*first, *second] if f"/CloudTrail-Digest/{REGION}/" in key],
        "started": started,
    }


@pytest.fixture(scope="module")
def s3(dev_server: Server):
    return dev_server.client("s3")


def error_of(call: Any) -> tuple[str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


def all_keys(s3, bucket: str, **params: Any) -> list[str]:
    pages = s3.get_paginator("list_objects").paginate(Bucket=bucket, **params)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


# GetBucketLocation


def test_the_bucket_is_in_the_servers_region(dev_server, s3, trail):
    # us-east-1 answers an empty LocationConstraint, as AWS does.
    assert s3.get_bucket_location(Bucket=trail["bucket"])["LocationConstraint"] is None
    # A client may sign for any region; it reads the same bucket.
    other_region = dev_server.client("s3", region_name="eu-west-1")
    assert other_region.get_bucket_location(Bucket=trail["bucket"])["LocationConstraint"] is None


# ListObjects


def test_listing_shows_log_and_digest_files(s3, trail):
    listing = s3.list_objects(Bucket=trail["bucket"])
    keys = [item["Key"] for item in listing["Contents"]]
    assert keys == sorted(keys)
    assert set(trail["digests"]) <= set(keys)
    account = trail["account_id"]
    assert any(k.startswith(f"AWSLogs/{account}/CloudTrail/{REGION}/") for k in keys)
    assert all(k.startswith(f"AWSLogs/{account}/CloudTrail") for k in keys)
    item = listing["Contents"][0]
    assert isinstance(item["LastModified"], datetime.datetime)
    assert item["StorageClass"] == "STANDARD"
    assert listing["Name"] == trail["bucket"]
    assert listing["IsTruncated"] is False


def test_the_paginator_walks_the_bucket_with_max_keys(s3, trail):
    everything = all_keys(s3, trail["bucket"])
    pages = list(
        s3.get_paginator("list_objects").paginate(
            Bucket=trail["bucket"], PaginationConfig={"PageSize": 1}
        )
    )
    assert [len(page["Contents"]) for page in pages] == [1] * len(everything)
    assert [page["Contents"][0]["Key"] for page in pages] == everything
    assert [page["IsTruncated"] for page in pages] == [True] * (len(pages) - 1) + [False]


def test_marker_and_prefix(s3, trail):
    account = trail["account_id"]
    prefix = f"AWSLogs/{account}/CloudTrail-Digest/{REGION}"
    digests = all_keys(s3, trail["bucket"], Prefix=prefix)
    assert set(trail["digests"]) <= set(digests)
    assert all(key.startswith(prefix) for key in digests)
    after_first = s3.list_objects(Bucket=trail["bucket"], Prefix=prefix, Marker=digests[0])
    assert [item["Key"] for item in after_first["Contents"]] == digests[1:]
    assert after_first["Marker"] == digests[0]
    assert "Contents" not in s3.list_objects(Bucket=trail["bucket"], Prefix="nothing/")


def test_a_delimiter_folds_keys_into_common_prefixes(s3, trail):
    prefix = f"AWSLogs/{trail['account_id']}/"
    expected = [f"{prefix}CloudTrail-Digest/", f"{prefix}CloudTrail/"]
    listing = s3.list_objects(Bucket=trail["bucket"], Prefix=prefix, Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == expected
    assert "Contents" not in listing
    # One at a time: S3 names where to go on (NextMarker), which is a common prefix here.
    first = s3.list_objects(Bucket=trail["bucket"], Prefix=prefix, Delimiter="/", MaxKeys=1)
    assert first["IsTruncated"] is True
    assert first["NextMarker"] == expected[0]
    second = s3.list_objects(
        Bucket=trail["bucket"], Prefix=prefix, Delimiter="/", MaxKeys=1, Marker=expected[0]
    )
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == expected[1:]
    assert second["IsTruncated"] is False


# GetObject, HeadObject


def test_a_digest_carries_its_signature_and_lists_its_log_files(s3, trail):
    digest_key = trail["digests"][-1]
    reply = s3.get_object(Bucket=trail["bucket"], Key=digest_key)
    body = reply["Body"].read()
    assert reply["ContentLength"] == len(body)
    assert reply["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324 - S3's ETag
    assert reply["ContentType"] == "application/json"
    assert reply["Metadata"]["signature-algorithm"] == "SHA256withRSA"
    assert len(bytes.fromhex(reply["Metadata"]["signature"])) == 256  # RSA-2048
    digest = json.loads(gzip.decompress(body))
    assert digest["digestS3Bucket"] == trail["bucket"]
    assert digest["digestS3Object"] == digest_key
    assert digest["previousDigestS3Object"] is not None
    # Every log file it lists is in the bucket, with the hash it names.
    assert digest["logFiles"]
    for log_file in digest["logFiles"]:
        got = s3.get_object(Bucket=log_file["s3Bucket"], Key=log_file["s3Object"])
        text = gzip.decompress(got["Body"].read())
        assert hashlib.sha256(text).hexdigest() == log_file["hashValue"]
        assert "Records" in json.loads(text)
        assert got["Metadata"] == {}


def test_head_object_answers_what_get_object_would(s3, trail):
    key = trail["digests"][0]
    head = s3.head_object(Bucket=trail["bucket"], Key=key)
    got = s3.get_object(Bucket=trail["bucket"], Key=key)
    for name in ("ContentLength", "ETag", "LastModified", "Metadata", "ContentType"):
        assert head[name] == got[name], name
    assert head["ContentLength"] == len(got["Body"].read())


# Errors


def test_a_missing_key_is_no_such_key(s3, trail):
    code, status, response = error_of(
        lambda: s3.get_object(Bucket=trail["bucket"], Key="AWSLogs/missing.json.gz")
    )
    assert (code, status) == ("NoSuchKey", 404)
    assert response["Error"]["Message"] == "The specified key does not exist."
    assert response["ResponseMetadata"]["RequestId"]
    # HEAD answers have no body: botocore names the error by its status, as with AWS.
    code, status, _ = error_of(lambda: s3.head_object(Bucket=trail["bucket"], Key="missing"))
    assert (code, status) == ("404", 404)


def test_an_unknown_bucket_is_no_such_bucket(s3, trail):
    for call in (
        lambda: s3.list_objects(Bucket="no-such-bucket"),
        lambda: s3.get_object(Bucket="no-such-bucket", Key="x"),
        lambda: s3.get_bucket_location(Bucket="no-such-bucket"),
    ):
        code, status, response = error_of(call)
        assert (code, status) == ("NoSuchBucket", 404)
        assert response["Error"]["Message"] == "The specified bucket does not exist"


def test_another_accounts_audit_bucket_is_access_denied(s3, trail):
    # No second account can be made yet (no IAM/Organizations): the bucket of an account id
    # other than the caller's stands for it.
    assert trail["bucket"] != OTHER_ACCOUNT_BUCKET
    code, status, _ = error_of(lambda: s3.list_objects(Bucket=OTHER_ACCOUNT_BUCKET))
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = error_of(
        lambda: s3.get_object(Bucket=OTHER_ACCOUNT_BUCKET, Key=trail["digests"][0])
    )
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = error_of(
        lambda: s3.list_objects(Bucket=trail["bucket"], ExpectedBucketOwner="000000000000")
    )
    assert (code, status) == ("AccessDenied", 403)


def test_bad_arguments_are_invalid_argument(s3, trail):
    for call in (
        lambda: s3.list_objects(Bucket=trail["bucket"], MaxKeys=-1),
        lambda: s3.list_objects(Bucket=trail["bucket"], EncodingType="base64"),
    ):
        code, status, _ = error_of(call)
        assert (code, status) == ("InvalidArgument", 400)


def test_members_not_served_yet_are_refused_not_ignored(s3, trail):
    code, status, response = error_of(
        lambda: s3.get_object(Bucket=trail["bucket"], Key=trail["digests"][0], Range="bytes=0-1")
    )
    assert (code, status) == ("UnsupportedOperationException", 400)
    assert "Range" in response["Error"]["Message"]


def test_bad_credentials_get_s3s_errors(dev_server, trail):
    _, secret = dev_server.credentials()
    wrong_secret = dev_server.client("s3", aws_secret_access_key=secret + "x")
    code, status, _ = error_of(lambda: wrong_secret.list_objects(Bucket=trail["bucket"]))
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    unknown_key = dev_server.client("s3", aws_access_key_id="AKIAUNKNOWNKEY000000")
    code, status, _ = error_of(lambda: unknown_key.list_objects(Bucket=trail["bucket"]))
    assert (code, status) == ("InvalidAccessKeyId", 403)


def test_a_body_other_than_the_signed_one_is_refused(dev_server, trail):
    url = f"{dev_server.endpoint}/{trail['bucket']}?location"
    request = AWSRequest(method="GET", url=url, data=b"signed body")
    S3SigV4Auth(Credentials(*dev_server.credentials()), "s3", REGION).add_auth(request)
    headers = dict(request.headers)
    sent = _http.request("GET", url, body=b"signed body", headers=headers)
    assert sent.status == 200
    altered = _http.request("GET", url, body=b"other body!", headers=headers)
    assert altered.status == 400
    error = ET.fromstring(altered.data)  # noqa: S314 - the test server's own reply
    assert error.tag == "Error"
    assert error.findtext("Code") == "XAmzContentSHA256Mismatch"
    assert error.findtext("RequestId") == altered.headers["x-amz-request-id"]


# The aws CLI


def aws(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | server.env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        ["aws", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_aws_s3api_reads_the_bucket(dev_server, trail, tmp_path):
    listed = aws(dev_server, "s3api", "list-objects", "--bucket", trail["bucket"])
    assert listed.returncode == 0, listed.stderr
    assert set(trail["digests"]) <= {item["Key"] for item in json.loads(listed.stdout)["Contents"]}
    target = tmp_path / "digest.json.gz"
    got = aws(
        dev_server,
        "s3api",
        "get-object",
        "--bucket",
        trail["bucket"],
        "--key",
        trail["digests"][0],
        str(target),
    )
    assert got.returncode == 0, got.stderr
    reply = json.loads(got.stdout)
    assert reply["Metadata"]["signature-algorithm"] == "SHA256withRSA"
    assert json.loads(gzip.decompress(target.read_bytes()))["digestS3Object"] == trail["digests"][0]
    location = aws(dev_server, "s3api", "get-bucket-location", "--bucket", trail["bucket"])
    assert location.returncode == 0, location.stderr
    assert json.loads(location.stdout)["LocationConstraint"] is None


def test_aws_cloudtrail_validate_logs_checks_the_trail(dev_server, trail):
    start = trail["started"] - datetime.timedelta(minutes=1)
    arn = f"arn:aws:cloudtrail:{REGION}:{trail['account_id']}:trail/management-events"
    done = aws(
        dev_server,
        "cloudtrail",
        "validate-logs",
        "--trail-arn",
        arn,
        "--start-time",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--verbose",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for key in trail["digests"]:
        assert f"s3://{trail['bucket']}/{key}\tvalid" in done.stdout
    assert "INVALID" not in done.stdout + done.stderr
