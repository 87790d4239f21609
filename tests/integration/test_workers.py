"""`--workers 2`: forked workers share one socket and learn of each other's writes and of a
seal through storage within the change-counter poll interval (100 ms)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS
from tests.support.operator import cli
from tests.support.server import strongroom

# Longer than the poll interval of storage/changes.py, with room for a busy machine.
PROPAGATION = 0.5


def worker_pids(server) -> set[int]:
    children = strongroom_children(server.process.pid)
    assert len(children) == 2, children
    return children


def strongroom_children(parent: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def fresh_client(server):
    # A new client opens new connections, which the kernel spreads over both workers.
    return server.client("kms")


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_agree_on_keys_state_and_seal(make_server, backend):
    server = make_server(backend, "--workers", "2")
    worker_pids(server)
    key_id = fresh_client(server).create_key()["KeyMetadata"]["KeyId"]
    fresh_client(server).create_alias(AliasName="alias/workers", TargetKeyId=key_id)
    time.sleep(PROPAGATION)
    blobs = [
        fresh_client(server).encrypt(KeyId="alias/workers", Plaintext=b"phi %d" % i)[
            "CiphertextBlob"
        ]
        for i in range(10)
    ]
    for i, blob in enumerate(blobs):
        assert fresh_client(server).decrypt(CiphertextBlob=blob)["Plaintext"] == b"phi %d" % i

    fresh_client(server).disable_key(KeyId=key_id)
    time.sleep(PROPAGATION)
    for _ in range(10):
        with pytest.raises(ClientError) as refused:
            fresh_client(server).encrypt(KeyId=key_id, Plaintext=b"x")
        assert refused.value.response["Error"]["Code"] == "DisabledException"

    assert cli(server, "seal").returncode == 0
    time.sleep(PROPAGATION)
    for _ in range(10):
        with pytest.raises(ClientError) as sealed:
            fresh_client(server).describe_key(KeyId=key_id)
        assert sealed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    # A restart unseals from the file seal; the workers serve the same state again.
    server.restart()
    worker_pids(server)
    with pytest.raises(ClientError) as still_disabled:
        fresh_client(server).encrypt(KeyId=key_id, Plaintext=b"x")
    assert still_disabled.value.response["Error"]["Code"] == "DisabledException"


def test_stopping_the_supervisor_stops_every_worker(make_server):
    server = make_server("sqlite", "--workers", "2")
    workers = worker_pids(server)
    server.stop()  # SIGTERM to the supervisor only, as a service manager would send
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_workers_need_the_file_seal_and_no_dev(tmp_path):
    refused = strongroom("server", "--dev", "--workers", "2", check=False)
    assert refused.returncode != 0
    assert "--workers above 1 needs the file seal and no --dev" in refused.stderr


def test_two_workers_serve_the_latest_secret_value(make_server):
    server = make_server("sqlite", "--workers", "2")
    sm = server.client("secretsmanager")
    sm.create_secret(Name="workers/secret", SecretString="first")
    for _ in range(6):  # fresh connections land on both workers and fill their caches
        assert (
            server.client("secretsmanager").get_secret_value(SecretId="workers/secret")[
                "SecretString"
            ]
            == "first"
        )
    sm.put_secret_value(SecretId="workers/secret", SecretString="second")
    time.sleep(PROPAGATION)
    for _ in range(6):
        assert (
            server.client("secretsmanager").get_secret_value(SecretId="workers/secret")[
                "SecretString"
            ]
            == "second"
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_inactive_access_key_is_refused_by_every_worker(make_server, backend):
    server = make_server(backend, "--workers", "2")
    iam = server.client("iam")
    iam.create_user(UserName="worker-user")
    may_list = {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}
    iam.put_user_policy(
        UserName="worker-user",
        PolicyName="list-keys",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [may_list]}),
    )
    key = iam.create_access_key(UserName="worker-user")["AccessKey"]

    def own_client():  # new connections, spread over both workers
        return server.client(
            "kms",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )

    for _ in range(10):  # both workers now hold the key in their caches
        own_client().list_keys()
    server.client("iam").update_access_key(
        UserName="worker-user", AccessKeyId=key["AccessKeyId"], Status="Inactive"
    )
    time.sleep(PROPAGATION)
    for _ in range(10):
        with pytest.raises(ClientError) as refused:
            own_client().list_keys()
        assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
