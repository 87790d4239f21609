"""Deny by default: a user with no policies at all (made by its account's administrator, with
an access key of its own) calls every operation of every service the server speaks, each with
a valid request naming the account's real resources, against a real server on both storage
backends. No call succeeds (but the two no policy can refuse), none is a 5xx, and every
refusal is the service's access-denied error, or for an operation the server does not
implement its UnsupportedOperationException; the exceptions are listed below, each with its
reason. Every call leaves its audit record, with its error and its caller."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.support.account_resources import Resources, populate, request
from tests.support.accounts import (
    SERVICES,
    Caller,
    Reply,
    client,
    implemented,
    model,
    new_account,
    recorded_codes,
    tls_server,
)
from tests.support.audit import close_period, records_of

ACCESS_DENIED = {
    "json": "AccessDeniedException",
    "query": "AccessDenied",
    "rest-xml": "AccessDenied",
    "rest-json": "AccessDeniedException",
    # CloudWatch (botocore speaks awsJson1.0 to it): x-amzn-query-error names it AccessDenied.
    "smithy-rpc-v2-cbor": "AccessDenied",
}
# Services whose denials have a code of their own.
SERVICE_ACCESS_DENIED = {"sns": "AuthorizationError"}
SUCCESS = ""
# Every operation Strongroom does not implement answers this to every caller it has
# authenticated, before reading the parameters or deciding anything: it does nothing.
NOT_IMPLEMENTED = "UnsupportedOperationException"

# Every operation that does not answer as above to a user without policies: the answer it
# gives instead, and why. Reviewed, not silent: a new entry needs its reason.
NOT_ACCESS_DENIED: dict[tuple[str, str], tuple[str, str]] = {
    # Implemented: what no policy can refuse.
    ("sts", "GetCallerIdentity"): (
        SUCCESS,
        "AWS requires no permission for it, and no policy (not even an explicit deny) stops "
        "a caller from learning who it is",
    ),
    ("sts", "GetSessionToken"): (
        SUCCESS,
        "AWS requires no permission for it: the session can do no more than the user, whose "
        "policies still decide every call made with it (AWS refuses it only to role sessions)",
    ),
    # Not implemented, and refused before the dispatcher sees which operation it is.
    ("sts", "AssumeRoleWithSAML"): (
        "MissingAuthenticationToken",
        "unsigned by design (botocore never signs it): refused at authentication",
    ),
    ("sts", "AssumeRoleWithWebIdentity"): (
        "MissingAuthenticationToken",
        "unsigned by design (botocore never signs it): refused at authentication",
    ),
    ("s3", "PutObject"): (
        "InvalidArgument",
        "botocore streams its body aws-chunked (flexible checksums), which S3 signature "
        "verification refuses: no operation served here takes a streamed body",
    ),
    ("s3", "UploadPart"): (
        "InvalidArgument",
        "botocore streams its body aws-chunked, as PutObject's",
    ),
    ("s3", "ListDirectoryBuckets"): (
        "UnknownOperationException",
        "an S3 Express call, signed for s3express: a service the server does not speak",
    ),
    ("s3", "WriteGetObjectResponse"): (
        "UnknownOperationException",
        "signed for s3-object-lambda: a service the server does not speak",
    ),
}
# Refused before the caller is known (unsigned, or for what signature checks refuse or a
# service the server does not speak): their records name no user.
UNAUTHENTICATED = {
    key
    for key, (answer, _) in NOT_ACCESS_DENIED.items()
    if answer in ("MissingAuthenticationToken", "InvalidArgument", "UnknownOperationException")
}


@dataclass(frozen=True)
class Setting:
    server: Any
    resources: Resources
    user_name: str
    key: dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def setting(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Setting]:
    with tls_server(request.param, tmp_path_factory.mktemp("deny"), request) as server:
        resources = populate(server, new_account(server))
        close_period(server)
        s3 = client(server, "s3", resources.account)
        listed = s3.list_objects(Bucket=resources.bucket, Prefix="AWSLogs/")["Contents"]
        resources.object_key = next(o["Key"] for o in listed if "/CloudTrail/" in o["Key"])
        iam = client(server, "iam", resources.account)
        name = f"{resources.mark}-nobody"
        iam.create_user(UserName=name)  # no policy, no group, no boundary
        key = iam.create_access_key(UserName=name)["AccessKey"]
        yield Setting(server, resources, name, key)


def expected_answer(service: str, operation: str) -> str:
    if (service, operation) in NOT_ACCESS_DENIED:
        return NOT_ACCESS_DENIED[(service, operation)][0]
    if not implemented(service, operation):
        return NOT_IMPLEMENTED
    if service in SERVICE_ACCESS_DENIED:
        return SERVICE_ACCESS_DENIED[service]
    return ACCESS_DENIED[model(service).metadata["protocol"]]


def calls_of_every_operation(caller: Caller, resources: Resources) -> dict[tuple[str, str], Reply]:
    """Every operation of every service, each with a valid request naming the resources."""
    replies = {}
    for service in SERVICES:
        service_model = model(service)
        for operation_name in service_model.operation_names:
            operation = service_model.operation_model(operation_name)
            params = request(resources, service, operation)
            replies[(service, operation_name)] = caller.call(service, operation_name, params)
    return replies


def test_a_user_without_policies_is_refused_every_operation(setting):
    credentials = (setting.key["AccessKeyId"], setting.key["SecretAccessKey"])
    with Caller(setting.server, credentials) as caller:
        replies = calls_of_every_operation(caller, setting.resources)
    assert len(replies) > 500
    records = records_of(setting.server, [reply.request_id for reply in replies.values()])
    assert {key for key, reply in replies.items() if reply.request_id not in records} == set()

    unexpected, misrecorded = {}, {}
    for (service, operation), reply in replies.items():
        record = records[reply.request_id]
        recorded = record.get("errorCode", "")
        # A HEAD request's error has no body to name it (boto3 shows the status), nor can
        # boto3 read a JSON error where it expects XML (services the server does not know):
        # their records name them.
        unnamed = not reply.error_code or reply.error_code.isdigit()
        code = recorded if reply.status >= 300 and unnamed else reply.error_code
        if reply.status >= 500 or code != expected_answer(service, operation):
            unexpected[(service, operation)] = (reply.status, code)
        # Every call's record carries its error, and who made it.
        caller_name = record["userIdentity"].get("userName")
        known = (service, operation) not in UNAUTHENTICATED
        if recorded not in (recorded_codes(service, code) if code else {""}) or (
            caller_name != (setting.user_name if known else None)
        ):
            misrecorded[(service, operation)] = (code, recorded, caller_name)
    assert unexpected == {}, "\n".join(f"{k}: {v}" for k, v in sorted(unexpected.items()))
    assert misrecorded == {}
