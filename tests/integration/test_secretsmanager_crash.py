"""SIGKILL during a PutSecretValue load: after a restart every acknowledged version is there and
readable, the labels are consistent, and no half-written version exists."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_acknowledged_write_is_lost_and_none_is_half_written(make_server, backend):
    server = make_server(backend)
    sm = server.client("secretsmanager")
    sm.create_secret(Name="crash/secret", SecretString="v0")
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(number: int) -> None:
        client = server.client("secretsmanager")
        i = 0
        while not stop.is_set():
            value = f"writer {number} value {i}"
            try:
                reply = client.put_secret_value(SecretId="crash/secret", SecretString=value)
            except (ClientError, BotoCoreError):
                return  # the server died under us: this write was never acknowledged
            with lock:
                acknowledged[reply["VersionId"]] = value
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) >= 10

    server.start()
    sm = server.client("secretsmanager")
    versions = sm.list_secret_version_ids(SecretId="crash/secret", IncludeDeprecated=True)
    stored = {v["VersionId"] for v in versions["Versions"]}
    assert set(acknowledged) <= stored
    for version_id in stored:  # every stored version is whole: it decrypts
        value = sm.get_secret_value(SecretId="crash/secret", VersionId=version_id)["SecretString"]
        assert acknowledged.get(version_id, value) == value
    stages = sm.describe_secret(SecretId="crash/secret")["VersionIdsToStages"]
    assert sorted(label for labels in stages.values() for label in labels) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]
