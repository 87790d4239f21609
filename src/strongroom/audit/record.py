"""CloudTrail records of API calls, in the management-event format CloudTrail delivers.

A record tells who called what, from where, when and how it ended; it never holds a secret.
Parameters and results pass through the operation's botocore shapes, and every member the
model marks sensitive is left out (SecretString, SecretBinary, Plaintext, ...), as CloudTrail
does. Blobs are left out too (ciphertexts, key material, public keys: large, and never what an
auditor reads), and so are the bearer credentials the models do not mark (grant tokens).
Read-only calls carry no responseElements, as in CloudTrail.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from strongroom.auth.principal import Principal
from strongroom.services.context import ServiceEvent

EVENT_VERSION = "1.11"
# Members the models do not mark sensitive that must still stay out: bearer credentials
# (grant tokens, MFA one-time codes, STS session tokens), and what applications log (PutLogEvents,
# TestMetricFilter), which may hold patient data.
_NEVER_RECORDED = frozenset(
    {
        "GrantToken",
        "GrantTokens",
        "AuthenticationCode1",
        "AuthenticationCode2",
        "TokenCode",
        "SessionToken",
        "logEvents",
        "logEventMessages",
    }
)
_READ_ONLY_PREFIXES = ("Get", "Head", "List", "Describe", "Lookup", "Filter", "Test", "Validate")
_READ_ONLY_OPERATIONS = frozenset(
    {
        # KMS cryptographic operations: they use a key, and change nothing.
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "GenerateRandom",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
    }
)


def is_read_only(operation_name: str) -> bool:
    return operation_name in _READ_ONLY_OPERATIONS or operation_name.startswith(_READ_ONLY_PREFIXES)


@dataclass
class Call:
    """What the dispatcher learned about one API call, successful or not."""

    request_id: str
    event_time: float
    source_ip: str
    user_agent: str
    event_source: str  # e.g. "kms.amazonaws.com"
    event_name: str
    region: str
    recipient_account_id: str
    principal: Principal | None = None
    access_key_id: str = ""  # the key a request claimed, when it was not authenticated
    tls: dict[str, str] | None = None
    operation: OperationModel | None = None
    parameters: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error_code: str = ""
    error_message: str = ""
    resources: list[tuple[str, str]] = field(default_factory=list)  # (type, ARN)
    # Bookkeeping of the call that waits until its record is stored (RequestContext's).
    when_recorded: list[Callable[[], None]] = field(default_factory=list)
    event_id: str = ""

    def __post_init__(self) -> None:
        self.event_id = self.event_id or new_event_id(self.event_time)


@dataclass(frozen=True)
class AuditEvent:
    """A finished record and the columns it is found by."""

    event_id: str
    request_id: str
    account_id: str
    region: str
    event_time: float
    event_source: str
    event_name: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    resource_type: str | None
    resource_name: str | None
    error_code: str | None
    text: str  # the record's JSON, exactly as it is stored, delivered and hashed
    more_resources: tuple[str, ...] = ()  # the ARNs of the resources after the first


# Random bytes for ids, read from the kernel 4 KB at a time: the system call lets other threads
# take the interpreter lock, and the event loop waits to get it back (twice a call).
_random_bytes = bytearray()
_random_bytes_lock = threading.Lock()
os.register_at_fork(after_in_child=_random_bytes.clear)  # a worker must not repeat its parent's


def _random_digits() -> str:
    """16 random bytes as 32 hex digits."""
    with _random_bytes_lock:
        if len(_random_bytes) < 16:
            _random_bytes.extend(os.urandom(4096))
        digits = _random_bytes[:16].hex()
        del _random_bytes[:16]
    return digits


def new_id() -> str:
    """A random (version 4) UUID, as text: what uuid.uuid4() gives, at a fraction of its cost."""
    return _uuid_text(_random_digits(), "4")


def new_event_id(seconds: float) -> str:
    """A time-ordered (version 7, RFC 9562) UUID for a record made at `seconds`: 48 bits of
    Unix milliseconds, then 74 random bits. Records arrive in about this order, so the unique
    index on event ids grows at its end instead of at random pages (the writer stores twice
    as many records a second on SQLite)."""
    milliseconds = f"{int(seconds * 1000) & 0xFFFF_FFFF_FFFF:012x}"
    return _uuid_text(milliseconds + _random_digits()[12:], "7")


def _uuid_text(digits: str, version: str) -> str:
    """32 hex digits as a UUID of `version` and RFC 9562's variant (the bits they replace
    are random)."""
    variant = "89ab"[int(digits[16], 16) & 3]
    return (
        f"{digits[:8]}-{digits[8:12]}-{version}{digits[13:16]}-{variant}{digits[17:20]}-"
        f"{digits[20:]}"
    )


def event_source(model: ServiceModel) -> str:
    return f"{model.endpoint_prefix}.amazonaws.com"


def event_time_text(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(call: Call) -> AuditEvent:
    read_only = is_read_only(call.event_name)
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": _user_identity(call),
        "eventTime": event_time_text(call.event_time),
        "eventSource": call.event_source,
        "eventName": call.event_name,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if call.error_code:
        record["errorCode"] = call.error_code
        record["errorMessage"] = call.error_message
    operation = call.operation
    record["requestParameters"] = (
        _recorded(operation.input_shape, call.parameters)
        if operation is not None and call.parameters
        else None
    )
    record["responseElements"] = (
        _recorded(operation.output_shape, call.result)
        if operation is not None and call.result and not read_only and not call.error_code
        else None
    )
    record["requestID"] = call.request_id
    record["eventID"] = call.event_id
    record["readOnly"] = read_only
    if call.resources:
        record["resources"] = [
            {"accountId": call.recipient_account_id, "type": kind, "ARN": arn}
            for kind, arn in call.resources
        ]
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["recipientAccountId"] = call.recipient_account_id
    record["eventCategory"] = "Management"
    if call.tls is not None:
        record["tlsDetails"] = call.tls
    return event_of(record, call.event_time)


def event_of(record: dict[str, Any], event_time: float) -> AuditEvent:
    """The stored form of a record: its text and the columns it is found by."""
    identity = record["userIdentity"]
    resources = record.get("resources") or [{}]
    return AuditEvent(
        event_id=record["eventID"],
        request_id=record["requestID"],
        account_id=record["recipientAccountId"],
        region=record["awsRegion"],
        event_time=event_time,
        event_source=record["eventSource"],
        event_name=record["eventName"],
        read_only=record["readOnly"],
        username=identity.get("userName"),
        access_key_id=identity.get("accessKeyId"),
        resource_type=resources[0].get("type"),
        resource_name=resources[0].get("ARN"),
        error_code=record.get("errorCode"),
        text=_json(record),
        more_resources=tuple(resource["ARN"] for resource in resources[1:]),
    )


def outcome_unknown(reservation_text: str, event_time: float) -> AuditEvent:
    """The record of a call whose server stopped between reserving and writing its record."""
    record = json.loads(reservation_text)
    record["errorCode"] = "OutcomeUnknown"
    record["errorMessage"] = "The server stopped before the outcome of this call was recorded."
    return event_of(record, event_time)


def service_event(event: ServiceEvent, event_time: float) -> AuditEvent:
    """The record of something a service did by itself, as CloudTrail writes those."""
    service = event.event_source
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": event.account_id, "invokedBy": service},
        "eventTime": event_time_text(event_time),
        "eventSource": service,
        "eventName": event.event_name,
        "awsRegion": event.region,
        "sourceIPAddress": service,
        "userAgent": service,
        "requestParameters": None,
        "responseElements": None,
        "requestID": new_id(),
        "eventID": new_event_id(event_time),
        "readOnly": False,
        "resources": [
            {"accountId": event.account_id, "type": kind, "ARN": arn}
            for kind, arn in event.resources
        ],
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": event.account_id,
        "eventCategory": "Management",
    }
    if event.additional_data:
        record["additionalEventData"] = dict(event.additional_data)
    return event_of(record, event_time)


def _json(record: dict[str, Any]) -> str:
    """A record's text: compact JSON in UTF-8. orjson takes a tenth of the standard library's
    time, on every call; what it refuses (an integer beyond 64 bits, a lone surrogate from a
    client's JSON) the standard library writes, escaped."""
    try:
        return orjson.dumps(record).decode()
    except orjson.JSONEncodeError:
        return json.dumps(record, separators=(",", ":"))


def _user_identity(call: Call) -> dict[str, Any]:
    principal = call.principal
    if principal is None:
        identity: dict[str, Any] = {"type": "Unknown"}
        if call.access_key_id:
            identity["accessKeyId"] = call.access_key_id
        return identity
    session = principal.session
    identity = {
        "type": "AssumedRole" if principal.role_session else "IAMUser",
        "principalId": principal.user_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
        "accessKeyId": principal.access_key_id,
    }
    if session is None:
        return identity | {"userName": principal.user_name}
    # Temporary credentials: CloudTrail's sessionContext says when and how they were issued.
    context: dict[str, Any] = {
        "attributes": {
            "creationDate": event_time_text(session.issued_at),
            "mfaAuthenticated": "true" if session.mfa_authenticated else "false",
        }
    }
    if session.role_name is not None:
        context["sessionIssuer"] = {
            "type": "Role",
            "principalId": session.role_id,
            "arn": session.role_arn,
            "accountId": principal.account_id,
            "userName": session.role_name,
        }
    else:
        identity["userName"] = principal.user_name
    if session.source_identity is not None:
        context["sourceIdentity"] = session.source_identity
    return identity | {"sessionContext": context}


def _recorded(shape: Shape | None, value: Any) -> Any:
    """`value` as CloudTrail shows it: structure members in lowerCamelCase, without sensitive
    members, blobs or bearer tokens; timestamps in ISO 8601."""
    if shape is None or value is None:
        return None
    if shape.type_name == "structure":
        recorded = {}
        for name, member in shape.members.items():
            if name not in value or name in _NEVER_RECORDED or _hidden(member):
                continue
            recorded[_camel(name)] = _recorded(member, value[name])
        return recorded
    if shape.type_name == "list":
        member = shape.member
        return None if _hidden(member) else [_recorded(member, item) for item in value]
    if shape.type_name == "map":
        item_shape = shape.value
        if _hidden(item_shape):
            return None
        return {key: _recorded(item_shape, item) for key, item in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, datetime.datetime | int | float):
        moment = (
            value
            if isinstance(value, datetime.datetime)
            else datetime.datetime.fromtimestamp(value, datetime.UTC)
        )
        return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _camel(name: str) -> str:
    """CloudTrail's member names: the first letter lower-cased ("SecretId" -> "secretId",
    "AWSAccountId" -> "aWSAccountId", as KMS's records show), and a name that is one acronym
    lower-cased whole ("ARN" -> "arn", as Secrets Manager's records show since 2024)."""
    return name.lower() if name.isupper() else name[:1].lower() + name[1:]


def _hidden(shape: Shape) -> bool:
    return bool(shape.metadata.get("sensitive")) or shape.type_name == "blob"
