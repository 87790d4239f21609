"""KMS key rotation through stock boto3: EnableKeyRotation, DisableKeyRotation,
GetKeyRotationStatus, RotateKeyOnDemand and ListKeyRotations; automatic rotation by the real
leader-elected job (the dev clock moves time), and rotation state across restarts.

Checked against the AWS KMS API reference and developer guide: a rotation adds key material
and makes it current, ciphertexts made before still decrypt, on-demand rotations (at most 25
per key) leave the automatic schedule alone, and only enabled symmetric keys rotate.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS
from tests.support.kms import all_pages, aws_error, unchanged
from tests.support.server import strongroom

DAY = 86400
CLOSE = datetime.timedelta(seconds=30)
ASYMMETRIC = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}
HMAC = {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
# What AWS may answer a change to an AWS managed key: its key policy allows the account only
# kms:Describe*, kms:Get* and kms:List* (and the key's rotation is not configurable at all).
MANAGED_KEY_REFUSALS = {"AccessDeniedException", "UnsupportedOperationException"}


def material_version(blob: bytes) -> int:
    """The key material version a symmetric ciphertext names (big-endian, bytes 17..21)."""
    return int.from_bytes(blob[17:21], "big")


def rotations(kms: Any, key_id: str, **params: Any) -> list[dict[str, Any]]:
    return all_pages(kms.list_key_rotations, "Rotations", KeyId=key_id, **params)


def status(kms: Any, key_id: str) -> dict[str, Any]:
    result = kms.get_key_rotation_status(KeyId=key_id)
    del result["ResponseMetadata"]
    return result


def days_from_now(days: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)


def same_moment(a: datetime.datetime, b: datetime.datetime) -> bool:
    """Equal but for the rounding of timestamps on the wire."""
    return abs(a - b) < datetime.timedelta(milliseconds=2)


def current_material_id(kms: Any, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]


@contextmanager
def rotation_unchanged(kms: Any, key_id: str) -> Iterator[None]:
    """Neither the key (its current material) nor its list of materials changes."""
    before = rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    with unchanged(kms, key_id):
        yield
    assert rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL") == before


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def advance_clock(server: Any, seconds: float) -> None:
    strongroom("dev", "advance-clock", str(seconds), "--endpoint", server.endpoint)


# Enabling, disabling and the status


def test_rotation_is_off_until_enabled_and_defaults_to_a_year(kms, key):
    assert status(kms, key["KeyId"]) == {"KeyRotationEnabled": False, "KeyId": key["Arn"]}

    kms.enable_key_rotation(KeyId=key["KeyId"])
    enabled = status(kms, key["Arn"])  # a key ARN names the key as well as its id
    assert enabled["KeyRotationEnabled"] is True and enabled["KeyId"] == key["Arn"]
    assert enabled["RotationPeriodInDays"] == 365
    assert abs(enabled["NextRotationDate"] - days_from_now(365)) < CLOSE

    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert status(kms, key["KeyId"]) == {"KeyRotationEnabled": False, "KeyId": key["Arn"]}
    assert rotations(kms, key["KeyId"]) == []  # enabling rotation rotates nothing yet


@pytest.mark.parametrize("days", [90, 91, 730, 2560])
def test_rotation_period_within_bounds(raw_kms, key, days):
    raw_kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=days)
    enabled = status(raw_kms, key["KeyId"])
    assert enabled["RotationPeriodInDays"] == days
    assert abs(enabled["NextRotationDate"] - days_from_now(days)) < CLOSE


@pytest.mark.parametrize("days", [-1, 0, 89, 2561])
def test_rotation_period_out_of_bounds_is_refused(kms, raw_kms, key, days):
    with rotation_unchanged(kms, key["KeyId"]), aws_error("ValidationException"):
        raw_kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=days)
    assert status(kms, key["KeyId"])["KeyRotationEnabled"] is False


def test_a_new_period_counts_from_when_rotation_was_enabled(kms, key):
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=365)
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    changed = status(kms, key["KeyId"])
    assert changed["RotationPeriodInDays"] == 90
    assert abs(changed["NextRotationDate"] - days_from_now(90)) < CLOSE


# On demand


def test_rotate_on_demand_keeps_old_ciphertexts_and_encrypts_with_the_new_material(kms, key):
    key_id = key["KeyId"]
    original_material = current_material_id(kms, key_id)
    before = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert material_version(before) == 1

    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key["Arn"]
    rotated_at = datetime.datetime.now(datetime.UTC)

    after = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert material_version(after) == 2
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=after)["Plaintext"] == b"after"
    opened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"]
    assert opened == data_key["Plaintext"]
    re_encrypted = kms.re_encrypt(CiphertextBlob=before, DestinationKeyId=key_id)
    assert material_version(re_encrypted["CiphertextBlob"]) == 2

    new_material = current_material_id(kms, key_id)
    assert new_material != original_material
    [rotation] = rotations(kms, key_id)
    assert abs(rotation.pop("RotationDate") - rotated_at) < CLOSE
    assert rotation == {
        "KeyId": key["Arn"],
        "KeyMaterialId": new_material,
        "KeyMaterialState": "CURRENT",
        "RotationType": "ON_DEMAND",
    }
    materials = rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert [(m["KeyMaterialId"], m["KeyMaterialState"]) for m in materials] == [
        (original_material, "NON_CURRENT"),
        (new_material, "CURRENT"),
    ]
    assert "RotationType" not in materials[0]  # the key's first material came with the key


def test_rotate_on_demand_leaves_the_automatic_schedule_alone(kms, key):
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=180)
    scheduled = status(kms, key["KeyId"])
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert status(kms, key["KeyId"]) == scheduled
    # Nor does automatic rotation being off stop an on-demand one.
    kms.disable_key_rotation(KeyId=key["KeyId"])
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert len(rotations(kms, key["KeyId"])) == 2


def test_list_key_rotations_pages(kms, key):
    key_id = key["KeyId"]
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key_id)
    listed = rotations(kms, key_id, Limit=1)
    assert listed == kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["KeyMaterialState"] for r in listed] == ["NON_CURRENT", "NON_CURRENT", "CURRENT"]
    assert listed[-1]["KeyMaterialId"] == current_material_id(kms, key_id)
    dates = [r["RotationDate"] for r in listed]
    assert dates == sorted(dates)

    first = kms.list_key_rotations(KeyId=key_id, Limit=2)
    assert first["Truncated"] is True and len(first["Rotations"]) == 2
    rest = kms.list_key_rotations(KeyId=key_id, Limit=2, Marker=first["NextMarker"])
    assert rest["Truncated"] is False and rest["Rotations"] == listed[2:]
    everything = rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=3)
    assert everything[1:] == listed and len(everything) == 4

    for marker in ("garbage", "999", first["NextMarker"] + "0"):
        with aws_error("InvalidMarkerException"):
            kms.list_key_rotations(KeyId=key_id, Marker=marker)


def test_on_demand_rotation_stops_after_25(kms, key):
    key_id = key["KeyId"]
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    with rotation_unchanged(kms, key_id), aws_error("LimitExceededException"):
        kms.rotate_key_on_demand(KeyId=key_id)
    assert len(rotations(kms, key_id)) == 25
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert material_version(blob) == 26


# Automatic rotation, by the real background job


def automatic_rotations(kms: Any, key_id: str) -> list[dict[str, Any]]:
    return [r for r in rotations(kms, key_id) if r["RotationType"] == "AUTOMATIC"]


def test_automatic_rotation_happens_when_due_and_never_while_disabled(own_dev_server):
    kms = own_dev_server.client("kms")
    due, disabled = (kms.create_key(Description=name)["KeyMetadata"] for name in ("due", "off"))
    for key in (due, disabled):
        kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    kms.disable_key(KeyId=disabled["KeyId"])
    blob = kms.encrypt(KeyId=due["KeyId"], Plaintext=b"old")["CiphertextBlob"]
    first_date = status(kms, due["KeyId"])["NextRotationDate"]

    advance_clock(own_dev_server, 89 * DAY)
    time.sleep(2)  # several scheduler ticks: not due yet
    assert rotations(kms, due["KeyId"]) == []

    advance_clock(own_dev_server, 2 * DAY)
    [rotation] = wait_for(lambda: automatic_rotations(kms, due["KeyId"]), "automatic rotation")
    assert rotation["KeyMaterialState"] == "CURRENT"
    assert rotation["KeyMaterialId"] == current_material_id(kms, due["KeyId"])
    rotated = status(kms, due["KeyId"])
    assert same_moment(rotated["NextRotationDate"], first_date + datetime.timedelta(days=90))
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"old"
    new_blob = kms.encrypt(KeyId=due["KeyId"], Plaintext=b"new")["CiphertextBlob"]
    assert material_version(new_blob) == 2

    # The disabled key was due as well, and waits: its schedule stands, nothing rotated.
    assert rotations(kms, disabled["KeyId"]) == []
    assert status(kms, disabled["KeyId"])["KeyRotationEnabled"] is True
    # Enabled again, the overdue key rotates at once.
    kms.enable_key(KeyId=disabled["KeyId"])
    wait_for(lambda: automatic_rotations(kms, disabled["KeyId"]), "overdue rotation")
    assert len(automatic_rotations(kms, due["KeyId"])) == 1  # and the other key just once


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_state_and_materials_survive_a_restart(make_server, backend):
    server = make_server(backend)
    kms = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    blobs = {}
    for version in (1, 2, 3):
        blobs[version] = kms.encrypt(KeyId=key_id, Plaintext=b"v%d" % version)["CiphertextBlob"]
        if version < 3:
            kms.rotate_key_on_demand(KeyId=key_id)
    before = (
        status(kms, key_id),
        rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"),
        kms.describe_key(KeyId=key_id)["KeyMetadata"],
    )

    server.restart()
    after = (
        status(kms, key_id),
        rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"),
        kms.describe_key(KeyId=key_id)["KeyMetadata"],
    )
    assert after == before
    for version, blob in blobs.items():
        assert material_version(blob) == version
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"v%d" % version
    assert material_version(kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]) == 3


# Refusals


def rotation_calls(kms: Any, key_id: str) -> dict[str, Callable[[], Any]]:
    return {
        "EnableKeyRotation": lambda: kms.enable_key_rotation(KeyId=key_id),
        "DisableKeyRotation": lambda: kms.disable_key_rotation(KeyId=key_id),
        "RotateKeyOnDemand": lambda: kms.rotate_key_on_demand(KeyId=key_id),
        "GetKeyRotationStatus": lambda: kms.get_key_rotation_status(KeyId=key_id),
        "ListKeyRotations": lambda: kms.list_key_rotations(KeyId=key_id),
    }


CHANGING = ("EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand")


@pytest.mark.parametrize("params", [ASYMMETRIC, HMAC], ids=["ECC_NIST_P256", "HMAC_256"])
def test_asymmetric_and_hmac_keys_do_not_rotate(kms, new_key, params):
    key = new_key(**params)
    for call in rotation_calls(kms, key["KeyId"]).values():
        with unchanged(kms, key["KeyId"]), aws_error("UnsupportedOperationException"):
            call()


def test_a_disabled_key_refuses_rotation_changes_but_reports_its_status(kms, key):
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    before = status(kms, key["KeyId"])
    calls = rotation_calls(kms, key["KeyId"])
    for name in CHANGING:
        with rotation_unchanged(kms, key["KeyId"]), aws_error("DisabledException"):
            calls[name]()
    assert status(kms, key["KeyId"]) == before
    assert rotations(kms, key["KeyId"]) == []


def test_a_key_pending_deletion_refuses_rotation_changes(kms, key):
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    calls = rotation_calls(kms, key["KeyId"])
    for name in CHANGING:
        with rotation_unchanged(kms, key["KeyId"]), aws_error("KMSInvalidStateException"):
            calls[name]()
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert status(kms, key["KeyId"])["KeyRotationEnabled"] is False


def test_rotation_operations_take_no_alias(kms, key):
    alias = f"alias/rotation-{key['KeyId']}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for reference in (alias, key["Arn"].rsplit(":", 1)[0] + ":" + alias):
        for call in rotation_calls(kms, reference).values():
            with rotation_unchanged(kms, key["KeyId"]), aws_error("NotFoundException"):
                call()
    assert status(kms, key["KeyId"])["KeyRotationEnabled"] is False


def test_the_aws_managed_key_rotates_every_year(dev_server, kms):
    secretsmanager = dev_server.client("secretsmanager")
    secretsmanager.create_secret(Name=f"rotation-{time.time_ns()}", SecretString="x")
    managed = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    managed_status = status(kms, managed["KeyId"])
    assert managed_status["KeyRotationEnabled"] is True
    assert managed_status["RotationPeriodInDays"] == 365
    yearly = managed["CreationDate"] + datetime.timedelta(days=365)
    assert same_moment(managed_status["NextRotationDate"], yearly)


def test_the_aws_managed_key_rotation_cannot_be_changed(own_dev_server):
    """AWS rotates its managed keys every year, and no one can change that: the status of an
    AWS managed key is always enabled."""
    kms = own_dev_server.client("kms")
    own_dev_server.client("secretsmanager").create_secret(Name="managed", SecretString="x")
    key_id = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyId"]
    yearly = status(kms, key_id)
    calls = rotation_calls(kms, key_id)
    for name in CHANGING:
        with rotation_unchanged(kms, key_id), pytest.raises(ClientError) as refused:
            calls[name]()
        assert refused.value.response["Error"]["Code"] in MANAGED_KEY_REFUSALS
    assert status(kms, key_id) == yearly
