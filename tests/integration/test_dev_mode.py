"""`strongroom server --dev`: documented test credentials, reset and clock controls over HTTP
and through the CLI, and the guards that keep those controls off real servers."""

from __future__ import annotations

import json
import shlex
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.operator import post
from tests.support.server import (
    DEV_ACCESS_KEY_ID,
    DEV_SECRET_ACCESS_KEY,
    REGION,
    free_port,
    strongroom,
)
from tests.support.signing import call

FORTY_DAYS = 86400 * 40


def env_dev(port: int | None = None) -> dict[str, str]:
    args = ["env", "--dev"] + (["--port", str(port)] if port else [])
    output = strongroom(*args).stdout
    values = {}
    for line in output.splitlines():
        assert line.startswith("export "), output
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = shlex.split(value)[0]
    return values


def created_at(kms) -> float:
    return kms.create_key(Description="clock probe")["KeyMetadata"]["CreationDate"].timestamp()


def count(kms) -> tuple[int, int]:
    return len(kms.list_keys()["Keys"]), len(kms.list_aliases()["Aliases"])


def test_env_dev_prints_the_documented_settings():
    assert env_dev() == {
        "AWS_ENDPOINT_URL": "http://localhost:4566",
        "AWS_ACCESS_KEY_ID": DEV_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEV_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }
    assert env_dev(5000)["AWS_ENDPOINT_URL"] == "http://localhost:5000"


def test_reset_and_clock(own_dev_server):
    server = own_dev_server
    # Configured only by what `strongroom env --dev` prints (with this server's port).
    env = env_dev(server.port)
    assert env["AWS_ENDPOINT_URL"] == server.endpoint
    kms = boto3.client(
        "kms",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    for number in range(3):
        key_id = kms.create_key(Description=f"before reset {number}")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/dev-{number}", TargetKeyId=key_id)
    assert count(kms) == (3, 3)

    assert post(server, "/_strongroom/dev/reset", {}) == (200, {"reset": True})
    assert count(kms) == (0, 0)  # the same credentials still work, without a restart
    with pytest.raises(ClientError) as gone:
        kms.describe_key(KeyId="alias/dev-0")
    assert gone.value.response["Error"]["Code"] == "NotFoundException"

    assert abs(created_at(kms) - time.time()) < 300
    status, reply = post(server, "/_strongroom/dev/clock", {"advance_seconds": FORTY_DAYS})
    assert status == 200 and reply["offset_seconds"] == FORTY_DAYS
    # Requests are signed with the real time and still accepted; service time moved.
    assert abs(created_at(kms) - (time.time() + FORTY_DAYS)) < 300
    status, listed = call(server, "ListKeys", {})
    assert status == 200 and len(listed["Keys"]) == 2

    # Backwards, beyond any date a client can parse, or not a number: refused, clock unmoved.
    for refused in (
        {"advance_seconds": -1},
        {"advance_seconds": 1e300},
        {"seconds": 1},
        {"advance_seconds": "NaN"},
        {"advance_seconds": "soon"},
        [1],
        b"[" * 60000,
    ):
        status, reply = post(server, "/_strongroom/dev/clock", refused)
        assert status == 400 and "error" in reply, refused
    assert post(server, "/_strongroom/dev/clock", {"advance_seconds": 0})[1]["offset_seconds"] == (
        FORTY_DAYS
    )

    # The same through the CLI.
    moved = strongroom("dev", "advance-clock", "86400", "--endpoint", server.endpoint)
    assert moved.stdout.strip() == f"Server clock offset: {FORTY_DAYS + 86400} s"
    assert abs(created_at(kms) - (time.time() + FORTY_DAYS + 86400)) < 300
    assert strongroom("dev", "reset", "--endpoint", server.endpoint).stdout.strip() == "Reset."
    assert count(kms) == (0, 0)
    assert abs(created_at(kms) - time.time()) < 300  # a reset also puts the clock back


def test_a_real_server_has_no_dev_controls(make_server):
    server = make_server("sqlite")
    kms = server.client("kms")
    kms.create_key(Description="must survive")
    for path, payload in (("reset", {}), ("clock", {"advance_seconds": FORTY_DAYS})):
        status, reply = post(server, f"/_strongroom/dev/{path}", payload)
        assert status == 400, reply
        assert reply.get("__type"), reply  # an AWS-style error, as for any unknown request
    refused = strongroom(
        "dev",
        "reset",
        "--endpoint",
        server.endpoint,
        check=False,
        env={"SSL_CERT_FILE": server.ca_bundle},
    )
    assert refused.returncode == 1
    assert "is this a --dev server?" in refused.stderr
    assert len(kms.list_keys()["Keys"]) == 1
    assert abs(created_at(kms) - time.time()) < 300


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])  # noqa: S104 - must be refused
def test_a_dev_server_listens_on_loopback_only(host):
    refused = strongroom("server", "--dev", "--host", host, "--port", str(free_port()), check=False)
    assert refused.returncode == 2
    assert "a --dev server listens on loopback only" in refused.stderr


def test_a_refused_dev_server_leaves_no_data_directory(tmp_path):
    strongroom(
        "server",
        "--dev",
        "--host",
        "192.0.2.1",
        "--port",
        str(free_port()),
        check=False,
        env={"TMPDIR": str(tmp_path)},
    )
    assert list(tmp_path.iterdir()) == []


def test_operator_endpoints_answer_json_even_to_a_wrong_method(dev_server):
    for path in ("/_strongroom/dev/reset", "/_strongroom/unseal", "/health"):
        method = "POST" if path == "/health" else "GET"
        request = urllib.request.Request(dev_server.endpoint + path, method=method)  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 - the test server
        with refused.value as reply:
            assert reply.code == 405
            assert json.load(reply) == {"error": "Method Not Allowed"}
