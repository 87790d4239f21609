"""Replica secrets in other regions of the same server, through stock boto3 on both storage
backends: real copies (their own ciphertext under the replica region's key), kept in sync on
every change of the primary, read-only, and promoted by StopReplicationToReplica."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.support.kms import aws_error
from tests.support.server import REGION

REPLICA_REGION = "eu-west-1"
OTHER_REGION = "ap-southeast-2"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "123456789012"},
            "Action": "secretsmanager:*",
            "Resource": "*",
        }
    ],
}


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def replica_sm(dev_server):
    return dev_server.client("secretsmanager", region_name=REPLICA_REGION)


def unique_name() -> str:
    return f"replicated/{uuid.uuid4()}"


def test_replicas_are_copies_kept_in_sync(sm, replica_sm):
    name = unique_name()
    created = sm.create_secret(
        Name=name,
        SecretString="v1",
        Description="primary",
        Tags=[{"Key": "team", "Value": "core"}],
        AddReplicaRegions=[{"Region": REPLICA_REGION}],
    )
    assert created["ReplicationStatus"] == [
        {
            "Region": REPLICA_REGION,
            "KmsKeyId": "alias/aws/secretsmanager",
            "Status": "InSync",
            "StatusMessage": "Replication succeeded",
        }
    ]
    replica_arn = created["ARN"].replace(f":{REGION}:", f":{REPLICA_REGION}:")
    replica = replica_sm.describe_secret(SecretId=name)
    assert replica["ARN"] == replica_arn
    assert replica["PrimaryRegion"] == REGION and "ReplicationStatus" not in replica
    assert replica["Description"] == "primary"
    assert replica["Tags"] == [{"Key": "team", "Value": "core"}]
    assert replica_sm.get_secret_value(SecretId=replica_arn)["SecretString"] == "v1"

    # Every kind of change on the primary reaches the replica.
    version = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    sm.update_secret(SecretId=name, Description="changed")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "tier", "Value": "gold"}])
    sm.untag_resource(SecretId=name, TagKeys=["team"])
    sm.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps(POLICY))
    sm.update_secret_version_stage(SecretId=name, VersionStage="BLUE", MoveToVersionId=version)
    got = replica_sm.get_secret_value(SecretId=name)
    assert (got["SecretString"], got["VersionId"]) == ("v2", version)
    assert (
        replica_sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"]
        == "v1"
    )
    described = replica_sm.describe_secret(SecretId=name)
    assert described["Description"] == "changed"
    assert described["Tags"] == [{"Key": "tier", "Value": "gold"}]
    assert (
        described["VersionIdsToStages"] == sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    )
    assert json.loads(replica_sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == POLICY
    primary = sm.describe_secret(SecretId=name)
    assert primary["PrimaryRegion"] == REGION
    assert [r["Status"] for r in primary["ReplicationStatus"]] == ["InSync"]


def test_replicas_are_read_only_and_the_primary_keeps_them(sm, replica_sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="v1")
    sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": REPLICA_REGION}])
    on_replica = (
        "Operation not permitted on a replica secret. Call must be made in primary secret's region."
    )
    for call in (
        lambda: replica_sm.put_secret_value(SecretId=name, SecretString="x"),
        lambda: replica_sm.update_secret(SecretId=name, Description="x"),
        lambda: replica_sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: replica_sm.delete_secret(SecretId=name),
        lambda: replica_sm.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps(POLICY)),
        lambda: replica_sm.replicate_secret_to_regions(
            SecretId=name, AddReplicaRegions=[{"Region": OTHER_REGION}]
        ),
    ):
        with aws_error("InvalidParameterException", message=on_replica):
            call()
    with aws_error("InvalidParameterException"):
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "v1"


def test_bad_regions_are_refused(sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="v1")
    for regions in (
        [{"Region": REGION}],
        [{"Region": "mars-north-1"}],
        [{"Region": REPLICA_REGION}, {"Region": REPLICA_REGION}],
    ):
        with aws_error("InvalidParameterException"):
            sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=regions)
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)
    with aws_error("InvalidParameterException"):
        sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[REPLICA_REGION])


def test_a_taken_name_fails_unless_overwritten(sm, replica_sm):
    name = unique_name()
    replica_sm.create_secret(Name=name, SecretString="local")
    sm.create_secret(Name=name, SecretString="primary")
    status = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": REPLICA_REGION}]
    )["ReplicationStatus"]
    assert [(s["Region"], s["Status"]) for s in status] == [(REPLICA_REGION, "Failed")]
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "local"
    status = sm.replicate_secret_to_regions(
        SecretId=name,
        AddReplicaRegions=[{"Region": REPLICA_REGION}],
        ForceOverwriteReplicaSecret=True,
    )["ReplicationStatus"]
    assert [(s["Region"], s["Status"]) for s in status] == [(REPLICA_REGION, "InSync")]
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "primary"


def test_replica_under_its_own_key(dev_server, sm, replica_sm):
    replica_kms = dev_server.client("kms", region_name=REPLICA_REGION)
    key = replica_kms.create_key()["KeyMetadata"]["Arn"]
    name = unique_name()
    sm.create_secret(Name=name, SecretString="v1")
    status = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": REPLICA_REGION, "KmsKeyId": key}]
    )["ReplicationStatus"]
    assert status[0]["KmsKeyId"] == key and status[0]["Status"] == "InSync"
    versions = replica_sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [v["KmsKeyIds"] for v in versions] == [[key]]
    # With the replica's key disabled the primary still changes; the replica catches up later.
    replica_kms.disable_key(KeyId=key)
    sm.put_secret_value(SecretId=name, SecretString="v2")
    assert sm.describe_secret(SecretId=name)["ReplicationStatus"][0]["Status"] == "InProgress"
    replica_kms.enable_key(KeyId=key)
    wait_for_status(sm, name, "InSync")
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    # The one change a replica makes by itself: its own key.
    replica_sm.update_secret(SecretId=name, KmsKeyId="")
    assert sm.describe_secret(SecretId=name)["ReplicationStatus"][0]["KmsKeyId"] == (
        "alias/aws/secretsmanager"
    )
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    listed = replica_sm.list_secrets(Filters=[{"Key": "primary-region", "Values": [REGION]}])
    assert name in [s["Name"] for s in listed["SecretList"]]


def wait_for_status(sm, name, status, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sm.describe_secret(SecretId=name)["ReplicationStatus"][0]["Status"] == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"replica of {name} never became {status}")


def test_remove_regions_deletes_the_replica(sm, replica_sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": REPLICA_REGION}])
    answer = sm.remove_regions_from_replication(
        SecretId=name, RemoveReplicaRegions=[REPLICA_REGION]
    )
    assert answer["ReplicationStatus"] == []
    with aws_error("ResourceNotFoundException"):
        replica_sm.describe_secret(SecretId=name)
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_stop_replication_promotes_the_replica(sm, replica_sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": REPLICA_REGION}])
    with aws_error("InvalidRequestException"):
        sm.stop_replication_to_replica(SecretId=name)  # the primary is no replica
    replica_sm.stop_replication_to_replica(SecretId=name)
    promoted = replica_sm.describe_secret(SecretId=name)
    assert "PrimaryRegion" not in promoted
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)
    # Standalone now: it changes on its own and no longer follows the old primary.
    replica_sm.put_secret_value(SecretId=name, SecretString="own")
    sm.put_secret_value(SecretId=name, SecretString="v2")
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "own"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    replica_sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_a_replica_key_that_cannot_seal_fails_the_replica(sm, replica_sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="v1")
    status = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": REPLICA_REGION, "KmsKeyId": "alias/nope"}]
    )["ReplicationStatus"]
    assert status[0]["Status"] == "Failed"
    assert status[0]["StatusMessage"].startswith("Replication failed: ")
    with aws_error("ResourceNotFoundException"):
        replica_sm.describe_secret(SecretId=name)
    # Replicating again with a usable key succeeds.
    status = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": REPLICA_REGION}]
    )["ReplicationStatus"]
    assert status[0]["Status"] == "InSync"
    assert replica_sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
