"""CloudWatch Logs filter patterns and the events they do or do not match, for the unit tests
of `strongroom.services.logs.filter_pattern` and for replaying through a real server's
TestMetricFilter and FilterLogEvents.

`CASES` holds every example of AWS's filter pattern pages (FilterAndPatternSyntax and
FilterAndPatternSyntaxForMetricFilters, current and earlier editions where they agree), the
CloudTrail alarm patterns AWS publishes (CIS), behaviour observed against AWS with
TestMetricFilter, and realistic CloudTrail events, web server lines and plain text.
`source` says where a case comes from; "Undocumented:" marks a choice this project made.
`INVALID_CASES` are patterns AWS refuses, with the message of its InvalidParameterException
(a generic one is worded by operation, see `GENERIC_MESSAGE`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GENERIC_MESSAGE = "Invalid filter pattern"  # FilterLogEvents; "Invalid metric filter pattern"
DOCS = "AWS docs"
OBSERVED = "observed on AWS TestMetricFilter"
CIS = "AWS CloudTrail alarm pattern (CIS)"


@dataclass(frozen=True)
class Case:
    pattern: str
    message: str
    matches: bool
    source: str = ""
    # TestMetricFilter's extractedValues when the event matches (space-delimited patterns).
    extracted: Mapping[str, str] | None = None


@dataclass(frozen=True)
class InvalidCase:
    pattern: str
    message: str
    source: str = ""


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


ACCOUNT = "123456789012"

GET_SECRET_VALUE = _json(
    {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLEID:alice",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEYID",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "userName": "Admin"},
                "attributes": {"creationDate": "2024-05-01T11:58:00Z", "mfaAuthenticated": "true"},
            },
        },
        "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"secretId": "prod/db/password"},
        "responseElements": None,
        "requestID": "2b6e5f2a-4d0c-4d4a-9a38-0c1f0e1d2c3b",
        "eventID": "9f1c1c5e-8e83-4b8e-b9a4-1b2a3c4d5e6f",
        "readOnly": True,
        "resources": [
            {
                "accountId": ACCOUNT,
                "type": "AWS::SecretsManager::Secret",
                "ARN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db/password-AbCdEf",
            }
        ],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
)
ACCESS_DENIED = _json(
    {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEUSERID",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
            "accountId": ACCOUNT,
            "userName": "bob",
        },
        "eventTime": "2024-05-01T12:05:00Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "PutSecretValue",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "errorCode": "AccessDenied",
        "errorMessage": "User: bob is not authorized to perform: secretsmanager:PutSecretValue",
        "requestParameters": None,
        "responseElements": None,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
)
EC2_UNAUTHORIZED = _json(
    {
        "userIdentity": {"type": "IAMUser", "userName": "bob"},
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "errorCode": "Client.UnauthorizedOperation",
        "readOnly": False,
        "eventType": "AwsApiCall",
    }
)
CONSOLE_LOGIN_FAILED = _json(
    {
        "userIdentity": {"type": "IAMUser", "userName": "carol", "accountId": ACCOUNT},
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "errorMessage": "Failed authentication",
        "responseElements": {"ConsoleLogin": "Failure"},
        "additionalEventData": {"MFAUsed": "No", "MobileVersion": "No"},
        "eventType": "AwsConsoleSignIn",
    }
)
ROOT_LOGIN = _json(
    {
        "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": "Yes"},
        "eventType": "AwsConsoleSignIn",
    }
)
SERVICE_EVENT = _json(
    {
        "userIdentity": {"type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com"},
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "RotationSucceeded",
        "eventType": "AwsServiceEvent",
        "readOnly": False,
    }
)
KMS_SCHEDULE_DELETION = _json(
    {
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/x",
        },
        "eventSource": "kms.amazonaws.com",
        "eventName": "ScheduleKeyDeletion",
        "requestParameters": {
            "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "pendingWindowInDays": 7,
        },
        "responseElements": {"deletionDate": "May 8, 2024, 12:00:00 AM"},
        "readOnly": False,
        "resources": [
            {"ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
        ],
        "eventType": "AwsApiCall",
    }
)
APP_EVENT = _json(
    {
        "level": "ERROR",
        "latency": 1250,
        "bytes": 5.3e3,
        "ok": False,
        "trace": None,
        "tags": ["billing", "eu-west-1"],
        "status": "404",
    }
)

# The JSON examples of the documentation, on one line as its note asks.
DOCS_EVENT = _json(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "cluster.name": "c",
        "ThisFlag": True,
    }
)
DOCS_COMPOUND_EVENT = _json(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)
# The event the observed TestMetricFilter runs used.
OBSERVED_EVENT = _json(
    {
        "eventType": "UpdateTrail",
        "someString": "111.111.111.111",
        "emptyString": "",
        "someInt": 123,
        "someFloat": 12.34,
        "someFloat2": 12.0,
        "someObject": {},
        "someArray": [],
    }
)

APACHE_404_HTML = (
    '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
)
APACHE_404_GIF = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326'
)
APACHE_200 = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 534'
APACHE_403 = '10.0.0.5 - - [10/Oct/2000:14:02:11 -0700] "GET /admin.html HTTP/1.1" 403 -'
APACHE_500 = '10.0.0.5 - - [10/Oct/2000:14:02:12 -0700] "POST /index.html HTTP/1.1" 500 5324'
SERVICE_GET = "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200"
SERVICE_POST = "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310"
SERVICE_WARNING = "WARNING 09/25/2014 12:00:02 Invalid user request"
SERVICE_ERROR = "ERROR 09/25/2014 12:00:02 Failed to process request"

APACHE_FIELDS = {
    "$ip": "127.0.0.1",
    "$user": "Prod",
    "$username": "frank",
    "$timestamp": "10/Oct/2000:13:25:15 -0700",
    "$request": "GET /index.html HTTP/1.0",
    "$status_code": "404",
    "$bytes": "1534",
}

_TERMS = [
    Case("ERROR", "[ERROR 400] BAD REQUEST", True, DOCS),
    Case("ERROR", "[INFO 200] SUCCESSFUL REQUEST", False, DOCS),
    Case("ERROR", "Exiting with ERRORCODE: -1", True, DOCS + ": a term matches inside a word"),
    Case("ERROR", "[error 400] bad request", False, DOCS + ": case sensitive"),
    Case("ERROR ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS", True, DOCS),
    Case("ERROR ARGUMENTS", "[ERROR 401] UNAUTHORIZED REQUEST", False, DOCS),
    Case("?ERROR ?ARGUMENTS", "[ERROR 400] BAD REQUEST", True, DOCS),
    Case("?ERROR ?ARGUMENTS", "[WARN] MISSING ARGUMENTS", True, DOCS),
    Case("?ERROR ?ARGUMENTS", "[INFO 200] SUCCESSFUL REQUEST", False, DOCS),
    Case("?ERROR ?ARGUMENTS REQUEST", "[INFO] REQUEST FAILED", True, DOCS + ": ? terms ignored"),
    Case("?ERROR ?ARGUMENTS REQUEST", "[ERROR 419] MISSING ARGUMENTS", False, DOCS),
    Case('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL SERVER ERROR", True, DOCS),
    Case('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL ERROR ON SERVER", False, DOCS),
    Case("ERROR -ARGUMENTS", "[ERROR 401] UNAUTHORIZED REQUEST", True, DOCS),
    Case("ERROR -ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS", False, DOCS),
    Case('" "', "[WARNING 404] PAGE NOT FOUND", True, DOCS + ": matches everything"),
    Case('" "', "nospace", True, DOCS + ": matches everything"),
    Case("", "anything at all", True, DOCS + ": the empty pattern matches everything"),
    Case('""', "[INFO] x", True, DOCS + " (earlier edition): matches everything"),
    Case('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False, DOCS + " (earlier)"),
    Case(
        '"ERROR" - "Exiting"', "[ERROR] A fatal exception has occurred", True, DOCS + " (earlier)"
    ),
    Case("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True, DOCS + " (earlier)"),
    Case(
        "Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
        True,
        DOCS + " (earlier)",
    ),
    Case("?ERROR ?WARN", "WARN message", True, DOCS + " (earlier)"),
    Case("ERROR WARN", "ERROR message", False, DOCS + " (earlier)"),
    Case("ERROR -WARN", "ERROR WARN message", False, DOCS + " (earlier)"),
    Case("ERROR -WARN", "ERROR message", True, DOCS + " (earlier)"),
    Case("-ERROR", "[INFO] all good", True, "Lightsail GetContainerLog docs: exclusion only"),
    Case("-ERROR", "[ERROR] not good", False, "Lightsail GetContainerLog docs"),
    Case("GetSecretValue", GET_SECRET_VALUE, True, "a term matches JSON text too"),
    Case('"secretsmanager:PutSecretValue"', ACCESS_DENIED, True, "quoted term with a colon"),
]

_REGEX = [
    Case("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", True, DOCS),
    Case("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST", True, DOCS),
    Case("%AUTHORIZED%", "[ERROR 400] BAD REQUEST", False, DOCS),
    Case("%^[hc]at%", "hat trick", True, DOCS),
    Case("%^[hc]at%", "that hat", False, DOCS + ": ^ anchors at the start"),
    Case("%[hc]at$%", "put on a hat", True, DOCS),
    Case("%[hc]at$%", "cats", False, DOCS + ": $ anchors at the end"),
    Case("%colou?r%", "colour", True, DOCS),
    Case("%colou?r%", "color", True, DOCS),
    Case("%[abcx-z]%", "y", True, DOCS),
    Case("%a{3,5}%", "baaab", True, DOCS),
    Case("%a{3,5}%", "baab", False, DOCS),
    Case("%gra|ey%", "grey", True, DOCS),
    Case("%^starting|^initializing|^shutting down%", "shutting down now", True, DOCS),
    Case("%^starting|^initializing|^shutting down%", "skipping initializing db", False, DOCS),
    Case(r"%\[.\]%", "[7]", True, DOCS),
    Case(r"%\[.\]%", "[ab]", False, DOCS),
    Case(r"%10\.10\.0\.1%", "from 10.10.0.1 port 22", True, DOCS),
    Case(r"%10\.10\.0\.1%", "10010,051", False, DOCS),
    Case("%10.10.0.1%", "10010,051", True, DOCS + ": an unescaped . matches anything"),
    Case("%ab*c%", "ac", True, DOCS),
    Case("%ab+c%", "ac", False, DOCS),
    Case("%ab[0-9]*%", "ab129", True, DOCS),
    Case("%.at%", " at", True, DOCS),
    Case(r"%\d%", "abc", False, DOCS),
    Case(r"%\D%", "123a", True, DOCS),
    Case(r"%\s%", "tab\there", True, DOCS),
    Case(r"%\W%", "abc_123", False, DOCS),
    Case(r"%\x3A%", "key:value", True, DOCS),
    Case(r"%\x28%", "f(x)", True, DOCS),
    Case(r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", GET_SECRET_VALUE, True, DOCS),
    Case("%[Ee]rror|[Ff]ail%", "request failed: Fail", True, DOCS),
    Case("%[Ee]rror|[Ff]ail%", "all good", False, DOCS),
    Case("%abcc|ab[^c]$%", "grab", False, DOCS + ": [^c] needs a character"),
    Case("%abcc|ab[^c]$%", "a slab", False, DOCS),
    Case("%abcc|ab[^c]$%", "kebaba", True, DOCS),
    Case("%abcc|ab[^c]$%", "aac and abcc", True, DOCS),
]

_CLOUDTRAIL = [
    Case("{ $.eventName = GetSecretValue }", GET_SECRET_VALUE, True),
    Case("{ $.eventName = GetSecretValue }", ACCESS_DENIED, False),
    Case('{ $.eventName = "GetSecretValue" && $.readOnly IS TRUE }', GET_SECRET_VALUE, True),
    Case("{ $.readOnly IS FALSE }", GET_SECRET_VALUE, False),
    Case("{ $.readOnly IS FALSE }", ACCESS_DENIED, True),
    Case('{ $.userIdentity.type = "AssumedRole" }', GET_SECRET_VALUE, True),
    Case(
        f'{{ $.userIdentity.arn = "arn:aws:sts::{ACCOUNT}:assumed-role/Admin/*" }}',
        GET_SECRET_VALUE,
        True,
    ),
    Case(
        f'{{ $.resources[0].ARN = "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/*" }}',
        GET_SECRET_VALUE,
        True,
    ),
    Case("{ $.resources[1].ARN = * }", GET_SECRET_VALUE, False, "no second resource"),
    Case('{ $.resources[*].type = "AWS::SecretsManager::Secret" }', GET_SECRET_VALUE, True),
    Case('{ $.userIdentity.* = "AssumedRole" }', GET_SECRET_VALUE, True),
    Case('{ $.errorCode = "AccessDenied" }', ACCESS_DENIED, True),
    Case('{ $.errorCode = "AccessDenied" }', GET_SECRET_VALUE, False),
    Case(
        '{ $.errorCode != "AccessDenied" }',
        GET_SECRET_VALUE,
        False,
        "Undocumented: != on a missing field does not apply, like = does not",
    ),
    Case("{ $.errorCode NOT EXISTS }", GET_SECRET_VALUE, True),
    Case("{ $.errorCode NOT EXISTS }", ACCESS_DENIED, False),
    Case("{ $.responseElements IS NULL }", GET_SECRET_VALUE, True),
    Case("{ $.responseElements = * }", GET_SECRET_VALUE, False, "null is not a value node"),
    Case("{ $.requestParameters = * }", GET_SECRET_VALUE, False, DOCS + ": object"),
    Case('{ $.resources != "x" }', GET_SECRET_VALUE, False, DOCS + ": array"),
    Case("{ $.sourceIPAddress != 123.123.* }", GET_SECRET_VALUE, True),
    Case("{ $.sourceIPAddress = 203.0.113.* }", GET_SECRET_VALUE, True),
    Case(
        "{ $.eventSource = secretsmanager.amazonaws.com && "
        "($.eventName = GetSecretValue || $.eventName = PutSecretValue) }",
        GET_SECRET_VALUE,
        True,
    ),
    Case(
        "{ $.eventSource = secretsmanager.amazonaws.com && "
        "($.eventName = GetSecretValue || $.eventName = PutSecretValue) }",
        KMS_SCHEDULE_DELETION,
        False,
    ),
    Case("{ $.eventName = get* }", GET_SECRET_VALUE, False, "case sensitive"),
    Case("{ $.eventName = Get*Value }", GET_SECRET_VALUE, True, OBSERVED + ": * in the middle"),
    Case("{ $.eventName = %Secret% }", GET_SECRET_VALUE, True),
    Case("{ $.eventName != %^Get% }", GET_SECRET_VALUE, False),
    Case(
        '{ $.userIdentity.sessionContext.attributes.mfaAuthenticated = "true" }',
        GET_SECRET_VALUE,
        True,
    ),
    Case(
        "{ $.managementEvent = true }",
        GET_SECRET_VALUE,
        True,
        "Undocumented: a boolean compares as its text",
    ),
    Case(
        f"{{ $.recipientAccountId = {ACCOUNT} }}",
        GET_SECRET_VALUE,
        True,
        "Undocumented: a number equals a string by its text",
    ),
    Case(
        "{ $.recipientAccountId > 100 }",
        GET_SECRET_VALUE,
        False,
        "Undocumented: a string never compares as a number",
    ),
    Case(
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        EC2_UNAUTHORIZED,
        True,
        CIS,
    ),
    Case(
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        ACCESS_DENIED,
        True,
        CIS,
    ),
    Case(
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        GET_SECRET_VALUE,
        False,
        CIS,
    ),
    Case(
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }',
        CONSOLE_LOGIN_FAILED,
        True,
        CIS,
    ),
    Case(
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }',
        ROOT_LOGIN,
        False,
        CIS,
    ),
    Case(
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType != "AwsServiceEvent" }',
        ROOT_LOGIN,
        True,
        CIS,
    ),
    Case(
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType != "AwsServiceEvent" }',
        SERVICE_EVENT,
        False,
        CIS,
    ),
    Case(
        '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
        CONSOLE_LOGIN_FAILED,
        True,
        CIS,
    ),
    Case(
        "{($.eventSource = kms.amazonaws.com) && "
        "(($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }",
        KMS_SCHEDULE_DELETION,
        True,
        CIS,
    ),
    Case(
        "{($.eventSource = kms.amazonaws.com) && "
        "(($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }",
        GET_SECRET_VALUE,
        False,
        CIS,
    ),
    Case("{ $.requestParameters.pendingWindowInDays <= 7 }", KMS_SCHEDULE_DELETION, True),
    Case("{ $.requestParameters.pendingWindowInDays < 7 }", KMS_SCHEDULE_DELETION, False),
    Case("{ $.requestParameters.pendingWindowInDays = 7.0 }", KMS_SCHEDULE_DELETION, True),
    Case('{ $.requestParameters.pendingWindowInDays = "7" }', KMS_SCHEDULE_DELETION, True),
    Case('{ $.requestParameters.pendingWindowInDays = "7.0" }', KMS_SCHEDULE_DELETION, False),
    Case("{ $.requestParameters.pendingWindowInDays < 1E1 }", KMS_SCHEDULE_DELETION, True),
]

_JSON_DOCS = [
    Case('{ $.eventType = "UpdateTrail" }', DOCS_EVENT, True, DOCS),
    Case("{ $.sourceIPAddress != 123.123.* }", DOCS_EVENT, True, DOCS),
    Case('{ $.arrayKey[0] = "value" }', DOCS_EVENT, True, DOCS),
    Case('{ $.ThisFlag[0] = "value" }', DOCS_EVENT, False, OBSERVED + ": not an array"),
    Case("{ $.objectList[1].id = 2 }", DOCS_EVENT, True, DOCS),
    Case("{ $.objectList[1].number = 2 }", DOCS_EVENT, False, OBSERVED),
    Case("{ $.SomeObject IS NULL }", DOCS_EVENT, True, DOCS),
    Case("{ $.SomeOtherObject NOT EXISTS }", DOCS_EVENT, True, DOCS),
    Case("{ $.SomeObject NOT EXISTS }", DOCS_EVENT, False, DOCS + ": null exists"),
    Case("{ $.ThisFlag IS TRUE }", DOCS_EVENT, True, DOCS + " (earlier)"),
    Case("{ $.ThisFlag IS FALSE }", DOCS_EVENT, False, DOCS + " (earlier)"),
    Case("{ $.eventType = %Trail% }", DOCS_EVENT, True, DOCS),
    Case("{ $.arrayKey[*] = %val.{2}% }", DOCS_EVENT, True, DOCS),
    Case(r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }", DOCS_EVENT, True, DOCS),
    Case("{ $.['cluster.name'] = \"c\" }", DOCS_EVENT, True, DOCS),
    Case('{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }', DOCS_EVENT, True, DOCS),
    Case(
        '{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }',
        DOCS_COMPOUND_EVENT,
        True,
        DOCS,
    ),
    Case(
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" '
        '&& $.actions[2] = "nonmatch" }',
        DOCS_COMPOUND_EVENT,
        True,
        DOCS,
    ),
    Case(
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") '
        '&& $.actions[2] = "nonmatch" }',
        DOCS_COMPOUND_EVENT,
        False,
        DOCS,
    ),
    Case(
        '{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }',
        DOCS_COMPOUND_EVENT,
        False,
        DOCS,
    ),
    Case(
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch '
        "&& $.actions[2] = nomatch }",
        DOCS_COMPOUND_EVENT,
        True,
        DOCS + " (earlier)",
    ),
    Case(
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) '
        "&& $.actions[2] = nomatch }",
        DOCS_COMPOUND_EVENT,
        False,
        DOCS + " (earlier)",
    ),
    Case("{ $.coordinates[1][2] = 6 }", DOCS_COMPOUND_EVENT, True),
    Case("{ $.users = 1 }", '{"users": [1, 2, 3]}', False, DOCS),
    Case("{ $.users != 1 }", '{"users": [1, 2, 3]}', False, DOCS),
    Case("{$.foo = bar}", '{"foo": "bar"}', True, DOCS + " (earlier)"),
    Case("{$.foo = baz }", '{"foo": "bar"}', False, DOCS + " (earlier)"),
    Case("{$.foo = bar || $.foo = baz }", '{"foo": "baz"}', True, DOCS + " (earlier)"),
    Case("{ $.bandwidth > 75 }", '{"bandwidth": 80}', True, DOCS),
    Case("{ $.latency < 50 }", '{"latency": 50}', False, DOCS),
    Case("{ $.refreshRate >= 60 }", '{"refreshRate": 60}', True, DOCS),
    Case("{ $.responseTime <= 5 }", '{"responseTime": 5.0}', True, DOCS),
    Case("{ $.errorCode = 400}", '{"errorCode": 400}', True, DOCS),
    Case("{ $.errorCode != 500 }", '{"errorCode": 400}', True, DOCS),
    Case("{ $.number[0] = 1e+3 }", '{"number": [1000]}', True, DOCS),
    Case("{ $.number[0] != 1e-3 }", '{"number": [0.001]}', False, DOCS),
    Case("{ $.numbers[0] < 10e3 }", '{"numbers": [9999.5]}', True, DOCS + " (earlier)"),
    Case("{ $.numbers[0] < 10e-3 }", '{"numbers": [0.01]}', False, DOCS + " (earlier)"),
    Case(
        "{ $.processes[4].averageRuntime <= 55.5 }",
        '{"processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}',
        True,
        DOCS + " (earlier)",
    ),
    Case("{ $.latency > +1000 }", '{"latency": 1250}', True, DOCS + " (earlier)"),
    Case("{ $.latency = * }", '{"latency": 50, "requestType": "GET"}', True, DOCS),
    Case("{ $.latency = * }", '{"requestType": "GET"}', False, DOCS),
]

_JSON_VALUES = [
    Case('{ $.someInt = "123" }', OBSERVED_EVENT, True, OBSERVED),
    Case('{ $.someInt != "123.0" }', OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someInt = 123.0 }", OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someFloat2 = 12 }", OBSERVED_EVENT, True, OBSERVED),
    Case('{ $.someFloat2 != "12" }', OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someInt = 1* }", OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someInt = *23 }", OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someFloat = 12.3* }", OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someFloat != 43.* }", OBSERVED_EVENT, True, OBSERVED),
    Case('{ $.someString = "*.111.111.111" }', OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someString = 111.111.111.111 }", OBSERVED_EVENT, True, OBSERVED),
    Case("{ $.someString != 111*111 }", OBSERVED_EVENT, True, OBSERVED + ": no backtracking"),
    Case(
        '{ $.someString = "*111.111.111" }', OBSERVED_EVENT, False, OBSERVED + ": no backtracking"
    ),
    Case("{ $.someInt != 1*3 }", OBSERVED_EVENT, False, OBSERVED),
    Case('{ $.emptyString = "*" }', OBSERVED_EVENT, True, OBSERVED),
    Case('{ $.someObject = "123" }', OBSERVED_EVENT, False, OBSERVED),
    Case('{ $.someObject != "123" }', OBSERVED_EVENT, False, OBSERVED),
    Case("{ $.someObject > 123 }", OBSERVED_EVENT, False, OBSERVED),
    Case("{ $.someString > 123 }", OBSERVED_EVENT, False, OBSERVED),
    Case("{ $.someString = 123 }", OBSERVED_EVENT, False, OBSERVED),
    Case("{ $.someString != 111 }", OBSERVED_EVENT, True, OBSERVED),
    Case('{ $.level = "ERROR" && $.latency > 1000 }', APP_EVENT, True),
    Case("{ $.bytes >= 5300 }", APP_EVENT, True, "5.3e3 in the event"),
    Case("{ $.tags[*] = eu-* }", APP_EVENT, True),
    Case("{ $.tags[*] != billing }", APP_EVENT, True, "Undocumented: a wildcard needs one element"),
    Case("{ $.ok IS FALSE }", APP_EVENT, True),
    Case("{ $.ok IS NULL }", APP_EVENT, False),
    Case("{ $.trace IS NULL }", APP_EVENT, True),
    Case("{ $.status = 404 }", APP_EVENT, True, "Undocumented: a number equals a string by text"),
    Case('{ $.level = "ERROR" }', 'ERROR {"level": "ERROR"}', False, "not a JSON event"),
    Case('{ $.level = "ERROR" }', "[ERROR] plain text", False, "not a JSON event"),
    Case("{ $.level = * }", '{"level": "ERROR"', False, "truncated JSON"),
]

_SPACE_DELIMITED = [
    Case(
        "[ip, user, username, timestamp, request, status_code, bytes]",
        APACHE_404_HTML,
        True,
        DOCS,
        APACHE_FIELDS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code = 404, bytes]",
        APACHE_404_HTML,
        True,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code = 200, bytes]",
        APACHE_404_HTML,
        False,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code = 4*, bytes]",
        APACHE_404_HTML,
        True,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]",
        APACHE_404_GIF,
        False,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code, bytes > 1000]",
        APACHE_404_HTML,
        True,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code, bytes > 1000]",
        APACHE_200,
        False,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code, bytes > 1000]",
        APACHE_403,
        False,
        "'-' is not a number",
    ),
    Case(
        "[..., status_code, bytes]",
        APACHE_200,
        True,
        DOCS,
        {
            "$1": "127.0.0.1",
            "$2": "-",
            "$3": "frank",
            "$4": "10/Oct/2000:13:25:15 -0700",
            "$5": "GET /apache_pb.gif HTTP/1.0",
            "$status_code": "200",
            "$bytes": "534",
        },
    ),
    Case("[ip, user, ..., status_code, bytes]", APACHE_200, True, DOCS),
    Case("[ip, user, ...]", APACHE_200, True, DOCS),
    Case(
        r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, "
        "status_code = 4*, bytes]",
        APACHE_404_HTML,
        True,
        DOCS,
    ),
    Case(
        r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, "
        "status_code = 4*, bytes]",
        APACHE_403,
        False,
        DOCS,
    ),
    Case("[..., request =*.html*, status_code = 4*, bytes]", APACHE_404_HTML, True, DOCS),
    Case(
        "[ip, user, username, timestamp, request =*.html*, "
        "status_code = 404 || status_code = 410, bytes]",
        APACHE_404_HTML,
        True,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request =*.html*, "
        "status_code = 404 || status_code = 410, bytes]",
        APACHE_500,
        False,
        DOCS,
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
        APACHE_403,
        False,
        DOCS + " (earlier)",
    ),
    Case(
        "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
        APACHE_404_HTML,
        True,
        DOCS + " (earlier)",
    ),
    Case(
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
        APACHE_404_HTML,
        True,
        DOCS + ": dimensions",
        {**{k: v for k, v in APACHE_FIELDS.items() if k != "$user"}, "$server": "Prod"},
    ),
    Case(
        "[IP, UserInfo, User, Timestamp, RequestInfo, StatusCode=404, Bytes]",
        APACHE_404_GIF,
        True,
        DOCS + ": counting 404 responses",
    ),
    Case(
        "[..., request=*.html*, status_code=4*,]",
        '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
        True,
        DOCS + " (earlier): extracted values",
        {
            "$status_code": "404",
            "$request": "GET /index.html HTTP/1.0",
            "$7": "1534",
            "$4": "10/Oct/2000:13:25:15 -0700",
            "$3": "frank",
            "$2": "-",
            "$1": "127.0.0.1",
        },
    ),
    Case(
        "[w1=ERROR, w2]",
        SERVICE_ERROR,
        True,
        DOCS,
        {"$w1": "ERROR", "$w2": "09/25/2014 12:00:02 Failed to process request"},
    ),
    Case("[w1=ERROR, w2]", SERVICE_WARNING, False, DOCS),
    Case("[w1=ERROR || w1=WARNING, w2]", SERVICE_WARNING, True, DOCS),
    Case("[w1=ERROR || w1=WARNING, w2]", SERVICE_GET, False, DOCS),
    Case("[w1!=ERROR && w1!=WARNING, w2]", SERVICE_GET, True, DOCS),
    Case("[w1!=ERROR && w1!=WARNING, w2]", SERVICE_ERROR, False, DOCS),
    Case(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
        SERVICE_GET,
        True,
        DOCS,
    ),
    Case(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
        SERVICE_POST,
        False,
        DOCS,
    ),
    Case(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, "
        "response_time]",
        SERVICE_POST,
        True,
        DOCS,
    ),
    Case(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, "
        "response_time]",
        SERVICE_GET,
        False,
        DOCS,
    ),
    Case("[a, b, c]", "only two", False, "fewer fields than the pattern"),
    Case(
        "[level, message]",
        "ERROR disk full on /dev/sda1",
        True,
        "Undocumented: the last field takes the rest of the line",
        {"$level": "ERROR", "$message": "disk full on /dev/sda1"},
    ),
    Case(
        "[time, level = ERROR, ...]",
        '2024-05-01T12:00:00Z ERROR "unterminated quote',
        True,
        "Undocumented: an unclosed quote runs to the end",
    ),
]

CASES: list[Case] = [*_TERMS, *_REGEX, *_CLOUDTRAIL, *_JSON_DOCS, *_JSON_VALUES, *_SPACE_DELIMITED]

INVALID_CASES: list[InvalidCase] = [
    InvalidCase("ERROR:", "Invalid character(s) in term ':'"),
    InvalidCase(
        "?Status: timeout", "Invalid character(s) in term ':'", "observed on FilterLogEvents"
    ),
    InvalidCase(
        "Task timed out after (900.00 seconds)",
        "Invalid character(s) in term '('",
        "observed on PutMetricFilter",
    ),
    InvalidCase('level\\":\\"error', "Invalid character(s) in term '\\'", "observed"),
    InvalidCase("ERROR*", "Invalid character(s) in term '*'"),
    InvalidCase("java.lang.NullPointerException", "Invalid character(s) in term '.'"),
    InvalidCase(
        '{ $.someInt >= "someString" }', "Invalid character(s) in term '\"someString\"'", OBSERVED
    ),
    InvalidCase(
        "{ $.someInt >= someString }", "Invalid character(s) in term '\"someString\"'", OBSERVED
    ),
    InvalidCase('{ $.someString > "123" }', "Invalid character(s) in term '\"123\"'", OBSERVED),
    InvalidCase(
        '{ $."sc-status" = 5* }',
        "Invalid character(s) in term '$.\"'",
        "observed on FilterLogEvents",
    ),
    InvalidCase(
        f"{{ $.userIdentity.arn = arn:aws:iam::{ACCOUNT}:root }}",
        "Invalid character(s) in term ':'",
        DOCS + ": such strings must be quoted",
    ),
    InvalidCase("%something!%", "Invalid character(s) in term '!'", DOCS),
    InvalidCase("%(ERROR|WARN)%", "Invalid character(s) in term '('", DOCS),
    InvalidCase("%caf\u00e9%", "Invalid character(s) in term '\u00e9'", DOCS + ": multi-byte"),
    InvalidCase("[ip, user-name]", "Invalid character(s) in term '-'"),
    InvalidCase("{ $.SomeObject IS NOT NULL }", GENERIC_MESSAGE, DOCS + ": IS NOT unsupported"),
    InvalidCase("{ $.SomeObject EXISTS }", GENERIC_MESSAGE, DOCS + ": EXISTS unsupported"),
    InvalidCase("{ $.SomeObject IS MISSING }", GENERIC_MESSAGE),
    InvalidCase("{ $.eventType = UpdateTrail", GENERIC_MESSAGE),
    InvalidCase("{ $.eventType = UpdateTrail } trailing", GENERIC_MESSAGE),
    InvalidCase("{ ($.a = 1 }", GENERIC_MESSAGE),
    InvalidCase("{ $.a == 1 }", GENERIC_MESSAGE),
    InvalidCase("{ $.a = }", GENERIC_MESSAGE),
    InvalidCase("{ }", GENERIC_MESSAGE),
    InvalidCase("{ eventType = x }", GENERIC_MESSAGE),
    InvalidCase("{ $[0] = 1 }", GENERIC_MESSAGE, DOCS + ": an index must follow a property"),
    InvalidCase("{ $.a[*].b[*] = 1 }", GENERIC_MESSAGE, DOCS + ": one wildcard per selector"),
    InvalidCase(
        "{ $.a[*] = 1 && $.b[*] = 2 && $.c.* = 3 && $.d[*] = 4 }",
        GENERIC_MESSAGE,
        DOCS + ": three wildcards per pattern",
    ),
    InvalidCase(
        "{ $.a = %x% && $.b = %y% && $.c = %z% }", GENERIC_MESSAGE, DOCS + ": 2 regex per pattern"
    ),
    InvalidCase(
        "[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]",
        GENERIC_MESSAGE,
        "reported on awsdocs/amazon-cloudwatch-logs-user-guide#21",
    ),
    InvalidCase("[]", GENERIC_MESSAGE),
    InvalidCase("[a, b", GENERIC_MESSAGE),
    InvalidCase("[a = ]", GENERIC_MESSAGE),
    InvalidCase('"unterminated phrase', GENERIC_MESSAGE),
    InvalidCase("ERROR -", GENERIC_MESSAGE),
    InvalidCase("%%", GENERIC_MESSAGE),
    InvalidCase("%unterminated", GENERIC_MESSAGE),
    InvalidCase("%a{5,3}%", GENERIC_MESSAGE),
    InvalidCase("%*a%", GENERIC_MESSAGE),
    InvalidCase("%a**%", GENERIC_MESSAGE),
    InvalidCase(r"%\bword%", GENERIC_MESSAGE, "Undocumented: escapes AWS does not list"),
    InvalidCase("%[abc%", GENERIC_MESSAGE),
    InvalidCase("x" * 1025, GENERIC_MESSAGE, "filterPattern is at most 1024 characters"),
]
