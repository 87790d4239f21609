"""Audit records through real servers: every call of every operation the server speaks leaves
exactly one record (counted by request id straight from storage), in CloudTrail's record
format; no secret ever reaches a record; and the CloudTrail APIs (trails, event history) answer
as CloudTrail does."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.support.accounts import recorded_codes
from tests.support.audit import (
    audit_text,
    aws,
    close_request,
    query,
    raw_call,
    record_counts,
    record_of,
    records_of,
    request_id,
    reservation_ids,
)
from tests.support.server import DEV_ACCESS_KEY_ID, REGION, Server
from tests.support.storage import leaked

# Every service the server may speak; the ones a server must speak today.
CANDIDATE_SERVICES = [
    *("kms", "secretsmanager", "cloudtrail", "logs", "s3", "iam", "sts", "events", "sns"),
    "cloudwatch",
]
REQUIRED_SERVICES = {"kms", "secretsmanager", "cloudtrail", "iam", "sts"}
UNKNOWN_SERVICE = "The requested service or operation is not known."
OTHER_REGION = "eu-west-1"
USER_AGENT_MARK = "strongroom-audit-test/1.0"
EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NO_RETRIES = {"total_max_attempts": 1}
DEV_ACCOUNT = "123456789012"
# Operations whose requests are the same on the wire (CloudTrail names them the older way).
SAME_REQUEST = {
    "GetBucketLifecycleConfiguration": "GetBucketLifecycle",
    "PutBucketLifecycleConfiguration": "PutBucketLifecycle",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
}
NO_OUTPUT = {"TagResource", "CreateAlias", "DisableKey", "EnableKey"}
KMS_EVENTS = {
    *("CreateKey", "Encrypt", "Decrypt", "GenerateDataKey", "Sign", "Verify", "CreateAlias"),
    *("DescribeKey", "ListKeys", "DisableKey", "EnableKey"),
}


def unique(prefix: str) -> str:
    return f"audit-{prefix}-{uuid.uuid4().hex[:10]}"


def raw_client(server: Server, service: str, **options: Any):
    """A client that sends what boto3's parameter validation would refuse, no host prefixes
    (they would need DNS), path-style S3, and no retries (one call, one request)."""
    config = Config(
        parameter_validation=False,
        retries=NO_RETRIES,
        inject_host_prefix=False,
        s3={"addressing_style": "path"},
        user_agent_extra=USER_AGENT_MARK,
    )
    return server.client(service, config=config, **options)


def client(server: Server, service: str, **options: Any):
    config = Config(retries=NO_RETRIES, user_agent_extra=USER_AGENT_MARK)
    return server.client(service, config=config, **options)


def outcome(call: Callable[[], dict[str, Any]]) -> tuple[str, str]:
    """(request id, error code or "") of one call, successful or not."""
    try:
        return request_id(call()), ""
    except ClientError as error:
        return request_id(error.response), error.response["Error"]["Code"]


def registered_services(server: Server) -> list[str]:
    """The services the server speaks, found by asking it: a service it does not know answers
    UnknownOperationException whatever the operation."""
    found = []
    for service in CANDIDATE_SERVICES:
        model = botocore.session.get_session().get_service_model(service)
        prefix = model.metadata.get("targetPrefix")
        if prefix is not None:
            reply = raw_call(
                server, f"{prefix}.{model.operation_names[0]}", signing_name=model.signing_name
            )
        else:
            reply = raw_call(server, None, b"", signing_name=model.signing_name)
        unknown = reply.error_code == "UnknownOperationException" and UNKNOWN_SERVICE.encode() in (
            reply.body
        )
        assert reply.request_id, reply
        if not unknown:
            found.append(service)
    return found


def placeholder_params(operation: botocore.model.OperationModel) -> dict[str, Any]:
    """Values for the members a REST request is told apart by (its URI, query string, headers
    and host labels); the body is left out, so the call is malformed or names nothing."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    for name in shape.required_members:
        member = shape.members[name]
        located = member.serialization.get("location") in ("uri", "querystring", "header")
        if located or member.serialization.get("hostLabel"):
            params[name] = 1 if member.type_name == "integer" else "audit-placeholder"
    return params


# Exactly one record per call


def test_every_operation_of_every_service_leaves_exactly_one_record(dev_server):
    services = registered_services(dev_server)
    assert set(services) >= REQUIRED_SERVICES, services
    calls: dict[tuple[str, str, str], str] = {}
    answered: dict[tuple[str, str, str], str] = {}
    for service in services:
        boto = raw_client(dev_server, service)
        model = boto.meta.service_model
        for operation_name in model.operation_names:
            operation = model.operation_model(operation_name)
            method = getattr(boto, botocore.xform_name(operation_name))
            params = placeholder_params(operation)
            key = (service, operation_name, "empty")
            calls[key], answered[key] = outcome(lambda m=method, p=params: m(**p))
            prefix = model.metadata.get("targetPrefix")
            if prefix is not None:  # JSON protocols: a body that is not JSON at all
                reply = raw_call(
                    dev_server,
                    f"{prefix}.{operation_name}",
                    b'{"unterminated',
                    signing_name=model.signing_name,
                    content_type=f"application/x-amz-json-{model.metadata['jsonVersion']}",
                )
                key = (service, operation_name, "not json")
                calls[key], answered[key] = reply.request_id, reply.error_code
                assert reply.status == 400, (key, reply)
    assert len(set(calls.values())) == len(calls)  # every call got its own request id

    counts = record_counts(dev_server, calls.values())
    assert {key: counts[rid] for key, rid in calls.items() if counts[rid] != 1} == {}
    # Each record replaced its reservation.
    assert reservation_ids(dev_server) & set(calls.values()) == set()
    # Records name the operation called and its service, whatever the outcome.
    records = records_of(dev_server, calls.values())
    session = botocore.session.get_session()
    misnamed = {}
    for (service, operation_name, form), rid in calls.items():
        record = records[rid]
        if record.get("errorCode") == "UnknownOperationException":
            # Signed for a service the server does not speak (s3express, s3-object-lambda).
            assert record["eventSource"] == "strongroom.amazonaws.com"
            continue
        source = f"{session.get_service_model(service).endpoint_prefix}.amazonaws.com"
        names = {operation_name, SAME_REQUEST.get(operation_name)}
        if record["eventSource"] != source or record["eventName"] not in names:
            misnamed[(service, operation_name, form)] = (record["eventSource"], record["eventName"])
        assert record["requestID"] == rid
        code = answered[(service, operation_name, form)]
        if code.isdigit():  # a HEAD request's error has no body: botocore shows the status
            assert record["errorCode"]
        else:
            assert record.get("errorCode", "") in recorded_codes(service, code)
    assert misnamed == {}


def check_format(
    record: dict[str, Any],
    rid: str,
    *,
    event_name: str,
    source: str,
    read_only: bool,
    region: str = REGION,
    window: tuple[float, float] | None = None,
) -> None:
    """The fields every CloudTrail management event has, for an authenticated call."""
    assert re.fullmatch(r"1\.\d\d", record["eventVersion"])
    identity = record["userIdentity"]
    assert identity["type"] == "IAMUser"
    assert re.fullmatch(r"AIDA[A-Z0-9]{12,}", identity["principalId"])
    assert re.fullmatch(r"\d{12}", identity["accountId"])
    assert identity["arn"] == f"arn:aws:iam::{identity['accountId']}:user/{identity['userName']}"
    assert identity["accessKeyId"] == DEV_ACCESS_KEY_ID
    assert EVENT_TIME.fullmatch(record["eventTime"])
    if window is not None:
        moment = datetime.datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        seconds = moment.replace(tzinfo=datetime.UTC).timestamp()
        assert window[0] - 1 <= seconds <= window[1] + 1
    assert record["eventSource"] == source
    assert record["eventName"] == event_name
    assert record["awsRegion"] == region
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert USER_AGENT_MARK in record["userAgent"]
    assert record["requestID"] == rid
    assert UUID.fullmatch(record["eventID"])
    assert record["readOnly"] is read_only
    if read_only:
        assert record["responseElements"] is None
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == identity["accountId"]
    assert record["eventCategory"] == "Management"
    assert "tlsDetails" not in record  # a --dev server speaks plain HTTP
    assert "sessionContext" not in identity  # long-term access keys: no session


def test_successful_calls_leave_cloudtrail_records(dev_server):
    sm, kms = client(dev_server, "secretsmanager"), client(dev_server, "kms")
    name = unique("format")
    started = time.time()
    done: list[tuple[str, dict[str, Any]]] = []

    def track(event_name: str, reply: dict[str, Any]) -> dict[str, Any]:
        done.append((event_name, reply))
        return reply

    created = track(
        "CreateSecret",
        sm.create_secret(Name=name, SecretString="format-value", Description="audit format"),
    )
    arn = created["ARN"]
    track("GetSecretValue", sm.get_secret_value(SecretId=name))
    track("PutSecretValue", sm.put_secret_value(SecretId=arn, SecretString="format-value-2"))
    track("DescribeSecret", sm.describe_secret(SecretId=name))
    track("UpdateSecret", sm.update_secret(SecretId=name, Description="changed"))
    track("TagResource", sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]))
    track("ListSecretVersionIds", sm.list_secret_version_ids(SecretId=name))
    track("DeleteSecret", sm.delete_secret(SecretId=name, RecoveryWindowInDays=7))
    track("RestoreSecret", sm.restore_secret(SecretId=name))
    key = track("CreateKey", kms.create_key(Description="audit format"))["KeyMetadata"]
    signer = track("CreateKey", kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"))
    signer_arn = signer["KeyMetadata"]["Arn"]
    blob = track(
        "Encrypt",
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"format", EncryptionContext={"case": "42"}),
    )["CiphertextBlob"]
    track("Decrypt", kms.decrypt(CiphertextBlob=blob, EncryptionContext={"case": "42"}))
    track("GenerateDataKey", kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256"))
    signature = track(
        "Sign", kms.sign(KeyId=signer_arn, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    )["Signature"]
    track(
        "Verify",
        kms.verify(
            KeyId=signer_arn, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
        ),
    )
    alias = f"alias/{unique('alias')}"
    track("CreateAlias", kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"]))
    track("DescribeKey", kms.describe_key(KeyId=alias))
    track("ListKeys", kms.list_keys(Limit=5))
    track("DisableKey", kms.disable_key(KeyId=key["KeyId"]))
    track("EnableKey", kms.enable_key(KeyId=key["KeyId"]))
    finished = time.time()

    ids = [request_id(reply) for _, reply in done]
    assert set(record_counts(dev_server, ids).values()) == {1}
    records = {rid: record_of(dev_server, rid) for rid in ids}
    for (event_name, _), rid in zip(done, ids, strict=True):
        service = "kms" if event_name in KMS_EVENTS else "secretsmanager"
        read_only = event_name.startswith(("Get", "Describe", "List")) or event_name in {
            "Encrypt",
            "Decrypt",
            "GenerateDataKey",
            "Sign",
            "Verify",
        }
        check_format(
            records[rid],
            rid,
            event_name=event_name,
            source=f"{service}.amazonaws.com",
            read_only=read_only,
            window=(started, finished),
        )
        if not read_only and event_name not in NO_OUTPUT:
            assert records[rid]["responseElements"] is not None, event_name

    by_name: dict[str, dict[str, Any]] = {}  # the first call of each name
    for event_name, reply in done:
        by_name.setdefault(event_name, records[request_id(reply)])
    secret_resource = [{"accountId": "123456789012", "type": "AWS::SecretsManager::Secret"}]
    for event_name in ("CreateSecret", "GetSecretValue", "PutSecretValue", "DeleteSecret"):
        resources = by_name[event_name]["resources"]
        assert [{k: r[k] for k in ("accountId", "type")} for r in resources] == secret_resource
        assert resources[0]["ARN"] == arn
    # Parameters in lowerCamelCase, sensitive members left out.
    assert by_name["CreateSecret"]["requestParameters"] == {
        "name": name,
        "description": "audit format",
        "clientRequestToken": created["VersionId"],
    }
    assert by_name["CreateSecret"]["responseElements"] == {
        "arn": arn,  # "aRN" before February 2024, as AWS's Secrets Manager guide notes
        "name": name,
        "versionId": created["VersionId"],
    }
    assert by_name["PutSecretValue"]["requestParameters"]["secretId"] == arn
    assert "secretString" not in by_name["PutSecretValue"]["requestParameters"]
    assert by_name["GetSecretValue"]["requestParameters"] == {"secretId": name}
    assert by_name["DeleteSecret"]["requestParameters"] == {
        "secretId": name,
        "recoveryWindowInDays": 7,
    }
    encrypt = by_name["Encrypt"]
    assert encrypt["requestParameters"] == {
        "keyId": key["KeyId"],
        "encryptionContext": {"case": "42"},
    }
    assert encrypt["resources"] == [
        {"accountId": key["AWSAccountId"], "type": "AWS::KMS::Key", "ARN": key["Arn"]}
    ]
    assert by_name["Sign"]["resources"][0]["ARN"] == signer_arn
    assert by_name["Sign"]["requestParameters"] == {
        "keyId": signer_arn,
        "signingAlgorithm": "ECDSA_SHA_256",
    }
    created_key = by_name["CreateKey"]
    assert created_key["responseElements"]["keyMetadata"]["keyId"] == key["KeyId"]
    assert created_key["responseElements"]["keyMetadata"]["aWSAccountId"] == key["AWSAccountId"]
    assert by_name["DisableKey"]["resources"][0]["ARN"] == key["Arn"]


def test_lookup_by_resource_name_finds_every_secret_a_batch_read(dev_server):
    sm, cloudtrail = client(dev_server, "secretsmanager"), client(dev_server, "cloudtrail")
    first, second = unique("batch-a"), unique("batch-b")
    arns = [sm.create_secret(Name=n, SecretString="x")["ARN"] for n in (first, second)]
    read = sm.batch_get_secret_value(SecretIdList=[first, second])
    assert [r["ARN"] for r in record_of(dev_server, request_id(read))["resources"]] == arns
    for arn in arns:
        events = cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
        )["Events"]
        assert "BatchGetSecretValue" in [e["EventName"] for e in events], arn


def test_decrypt_and_reencrypt_name_the_keys_they_used(dev_server):
    kms = client(dev_server, "kms")
    source = kms.create_key(Description="audit source")["KeyMetadata"]
    destination = kms.create_key(Description="audit destination")["KeyMetadata"]
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    decrypted = record_of(dev_server, request_id(kms.decrypt(CiphertextBlob=blob)))
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    reencrypted = record_of(dev_server, request_id(moved))
    assert [r["ARN"] for r in decrypted.get("resources", [])] == [source["Arn"]]
    assert {r["ARN"] for r in reencrypted.get("resources", [])} == {
        source["Arn"],
        destination["Arn"],
    }


def test_failed_and_refused_calls_carry_their_error(dev_server):
    sm, kms = client(dev_server, "secretsmanager"), client(dev_server, "kms")
    raw_sm = raw_client(dev_server, "secretsmanager")
    missing = unique("missing")
    sm.create_secret(Name=unique("managed-key"), SecretString="x")  # makes aws/secretsmanager
    managed = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    cases = {
        "not found": (
            lambda: sm.get_secret_value(SecretId=missing),
            "GetSecretValue",
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        ),
        "kms not found": (
            lambda: kms.encrypt(KeyId=f"alias/{missing}", Plaintext=b"x"),
            "Encrypt",
            "NotFoundException",
            None,
        ),
        "denied": (
            lambda: kms.disable_key(KeyId=managed["KeyId"]),
            "DisableKey",
            "AccessDeniedException",
            None,
        ),
        "malformed": (
            lambda: raw_sm.create_secret(Name=""),
            "CreateSecret",
            "ValidationException",
            None,
        ),
    }
    for label, (call, event_name, code, message) in cases.items():
        with pytest.raises(ClientError) as failure:
            call()
        response = failure.value.response
        assert response["Error"]["Code"] == code, label
        record = record_of(dev_server, request_id(response))
        assert record["eventName"] == event_name, label
        assert record["errorCode"] == code, label
        assert record["errorMessage"] == response["Error"]["Message"], label
        if message is not None:
            assert record["errorMessage"] == message
        assert record["responseElements"] is None, label
        assert record["userIdentity"]["type"] == "IAMUser", label


def test_unauthenticated_unknown_and_oversized_calls_are_recorded(dev_server):
    access_key_id, secret = dev_server.credentials()
    cases = {
        "InvalidSignatureException": dict(credentials=(access_key_id, secret + "x")),
        "UnrecognizedClientException": dict(credentials=("AKIAUNKNOWNAUDIT0001", secret)),
        "MissingAuthenticationTokenException": dict(sign=False),
    }
    for code, options in cases.items():
        for service, target in (
            ("secretsmanager", "secretsmanager.ListSecrets"),
            ("kms", "TrentService.ListKeys"),
        ):
            reply = raw_call(dev_server, target, signing_name=service, **options)
            assert (reply.status, reply.error_code) == (400, code)
            record = record_of(dev_server, reply.request_id)
            assert record["errorCode"] == code
            assert record["eventSource"] == f"{service}.amazonaws.com"
            assert record["eventName"] == target.split(".")[1]
            assert record["userIdentity"]["type"] == "Unknown"
            assert "userName" not in record["userIdentity"]
            if options.get("credentials"):  # the key the request claimed, for the auditor
                assert record["userIdentity"]["accessKeyId"] == options["credentials"][0]
            assert record["requestParameters"] is None

    # A request for a service the server does not know, and an operation it does not know.
    for target, source, event_name in (
        ("AuditNoSuchService_20240101.DoThing", "strongroom.amazonaws.com", "DoThing"),
        ("TrentService.NoSuchOperation", "kms.amazonaws.com", "NoSuchOperation"),
    ):
        reply = raw_call(dev_server, target)
        assert (reply.status, reply.error_code) == (400, "UnknownOperationException")
        record = record_of(dev_server, reply.request_id)
        assert (record["eventSource"], record["eventName"]) == (source, event_name)
        assert record["errorCode"] == "UnknownOperationException"

    # A body over the limit is refused unread, and still recorded.
    kms = client(dev_server, "kms")
    with pytest.raises(ClientError) as refused:
        kms.encrypt(KeyId="alias/any", Plaintext=b"\0" * (16 * 1024 * 1024 + 1))
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    record = record_of(dev_server, request_id(response))
    assert (record["eventName"], record["errorCode"]) == (
        "Encrypt",
        "RequestEntityTooLargeException",
    )


def test_records_of_calls_over_tls_carry_tls_details(make_server):
    server = make_server("sqlite")
    kms = server.client("kms")
    reply = kms.list_keys()
    record = record_of(server, request_id(reply))
    details = record["tlsDetails"]
    assert details["tlsVersion"] in ("TLSv1.2", "TLSv1.3")
    assert re.fullmatch(r"(TLS_|ECDHE-)[A-Z0-9_-]+", details["cipherSuite"])
    assert details["clientProvidedHostHeader"] == f"localhost:{server.port}"
    assert record["userIdentity"]["accessKeyId"] == server.credentials()[0]
    # Even a call refused before authentication came over TLS.
    with pytest.raises(ClientError) as refused:
        server.client("kms", aws_secret_access_key="wrong").list_keys()
    assert "tlsDetails" in record_of(server, request_id(refused.value.response))


def test_records_of_plain_http_calls_have_no_tls_details(dev_server):
    record = record_of(dev_server, request_id(client(dev_server, "kms").list_keys()))
    assert "tlsDetails" not in record


# No secret reaches a record


def wrap_for_import(material: bytes, public_key_der: bytes) -> bytes:
    public_key = serialization.load_der_public_key(public_key_der)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return public_key.encrypt(material, oaep)  # type: ignore[union-attr]


def test_no_secret_reaches_a_record(dev_server):
    sm, kms = client(dev_server, "secretsmanager"), client(dev_server, "kms")
    marker = "AUDIT-SECRET-" + uuid.uuid4().hex
    secrets: dict[str, bytes] = {
        "secret string": f"{marker}-string".encode(),
        "secret binary": b"\x01AUDIT" + os.urandom(24),
        "put string": f"{marker}-put".encode(),
        "update string": f"{marker}-update".encode(),
        "kms plaintext": f"{marker}-plaintext".encode(),
        "mac message": f"{marker}-mac".encode(),
        "refused plaintext": f"{marker}-refused".encode(),
        "key material": os.urandom(32),
    }
    name = unique("secret")
    sm.create_secret(Name=name, SecretString=secrets["secret string"].decode())
    binary_name = unique("binary")
    sm.create_secret(Name=binary_name, SecretBinary=secrets["secret binary"])
    sm.put_secret_value(SecretId=name, SecretString=secrets["put string"].decode())
    sm.update_secret(SecretId=name, SecretString=secrets["update string"].decode())
    assert sm.get_secret_value(SecretId=name)["SecretString"] == secrets["update string"].decode()
    assert sm.get_secret_value(SecretId=binary_name)["SecretBinary"] == secrets["secret binary"]
    batch = sm.batch_get_secret_value(SecretIdList=[name, binary_name])
    assert len(batch["SecretValues"]) == 2
    secrets["random password"] = sm.get_random_password(PasswordLength=40)[
        "RandomPassword"
    ].encode()
    with pytest.raises(ClientError):  # refused, with the secret in the request
        sm.put_secret_value(SecretId=name, SecretString=marker + "x" * 70000)

    key = kms.create_key(Description="audit secrets")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=secrets["kms plaintext"])["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == secrets["kms plaintext"]
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    secrets["data key"] = data_key["Plaintext"]
    secrets["data key (decrypted)"] = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])[
        "Plaintext"
    ]
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    secrets["data key pair private key"] = pair["PrivateKeyPlaintext"]
    secrets["data key pair private key (decrypted)"] = kms.decrypt(
        CiphertextBlob=pair["PrivateKeyCiphertextBlob"]
    )["Plaintext"]
    secrets["random"] = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal="arn:aws:iam::123456789012:user/audit-grantee",
        Operations=["Decrypt", "RetireGrant"],
    )
    secrets["grant token"] = grant["GrantToken"].encode()
    kms.decrypt(CiphertextBlob=blob, GrantTokens=[grant["GrantToken"]])
    kms.retire_grant(GrantToken=grant["GrantToken"])
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = kms.generate_mac(
        KeyId=mac_key["KeyId"], Message=secrets["mac message"], MacAlgorithm="HMAC_SHA_256"
    )["Mac"]
    kms.verify_mac(
        KeyId=mac_key["KeyId"],
        Message=secrets["mac message"],
        Mac=mac,
        MacAlgorithm="HMAC_SHA_256",
    )
    with pytest.raises(ClientError):  # a plaintext over the limit, refused
        kms.encrypt(KeyId=key["KeyId"], Plaintext=secrets["refused plaintext"] * 200)

    external = kms.create_key(Origin="EXTERNAL", Description="audit import")["KeyMetadata"]
    parameters = kms.get_parameters_for_import(
        KeyId=external["KeyId"],
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    )
    secrets["import token"] = parameters["ImportToken"]
    kms.import_key_material(
        KeyId=external["KeyId"],
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_for_import(secrets["key material"], parameters["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    imported_blob = kms.encrypt(KeyId=external["KeyId"], Plaintext=secrets["kms plaintext"])[
        "CiphertextBlob"
    ]
    kms.decrypt(CiphertextBlob=imported_blob)

    stored = audit_text(dev_server)
    assert marker.encode() not in stored
    assert leaked(secrets, stored) == []
    # The calls themselves were recorded (the search looked where the records are).
    assert name.encode() in stored and external["KeyId"].encode() in stored


def test_log_event_messages_do_not_reach_records(dev_server):
    """What applications log (PutLogEvents, TestMetricFilter) may hold patient data: logs
    storage keeps it as barrier ciphertext, and records leave it out."""
    if "logs" not in registered_services(dev_server):
        pytest.skip("CloudWatch Logs is not served yet")
    logs = client(dev_server, "logs")
    group, marker = unique("group"), "AUDIT-LOG-MESSAGE-" + uuid.uuid4().hex
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": marker}],
    )
    tested = logs.test_metric_filter(filterPattern="AUDIT", logEventMessages=[marker + "-test"])
    assert record_counts(dev_server, [request_id(put), request_id(tested)]) == {
        request_id(put): 1,
        request_id(tested): 1,
    }
    assert marker.encode() not in audit_text(dev_server)


# CloudTrail: the trail


def test_the_trail_is_described(dev_server):
    cloudtrail = client(dev_server, "cloudtrail")
    trails = cloudtrail.describe_trails()["trailList"]
    assert len(trails) == 1
    trail = trails[0]
    account = DEV_ACCOUNT
    arn = f"arn:aws:cloudtrail:{REGION}:{account}:trail/management-events"
    assert trail["Name"] == "management-events"
    assert trail["TrailARN"] == arn
    assert trail["HomeRegion"] == REGION
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["S3BucketName"] == f"strongroom-cloudtrail-{account}"
    assert trail["CloudWatchLogsLogGroupArn"].startswith(f"arn:aws:logs:{REGION}:{account}:")

    assert cloudtrail.describe_trails(trailNameList=["management-events"])["trailList"] == [trail]
    assert cloudtrail.describe_trails(trailNameList=[arn])["trailList"] == [trail]
    assert cloudtrail.describe_trails(trailNameList=["no-such-trail"])["trailList"] == []
    assert cloudtrail.get_trail(Name="management-events")["Trail"] == trail
    assert cloudtrail.get_trail(Name=arn)["Trail"] == trail
    for name in ("no-such-trail", arn.replace("management-events", "no-such-trail")):
        with pytest.raises(ClientError) as missing:
            cloudtrail.get_trail(Name=name)
        assert missing.value.response["Error"]["Code"] == "TrailNotFoundException"
        with pytest.raises(ClientError) as missing:
            cloudtrail.get_trail_status(Name=name)
        assert missing.value.response["Error"]["Code"] == "TrailNotFoundException"
    listed = cloudtrail.list_trails()["Trails"]
    assert listed == [{"TrailARN": arn, "Name": "management-events", "HomeRegion": REGION}]
    # In another Region the trail is a shadow of the multi-Region trail.
    elsewhere = client(dev_server, "cloudtrail", region_name=OTHER_REGION)
    assert elsewhere.describe_trails()["trailList"] == [trail]
    assert elsewhere.describe_trails(includeShadowTrails=False)["trailList"] == []

    status = cloudtrail.get_trail_status(Name="management-events")
    assert status["IsLogging"] is True
    assert status["StartLoggingTime"].timestamp() <= time.time() + 1
    assert EVENT_TIME.fullmatch(status["TimeLoggingStarted"])
    assert "LatestDeliveryError" not in status

    described = aws(dev_server, "cloudtrail", "describe-trails")
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["trailList"][0]["TrailARN"] == arn
    got = aws(dev_server, "cloudtrail", "get-trail-status", "--name", arn)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["IsLogging"] is True
    missing = aws(dev_server, "cloudtrail", "get-trail", "--name", "no-such-trail")
    assert missing.returncode != 0
    assert "TrailNotFoundException" in missing.stderr


# CloudTrail: event history


def next_second() -> float:
    """Sleep to just past the next whole second, and return that second: LookupEvents times
    travel as whole seconds, so a window between two such marks holds only this test's calls."""
    boundary = float(int(time.time()) + 1)
    time.sleep(boundary - time.time() + 0.02)
    return boundary


@pytest.fixture(scope="module")
def history(dev_server) -> dict[str, Any]:
    """A known series of calls in a window of time no other call falls in."""
    sm, kms = client(dev_server, "secretsmanager"), client(dev_server, "kms")
    west_kms = client(dev_server, "kms", region_name=OTHER_REGION)
    west_sm = client(dev_server, "secretsmanager", region_name=OTHER_REGION)
    name = unique("history")
    calls: list[tuple[str, dict[str, Any]]] = []  # (region, reply or error response)

    def note(call: Callable[[], dict[str, Any]], region: str = REGION) -> dict[str, Any]:
        try:
            reply = call()
        except ClientError as error:
            reply = error.response
        calls.append((region, reply))
        return reply

    start = next_second()
    arn = note(lambda: sm.create_secret(Name=name, SecretString="history"))["ARN"]
    for _ in range(3):
        note(lambda: sm.describe_secret(SecretId=name))
    note(lambda: sm.get_secret_value(SecretId=name))
    key = note(lambda: kms.create_key(Description="history"))["KeyMetadata"]
    note(lambda: west_kms.create_key(Description="history west"), OTHER_REGION)
    middle = next_second()
    note(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"history"))
    note(lambda: sm.put_secret_value(SecretId=name, SecretString="history 2"))
    note(lambda: sm.describe_secret(SecretId=unique("history-missing")))
    note(lambda: west_sm.list_secrets(MaxResults=1), OTHER_REGION)
    for _ in range(4):
        note(lambda: sm.describe_secret(SecretId=arn))
    end = next_second()
    events = {}
    for region, reply in calls:
        rid = request_id(reply)
        events[rid] = {**record_of(dev_server, rid), "region": region}
    return {
        "start": start,
        "middle": middle,
        "end": end,
        "name": name,
        "arn": arn,
        "key": key,
        "ids": [request_id(reply) for region, reply in calls if region == REGION],
        "west_ids": [request_id(reply) for region, reply in calls if region == OTHER_REGION],
        "records": events,
    }


def moment(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def lookup(cloudtrail, **params: Any) -> list[dict[str, Any]]:
    """Every page of a LookupEvents query, in order."""
    events: list[dict[str, Any]] = []
    while True:
        page = cloudtrail.lookup_events(**params)
        events += page["Events"]
        if "NextToken" not in page:
            return events
        params["NextToken"] = page["NextToken"]


def request_ids(events: list[dict[str, Any]]) -> list[str]:
    """The request ids of the API calls among `events` (what the server does by itself, such
    as a deletion whose window ended, is an AwsServiceEvent of no test's making)."""
    records = [json.loads(event["CloudTrailEvent"]) for event in events]
    return [r["requestID"] for r in records if r["eventType"] == "AwsApiCall"]


def newest_first(history: dict[str, Any], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [rid for rid in reversed(history["ids"]) if keep(history["records"][rid])]


def test_lookup_events_by_each_attribute(dev_server, history):
    cloudtrail = client(dev_server, "cloudtrail")
    window = {"StartTime": moment(history["start"]), "EndTime": moment(history["end"])}
    everything = newest_first(history, lambda r: True)
    assert request_ids(lookup(cloudtrail, **window)) == everything

    def by(key: str, value: str) -> list[str]:
        attribute = [{"AttributeKey": key, "AttributeValue": value}]
        return request_ids(lookup(cloudtrail, LookupAttributes=attribute, **window))

    describe = newest_first(history, lambda r: r["eventName"] == "DescribeSecret")
    assert len(describe) == 8
    assert by("EventName", "DescribeSecret") == describe
    some = history["records"][describe[3]]
    assert by("EventId", some["eventID"]) == [describe[3]]
    assert by("EventId", str(uuid.uuid4())) == []
    assert by("ReadOnly", "true") == newest_first(history, lambda r: r["readOnly"])
    assert by("ReadOnly", "false") == newest_first(history, lambda r: not r["readOnly"])
    assert by("Username", "admin") == everything
    assert by("Username", "nobody-" + uuid.uuid4().hex) == []
    assert by("AccessKeyId", DEV_ACCESS_KEY_ID) == everything
    assert by("AccessKeyId", "AKIANOBODY0000000000") == []
    naming_secret = newest_first(
        history, lambda r: any(x["ARN"] == history["arn"] for x in r.get("resources", []))
    )
    assert len(naming_secret) == 1 + 3 + 1 + 1 + 4  # the missing secret's call names none
    assert by("ResourceName", history["arn"]) == naming_secret
    assert by("ResourceName", history["key"]["Arn"]) == newest_first(
        history, lambda r: r["eventSource"] == "kms.amazonaws.com"
    )
    assert by("ResourceType", "AWS::KMS::Key") == by("EventSource", "kms.amazonaws.com")
    assert len(by("EventSource", "kms.amazonaws.com")) == 2
    assert by("ResourceType", "AWS::SecretsManager::Secret") == naming_secret
    assert by("EventSource", "secretsmanager.amazonaws.com") == newest_first(
        history, lambda r: r["eventSource"] == "secretsmanager.amazonaws.com"
    )

    # Each event as CloudTrail's event history shows it.
    event = lookup(
        cloudtrail,
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": some["eventID"]}],
    )[0]
    assert event["EventId"] == some["eventID"]
    assert event["EventName"] == "DescribeSecret"
    assert event["ReadOnly"] == "true"
    assert event["AccessKeyId"] == DEV_ACCESS_KEY_ID
    assert event["Username"] == "admin"
    assert event["EventSource"] == "secretsmanager.amazonaws.com"
    assert history["start"] <= event["EventTime"].timestamp() <= history["end"]
    assert event["Resources"] == [
        {"ResourceType": "AWS::SecretsManager::Secret", "ResourceName": history["arn"]}
    ]
    assert json.loads(event["CloudTrailEvent"]) == {k: v for k, v in some.items() if k != "region"}


def test_lookup_events_time_range_order_and_region(dev_server, history):
    cloudtrail = client(dev_server, "cloudtrail")
    first_half = history["ids"][:6]  # created, described 3 times, read; a key created
    assert request_ids(
        lookup(
            cloudtrail,
            StartTime=moment(history["start"]),
            EndTime=moment(history["middle"]),  # whole seconds: up to the middle mark
        )
    ) == list(reversed(first_half))
    second_half = history["ids"][6:]
    assert request_ids(
        lookup(cloudtrail, StartTime=moment(history["middle"]), EndTime=moment(history["end"]))
    ) == list(reversed(second_half))
    # Newest first, by time.
    events = lookup(cloudtrail, StartTime=moment(history["start"]), EndTime=moment(history["end"]))
    times = [event["EventTime"] for event in events]
    assert times == sorted(times, reverse=True)
    # Another Region's events are its own.
    assert not set(history["west_ids"]) & set(request_ids(events))
    west = client(dev_server, "cloudtrail", region_name=OTHER_REGION)
    west_events = lookup(west, StartTime=moment(history["start"]), EndTime=moment(history["end"]))
    assert request_ids(west_events) == list(reversed(history["west_ids"]))
    assert {json.loads(e["CloudTrailEvent"])["awsRegion"] for e in west_events} == {OTHER_REGION}

    # The stock CLI, with its own pagination.
    listed = aws(
        dev_server,
        "cloudtrail",
        "lookup-events",
        "--start-time",
        moment(history["start"]).isoformat(),
        "--end-time",
        moment(history["end"]).isoformat(),
        "--lookup-attributes",
        f"AttributeKey=ResourceName,AttributeValue={history['arn']}",
        "--page-size",
        "3",
    )
    assert listed.returncode == 0, listed.stderr
    assert request_ids(json.loads(listed.stdout)["Events"]) == newest_first(
        history, lambda r: any(x["ARN"] == history["arn"] for x in r.get("resources", []))
    )


def test_lookup_events_pages(dev_server, history):
    cloudtrail = client(dev_server, "cloudtrail")
    window = {"StartTime": moment(history["start"]), "EndTime": moment(history["end"])}
    everything = newest_first(history, lambda r: True)
    for size in (1, 2, 5):
        pages, token = [], None
        while True:
            params = {**window, "MaxResults": size, **({"NextToken": token} if token else {})}
            page = cloudtrail.lookup_events(**params)
            assert len(page["Events"]) <= size
            pages.append(request_ids(page["Events"]))
            token = page.get("NextToken")
            if token is None:
                break
        flat = [rid for page in pages for rid in page]
        assert flat == everything, size  # no duplicates, no gaps, in order
        assert all(len(page) == size for page in pages[:-1])
    # A page's token carries on the same query only.
    attribute = [{"AttributeKey": "EventName", "AttributeValue": "DescribeSecret"}]
    first = cloudtrail.lookup_events(LookupAttributes=attribute, MaxResults=3, **window)
    rest = lookup(cloudtrail, LookupAttributes=attribute, NextToken=first["NextToken"], **window)
    assert request_ids(first["Events"]) + request_ids(rest) == newest_first(
        history, lambda r: r["eventName"] == "DescribeSecret"
    )


def test_lookup_events_refusals(dev_server):
    cloudtrail = client(dev_server, "cloudtrail")
    now = datetime.datetime.now(datetime.UTC)
    refusals = {
        "InvalidNextTokenException": dict(NextToken="not a token!"),
        "InvalidLookupAttributesException": dict(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "Encrypt"},
                {"AttributeKey": "Username", "AttributeValue": "admin"},
            ]
        ),
        "InvalidTimeRangeException": dict(StartTime=now, EndTime=now - datetime.timedelta(hours=1)),
    }
    for code, params in refusals.items():
        with pytest.raises(ClientError) as refused:
            cloudtrail.lookup_events(**params)
        assert refused.value.response["Error"]["Code"] == code
        assert record_of(dev_server, request_id(refused.value.response))["errorCode"] == code
    with pytest.raises(ClientError) as refused:
        cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]
        )
    assert refused.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as refused:
        cloudtrail.lookup_events(MaxResults=51)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_public_keys_verify_the_digests(dev_server):
    cloudtrail = client(dev_server, "cloudtrail")
    cloudtrail.describe_trails()  # at least one record to deliver
    status, body = close_request(dev_server)
    assert status == 200, body
    closed = json.loads(body)["digests"]
    assert closed
    now = datetime.datetime.now(datetime.UTC)
    keys = cloudtrail.list_public_keys(
        StartTime=now - datetime.timedelta(days=1), EndTime=now + datetime.timedelta(minutes=1)
    )["PublicKeyList"]
    assert keys
    assert {k["Fingerprint"] for k in cloudtrail.list_public_keys()["PublicKeyList"]} <= {
        k["Fingerprint"] for k in keys
    }
    by_fingerprint = {
        k["Fingerprint"]: serialization.load_der_public_key(k["Value"])  # DER, PKCS #1
        for k in keys
    }
    for key in keys:
        assert re.fullmatch(r"[0-9a-f]{32}", key["Fingerprint"])
        assert key["ValidityStartTime"] <= key["ValidityEndTime"]
    # Each digest just delivered is signed by a listed key (its own fingerprint names it).
    for object_key in closed:
        body_bytes, signature = query(
            dev_server,
            "SELECT body, signature FROM audit_digests WHERE object_key = :k",
            k=object_key,
        )[0]
        digest = json.loads(bytes(body_bytes))
        public_key = by_fingerprint[digest["digestPublicKeyFingerprint"]]
        signed = (
            f"{digest['digestEndTime']}\n{digest['digestS3Bucket']}/{digest['digestS3Object']}\n"
            f"{hashlib.sha256(bytes(body_bytes)).hexdigest()}\n"
            f"{digest['previousDigestSignature'] or 'null'}"
        ).encode()
        public_key.verify(  # type: ignore[union-attr]
            bytes.fromhex(signature), signed, padding.PKCS1v15(), hashes.SHA256()
        )
    with pytest.raises(ClientError) as refused:
        cloudtrail.list_public_keys(StartTime=now, EndTime=now - datetime.timedelta(hours=1))
    assert refused.value.response["Error"]["Code"] == "InvalidTimeRangeException"
