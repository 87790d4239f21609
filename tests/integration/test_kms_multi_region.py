"""Multi-Region KMS keys through stock boto3, one client per Region: CreateKey MultiRegion,
ReplicateKey, UpdatePrimaryRegion and the MultiRegionConfiguration DescribeKey reports.

Checked against the AWS KMS API reference and the developer guide's multi-Region pages: related
keys share one key id and their key material (a ciphertext made in one Region decrypts in every
Region holding the key; rotating the primary rotates every replica), while key state, policy,
tags, aliases and grants are each Region's own; a primary scheduled for deletion waits in
PendingReplicaDeletion until its replicas are gone (the dev clock moves time; the
leader-elected jobs are the real ones).
"""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS
from tests.support.kms import (
    MISSING_KEY_MESSAGE,
    all_pages,
    aws_error,
    tags,
    unchanged,
    unique_alias,
)
from tests.support.operator import post
from tests.support.storage import storage

PRIMARY = "us-east-1"
WEST, EUROPE = REPLICAS = ("us-west-2", "eu-west-1")
REGIONS = (PRIMARY, *REPLICAS)
ELSEWHERE = "ap-south-1"  # a Region where the key never has a replica
DAY = 86400
MRK_ID = re.compile(r"mrk-[0-9a-f]{32}")
CONTEXT = {"purpose": "multi-Region test"}


# Helpers


def regional_clients(server: Any) -> dict[str, Any]:
    """A KMS client for each Region of the key, and one for a Region without it."""
    return {region: server.client("kms", region_name=region) for region in (*REGIONS, ELSEWHERE)}


@pytest.fixture(scope="module")
def clients(dev_server):
    return regional_clients(dev_server)


def new_primary(clients: dict[str, Any], **params: Any) -> dict[str, Any]:
    params.setdefault("Description", f"multi-Region key {uuid.uuid4()}")
    return clients[PRIMARY].create_key(MultiRegion=True, **params)["KeyMetadata"]


def replicate(clients: dict[str, Any], key_id: str, regions: Iterable[str] = REPLICAS) -> None:
    for region in regions:
        clients[PRIMARY].replicate_key(KeyId=key_id, ReplicaRegion=region)


def new_replicated(
    clients: dict[str, Any], regions: Iterable[str] = REPLICAS, **params: Any
) -> dict[str, Any]:
    """A new primary key in us-east-1 with replicas in `regions`."""
    key = new_primary(clients, **params)
    replicate(clients, key["KeyId"], regions)
    return key


@pytest.fixture
def primary(clients):
    """A new multi-Region primary key, not replicated yet."""
    return new_primary(clients)


@pytest.fixture
def replicated(clients):
    """A new multi-Region primary key with replicas in us-west-2 and eu-west-1."""
    return new_replicated(clients)


def arn_in(key: dict[str, Any], region: str) -> str:
    return f"arn:aws:kms:{region}:{key['AWSAccountId']}:key/{key['KeyId']}"


def metadata(kms: Any, key_id: str) -> dict[str, Any]:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]


def configuration(
    key: dict[str, Any], region: str, primary: str = PRIMARY, replicas: Iterable[str] = REPLICAS
) -> dict[str, Any]:
    """The MultiRegionConfiguration the key's Region `region` should report."""

    def member(where: str) -> dict[str, str]:
        return {"Arn": arn_in(key, where), "Region": where}

    return {
        "MultiRegionKeyType": "PRIMARY" if region == primary else "REPLICA",
        "PrimaryKey": member(primary),
        "ReplicaKeys": [member(where) for where in sorted(replicas)],
    }


def reported_configuration(described: dict[str, Any]) -> dict[str, Any]:
    """DescribeKey's MultiRegionConfiguration, its replicas in Region order (AWS gives none)."""
    reported = dict(described["MultiRegionConfiguration"])
    reported["ReplicaKeys"] = sorted(reported["ReplicaKeys"], key=lambda m: m["Region"])
    return reported


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def rotation_status(kms: Any, key_id: str) -> dict[str, Any]:
    return without_metadata(kms.get_key_rotation_status(KeyId=key_id))


def rotations(kms: Any, key_id: str, **params: Any) -> list[dict[str, Any]]:
    return all_pages(kms.list_key_rotations, "Rotations", KeyId=key_id, **params)


def material_version(blob: bytes) -> int:
    """The key material version a symmetric ciphertext names (big-endian, bytes 17..21)."""
    return int.from_bytes(blob[17:21], "big")


def key_policy(key: dict[str, Any], sid: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{key['AWSAccountId']}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def answer(call: Callable[[], Any]) -> Any:
    """What the call returns, or the code of the error it raises."""
    try:
        return call()
    except ClientError as error:
        return error.response["Error"]["Code"]


def region_state(kms: Any, key_id: str) -> dict[str, Any] | None:
    """Everything a Region holds of the key (None: no key there)."""
    try:
        described = metadata(kms, key_id)
    except kms.exceptions.NotFoundException:
        return None
    return {
        "metadata": described,
        "policy": kms.get_key_policy(KeyId=key_id)["Policy"],
        "tags": tags(kms, key_id),
        "aliases": all_pages(kms.list_aliases, "Aliases", KeyId=key_id),
        "grants": all_pages(kms.list_grants, "Grants", KeyId=key_id),
        "rotation": answer(lambda: rotation_status(kms, key_id)),
        "materials": rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"),
    }


@contextmanager
def unchanged_everywhere(clients: dict[str, Any], key_id: str) -> Iterator[None]:
    """No Region's keys or aliases change, nor anything of the key in any Region."""
    before = {region: region_state(kms, key_id) for region, kms in clients.items()}
    with ExitStack() as stack:
        for kms in clients.values():
            stack.enter_context(unchanged(kms))
        yield
    assert {region: region_state(kms, key_id) for region, kms in clients.items()} == before


def advance_clock(server: Any, seconds: float) -> datetime.datetime:
    """Move the dev clock; the server's time now."""
    status, reply = post(server, "/_strongroom/dev/clock", {"advance_seconds": seconds})
    assert status == 200, reply
    return datetime.datetime.fromtimestamp(float(reply["now"]), datetime.UTC)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def gone(kms: Any, key_id: str) -> bool:
    try:
        kms.describe_key(KeyId=key_id)
    except kms.exceptions.NotFoundException:
        return True
    return False


def in_state(kms: Any, key_id: str, state: str) -> dict[str, Any] | None:
    described = metadata(kms, key_id)
    return described if described["KeyState"] == state else None


# Creating and replicating


def test_create_key_multi_region_makes_a_primary_key(clients, primary, new_key):
    assert MRK_ID.fullmatch(primary["KeyId"])
    assert primary["Arn"] == arn_in(primary, PRIMARY)
    assert primary["MultiRegion"] is True
    assert primary["MultiRegionConfiguration"] == configuration(primary, PRIMARY, replicas=())
    assert metadata(clients[PRIMARY], primary["Arn"]) == primary
    for region in (*REPLICAS, ELSEWHERE):  # a primary alone: no other Region has the key
        with aws_error("NotFoundException"):
            clients[region].describe_key(KeyId=primary["KeyId"])

    for single in (new_key(), new_key(MultiRegion=False)):
        assert single["MultiRegion"] is False
        assert "MultiRegionConfiguration" not in single
        assert not single["KeyId"].startswith("mrk-")


def test_replicate_key_to_two_regions(clients, primary):
    key_id = primary["KeyId"]
    own_policy = key_policy(primary, "Western administrators")
    west = clients[PRIMARY].replicate_key(
        KeyId=key_id,
        ReplicaRegion=WEST,
        Policy=own_policy,
        Description="western replica",
        Tags=[{"TagKey": "team", "TagValue": "west"}],
    )
    europe = clients[PRIMARY].replicate_key(KeyId=primary["Arn"], ReplicaRegion=EUROPE)

    default_policy = clients[PRIMARY].get_key_policy(KeyId=key_id)["Policy"]
    assert west["ReplicaPolicy"] == own_policy
    assert json.loads(europe["ReplicaPolicy"]) == json.loads(default_policy)
    assert west["ReplicaTags"] == [{"TagKey": "team", "TagValue": "west"}]
    assert europe["ReplicaTags"] == []
    expected = {  # the replica's own (Description defaults to the primary's)
        WEST: (west, "western replica", own_policy, {"team": "west"}),
        EUROPE: (europe, primary["Description"], europe["ReplicaPolicy"], {}),
    }
    shared = ["KeyId", "KeyUsage", "KeySpec", "Origin", "KeyManager", "EncryptionAlgorithms"]
    shared += ["MultiRegion", "CurrentKeyMaterialId"]
    for region, (response, description, policy, own_tags) in expected.items():
        replica = response["ReplicaKeyMetadata"]
        assert {k: replica[k] for k in shared} == {k: primary[k] for k in shared}
        assert replica["Arn"] == arn_in(primary, region)
        assert replica["KeyState"] == "Enabled" and replica["Enabled"] is True
        assert replica["Description"] == description
        replicas_then = [WEST] if region == WEST else REPLICAS  # when it was made
        assert reported_configuration(replica) == configuration(
            primary, region, PRIMARY, replicas_then
        )

        described = metadata(clients[region], key_id)
        assert reported_configuration(described) == configuration(primary, region)
        assert {**described, "MultiRegionConfiguration": None} == {
            **replica,
            "MultiRegionConfiguration": None,
        }
        assert clients[region].get_key_policy(KeyId=key_id)["Policy"] == policy
        assert tags(clients[region], key_id) == own_tags

    # The primary now lists both replicas, and is otherwise what it was.
    described = metadata(clients[PRIMARY], key_id)
    assert reported_configuration(described) == configuration(primary, PRIMARY)
    assert {**described, "MultiRegionConfiguration": None} == {
        **primary,
        "MultiRegionConfiguration": None,
    }
    assert tags(clients[PRIMARY], key_id) == {}


# One key material


@pytest.mark.parametrize("source", REGIONS)
def test_a_ciphertext_decrypts_in_every_region_of_the_key(clients, replicated, source):
    key_id = replicated["KeyId"]
    made = clients[source].encrypt(KeyId=key_id, Plaintext=b"travels", EncryptionContext=CONTEXT)
    assert made["KeyId"] == arn_in(replicated, source)
    blob = made["CiphertextBlob"]
    for region in REGIONS:
        kms = clients[region]
        for named in ({}, {"KeyId": key_id}, {"KeyId": arn_in(replicated, region)}):
            opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT, **named)
            assert opened["Plaintext"] == b"travels"
            assert opened["KeyId"] == arn_in(replicated, region)
        with aws_error("InvalidCiphertextException"):  # the context is still bound
            kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
        for other in REGIONS:  # a key ARN names the key of its own Region only
            if other != region:
                with aws_error("NotFoundException"):
                    kms.decrypt(
                        CiphertextBlob=blob,
                        EncryptionContext=CONTEXT,
                        KeyId=arn_in(replicated, other),
                    )


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_data_key_made_in_a_replica_decrypts_in_the_primary_region(clients, replicated, replica):
    data_key = clients[replica].generate_data_key(
        KeyId=replicated["KeyId"], KeySpec="AES_256", EncryptionContext=CONTEXT
    )
    assert data_key["KeyId"] == arn_in(replicated, replica)
    for region in REGIONS:
        opened = clients[region].decrypt(
            CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=CONTEXT
        )
        assert opened["Plaintext"] == data_key["Plaintext"]


def test_a_region_without_the_key_cannot_decrypt(clients, primary):
    """The ciphertext names a key the Region does not have: AccessDeniedException with AWS's
    message, as for a deleted key's ciphertext. A KeyId naming a key that is not there is
    NotFoundException."""
    key_id = primary["KeyId"]
    blob = clients[PRIMARY].encrypt(KeyId=key_id, Plaintext=b"home")["CiphertextBlob"]
    for region in (*REPLICAS, ELSEWHERE):
        with aws_error("AccessDeniedException", message=MISSING_KEY_MESSAGE):
            clients[region].decrypt(CiphertextBlob=blob)
        with aws_error("NotFoundException"):
            clients[region].decrypt(CiphertextBlob=blob, KeyId=key_id)

    # Replicated to one Region, the key decrypts there, and still nowhere else.
    replicate(clients, key_id, [WEST])
    assert clients[WEST].decrypt(CiphertextBlob=blob)["Plaintext"] == b"home"
    for region in (EUROPE, ELSEWHERE):
        with aws_error("AccessDeniedException", message=MISSING_KEY_MESSAGE):
            clients[region].decrypt(CiphertextBlob=blob)


def test_a_replica_made_after_rotations_has_every_material(clients, primary):
    key_id = primary["KeyId"]
    east, west = clients[PRIMARY], clients[WEST]
    blobs = []
    for version in (1, 2, 3):
        blobs.append(east.encrypt(KeyId=key_id, Plaintext=b"v%d" % version)["CiphertextBlob"])
        if version < 3:
            east.rotate_key_on_demand(KeyId=key_id)
    replicate(clients, key_id, [WEST])

    materials = rotations(east, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert len(materials) == 3
    assert rotations(west, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL") == [
        {**material, "KeyId": arn_in(primary, WEST)} for material in materials
    ]
    assert metadata(west, key_id)["CurrentKeyMaterialId"] == materials[-1]["KeyMaterialId"]
    for version, blob in enumerate(blobs, start=1):
        assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"v%d" % version
    assert material_version(west.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]) == 3


def _signature(made_in: Any, checked_in: Any, key_id: str) -> None:
    algorithm = "ECDSA_SHA_256"
    signed = made_in.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)
    verified = checked_in.verify(
        KeyId=key_id, Message=b"m", Signature=signed["Signature"], SigningAlgorithm=algorithm
    )
    assert verified["SignatureValid"] is True
    public_keys = {kms.get_public_key(KeyId=key_id)["PublicKey"] for kms in (made_in, checked_in)}
    assert len(public_keys) == 1


def _mac(made_in: Any, checked_in: Any, key_id: str) -> None:
    algorithm = "HMAC_SHA_256"
    mac = made_in.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm=algorithm)["Mac"]
    verified = checked_in.verify_mac(KeyId=key_id, Message=b"m", Mac=mac, MacAlgorithm=algorithm)
    assert verified["MacValid"] is True


def _rsa_encryption(made_in: Any, checked_in: Any, key_id: str) -> None:
    algorithm = "RSAES_OAEP_SHA_256"
    blob = made_in.encrypt(KeyId=key_id, Plaintext=b"m", EncryptionAlgorithm=algorithm)
    opened = checked_in.decrypt(
        KeyId=key_id, CiphertextBlob=blob["CiphertextBlob"], EncryptionAlgorithm=algorithm
    )
    assert opened["Plaintext"] == b"m"


# A key spec, and a use made in one Region and checked in another.
OTHER_KEY_SPECS = {
    "ECC_NIST_P256 signing": ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, _signature),
    "HMAC_256": ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, _mac),
    "RSA_2048 encryption": (
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        _rsa_encryption,
    ),
}


@pytest.mark.parametrize("spec, use", OTHER_KEY_SPECS.values(), ids=list(OTHER_KEY_SPECS))
def test_asymmetric_and_hmac_replicas_share_the_key(clients, spec, use):
    key = new_replicated(clients, [WEST], **spec)
    replica = metadata(clients[WEST], key["KeyId"])
    assert {k: replica[k] for k in spec} == spec and replica["MultiRegion"] is True
    for made_in, checked_in in ((PRIMARY, WEST), (WEST, PRIMARY)):
        use(clients[made_in], clients[checked_in], key["KeyId"])


# Each Region's key is a key of its own


@pytest.mark.parametrize("disabled", REGIONS)
def test_disabling_one_key_of_the_set_leaves_the_others_working(clients, replicated, disabled):
    key_id = replicated["KeyId"]
    blob = clients[PRIMARY].encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    clients[disabled].disable_key(KeyId=key_id)
    for region in REGIONS:
        kms = clients[region]
        described = metadata(kms, key_id)
        if region == disabled:
            assert described["KeyState"] == "Disabled" and described["Enabled"] is False
            with aws_error("DisabledException"):
                kms.encrypt(KeyId=key_id, Plaintext=b"x")
            with aws_error("DisabledException"):
                kms.decrypt(CiphertextBlob=blob)
        else:
            assert described["KeyState"] == "Enabled" and described["Enabled"] is True
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
            kms.encrypt(KeyId=key_id, Plaintext=b"x")


def test_tags_aliases_grants_and_policy_of_a_replica_are_its_own(clients, replicated):
    key_id = replicated["KeyId"]
    west = clients[WEST]
    alias = unique_alias()
    grantee = f"arn:aws:iam::{replicated['AWSAccountId']}:role/{uuid.uuid4()}"
    default_policy = clients[PRIMARY].get_key_policy(KeyId=key_id)["Policy"]
    west.put_key_policy(KeyId=key_id, Policy=key_policy(replicated, "Western administrators"))
    west.update_key_description(KeyId=key_id, Description="western replica")
    west.tag_resource(KeyId=key_id, Tags=[{"TagKey": "where", "TagValue": "west"}])
    west.create_alias(AliasName=alias, TargetKeyId=key_id)
    grant_id = west.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Decrypt"])[
        "GrantId"
    ]

    assert tags(west, key_id) == {"where": "west"}
    [listed] = all_pages(west.list_aliases, "Aliases", KeyId=key_id)
    assert (listed["AliasName"], listed["TargetKeyId"]) == (alias, key_id)
    [grant] = all_pages(west.list_grants, "Grants", KeyId=key_id)
    assert grant["GrantId"] == grant_id and grant["KeyId"] == arn_in(replicated, WEST)
    assert west.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == arn_in(replicated, WEST)
    for region in (PRIMARY, EUROPE):
        kms = clients[region]
        assert kms.get_key_policy(KeyId=key_id)["Policy"] == default_policy
        assert metadata(kms, key_id)["Description"] == replicated["Description"]
        assert tags(kms, key_id) == {}
        assert all_pages(kms.list_aliases, "Aliases", KeyId=key_id) == []
        assert all_pages(kms.list_grants, "Grants", KeyId=key_id) == []
        with aws_error("NotFoundException"):
            kms.encrypt(KeyId=alias, Plaintext=b"x")

    # The primary's Region may give the same names to its own key: the replica's stay as they were.
    east = clients[PRIMARY]
    east.create_alias(AliasName=alias, TargetKeyId=key_id)
    east.tag_resource(KeyId=key_id, Tags=[{"TagKey": "where", "TagValue": "east"}])
    assert east.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == replicated["Arn"]
    assert tags(east, key_id) == {"where": "east"}
    assert tags(west, key_id) == {"where": "west"}
    assert all_pages(west.list_aliases, "Aliases", KeyId=key_id) == [listed]


def test_list_keys_lists_the_key_once_in_each_region(clients, replicated):
    key_id = replicated["KeyId"]
    for region, kms in clients.items():
        # Small pages where few keys are: their markers then fall on multi-Region keys.
        limit = 1000 if region == PRIMARY else 2
        listed = [k for k in all_pages(kms.list_keys, "Keys", Limit=limit) if k["KeyId"] == key_id]
        expected = (
            [] if region == ELSEWHERE else [{"KeyId": key_id, "KeyArn": arn_in(replicated, region)}]
        )
        assert listed == expected, region


# Rotation


def test_rotating_the_primary_rotates_every_replica(clients, replicated):
    key_id = replicated["KeyId"]
    before = [
        clients[region].encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
        for region in REGIONS
    ]
    clients[PRIMARY].rotate_key_on_demand(KeyId=key_id)

    current = {metadata(clients[region], key_id)["CurrentKeyMaterialId"] for region in REGIONS}
    assert len(current) == 1 and current != {replicated["CurrentKeyMaterialId"]}
    [rotation] = rotations(clients[PRIMARY], key_id)
    for region in REGIONS:
        assert rotations(clients[region], key_id) == [
            {**rotation, "KeyId": arn_in(replicated, region)}
        ]
    assert rotation["RotationType"] == "ON_DEMAND" and {rotation["KeyMaterialId"]} == current

    after = [
        clients[region].encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
        for region in REGIONS
    ]
    assert [material_version(blob) for blob in before + after] == [1, 1, 1, 2, 2, 2]
    for region in REGIONS:
        for blob, plaintext in [(blob, b"old") for blob in before] + [
            (blob, b"new") for blob in after
        ]:
            assert clients[region].decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


@pytest.mark.parametrize(
    "operation", ["rotate_key_on_demand", "enable_key_rotation", "disable_key_rotation"]
)
def test_a_replica_is_never_rotated_on_its_own(clients, replicated, operation):
    key_id = replicated["KeyId"]
    with unchanged_everywhere(clients, key_id), aws_error("UnsupportedOperationException"):
        getattr(clients[WEST], operation)(KeyId=key_id)


def test_a_replica_reports_its_primary_rotation_schedule(clients, replicated):
    key_id = replicated["KeyId"]
    for region in REGIONS:
        assert rotation_status(clients[region], key_id) == {
            "KeyRotationEnabled": False,
            "KeyId": arn_in(replicated, region),
        }
    clients[PRIMARY].enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    schedule = rotation_status(clients[PRIMARY], key_id)
    assert schedule["KeyRotationEnabled"] is True and schedule["RotationPeriodInDays"] == 180
    for region in REPLICAS:
        assert rotation_status(clients[region], key_id) == {
            **schedule,
            "KeyId": arn_in(replicated, region),
        }


def test_automatic_rotation_of_the_primary_rotates_its_replicas(own_dev_server):
    clients = regional_clients(own_dev_server)
    key = new_replicated(clients)
    key_id = key["KeyId"]
    old = clients[WEST].encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    clients[PRIMARY].enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)

    advance_clock(own_dev_server, 91 * DAY)
    [rotation] = wait_for(lambda: rotations(clients[PRIMARY], key_id), "automatic rotation")
    assert rotation["RotationType"] == "AUTOMATIC"
    for region in REPLICAS:
        assert rotations(clients[region], key_id) == [{**rotation, "KeyId": arn_in(key, region)}]
        assert (
            metadata(clients[region], key_id)["CurrentKeyMaterialId"] == rotation["KeyMaterialId"]
        )
        assert rotation_status(clients[region], key_id) == {
            **rotation_status(clients[PRIMARY], key_id),
            "KeyId": arn_in(key, region),
        }
    new = clients[EUROPE].encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert material_version(new) == 2
    assert clients[PRIMARY].decrypt(CiphertextBlob=new)["Plaintext"] == b"new"
    for region in REGIONS:
        assert clients[region].decrypt(CiphertextBlob=old)["Plaintext"] == b"old"


# UpdatePrimaryRegion


def test_update_primary_region_swaps_the_roles_and_moves_the_schedule(clients, replicated):
    key_id = replicated["KeyId"]
    east, west = clients[PRIMARY], clients[WEST]
    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=200)
    schedule = rotation_status(east, key_id)

    east.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    for region in REGIONS:
        described = metadata(clients[region], key_id)
        assert reported_configuration(described) == configuration(
            replicated, region, primary=WEST, replicas=(PRIMARY, EUROPE)
        )
        assert described["KeyState"] == "Enabled"
        assert rotation_status(clients[region], key_id) == {
            **schedule,
            "KeyId": arn_in(replicated, region),
        }

    # us-east-1 holds a replica now: the new primary in us-west-2 rotates, and replicates.
    with aws_error("UnsupportedOperationException"):
        east.rotate_key_on_demand(KeyId=key_id)
    with aws_error("UnsupportedOperationException"):
        east.update_primary_region(KeyId=key_id, PrimaryRegion=PRIMARY)
    west.rotate_key_on_demand(KeyId=key_id)
    current = {metadata(clients[region], key_id)["CurrentKeyMaterialId"] for region in REGIONS}
    assert len(current) == 1 and current != {replicated["CurrentKeyMaterialId"]}
    west.disable_key_rotation(KeyId=key_id)
    for region in REGIONS:
        assert rotation_status(clients[region], key_id)["KeyRotationEnabled"] is False

    # And back: the primary role returns to us-east-1.
    west.update_primary_region(KeyId=key_id, PrimaryRegion=PRIMARY)
    for region in REGIONS:
        described = metadata(clients[region], key_id)
        assert reported_configuration(described) == configuration(replicated, region)


def _disable(region: str) -> Callable[[dict[str, Any], str], Any]:
    return lambda clients, key_id: clients[region].disable_key(KeyId=key_id)


def _schedule_deletion(region: str) -> Callable[[dict[str, Any], str], Any]:
    return lambda clients, key_id: clients[region].schedule_key_deletion(KeyId=key_id)


def _as_it_is(clients: dict[str, Any], key_id: str) -> None:
    pass


# (what is done first, the Region called, PrimaryRegion, the error). AWS's developer guide:
# "Both the primary key and the replica key must be in the Enabled key state".
UPDATE_PRIMARY_REFUSALS = {
    "called on a replica": (_as_it_is, WEST, EUROPE, "UnsupportedOperationException"),
    "to a Region without a replica": (_as_it_is, PRIMARY, ELSEWHERE, "NotFoundException"),
    "of a disabled primary": (_disable(PRIMARY), PRIMARY, WEST, "DisabledException"),
    "to a disabled replica": (_disable(WEST), PRIMARY, WEST, "DisabledException"),
    "to a replica pending deletion": (
        _schedule_deletion(WEST),
        PRIMARY,
        WEST,
        "KMSInvalidStateException",
    ),
}


@pytest.mark.parametrize(
    "prepare, caller, target, error",
    UPDATE_PRIMARY_REFUSALS.values(),
    ids=list(UPDATE_PRIMARY_REFUSALS),
)
def test_update_primary_region_refusals_change_nothing(
    clients, replicated, prepare, caller, target, error
):
    key_id = replicated["KeyId"]
    prepare(clients, key_id)
    with unchanged_everywhere(clients, key_id), aws_error(error):
        clients[caller].update_primary_region(KeyId=key_id, PrimaryRegion=target)


def test_update_primary_region_of_a_single_region_key_is_refused(clients, key):
    with unchanged_everywhere(clients, key["KeyId"]), aws_error("UnsupportedOperationException"):
        clients[PRIMARY].update_primary_region(KeyId=key["KeyId"], PrimaryRegion=WEST)


# Refusals


def _single_region_key(clients: dict[str, Any], key: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    single = clients[PRIMARY].create_key()["KeyMetadata"]["KeyId"]
    return PRIMARY, {"KeyId": single, "ReplicaRegion": EUROPE}


def _disabled_primary(clients: dict[str, Any], key: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    clients[PRIMARY].disable_key(KeyId=key["KeyId"])
    return PRIMARY, {"KeyId": key["KeyId"], "ReplicaRegion": EUROPE}


# Each case: the key already has a replica in us-west-2 (none in eu-west-1); `prepare` sets the
# scene and says from which Region to call ReplicateKey, with what.
REPLICATE_REFUSALS: dict[str, tuple[Callable[..., tuple[str, dict[str, Any]]], str]] = {
    "of a single-Region key": (_single_region_key, "UnsupportedOperationException"),
    "of a replica": (
        lambda clients, key: (WEST, {"KeyId": key["KeyId"], "ReplicaRegion": EUROPE}),
        "UnsupportedOperationException",
    ),
    "to the primary's own Region": (
        lambda clients, key: (PRIMARY, {"KeyId": key["KeyId"], "ReplicaRegion": PRIMARY}),
        "ValidationException",
    ),
    "to a Region with a replica": (
        lambda clients, key: (PRIMARY, {"KeyId": key["KeyId"], "ReplicaRegion": WEST}),
        "AlreadyExistsException",
    ),
    "of a disabled primary": (_disabled_primary, "DisabledException"),
    "with a malformed policy": (
        lambda clients, key: (
            PRIMARY,
            {"KeyId": key["KeyId"], "ReplicaRegion": EUROPE, "Policy": '{"Statement": ['},
        ),
        "MalformedPolicyDocumentException",
    ),
}


@pytest.mark.parametrize(
    "prepare, error", REPLICATE_REFUSALS.values(), ids=list(REPLICATE_REFUSALS)
)
def test_replicate_key_refusals_change_nothing(clients, prepare, error):
    key = new_replicated(clients, [WEST])
    region, params = prepare(clients, key)
    with unchanged_everywhere(clients, params["KeyId"]), aws_error(error):
        clients[region].replicate_key(**params)


def test_multi_region_keys_with_imported_material_are_refused(clients):
    with unchanged(clients[PRIMARY]), aws_error("UnsupportedOperationException"):
        clients[PRIMARY].create_key(MultiRegion=True, Origin="EXTERNAL")


# Deletion


def material_rows(server: Any, key_id: str) -> int:
    """The key material rows of every Region's key `key_id`."""
    with storage(server) as engine, engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM kms_key_materials WHERE key_id LIKE :pattern")
        return connection.execute(query, {"pattern": f"{key_id}%"}).scalar_one()


def test_a_primary_is_deleted_only_after_its_replicas(own_dev_server):
    clients = regional_clients(own_dev_server)
    east = clients[PRIMARY]
    key = new_replicated(clients)
    key_id = key["KeyId"]
    blob = east.encrypt(KeyId=key_id, Plaintext=b"doomed")["CiphertextBlob"]

    scheduled = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert without_metadata(scheduled) == {
        "KeyId": key["Arn"],
        "KeyState": "PendingReplicaDeletion",
        "PendingWindowInDays": 7,
    }
    described = metadata(east, key_id)
    assert described["KeyState"] == "PendingReplicaDeletion" and described["Enabled"] is False
    assert described["PendingDeletionWindowInDays"] == 7 and "DeletionDate" not in described
    for refused in (
        lambda: east.encrypt(KeyId=key_id, Plaintext=b"x"),
        lambda: east.decrypt(CiphertextBlob=blob),
        lambda: east.replicate_key(KeyId=key_id, ReplicaRegion=ELSEWHERE),
        lambda: east.schedule_key_deletion(KeyId=key_id),
    ):
        with aws_error("KMSInvalidStateException"):
            refused()
    for region in REPLICAS:  # the replicas are keys of their own, and still work
        assert clients[region].decrypt(CiphertextBlob=blob)["Plaintext"] == b"doomed"

    east.cancel_key_deletion(KeyId=key_id)
    described = metadata(east, key_id)
    assert described["KeyState"] == "Disabled"
    assert "PendingDeletionWindowInDays" not in described and "DeletionDate" not in described
    east.enable_key(KeyId=key_id)
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"doomed"

    # Scheduled again, with its replicas: each replica goes when its own window ends.
    east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for region, days in zip(REPLICAS, (7, 9), strict=True):
        assert (
            clients[region].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)[
                "KeyState"
            ]
            == "PendingDeletion"
        )
    advance_clock(own_dev_server, 8 * DAY)
    wait_for(lambda: gone(clients[WEST], key_id), "the us-west-2 replica deleted")
    described = metadata(east, key_id)
    assert described["KeyState"] == "PendingReplicaDeletion"
    assert reported_configuration(described) == configuration(key, PRIMARY, replicas=[EUROPE])

    # The last replica gone, the primary's own waiting period starts.
    now = advance_clock(own_dev_server, 2 * DAY)
    described = wait_for(
        lambda: in_state(east, key_id, "PendingDeletion"), "the primary pending deletion"
    )
    assert gone(clients[EUROPE], key_id)
    assert described["MultiRegionConfiguration"]["ReplicaKeys"] == []
    # The job that saw the last replica go read the clock about when it moved.
    expected = now + datetime.timedelta(days=7)
    assert abs(described["DeletionDate"] - expected) < datetime.timedelta(seconds=30)
    with aws_error("KMSInvalidStateException"):
        east.decrypt(CiphertextBlob=blob)

    advance_clock(own_dev_server, 8 * DAY)
    wait_for(lambda: gone(east, key_id), "the primary deleted")
    for region in REGIONS:
        with aws_error("AccessDeniedException", message=MISSING_KEY_MESSAGE):
            clients[region].decrypt(CiphertextBlob=blob)
    if "--storage" in own_dev_server.args:  # a --dev server's SQLite file is in a temp dir
        assert material_rows(own_dev_server, key_id) == 0


def test_a_deleted_replica_can_be_replicated_again(own_dev_server):
    """A replica deleted on its own leaves its primary as it was; replicated again, the Region
    holds a new replica (none of the old one's tags or aliases) that opens old ciphertexts."""
    clients = regional_clients(own_dev_server)
    west = clients[WEST]
    key = new_replicated(clients, [WEST])
    key_id = key["KeyId"]
    blob = clients[PRIMARY].encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    west.tag_resource(KeyId=key_id, Tags=[{"TagKey": "old", "TagValue": "replica"}])
    west.create_alias(AliasName="alias/old-replica", TargetKeyId=key_id)

    assert west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)["KeyState"] == (
        "PendingDeletion"
    )
    advance_clock(own_dev_server, 8 * DAY)
    wait_for(lambda: gone(west, key_id), "the replica deleted")
    described = metadata(clients[PRIMARY], key_id)
    assert described["KeyState"] == "Enabled"
    assert described["MultiRegionConfiguration"] == configuration(key, PRIMARY, replicas=())
    assert west.list_aliases()["Aliases"] == []

    replicate(clients, key_id, [WEST])
    assert metadata(west, key_id)["KeyState"] == "Enabled"
    assert tags(west, key_id) == {}
    assert west.list_aliases()["Aliases"] == []
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


def test_a_primary_whose_replicas_are_gone_reports_a_date_not_a_window(own_dev_server):
    """AWS: PendingDeletionWindowInDays is present only while the primary is
    PendingReplicaDeletion; PendingDeletion shows the DeletionDate."""
    clients = regional_clients(own_dev_server)
    key_id = new_replicated(clients, [WEST])["KeyId"]
    clients[PRIMARY].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clients[WEST].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    advance_clock(own_dev_server, 8 * DAY)
    described = wait_for(
        lambda: in_state(clients[PRIMARY], key_id, "PendingDeletion"),
        "the primary pending deletion",
    )
    assert "DeletionDate" in described
    assert "PendingDeletionWindowInDays" not in described


# Persistence


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_replica_still_decrypts_after_a_restart(make_server, backend):
    """A --dev server's SQLite storage does not outlive it: a server with a data directory."""
    server = make_server(backend)
    clients = regional_clients(server)
    key_id = new_replicated(clients)["KeyId"]
    blobs = [clients[PRIMARY].encrypt(KeyId=key_id, Plaintext=b"v1")["CiphertextBlob"]]
    clients[PRIMARY].rotate_key_on_demand(KeyId=key_id)
    blobs.append(clients[PRIMARY].encrypt(KeyId=key_id, Plaintext=b"v2")["CiphertextBlob"])
    before = {region: region_state(clients[region], key_id) for region in REGIONS}

    server.restart()
    assert {region: region_state(clients[region], key_id) for region in REGIONS} == before
    for region in REPLICAS:
        for blob, plaintext in zip(blobs, (b"v1", b"v2"), strict=True):
            assert clients[region].decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
