"""Accounts as an operator makes them (`strongroom account create`), servers of a test module's
own to make them on, and calls of any operation as any caller that keep the raw answer: JSON
services through hand-signed requests, query and rest-xml services through boto3."""

from __future__ import annotations

import configparser
import functools
import gzip
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import urllib3
from botocore import xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel

from tests.support.audit import RawReply
from tests.support.postgres import fresh_database
from tests.support.server import REGION, Server, strongroom

# The services a server speaks today, each with its wire protocol.
SERVICES = [
    *("kms", "secretsmanager", "logs", "cloudtrail", "iam", "sts", "s3", "lambda", "events"),
    "sns",
    "cloudwatch",
]


@dataclass(frozen=True)
class Account:
    account_id: str
    access_key_id: str
    secret_access_key: str

    @property
    def credentials(self) -> tuple[str, str]:
        return self.access_key_id, self.secret_access_key

    def __repr__(self) -> str:  # keep the secret out of test reports
        return f"Account({self.account_id})"


def read_credentials(path: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    assert parser.read(path), path
    section = parser["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def account_create(
    server: Server, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`strongroom account create` against the server's data directory."""
    data_dir = ["--data-dir", str(server.data_dir)]
    return strongroom("account", "create", *data_dir, *args, check=check)


def new_account(server: Server) -> Account:
    """An account made through the CLI, its credentials read from the file it wrote."""
    output = account_create(server).stdout
    account_id = re.search(r"^Account: (\d{12})$", output, re.MULTILINE)
    path = re.search(r"^Credentials: (\S+) \(mode 0600\)$", output, re.MULTILINE)
    assert account_id and path, output
    return Account(account_id[1], *read_credentials(Path(path[1])))


@contextmanager
def tls_server(backend: str, directory: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A non-dev (TLS) server with a data directory, so that the operator's CLI works."""
    with ExitStack() as stack:
        args = []
        if backend == "postgresql":
            database = fresh_database(request.getfixturevalue("pg_server_url"))
            args = ["--storage", stack.enter_context(database)]
        server = Server(args=args, log_path=directory / "server.log", data_dir=directory / "data")
        stack.callback(server.stop)
        yield server.start()


def client(server: Server, service: str, account_or_keys: Account | dict[str, str], **kw: Any):
    """A boto3 client signing as the account's administrator (or with IAM credentials)."""
    if isinstance(account_or_keys, Account):
        keys = {
            "aws_access_key_id": account_or_keys.access_key_id,
            "aws_secret_access_key": account_or_keys.secret_access_key,
        }
    else:
        keys = {
            "aws_access_key_id": account_or_keys["AccessKeyId"],
            "aws_secret_access_key": account_or_keys["SecretAccessKey"],
            "aws_session_token": account_or_keys.get("SessionToken"),
        }
    return server.client(service, **keys, **kw)


# Calls that keep the raw answer


@dataclass(frozen=True)
class Reply:
    status: int
    error_code: str  # "" on success
    body: bytes  # as sent (an S3 object's gzip decompressed)
    request_id: str
    sent: bytes  # the request's parameters, as JSON

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


_BOTO_CONFIG = Config(
    retries={"total_max_attempts": 1},
    inject_host_prefix=False,  # host prefixes would need DNS
    s3={"addressing_style": "path"},
    parameter_validation=False,  # the requests are valid; some fit the model, not boto3's extras
)


@functools.cache
def model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


class Caller:
    """One caller's calls of any operation of any service, keeping each raw answer."""

    def __init__(self, server: Server, credentials: tuple[str, str]) -> None:
        self._server = server
        self._credentials = credentials
        self._clients: dict[str, Any] = {}
        self._http = urllib3.PoolManager(retries=False, ca_certs=server.ca_bundle)

    def __enter__(self) -> Caller:
        return self

    def __exit__(self, *_: object) -> None:
        # Idle keep-alive connections would hold up the server's graceful shutdown.
        self._http.clear()

    def call(self, service: str, operation: str, params: dict[str, Any]) -> Reply:
        service_model = model(service)
        sent = json.dumps(params, sort_keys=True, default=str).encode()
        if service_model.metadata["protocol"] == "json":
            return self._json_call(service_model, operation, params, sent)
        return self._boto_call(service, service_model.operation_model(operation), params, sent)

    def _json_call(
        self, service_model: ServiceModel, operation: str, params: dict[str, Any], sent: bytes
    ) -> Reply:
        """Hand-signed, as tests/support/audit.py's raw_call, on a kept-alive connection."""
        url = self._server.endpoint + "/"
        body = json.dumps(params).encode()
        headers = {
            "content-type": f"application/x-amz-json-{service_model.metadata['jsonVersion']}",
            "x-amz-target": f"{service_model.metadata['targetPrefix']}.{operation}",
        }
        signed = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(Credentials(*self._credentials), service_model.signing_name, REGION).add_auth(
            signed
        )
        reply = self._http.request("POST", url, body=body, headers=dict(signed.headers.items()))
        raw = RawReply(reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.data)
        return Reply(raw.status, raw.error_code, raw.body, raw.request_id, sent)

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            boto = self._server.client(
                service,
                aws_access_key_id=self._credentials[0],
                aws_secret_access_key=self._credentials[1],
                config=_BOTO_CONFIG,
            )
            boto.meta.events.register("before-parse", _keep_raw_body)
            self._clients[service] = boto
        return self._clients[service]

    def _boto_call(
        self, service: str, operation: OperationModel, params: dict[str, Any], sent: bytes
    ) -> Reply:
        boto = self._client(service)
        method = getattr(boto, xform_name(operation.name))
        try:
            result = method(**params)
        except ClientError as error:
            response = error.response
            metadata = response["ResponseMetadata"]
            return Reply(
                metadata["HTTPStatusCode"],
                response["Error"]["Code"],
                _RAW.pop(_request_id(metadata), b""),
                _request_id(metadata),
                sent,
            )
        metadata = result["ResponseMetadata"]
        body = _RAW.pop(_request_id(metadata), b"")
        if "Body" in result:  # an S3 object: its bytes, its log records unzipped
            body = result["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
        return Reply(metadata["HTTPStatusCode"], "", body, _request_id(metadata), sent)


# Raw bodies by request id, kept by the hook below until the call returns.
_RAW: dict[str, bytes] = {}


def _request_id(metadata: dict[str, Any]) -> str:
    headers = metadata.get("HTTPHeaders", {})
    return str(
        metadata.get("RequestId")
        or headers.get("x-amzn-requestid")
        or headers.get("x-amz-request-id")
        or ""
    )


def _keep_raw_body(response_dict: dict[str, Any], **_: Any) -> None:
    body = response_dict.get("body")
    if isinstance(body, bytes):
        headers = response_dict.get("headers", {})
        found = headers.get("x-amzn-requestid") or headers.get("x-amz-request-id") or ""
        if not found:
            match = re.search(rb"<RequestId>([^<]+)</RequestId>", body)
            found = match[1].decode() if match else ""
        _RAW[found] = body


# What the server implements (the rest answers UnsupportedOperationException)


def _implementations() -> dict[str, type]:
    from strongroom.services.awslambda.service import Lambda
    from strongroom.services.cloudtrail.service import CloudTrail
    from strongroom.services.cloudwatch.service import CloudWatch
    from strongroom.services.events.service import Events
    from strongroom.services.iam.service import IAM
    from strongroom.services.kms.service import KMS
    from strongroom.services.logs.service import Logs
    from strongroom.services.s3.service import S3
    from strongroom.services.secretsmanager.service import SecretsManager
    from strongroom.services.sns.service import SNS
    from strongroom.services.sts.service import STS

    return {
        "kms": KMS,
        "secretsmanager": SecretsManager,
        "logs": Logs,
        "cloudtrail": CloudTrail,
        "iam": IAM,
        "sts": STS,
        "s3": S3,
        "lambda": Lambda,
        "events": Events,
        "cloudwatch": CloudWatch,
        "sns": SNS,
    }


def implemented(service: str, operation: str) -> bool:
    """Whether the server's service has a method for the operation (the dispatcher's rule)."""
    return hasattr(_implementations()[service], xform_name(operation))


# The awsQuery services' words on the wire for what records name by the shape (CloudTrail
# names IAM's errors by their shapes: NoSuchEntityException).
_QUERY_WIRE_CODES = {"ValidationError": "ValidationException"}
# A service moved from awsQuery (CloudWatch) names its errors in the query protocol's words in
# x-amzn-query-error, which botocore reports; its records name them in the JSON protocols'.
_COMPATIBLE_WIRE_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidAction": "UnknownOperationException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "InvalidClientTokenId": "UnrecognizedClientException",
}


def recorded_codes(service: str, wire_code: str) -> set[str]:
    """The error codes a record may carry for a call answered with `wire_code`."""
    service_model = model(service)
    if "awsQueryCompatible" in service_model.metadata:
        wire_code = _COMPATIBLE_WIRE_CODES.get(wire_code, wire_code)
    elif service_model.metadata["protocol"] != "query":
        return {wire_code}
    shapes = {
        name
        for name in service_model.shape_names
        if service_model.shape_for(name).metadata.get("error", {}).get("code") == wire_code
    }
    return {wire_code, _QUERY_WIRE_CODES.get(wire_code, wire_code), *shapes}
