"""Storage through real servers: state survives restarts; storage never holds a secret in the
clear (checked by recovering every secret with the project's own keyring, then searching the
raw database for it); and tampered storage is refused, never served."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS
from tests.support.server import Server
from tests.support.storage import (
    admin_secret,
    leaked,
    overwrite,
    recovered_secrets,
    storage_dump,
    stored_value,
)


def flipped(blob: bytes, index: int | None = None) -> bytes:
    index = len(blob) // 2 if index is None else index
    return blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1 :]


def error_code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return refused.value.response["Error"]["Code"]


def populate(kms) -> dict[str, object]:
    """Keys with tags, aliases, a disabled key, ciphertexts and a data key."""
    first = kms.create_key(
        Description="persisted one", Tags=[{"TagKey": "team", "TagValue": "cardiology"}]
    )["KeyMetadata"]
    second = kms.create_key(Description="persisted two")["KeyMetadata"]
    disabled = kms.create_key(Description="persisted disabled")["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    kms.create_alias(AliasName="alias/persisted-one", TargetKeyId=first["KeyId"])
    kms.create_alias(AliasName="alias/persisted-two", TargetKeyId=second["KeyId"])
    kms.tag_resource(KeyId=second["KeyId"], Tags=[{"TagKey": "env", "TagValue": "prod"}])
    context = {"patient": "4711"}
    data_key = kms.generate_data_key(KeyId="alias/persisted-two", KeySpec="AES_256")
    return {
        "key_ids": [first["KeyId"], second["KeyId"], disabled["KeyId"]],
        "plain": b"discharge summary 4711",
        "blob": kms.encrypt(
            KeyId=first["KeyId"], Plaintext=b"discharge summary 4711", EncryptionContext=context
        )["CiphertextBlob"],
        "context": context,
        "data_key": data_key,
    }


def snapshot(kms) -> dict[str, object]:
    keys = sorted(k["KeyId"] for k in kms.list_keys()["Keys"])
    return {
        "keys": keys,
        "metadata": [kms.describe_key(KeyId=k)["KeyMetadata"] for k in keys],
        "tags": [kms.list_resource_tags(KeyId=k)["Tags"] for k in keys],
        "aliases": sorted(
            (a["AliasName"], a.get("TargetKeyId")) for a in kms.list_aliases()["Aliases"]
        ),
    }


def bootstrap_files(server: Server) -> dict[str, bytes]:
    names = ["credentials", "root.key", "config.json", "tls/ca.pem", "tls/ca.key"]
    return {name: (server.data_dir / name).read_bytes() for name in names}


def assert_nothing_secret_in_storage(
    server: Server, secrets: dict[str, bytes], stored: list[str]
) -> None:
    dump = storage_dump(server)
    assert all(value.encode() in dump for value in stored)  # the scan does see the data
    assert all(len(secret) >= 16 for secret in secrets.values())
    assert leaked(secrets, dump) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_survives_restarts_and_storage_holds_no_secret(make_server, backend):
    server = make_server(backend)
    kms = server.client("kms")
    state = populate(kms)
    before = snapshot(kms)
    files = bootstrap_files(server)
    assert oct((server.data_dir / "credentials").stat().st_mode & 0o777) == "0o600"

    data_key = state["data_key"]
    secrets = recovered_secrets(server)
    assert len([name for name in secrets if name.startswith("material ")]) == 3
    assert admin_secret(server) in secrets.values()
    secrets.update({"plaintext": state["plain"], "data key": data_key["Plaintext"]})
    assert_nothing_secret_in_storage(server, secrets, state["key_ids"])

    server.restart()
    assert bootstrap_files(server) == files
    assert snapshot(kms) == before
    # (What was compared is what was made: tags, aliases and a disabled key.)
    assert any({"TagKey": "env", "TagValue": "prod"} in tags for tags in before["tags"])
    assert ("alias/persisted-one", state["key_ids"][0]) in before["aliases"]
    states = {m["KeyId"]: m["KeyState"] for m in before["metadata"]}
    assert states[state["key_ids"][2]] == "Disabled"
    opened = kms.decrypt(CiphertextBlob=state["blob"], EncryptionContext=state["context"])
    assert opened["Plaintext"] == state["plain"]
    assert (
        kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"]
        == (data_key["Plaintext"])
    )
    assert error_code(lambda: kms.encrypt(KeyId=state["key_ids"][2], Plaintext=b"x")) == (
        "DisabledException"
    )
    # A second restart, and the at-rest scan again once the server has shut down cleanly.
    server.restart()
    assert snapshot(kms) == before
    server.stop()
    assert_nothing_secret_in_storage(server, secrets, state["key_ids"])


def test_storage_emptied_under_a_root_key_is_refused(make_server):
    server = make_server("sqlite")
    server.stop()
    for path in server.data_dir.glob("strongroom.db*"):
        path.unlink()
    with pytest.raises(RuntimeError, match="server exited early") as failed:
        server.start()
    assert "refusing to replace a root key" in str(failed.value)
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tampered_storage_is_refused_never_served(make_server, backend):
    server = make_server(backend)
    kms = server.client("kms")
    victim, healthy, swapped = (
        kms.create_key(Description=name)["KeyMetadata"]["KeyId"]
        for name in ("victim", "healthy", "swapped")
    )
    plain = b"lab result: potassium 4.1 mmol/L"
    victim_blob, healthy_blob = (
        kms.encrypt(KeyId=key_id, Plaintext=plain)["CiphertextBlob"] for key_id in (victim, healthy)
    )
    material_sql = "SELECT material_blob FROM kms_key_materials WHERE key_id = :key_id"
    update_sql = "UPDATE kms_key_materials SET material_blob = :blob WHERE key_id = :key_id"
    stored = stored_value(server, material_sql, key_id=victim)

    # Altered under a running server: the key either keeps its already verified material or is
    # refused; it never yields a wrong plaintext or a 500.
    overwrite(server, update_sql, blob=flipped(stored), key_id=victim)
    try:
        assert kms.decrypt(CiphertextBlob=victim_blob)["Plaintext"] == plain
    except ClientError as refused:
        assert refused.response["Error"]["Code"] == "KMSInvalidStateException"

    # Another key's (valid) material moved into this key's row is refused as well.
    overwrite(
        server, update_sql, blob=stored_value(server, material_sql, key_id=healthy), key_id=swapped
    )
    server.restart()
    for key_id in (victim, swapped):
        assert error_code(lambda k=key_id: kms.encrypt(KeyId=k, Plaintext=plain)) == (
            "KMSInvalidStateException"
        )
        assert error_code(lambda k=key_id: kms.generate_data_key(KeyId=k, KeySpec="AES_256")) == (
            "KMSInvalidStateException"
        )
    assert error_code(lambda: kms.decrypt(CiphertextBlob=victim_blob)) == (
        "KMSInvalidStateException"
    )
    assert error_code(
        lambda: kms.re_encrypt(CiphertextBlob=healthy_blob, DestinationKeyId=victim)
    ) == ("KMSInvalidStateException")
    assert kms.decrypt(CiphertextBlob=healthy_blob)["Plaintext"] == plain
    again = kms.encrypt(KeyId=healthy, Plaintext=plain)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=again)["Plaintext"] == plain

    # The administrator's stored secret altered: authentication fails as for an unknown key.
    secret_sql = "SELECT secret_blob FROM access_keys WHERE access_key_id = :key_id"
    access_key_id = server.credentials()[0]
    secret_blob = stored_value(server, secret_sql, key_id=access_key_id)
    secret_update = "UPDATE access_keys SET secret_blob = :blob WHERE access_key_id = :key_id"
    overwrite(server, secret_update, blob=flipped(secret_blob), key_id=access_key_id)
    server.restart()
    assert error_code(kms.list_keys) == "UnrecognizedClientException"
    overwrite(server, secret_update, blob=secret_blob, key_id=access_key_id)

    # The access key handed to another user or account in storage: it stops working there.
    owner_update = "UPDATE access_keys SET user_name = :name WHERE access_key_id = :key_id"
    overwrite(server, owner_update, name="someone-else", key_id=access_key_id)
    server.restart()
    assert error_code(kms.list_keys) == "UnrecognizedClientException"
    overwrite(server, owner_update, name="admin", key_id=access_key_id)

    # The keyring or the seal configuration altered: the server refuses to start, says why.
    state_sql = "SELECT value FROM system_state WHERE name = :name"
    state_update = "UPDATE system_state SET value = :blob WHERE name = :name"
    keyring_blob = stored_value(server, state_sql, name="barrier.keyring")
    seal_config = stored_value(server, state_sql, name="barrier.seal")
    server.stop()
    alterations = [
        *(
            (
                "barrier.keyring",
                flipped(keyring_blob, index),
                "cannot unseal: the root key does not open this server's keyring",
            )
            for index in (0, len(keyring_blob) // 2, len(keyring_blob) - 1)
        ),
        ("barrier.seal", b"{}", "cannot start: storage holds a damaged seal configuration"),
        ("barrier.seal", seal_config[:-1], "damaged seal configuration"),
    ]
    for name, altered, message in alterations:
        overwrite(server, state_update, blob=altered, name=name)
        logged_before = len(server.log_text())
        with pytest.raises(RuntimeError, match="server exited early"):
            server.start()
        log = server.log_text()[logged_before:]
        assert message in log and "Traceback" not in log, log
        server.stop()
        overwrite(server, state_update, blob=keyring_blob, name="barrier.keyring")
        overwrite(server, state_update, blob=seal_config, name="barrier.seal")

    server.start()
    assert kms.decrypt(CiphertextBlob=healthy_blob)["Plaintext"] == plain
    assert "unexpected failure" not in server.log_text()
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_key_metadata_edited_in_storage_is_refused(make_server, backend):
    server = make_server(backend)
    kms = server.client("kms")
    disabled, moved, healthy = (
        kms.create_key(Description=name)["KeyMetadata"]["KeyId"]
        for name in ("disabled", "moved", "healthy")
    )
    kms.disable_key(KeyId=disabled)
    state_update = "UPDATE kms_keys SET key_state = :state WHERE key_id = :key_id"
    region_update = "UPDATE kms_keys SET region = :region WHERE key_id = :key_id"
    # Storage re-enables a disabled key, and moves another to a second region of the account.
    overwrite(server, state_update, state="Enabled", key_id=disabled)
    overwrite(server, region_update, region="eu-west-1", key_id=moved)
    server.restart()

    for call in (
        lambda: kms.encrypt(KeyId=disabled, Plaintext=b"x"),
        lambda: kms.describe_key(KeyId=disabled),
        lambda: kms.enable_key(KeyId=disabled),
    ):
        assert error_code(call) == "KMSInvalidStateException"
    elsewhere = server.client("kms", region_name="eu-west-1")
    assert error_code(lambda: elsewhere.encrypt(KeyId=moved, Plaintext=b"x")) == (
        "KMSInvalidStateException"
    )
    assert moved not in {k["KeyId"] for k in elsewhere.list_keys()["Keys"]}
    listed = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert disabled not in listed and healthy in listed
    assert kms.encrypt(KeyId=healthy, Plaintext=b"x")["KeyId"].endswith(healthy)

    # Put back as the server wrote them, the keys are what they were.
    overwrite(server, state_update, state="Disabled", key_id=disabled)
    overwrite(server, region_update, region="us-east-1", key_id=moved)
    server.restart()
    assert kms.describe_key(KeyId=disabled)["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.encrypt(KeyId=moved, Plaintext=b"x")["KeyId"].endswith(moved)
