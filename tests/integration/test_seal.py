"""Seals through real servers and the real CLI: the shamir lifecycle (init, sealed start,
unseal share by share, seal, unseal again) and the file seal's start-up failures."""

from __future__ import annotations

import base64
import os

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS
from tests.support.operator import cli, init_shamir, post
from tests.support.server import Server


def assert_sealed(server: Server, kms, progress: str, cli_status: bool = False) -> None:
    health = server.health()
    assert health is not None
    assert health["sealed"] is True and health["status"] == "sealed"
    assert health["unseal_progress"] == progress
    for call in (kms.list_keys, lambda: kms.create_key(Description="while sealed")):
        with pytest.raises(ClientError) as refused:
            call()
        error = refused.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert error["Error"]["Code"] == "ServiceUnavailableException"
        assert "sealed" in error["Error"]["Message"]
    if cli_status:
        status = cli(server, "status", check=False)
        assert status.returncode == 1
        assert f"sealed (unseal progress {progress})" in status.stdout


def assert_unsealed(server: Server, cli_status: bool = False) -> None:
    health = server.health()
    assert health is not None and health["sealed"] is False
    if cli_status:
        status = cli(server, "status", check=False)
        assert status.returncode == 0, status.stdout
        assert "State:          unsealed" in status.stdout


def corrupted(share: str) -> dict[str, str]:
    flipped = ("A" if share[0] != "A" else "B") + share[1:]
    shorter = base64.b64encode(base64.b64decode(share)[:-1]).decode()
    return {"flipped character": flipped, "wrong length": shorter, "garbage": "not-a-share!"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_shamir_lifecycle(make_server, backend):
    server = make_server(backend, start=False)
    shares, _ = init_shamir(server)
    server.start(wait_unsealed=False)
    # No retries: a sealed server's 503 would be retried with back-off.
    kms = server.client("kms", config=Config(retries={"total_max_attempts": 1}))
    assert_sealed(server, kms, "0/3")

    for number, share in enumerate(shares[:2], 1):
        reply = cli(server, "unseal", share)
        assert reply.stdout.strip() == f"Sealed: {number} of 3 shares submitted."
        assert share not in reply.stdout + reply.stderr
    assert_sealed(server, kms, "2/3", cli_status=True)

    # Refused shares do not count (nor does a share given twice) and the server lives on.
    refused = cli(server, "unseal", corrupted(shares[2])["flipped character"], check=False)
    assert refused.returncode == 1
    assert refused.stderr == "Error: the share is not one of this server's unseal shares\n"
    refusals = {
        **corrupted(shares[2]),
        "another server's share": init_shamir(make_server("sqlite", start=False))[0][0],
    }
    for kind, bad in refusals.items():
        status, reply = post(server, "/_strongroom/unseal", {"share": bad})
        assert status == 400, kind
        assert reply["error"].startswith("the share is not"), (kind, reply)
        assert bad not in reply["error"]
    assert post(server, "/_strongroom/unseal", {"share": shares[0]}) == (
        200,
        {"sealed": True, "progress": 2, "threshold": 3},
    )
    for malformed in ({"nonsense": 1}, ["share"], b"[" * 60000, b"\xff"):
        assert post(server, "/_strongroom/unseal", malformed)[0] == 400
    # The unauthenticated endpoint does not buffer large bodies.
    assert post(server, "/_strongroom/unseal", {"share": "A" * 100_000})[0] == 413
    assert server.process.poll() is None
    assert_sealed(server, kms, "2/3")

    assert cli(server, "unseal", shares[2]).stdout.strip() == "Unsealed."
    assert_unsealed(server, cli_status=True)
    key_id = kms.create_key(Description="before the seal")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/sealed-and-back", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId="alias/sealed-and-back", Plaintext=b"ward 7 roster")["CiphertextBlob"]

    # Only the administrator may seal.
    assert post(server, "/_strongroom/seal", {})[0] == 403
    assert_unsealed(server)

    assert cli(server, "seal").stdout.strip() == "Sealed."
    assert_sealed(server, kms, "0/3", cli_status=True)
    # Sealing a sealed server is harmless.
    assert cli(server, "seal").stdout.strip() == "Sealed."
    assert_sealed(server, kms, "0/3")

    # Another three shares unseal it; what was created before the seal is all there.
    for number, share in enumerate((shares[3], shares[4], shares[1]), 1):
        reply = cli(server, "unseal", share).stdout.strip()
        assert reply == ("Unsealed." if number == 3 else f"Sealed: {number} of 3 shares submitted.")
    assert_unsealed(server)
    # A share sent to an unsealed server changes nothing.
    assert cli(server, "unseal", shares[0]).stdout.strip() == "Unsealed."
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ward 7 roster"
    assert kms.describe_key(KeyId="alias/sealed-and-back")["KeyMetadata"]["KeyId"] == key_id

    # A restart comes back sealed; any three shares unseal it again.
    server.stop()
    server.start(wait_unsealed=False)
    assert_sealed(server, kms, "0/3")
    for share in (shares[4], shares[0], shares[3]):
        post(server, "/_strongroom/unseal", {"share": share})
    assert_unsealed(server)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ward 7 roster"


def start_fails(server: Server) -> str:
    """Start the server, expect it to exit with an error; return what that start printed."""
    logged_before = len(server.log_text())
    with pytest.raises(RuntimeError, match="server exited early"):
        server.start()
    assert server.process.returncode != 0
    server.stop()
    return server.log_text()[logged_before:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_seal_restarts_and_refuses_a_missing_or_wrong_root_key(make_server, backend):
    server = make_server(backend)
    kms = server.client("kms")
    key_id = kms.create_key(Description="file seal")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"file seal plaintext")["CiphertextBlob"]
    root_key_file = server.data_dir / "root.key"
    root_key = root_key_file.read_bytes()
    assert oct(root_key_file.stat().st_mode & 0o777) == "0o600"

    server.restart()
    assert server.health()["seal"] == "file"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"file seal plaintext"

    server.stop()
    wrong_keys = [  # (what the root key file holds, what the failed start says)
        (None, "does not exist"),
        (base64.b64encode(os.urandom(32)) + b"\n", "does not open this server's keyring"),
        (b"this is not a key\n", "is not a valid key"),
        (base64.b64encode(os.urandom(16)) + b"\n", "is not a valid key"),
    ]
    for content, message in wrong_keys:
        root_key_file.unlink(missing_ok=True)
        if content is not None:
            root_key_file.write_bytes(content)
        log = start_fails(server)
        assert "cannot unseal: " in log and message in log, log
        assert "Traceback" not in log, log
        assert content is None or content.strip().decode() not in log

    root_key_file.write_bytes(root_key)
    server.start()
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"file seal plaintext"
