"""The stock `aws cloudtrail validate-logs` (awscli's own code, unchanged) checks Strongroom's
trail: valid when untouched; INVALID after a record is edited in storage, a log file deleted
or a digest deleted; and `strongroom audit verify` agrees every time. Both storage backends."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest

from tests.conftest import BACKENDS
from tests.support.audit import close_period, execute, query, verify
from tests.support.server import REGION, Server


def validate_logs(server: Server, start: datetime.datetime) -> subprocess.CompletedProcess[str]:
    (trail_arn,) = [
        t["TrailARN"] for t in server.client("cloudtrail").describe_trails()["trailList"]
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | server.env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    command = ["aws", "cloudtrail", "validate-logs", "--trail-arn", trail_arn, "--verbose"]
    command += ["--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def assert_valid(server: Server, start: datetime.datetime, digests: int) -> None:
    result = validate_logs(server, start)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "INVALID" not in output
    assert output.count("Digest file") == digests, output
    checked = verify(server)
    assert checked.returncode == 0, checked.stdout


def assert_invalid(server: Server, start: datetime.datetime, expected: str) -> None:
    result = validate_logs(server, start)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr, result.stdout + result.stderr
    checked = verify(server)
    assert checked.returncode == 1, checked.stdout
    assert "INVALID" in checked.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_validate_logs_and_audit_verify_agree_on_every_tampering(make_server, backend):
    server = make_server(backend)
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    secrets = server.client("secretsmanager")
    for n in range(3):  # three periods: three log files and three chained digests
        secrets.create_secret(Name=f"validate/{n}", SecretString="value")
        close_period(server)
    assert_valid(server, start, digests=3)

    files = query(
        server,
        "SELECT object_key, after_id, through_id FROM audit_log_files"
        " WHERE region = :region AND digest_key IS NOT NULL ORDER BY through_id",
        region=REGION,
    )
    assert len(files) >= 3  # the minutely delivery may have cut a file of its own
    first_record = query(
        server,
        "SELECT id, record FROM audit_records WHERE id > :after AND id <= :through ORDER BY id",
        after=files[0].after_id,
        through=files[0].through_id,
    )[0]

    # An edited record: its log file's hash no longer matches its digest.
    edited = first_record.record.replace('"127.0.0.1"', '"10.6.6.6"', 1)  # its source address
    assert edited != first_record.record
    execute(
        server, "UPDATE audit_records SET record = :r WHERE id = :id", r=edited, id=first_record.id
    )
    assert_invalid(server, start, "INVALID: hash value doesn't match")
    execute(
        server,
        "UPDATE audit_records SET record = :r WHERE id = :id",
        r=first_record.record,
        id=first_record.id,
    )
    assert_valid(server, start, digests=3)

    # A deleted log file.
    (saved_file,) = query(
        server, "SELECT * FROM audit_log_files WHERE object_key = :k", k=files[1].object_key
    )
    execute(server, "DELETE FROM audit_log_files WHERE object_key = :k", k=files[1].object_key)
    assert_invalid(server, start, "INVALID: not found")
    columns = ", ".join(saved_file._fields)  # the table's own column names
    values = ", ".join(f":{name}" for name in saved_file._fields)
    restore = f"INSERT INTO audit_log_files ({columns}) VALUES ({values})"  # noqa: S608
    execute(server, restore, **saved_file._asdict())
    assert_valid(server, start, digests=3)

    # A deleted digest in the middle of the chain.
    digests = query(
        server,
        "SELECT object_key FROM audit_digests WHERE region = :region ORDER BY end_time",
        region=REGION,
    )
    execute(server, "DELETE FROM audit_digests WHERE object_key = :k", k=digests[1].object_key)
    assert_invalid(server, start, "INVALID: not found")
