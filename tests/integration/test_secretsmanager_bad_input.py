"""Hostile and malformed Secrets Manager requests, built by Hypothesis from botocore's input
shapes and sent hand-signed to a real server: every one must get a 400 with the right error
type, and none may change anything.

Each example takes a request that is valid except for exactly one thing: a required member
missing, a value over or under its length or range, of the wrong JSON type, outside its enum,
breaking its pattern, bad base64 in a blob, or a body that is not a JSON object at all. Explicit
cases follow for input the service rather than the shape refuses (filters, page tokens, recovery
windows, secret names, values that are both string and binary, policy documents, replica
regions, changes made on a replica), each with the error AWS gives.

"Nothing changed" covers both regions a request can reach: the account's secrets in this
region and in the replica region, and the values, versions, metadata, resource policies and
replication status of the module's own secrets and of the replica one of them has.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import Shape
from hypothesis import given

from strongroom.protocol.registry import load_model
from tests.support import bad_requests, signing
from tests.support.bad_requests import SERIALIZATION, VALIDATION
from tests.support.server import REGION

MODEL = load_model("secretsmanager")
TARGET_PREFIX = MODEL.metadata["targetPrefix"]
# Rotation joins this list when it is built.
OPERATIONS = [
    "CreateSecret",
    "GetSecretValue",
    "BatchGetSecretValue",
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "DescribeSecret",
    "ListSecrets",
    "ListSecretVersionIds",
    "DeleteSecret",
    "RestoreSecret",
    "GetRandomPassword",
    "TagResource",
    "UntagResource",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "ValidateResourcePolicy",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "StopReplicationToReplica",
]
# Replicas go to another region of the same server; a replica is changed only from its
# primary's region, and promoted (StopReplicationToReplica) only from its own.
REPLICA_REGION = "eu-west-1"
OTHER_REGION = "ap-southeast-2"  # named only by requests that must fail: nothing may appear there
OPERATION_REGIONS = {"StopReplicationToReplica": REPLICA_REGION}
# Optional members every request of the operation carries, so that the base request does
# something (and a wrongly accepted one would show up as a change).
BASE_EXTRAS = {
    "CreateSecret": ["SecretString"],
    "PutSecretValue": ["SecretString"],  # the service needs SecretString or SecretBinary
    "UpdateSecret": ["SecretString"],
    "UpdateSecretVersionStage": ["RemoveFromVersionId", "MoveToVersionId"],
    "BatchGetSecretValue": ["SecretIdList"],  # the service needs SecretIdList or Filters
}
# Members that cannot go together: a defect in one drops the others from the request.
EXCLUSIVE = [
    {"SecretString", "SecretBinary"},
    {"SecretIdList", "Filters"},
    {"RecoveryWindowInDays", "ForceDeleteWithoutRecovery"},
]
# Members that need another: a defect in the first brings the second (BatchGetSecretValue
# pages only through a Filters listing).
NEEDS = {
    ("BatchGetSecretValue", "MaxResults"): "Filters",
    ("BatchGetSecretValue", "NextToken"): "Filters",
}
# Valid values of structures whose members the model leaves optional but the service needs.
STRUCTURE_VALUES: dict[str, dict[str, Any]] = {
    "Filter": {"Key": "name", "Values": ["bad-input"]},
    "Tag": {"Key": "bad-input", "Value": "v"},
}
LABEL = "BADINPUT"
ACCOUNT_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadersOnly",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    ],
}
# Valid, and the worst a wrongly accepted PutResourcePolicy could store: anyone may read.
PUBLIC_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    ],
}
ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
INVALID_PARAMETER = "InvalidParameterException"
INVALID_REQUEST = "InvalidRequestException"
INVALID_NEXT_TOKEN = "InvalidNextTokenException"
NOT_FOUND = "ResourceNotFoundException"
MALFORMED_POLICY = "MalformedPolicyDocumentException"
PUBLIC_POLICY_REFUSED = "PublicPolicyException"


def read_and_noted(sm: Any, name: str) -> None:
    """Read a secret and wait until the server has noted the read (LastAccessedDate is
    stored in the background), so that no snapshot sees it change later."""
    sm.get_secret_value(SecretId=name)
    deadline = time.monotonic() + 10
    while "LastAccessedDate" not in sm.describe_secret(SecretId=name):
        assert time.monotonic() < deadline, f"the read of {name} was never noted"
        time.sleep(0.05)


@dataclass(frozen=True)
class World:
    """Secrets a request may name validly, owned by this module."""

    prefix: str
    name: str  # three versions: AWSPREVIOUS, AWSCURRENT, and one holding LABEL; a policy
    deleted: str  # scheduled for deletion
    replicated: str  # a policy, and a replica in REPLICA_REGION
    current_version: str
    labelled_version: str
    replicated_version: str

    def new_name(self) -> str:
        return f"{self.prefix}/new-{uuid.uuid4()}"


@dataclass(frozen=True)
class Clients:
    """boto3 clients of every region a request here names."""

    primary: Any  # REGION, where the module's secrets are made
    replica: Any  # REPLICA_REGION
    other: Any  # OTHER_REGION


def call(
    server: Any, operation: str, body: Any, region: str = REGION
) -> tuple[int, dict[str, Any]]:
    """Sign and send one Secrets Manager JSON call; `body` may be any JSON value or raw text."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    request = signing.signed_request(
        server, f"{TARGET_PREFIX}.{operation}", body, service="secretsmanager", region=region
    )
    return signing.send(server, request)


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def clients(dev_server, sm) -> Clients:
    return Clients(
        sm,
        dev_server.client("secretsmanager", region_name=REPLICA_REGION),
        dev_server.client("secretsmanager", region_name=OTHER_REGION),
    )


# Independent requests go out together: the snapshots alone make some thirty calls per case.
_POOL = ThreadPoolExecutor(max_workers=8)


def _together(*calls: Callable[[], Any]) -> list[Any]:
    return [future.result() for future in [_POOL.submit(c) for c in calls]]


def make_world(clients: Clients) -> World:
    sm = clients.primary
    prefix = f"bad-input/{uuid.uuid4().hex[:12]}"
    name, deleted, replicated = f"{prefix}/secret", f"{prefix}/deleted", f"{prefix}/replicated"
    policy = json.dumps(ACCOUNT_POLICY)

    def make_secret() -> tuple[str, str]:
        sm.create_secret(
            Name=name,
            SecretString="one",
            Description="bad input",
            Tags=[{"Key": "owner", "Value": "bad-input"}],
        )
        current = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
        labelled = sm.put_secret_value(SecretId=name, SecretString="three", VersionStages=[LABEL])
        sm.put_resource_policy(SecretId=name, ResourcePolicy=policy)
        read_and_noted(sm, name)  # LastAccessedDate is set once, not by the snapshots
        return current, labelled["VersionId"]

    def make_deleted() -> None:
        sm.create_secret(Name=deleted, SecretString="gone")
        sm.delete_secret(SecretId=deleted, RecoveryWindowInDays=7)

    def make_replicated() -> str:
        version: str = sm.create_secret(
            Name=replicated,
            SecretString="copied",
            Tags=[{"Key": "owner", "Value": "bad-input"}],
            AddReplicaRegions=[{"Region": REPLICA_REGION}],
        )["VersionId"]
        sm.put_resource_policy(SecretId=replicated, ResourcePolicy=policy)
        read_and_noted(sm, replicated)
        read_and_noted(clients.replica, replicated)
        return version

    (current, labelled), _, replicated_version = _together(
        make_secret, make_deleted, make_replicated
    )
    return World(prefix, name, deleted, replicated, current, labelled, replicated_version)


@pytest.fixture(scope="module")
def world(clients) -> World:
    return make_world(clients)


@dataclass
class Worlds:
    """Worlds for the explicit cases. A case that ends having shown its world unchanged hands
    it back for the next case (building one costs more than the case itself); any other world
    is destroyed, so that a wrongly accepted request cannot spoil the next case and the account
    (which every snapshot lists) stays small."""

    clients: Clients
    spare: World | None = None

    def lend(self) -> World:
        world, self.spare = self.spare or make_world(self.clients), None
        return world

    def unchanged(self, world: World, before: dict[str, Any]) -> None:
        assert snapshot(self.clients, world) == before
        self.spare = world


@pytest.fixture(scope="module")
def worlds(clients) -> Iterator[Worlds]:
    pool = Worlds(clients)
    yield pool
    if pool.spare is not None:
        remove_world(clients.primary, pool.spare)


@pytest.fixture
def fresh_world(worlds) -> Iterator[World]:
    """A world no case has changed (see Worlds); the test calls worlds.unchanged at its end."""
    world = worlds.lend()
    yield world
    if worlds.spare is not world:
        remove_world(worlds.clients.primary, world)


def remove_world(sm: Any, world: World) -> None:
    """Destroy the world's secrets (a primary's replicas first). Whatever a failed case left
    besides stays, for the failure to be looked into."""

    def destroy(name: str, replicated: bool = False) -> None:
        try:
            if replicated:
                sm.remove_regions_from_replication(
                    SecretId=name, RemoveReplicaRegions=[REPLICA_REGION]
                )
            sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError:
            pass

    _together(
        lambda: destroy(world.name),
        lambda: destroy(world.deleted),
        lambda: destroy(world.replicated, replicated=True),
    )


# What a test can see of the service


def _plain(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}


def _listed(client: Any) -> list[dict[str, Any]]:
    """Every secret of the account in the client's region, planned deletions too."""
    listed: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = client.list_secrets(
            IncludePlannedDeletion=True, MaxResults=100, **({"NextToken": token} if token else {})
        )
        listed.extend(page["SecretList"])
        token = page.get("NextToken")
        if not token:
            break
    return sorted(listed, key=lambda entry: entry["ARN"])


def snapshot(clients: Clients, world: World) -> dict[str, Any]:
    """Every secret of the account in every region named here, and the value, metadata (with
    replication status), versions and resource policy of the module's own secrets and of the
    replica."""
    sm, replica_sm = clients.primary, clients.replica
    own = (world.name, world.deleted, world.replicated)
    live = (world.name, world.replicated)  # a secret scheduled for deletion shows no policy
    reads: dict[tuple[str, ...], Callable[[], Any]] = {
        ("listed", REGION): lambda: _listed(sm),
        ("listed", REPLICA_REGION): lambda: _listed(replica_sm),
        ("listed", OTHER_REGION): lambda: _listed(clients.other),
    }
    for region, client, names, values in (
        (REGION, sm, own, live),
        (REPLICA_REGION, replica_sm, [world.replicated], [world.replicated]),
    ):
        for n in names:
            reads["described", region, n] = partial(client.describe_secret, SecretId=n)
            reads["versions", region, n] = partial(
                client.list_secret_version_ids, SecretId=n, IncludeDeprecated=True
            )
        for n in values:
            reads["value", region, n] = partial(client.get_secret_value, SecretId=n)
            reads["policy", region, n] = partial(client.get_resource_policy, SecretId=n)
    results = _together(*reads.values())
    return {
        key: _plain(result) if isinstance(result, dict) else result
        for key, result in zip(reads, results, strict=True)
    }


def top_level_value(name: str, shape: Shape, operation: str, world: World) -> Any:
    """A valid value that names the module's own secrets, so a wrongly accepted request
    would show up as a change."""
    changed = "changed by a bad request"
    secret_ids = {
        "RestoreSecret": world.deleted,
        "RemoveRegionsFromReplication": world.replicated,
        "StopReplicationToReplica": world.replicated,  # sent to the replica's region
    }
    values: dict[str, Callable[[], Any]] = {
        "SecretId": lambda: secret_ids.get(operation, world.name),
        "Name": world.new_name,
        "SecretIdList": lambda: [world.name],
        "Filters": lambda: [{"Key": "name", "Values": [world.prefix]}],
        "ClientRequestToken": lambda: str(uuid.uuid4()),
        "SecretString": lambda: changed,
        "SecretBinary": lambda: base64.b64encode(changed.encode()).decode(),
        "Description": lambda: changed,
        "VersionId": lambda: world.current_version,
        "VersionStage": lambda: LABEL if operation == "UpdateSecretVersionStage" else "AWSCURRENT",
        "RemoveFromVersionId": lambda: world.labelled_version,
        "MoveToVersionId": lambda: world.current_version,
        "VersionStages": lambda: ["AWSCURRENT"],
        "Tags": lambda: [{"Key": "owner", "Value": "changed"}],
        "TagKeys": lambda: ["owner"],
        "RecoveryWindowInDays": lambda: 7,
        "ResourcePolicy": lambda: json.dumps(PUBLIC_POLICY),
        "AddReplicaRegions": lambda: [{"Region": REPLICA_REGION}],
        "RemoveReplicaRegions": lambda: [REPLICA_REGION],
    }
    return values[name]() if name in values else bad_requests.valid_value(shape, STRUCTURE_VALUES)


SERVICE = bad_requests.Service(
    top_level_value,
    minimal_request={"MaxResults": 1},
    id_member="SecretId",
    structures=STRUCTURE_VALUES,
    base_extras=BASE_EXTRAS,
    exclusive=[frozenset(group) for group in EXCLUSIVE],
    needs=NEEDS,
)


def _error_fields_ok(payload: dict[str, Any]) -> bool:
    # Model errors carry "Message"; ValidationException and SerializationException "message".
    return set(payload) in ({"__type", "message"}, {"__type", "Message"})


@pytest.mark.parametrize("operation_name", OPERATIONS)
def test_bad_requests_get_400_and_change_nothing(dev_server, clients, world, operation_name):
    operation = MODEL.operation_model(operation_name)
    region = OPERATION_REGIONS.get(operation_name, REGION)
    before = snapshot(clients, world)

    @bad_requests.SETTINGS
    @given(bad=bad_requests.bad_request(operation, world, SERVICE))
    def check(bad: bad_requests.BadRequest) -> None:
        status, payload = call(dev_server, operation_name, bad.body, region)
        assert status == 400, (status, payload)
        # Exactly the error the defect calls for (never merely some model error).
        assert payload.get("__type") in bad.expected, payload
        assert _error_fields_ok(payload), payload
        if bad.secret is not None:
            assert bad.secret not in json.dumps(payload, ensure_ascii=False)

    check()
    assert snapshot(clients, world) == before


# Input the service refuses rather than the shape. Each body is built from a world no other
# case has changed (see Worlds); the expected error is AWS's (a set where AWS does not document
# which it gives). A case sent to another region, or whose message AWS words exactly, says so.

Body = Callable[[World], Any]
INVALID_NAMES = ["bad name", "bad*name?", "a\x00b"]


def _case(
    operation: str,
    body: Body,
    expected: str | set[str],
    case_id: str,
    *,
    region: str = REGION,
    message: str | None = None,
) -> Any:
    return pytest.param(
        operation,
        body,
        frozenset({expected} if isinstance(expected, str) else expected),
        region,
        message,
        id=case_id,
    )


WRITES = ["CreateSecret", "PutSecretValue", "UpdateSecret"]


def _writes(operation: str, w: World, **members: Any) -> dict[str, Any]:
    """A request that writes a value: to a new secret (CreateSecret) or to the world's secret.
    A member given as None is left out."""
    target = {"Name": w.new_name()} if operation == "CreateSecret" else {"SecretId": w.name}
    request = {**target, "SecretString": "x", **members}
    return {k: v for k, v in request.items() if v is not None}


SERVICE_CASES = [
    # ListSecrets filters: the key is a model enum; a filter without Key or Values is refused by
    # the service, an empty Values list by the model (min 1).
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "bogus", "Values": ["a"]}]},
        VALIDATION,
        "filter key outside the enum",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": []}]},
        VALIDATION,
        "filter with empty values",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name"}]},
        INVALID_PARAMETER,
        "filter without values",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Values": ["a"]}]},
        INVALID_PARAMETER,
        "filter without key",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": ["a"]}] * 11},
        VALIDATION,
        "eleven filters",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": ["caf\u00e9"]}]},
        VALIDATION,
        "filter value outside the pattern",
    ),
    _case(
        "ListSecrets",
        lambda w: {"Filters": [{"Key": "name", "Values": ["a\x00"]}]},
        VALIDATION,
        "filter value with NUL",
    ),
    _case(
        "BatchGetSecretValue",
        lambda w: {"Filters": [{"Key": "name"}]},
        INVALID_PARAMETER,
        "batch filter without values",
    ),
    # Page tokens the service never issued.
    _case("ListSecrets", lambda w: {"NextToken": "garbage"}, INVALID_NEXT_TOKEN, "list token"),
    _case(
        "ListSecretVersionIds",
        lambda w: {"SecretId": w.name, "NextToken": "garbage"},
        INVALID_NEXT_TOKEN,
        "versions token",
    ),
    _case(
        "ListSecretVersionIds",
        lambda w: {"SecretId": w.name, "NextToken": "\u0661"},  # ARABIC-INDIC DIGIT ONE
        INVALID_NEXT_TOKEN,
        "versions token of a non-ASCII digit",
    ),
    _case(
        "BatchGetSecretValue",
        lambda w: {"Filters": [{"Key": "name", "Values": [w.prefix]}], "NextToken": "garbage"},
        INVALID_NEXT_TOKEN,
        "batch token",
    ),
    # SecretIdList and Filters: exactly one; MaxResults only with Filters.
    _case(
        "BatchGetSecretValue",
        lambda w: {"SecretIdList": [w.name], "Filters": [{"Key": "name", "Values": [w.prefix]}]},
        INVALID_PARAMETER,
        "batch ids and filters",
    ),
    _case(
        "BatchGetSecretValue",
        lambda w: {"SecretIdList": [w.name], "MaxResults": 5},
        INVALID_PARAMETER,
        "batch ids with MaxResults",
    ),
    # ClientRequestToken: 32 to 64 characters. Secret values: at most 65536 bytes, and string
    # or binary but not both.
    *(
        _case(
            op,
            lambda w, op=op, n=n: _writes(op, w, ClientRequestToken="a" * n),
            VALIDATION,
            f"{op} token of {n} characters",
        )
        for n in (31, 65)
        for op in WRITES
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(op, w, SecretString="a" * 65537),
            VALIDATION,
            f"{op} string over 65536",
        )
        for op in WRITES
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(
                op, w, SecretString=None, SecretBinary=base64.b64encode(b"a" * 65537).decode()
            ),
            VALIDATION,
            f"{op} binary over 65536",
        )
        for op in WRITES
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(op, w, SecretBinary="eA=="),
            INVALID_PARAMETER,
            f"{op} string and binary",
        )
        for op in WRITES
    ),
    # AWS: "InvalidRequestException: You must provide either SecretString or SecretBinary."
    _case("PutSecretValue", lambda w: {"SecretId": w.name}, INVALID_REQUEST, "put no value"),
    # Recovery windows: 7 to 30 days, and not together with ForceDeleteWithoutRecovery.
    *(
        _case(
            "DeleteSecret",
            lambda w, days=days: {"SecretId": w.name, "RecoveryWindowInDays": days},
            INVALID_PARAMETER,
            f"recovery window of {days} days",
        )
        for days in (6, 31, 0, -1)
    ),
    _case(
        "DeleteSecret",
        lambda w: {
            "SecretId": w.name,
            "RecoveryWindowInDays": 7,
            "ForceDeleteWithoutRecovery": True,
        },
        INVALID_PARAMETER,
        "recovery window and force delete",
    ),
    _case(
        "DeleteSecret",
        lambda w: {
            "SecretId": w.name,
            "RecoveryWindowInDays": 31,
            "ForceDeleteWithoutRecovery": True,
        },
        INVALID_PARAMETER,
        "long recovery window and force delete",
    ),
    # Passwords that cannot be made.
    _case(
        "GetRandomPassword",
        lambda w: {
            "ExcludeNumbers": True,
            "ExcludePunctuation": True,
            "ExcludeUppercase": True,
            "ExcludeLowercase": True,
        },
        INVALID_PARAMETER,
        "password of no characters",
    ),
    _case(
        "GetRandomPassword",
        lambda w: {"PasswordLength": 3},
        INVALID_PARAMETER,
        "password shorter than the required types",
    ),
    # Secret names: ASCII letters, digits and -/_+=.@! only, in a new name and in a SecretId
    # (AWS answers ValidationException "Invalid name. Must be a valid name containing
    # alphanumeric characters, or any of the following: -/_+=.@!").
    *(
        _case(
            "CreateSecret",
            lambda w, bad=bad: {"Name": f"{w.prefix}/{bad}", "SecretString": "x"},
            VALIDATION,
            f"create name {bad!r}",
        )
        for bad in INVALID_NAMES
    ),
    *(
        _case(op, body, VALIDATION, f"{op} of secret id {bad!r}")
        for bad in INVALID_NAMES[::2]
        for op, body in [
            ("DescribeSecret", lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}"}),
            ("GetSecretValue", lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}"}),
            (
                "ListSecretVersionIds",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "IncludeDeprecated": True},
            ),
            (
                "PutSecretValue",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "SecretString": "x"},
            ),
            (
                "UpdateSecret",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "Description": "x"},
            ),
            (
                "DeleteSecret",
                lambda w, bad=bad: {
                    "SecretId": f"{w.prefix}/{bad}",
                    "ForceDeleteWithoutRecovery": True,
                },
            ),
            (
                "TagResource",
                lambda w, bad=bad: {
                    "SecretId": f"{w.prefix}/{bad}",
                    "Tags": [{"Key": "k", "Value": "v"}],
                },
            ),
            (
                "UntagResource",
                lambda w, bad=bad: {"SecretId": f"{w.prefix}/{bad}", "TagKeys": ["k"]},
            ),
        ]
    ),
]


# Resource policies. The module's secret holds ACCOUNT_POLICY, so a wrongly stored document
# shows; ValidateResourcePolicy stores nothing but must refuse the same documents.
def _statement(**changes: Any) -> str:
    """ACCOUNT_POLICY with its statement changed (a member changed to None is left out)."""
    statement = {**ACCOUNT_POLICY["Statement"][0], **changes}
    kept = {k: v for k, v in statement.items() if v is not None}
    return json.dumps({**ACCOUNT_POLICY, "Statement": [kept]})


MALFORMED_POLICIES = {
    "not JSON": "not json",
    "blank": " ",
    "a JSON array": "[]",
    "truncated": json.dumps(ACCOUNT_POLICY)[:-1],
    "no statement": json.dumps({"Version": "2012-10-17", "Statement": []}),
    "unknown version": json.dumps({**ACCOUNT_POLICY, "Version": "2011-01-01"}),
    "unknown top-level key": json.dumps({**ACCOUNT_POLICY, "Extra": 1}),
    "effect neither Allow nor Deny": _statement(Effect="Maybe"),
    "action without a service": _statement(Action="GetSecretValue"),
    "no principal": _statement(Principal=None),
    "principal neither account nor ARN": _statement(Principal={"AWS": "bob"}),
    "unknown condition operator": _statement(Condition={"StringSorta": {"a": "b"}}),
    "sid with an escaped NUL": _statement(Sid="Readers\x00Only"),  # JSON text: \u0000
}
# Anyone may read: refused under BlockPublicPolicy, however the principal says "everyone".
PUBLIC_POLICIES = {
    "principal *": json.dumps(PUBLIC_POLICY),
    "AWS principal *": _statement(Principal={"AWS": "*"}),
    "AWS principal [*]": _statement(Principal={"AWS": ["*"]}),
}
POLICY_CASES = [
    *(
        _case(
            "PutResourcePolicy",
            lambda w, doc=doc: {"SecretId": w.name, "ResourcePolicy": doc},
            MALFORMED_POLICY,
            f"put policy {why}",
        )
        for why, doc in MALFORMED_POLICIES.items()
    ),
    *(
        _case(
            "ValidateResourcePolicy",
            lambda w, doc=doc: {"SecretId": w.name, "ResourcePolicy": doc},
            MALFORMED_POLICY,
            f"validate policy {why}",
        )
        for why, doc in MALFORMED_POLICIES.items()
    ),
    *(
        _case(
            "PutResourcePolicy",
            lambda w, doc=doc: {
                "SecretId": w.name,
                "ResourcePolicy": doc,
                "BlockPublicPolicy": True,
            },
            PUBLIC_POLICY_REFUSED,
            f"blocked public policy, {why}",
        )
        for why, doc in PUBLIC_POLICIES.items()
    ),
    _case(
        "PutResourcePolicy",
        lambda w: {
            "SecretId": w.replicated,
            "ResourcePolicy": json.dumps(PUBLIC_POLICY),
            "BlockPublicPolicy": True,
        },
        PUBLIC_POLICY_REFUSED,
        "blocked public policy on a replicated secret",
    ),
    # AWS: "You can't perform this operation on the secret because it was marked for deletion."
    _case(
        "PutResourcePolicy",
        lambda w: {"SecretId": w.deleted, "ResourcePolicy": json.dumps(ACCOUNT_POLICY)},
        INVALID_REQUEST,
        "put policy on a secret scheduled for deletion",
    ),
    _case(
        "PutResourcePolicy",
        lambda w: {"SecretId": f"{w.prefix}/missing", "ResourcePolicy": json.dumps(PUBLIC_POLICY)},
        NOT_FOUND,
        "put policy on no secret",
    ),
    _case(
        "ValidateResourcePolicy",
        lambda w: {"SecretId": f"{w.prefix}/missing", "ResourcePolicy": json.dumps(PUBLIC_POLICY)},
        NOT_FOUND,
        "validate policy of no secret",
    ),
]

# Replication. A replica region must be a real region other than the primary's, named once;
# a region removed must be one the secret is replicated to; only a replica is promoted; a
# replica changes only through its primary (AWS: ON_REPLICA, sent to the replica's region);
# a primary with replicas cannot be deleted.
BAD_REPLICA_REGIONS = {
    "the primary's region": [{"Region": REGION}],
    "an unknown region": [{"Region": "mars-north-1"}],
    "a region twice": [{"Region": REPLICA_REGION}, {"Region": REPLICA_REGION}],
    "a region twice, keys apart": [
        {"Region": REPLICA_REGION},
        {"Region": REPLICA_REGION, "KmsKeyId": "alias/aws/secretsmanager"},
    ],
    "a good region and an unknown one": [{"Region": REPLICA_REGION}, {"Region": "mars-north-1"}],
    "a good region and the primary's": [{"Region": REPLICA_REGION}, {"Region": REGION}],
}
REPLICA_CHANGES: list[tuple[str, str, Body]] = [
    ("PutSecretValue", "value", lambda w: {"SecretId": w.replicated, "SecretString": "x"}),
    ("UpdateSecret", "value", lambda w: {"SecretId": w.replicated, "SecretString": "x"}),
    ("UpdateSecret", "description", lambda w: {"SecretId": w.replicated, "Description": "x"}),
    (
        "UpdateSecretVersionStage",
        "label",
        lambda w: {
            "SecretId": w.replicated,
            "VersionStage": LABEL,
            "MoveToVersionId": w.replicated_version,
        },
    ),
    (
        "TagResource",
        "tag",
        lambda w: {"SecretId": w.replicated, "Tags": [{"Key": "owner", "Value": "x"}]},
    ),
    ("UntagResource", "untag", lambda w: {"SecretId": w.replicated, "TagKeys": ["owner"]}),
    ("DeleteSecret", "delete", lambda w: {"SecretId": w.replicated}),
    (
        "DeleteSecret",
        "force delete",
        lambda w: {"SecretId": w.replicated, "ForceDeleteWithoutRecovery": True},
    ),
    (
        "PutResourcePolicy",
        "put policy",
        lambda w: {"SecretId": w.replicated, "ResourcePolicy": json.dumps(PUBLIC_POLICY)},
    ),
    ("DeleteResourcePolicy", "delete policy", lambda w: {"SecretId": w.replicated}),
    (
        "ReplicateSecretToRegions",
        "replicate",
        lambda w: {"SecretId": w.replicated, "AddReplicaRegions": [{"Region": OTHER_REGION}]},
    ),
    (
        "RemoveRegionsFromReplication",
        "remove region",
        lambda w: {"SecretId": w.replicated, "RemoveReplicaRegions": [REPLICA_REGION]},
    ),
]
REPLICATION_CASES = [
    *(
        _case(
            "ReplicateSecretToRegions",
            lambda w, regions=regions: {"SecretId": w.name, "AddReplicaRegions": regions},
            INVALID_PARAMETER,
            f"replicate to {why}",
        )
        for why, regions in BAD_REPLICA_REGIONS.items()
    ),
    _case(
        "ReplicateSecretToRegions",
        lambda w: {"SecretId": w.replicated, "AddReplicaRegions": [{"Region": REGION}]},
        INVALID_PARAMETER,
        "replicate a replicated secret to its own region",
    ),
    *(
        _case(
            "CreateSecret",
            lambda w, regions=regions: {
                "Name": w.new_name(),
                "SecretString": "x",
                "AddReplicaRegions": regions,
            },
            INVALID_PARAMETER,
            f"create replicated to {why}",
        )
        for why, regions in BAD_REPLICA_REGIONS.items()
    ),
    _case(
        "RemoveRegionsFromReplication",
        lambda w: {"SecretId": w.name, "RemoveReplicaRegions": [REPLICA_REGION]},
        INVALID_PARAMETER,
        "remove a region from a secret not replicated",
    ),
    *(
        _case(
            "RemoveRegionsFromReplication",
            lambda w, regions=regions: {"SecretId": w.replicated, "RemoveReplicaRegions": regions},
            INVALID_PARAMETER,
            f"remove {why}",
        )
        for why, regions in {
            "a region not replicated to": [OTHER_REGION],
            "the primary's region": [REGION],
            "an unknown region": ["mars-north-1"],
            "a replicated region and one not": [REPLICA_REGION, OTHER_REGION],
        }.items()
    ),
    # AWS: InvalidRequestException for a secret that is no replica.
    _case(
        "StopReplicationToReplica",
        lambda w: {"SecretId": w.replicated},
        INVALID_REQUEST,
        "stop replication of a primary",
    ),
    _case(
        "StopReplicationToReplica",
        lambda w: {"SecretId": w.name},
        INVALID_REQUEST,
        "stop replication of a secret not replicated",
    ),
    *(
        _case(
            operation,
            body,
            INVALID_PARAMETER,
            f"{what} on a replica",
            region=REPLICA_REGION,
            message=ON_REPLICA,
        )
        for operation, what, body in REPLICA_CHANGES
    ),
    *(
        _case(
            "DeleteSecret",
            lambda w, members=members: {"SecretId": w.replicated, **members},
            INVALID_PARAMETER,
            f"delete a primary with replicas, {how}",
        )
        for how, members in {
            "default window": {},
            "window of 7 days": {"RecoveryWindowInDays": 7},
            "without recovery": {"ForceDeleteWithoutRecovery": True},
        }.items()
    ),
]


# Stored text with NUL in it. PostgreSQL cannot hold or even compare such text, so every
# backend must refuse it the same way; AWS documents no error for these, so any client error
# AWS might give passes, but never a 500 and never a change.
NUL_REFUSED = {VALIDATION, INVALID_PARAMETER}
NUL_CASES = [
    _case(
        "CreateSecret",
        lambda w: {"Name": w.new_name(), "SecretString": "x", "Description": "a\x00b"},
        NUL_REFUSED,
        "NUL in create description",
    ),
    _case(
        "UpdateSecret",
        lambda w: {"SecretId": w.name, "Description": "a\x00b"},
        NUL_REFUSED,
        "NUL in update description",
    ),
    _case(
        "CreateSecret",
        lambda w: {"Name": w.new_name(), "Tags": [{"Key": "k\x00", "Value": "v"}]},
        NUL_REFUSED,
        "NUL in create tag key",
    ),
    _case(
        "TagResource",
        lambda w: {"SecretId": w.name, "Tags": [{"Key": "k\x00", "Value": "v"}]},
        NUL_REFUSED,
        "NUL in tag key",
    ),
    _case(
        "TagResource",
        lambda w: {"SecretId": w.name, "Tags": [{"Key": "k", "Value": "v\x00"}]},
        NUL_REFUSED,
        "NUL in tag value",
    ),
    _case(
        "UntagResource",
        lambda w: {"SecretId": w.name, "TagKeys": ["owner\x00"]},
        NUL_REFUSED,
        "NUL in untag key",
    ),
    _case(
        "PutSecretValue",
        lambda w: {"SecretId": w.name, "SecretString": "x", "VersionStages": ["a\x00"]},
        NUL_REFUSED,
        "NUL in put stage",
    ),
    *(
        _case(
            op,
            lambda w, op=op: _writes(op, w, ClientRequestToken="a" * 31 + "\x00"),
            NUL_REFUSED,
            f"NUL in {op} token",
        )
        for op in WRITES
    ),
    _case(
        "UpdateSecretVersionStage",
        lambda w: {
            "SecretId": w.name,
            "VersionStage": "a\x00",
            "MoveToVersionId": w.current_version,
        },
        NUL_REFUSED,
        "NUL in move stage",
    ),
    _case(
        "UpdateSecretVersionStage",
        lambda w: {"SecretId": w.name, "VersionStage": LABEL, "MoveToVersionId": "a" * 31 + "\x00"},
        NUL_REFUSED | {NOT_FOUND},
        "NUL in move to version",
    ),
    _case(
        "GetSecretValue",
        lambda w: {"SecretId": w.name, "VersionId": "a" * 31 + "\x00"},
        NUL_REFUSED | {NOT_FOUND},
        "NUL in get version",
    ),
    _case(
        "GetSecretValue",
        lambda w: {"SecretId": w.name, "VersionStage": "a\x00"},
        NUL_REFUSED | {NOT_FOUND},
        "NUL in get stage",
    ),
    # A policy document with a raw NUL is no JSON either.
    _case(
        "PutResourcePolicy",
        lambda w: {"SecretId": w.name, "ResourcePolicy": json.dumps(PUBLIC_POLICY) + "\x00"},
        NUL_REFUSED | {MALFORMED_POLICY},
        "NUL after a policy",
    ),
    _case(
        "PutResourcePolicy",
        lambda w: {
            "SecretId": w.name,
            "ResourcePolicy": json.dumps(PUBLIC_POLICY).replace("GetSecretValue", "Get\x00"),
        },
        NUL_REFUSED | {MALFORMED_POLICY},
        "NUL in a policy string",
    ),
    _case(
        "ValidateResourcePolicy",
        lambda w: {"SecretId": w.name, "ResourcePolicy": json.dumps(PUBLIC_POLICY) + "\x00"},
        NUL_REFUSED | {MALFORMED_POLICY},
        "NUL after a validated policy",
    ),
    # A replica's KMS key is stored with the primary's replication status.
    _case(
        "ReplicateSecretToRegions",
        lambda w: {
            "SecretId": w.name,
            "AddReplicaRegions": [{"Region": REPLICA_REGION, "KmsKeyId": "alias/a\x00"}],
        },
        NUL_REFUSED,
        "NUL in replica key",
    ),
    _case(
        "CreateSecret",
        lambda w: {
            "Name": w.new_name(),
            "SecretString": "x",
            "AddReplicaRegions": [{"Region": REPLICA_REGION, "KmsKeyId": "alias/a\x00"}],
        },
        NUL_REFUSED,
        "NUL in create replica key",
    ),
    _case(
        "RemoveRegionsFromReplication",
        lambda w: {"SecretId": w.replicated, "RemoveReplicaRegions": [REPLICA_REGION + "\x00"]},
        NUL_REFUSED,
        "NUL in removed region",
    ),
]
# JSON escapes of unpaired UTF-16 surrogates parse, but are no text any storage holds.
SURROGATE_CASES = [
    _case(
        "CreateSecret",
        lambda w: {"Name": w.new_name(), "SecretString": "\ud800"},
        SERIALIZATION,
        "surrogate in create value",
    ),
    _case(
        "CreateSecret",
        lambda w: {"Name": f"{w.prefix}/\udfff"},
        SERIALIZATION,
        "surrogate in create name",
    ),
    _case(
        "UpdateSecret",
        lambda w: {"SecretId": w.name, "Description": "\udfff"},
        SERIALIZATION,
        "surrogate in update description",
    ),
    _case(
        "TagResource",
        lambda w: {"SecretId": w.name, "Tags": [{"Key": "\ud83d", "Value": "v"}]},
        SERIALIZATION,
        "surrogate in tag key",
    ),
    _case(
        "DescribeSecret",
        lambda w: {"SecretId": "\ud800"},
        SERIALIZATION,
        "surrogate in describe id",
    ),
    _case(
        "PutResourcePolicy",
        lambda w: {"SecretId": w.name, "ResourcePolicy": "\ud800"},
        SERIALIZATION,
        "surrogate in policy",
    ),
    _case(
        "ReplicateSecretToRegions",
        lambda w: {
            "SecretId": w.name,
            "AddReplicaRegions": [{"Region": REPLICA_REGION, "KmsKeyId": "alias/\udfff"}],
        },
        SERIALIZATION,
        "surrogate in replica key",
    ),
]


CASE_ARGS = ("operation", "body", "expected", "region", "message")


@pytest.mark.parametrize(CASE_ARGS, SERVICE_CASES + POLICY_CASES + REPLICATION_CASES)
def test_service_level_bad_input(
    dev_server, clients, worlds, fresh_world, operation, body, expected, region, message
):
    world = fresh_world
    before = snapshot(clients, world)
    status, payload = call(dev_server, operation, body(world), region)
    assert (status, payload.get("__type")) in {(400, code) for code in expected}, (status, payload)
    assert _error_fields_ok(payload), payload
    if message is not None:
        assert payload.get("Message", payload.get("message")) == message, payload
    worlds.unchanged(world, before)


@pytest.mark.parametrize(CASE_ARGS, NUL_CASES + SURROGATE_CASES)
def test_text_no_storage_can_hold_is_refused(
    dev_server, clients, worlds, fresh_world, operation, body, expected, region, message
):
    world = fresh_world
    before = snapshot(clients, world)
    status, payload = call(dev_server, operation, body(world), region)
    assert (status, payload.get("__type")) in {(400, code) for code in expected}, (status, payload)
    worlds.unchanged(world, before)


def test_batch_get_of_an_id_no_secret_can_have(dev_server, clients, worlds, fresh_world):
    """A SecretId with NUL names no secret: an error for it (in Errors, or the whole call
    refused), never a 500."""
    world = fresh_world
    before = snapshot(clients, world)
    status, payload = call(dev_server, "BatchGetSecretValue", {"SecretIdList": ["a\x00b"]})
    if status == 200:
        assert payload["SecretValues"] == []
        assert [e["ErrorCode"] for e in payload["Errors"]] in ([NOT_FOUND], [VALIDATION]), payload
    else:
        assert (status, payload.get("__type")) == (400, VALIDATION), payload
    worlds.unchanged(world, before)


def test_surrogate_pairs_are_text(dev_server, sm, world):
    name = world.new_name()
    body = f'{{"Name": "{name}", "SecretString": "smile \\ud83d\\ude00"}}'
    status, payload = call(dev_server, "CreateSecret", body)
    assert status == 200, payload
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "smile \U0001f600"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize(
    "target",
    [
        f"{TARGET_PREFIX}.NoSuchOperation",
        f"{TARGET_PREFIX}.",
        f"{TARGET_PREFIX}X.GetSecretValue",
        "GetSecretValue",
    ],
)
def test_unknown_operations_and_targets(dev_server, target):
    request = signing.signed_request(dev_server, target, {}, service="secretsmanager")
    status, payload = signing.send(dev_server, request)
    assert (status, payload.get("__type")) == (400, "UnknownOperationException"), payload
