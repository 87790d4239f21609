"""`strongroom audit verify` against a real trail: a TLS server on each backend makes calls in
two Regions, `strongroom audit close` seals three digest periods, and a restart cuts one more
log file that no digest lists yet. Verification passes on the untouched trail; then each kind
of tampering is done in storage (and undone after), and verification must fail with exit
status 1 and say what was done."""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.support.audit import close_period, close_request, execute, query, verify, wait_for
from tests.support.postgres import fresh_database
from tests.support.server import REGION, Server

OTHER_REGION = "eu-west-1"
TABLES = ("audit_records", "audit_log_files", "audit_digests")
EDITED = r" \(a record was edited, deleted, inserted or reordered\)"


@dataclass
class Trail:
    server: Server
    account: str
    digests: list[str]  # the home Region's, oldest first
    files: list[dict[str, Any]]  # the home Region's log files, oldest first
    undigested: dict[str, Any]  # the home Region's newest log file, in no digest yet
    after_first_period: float  # a moment between the first digest and the calls after it
    before_last_calls: float  # a moment before the calls of the undigested log file
    snapshot: dict[str, list[dict[str, Any]]]


def calls(server: Server, name: str) -> None:
    """A few calls in the home Region and one in another, interleaved, so that each log file
    of one Region spans record ids of the other."""
    sm = server.client("secretsmanager")
    west = server.client("secretsmanager", region_name=OTHER_REGION)
    sm.get_secret_value(SecretId=name)
    west.list_secrets(MaxResults=1)
    sm.describe_secret(SecretId=name)
    sm.put_secret_value(SecretId=name, SecretString=f"value {uuid.uuid4()}")


def rows(server: Server, table: str) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in query(server, f"SELECT * FROM {table}")]  # noqa: S608


def restore(server: Server, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    """Put the audit tables back exactly as they were."""
    statements = [f"DELETE FROM {table}" for table in TABLES]  # noqa: S608
    execute(server, *statements)
    for table, saved in snapshot.items():
        for row in saved:
            columns = ", ".join(row)
            values = ", ".join(f":{column}" for column in row)
            execute(server, f"INSERT INTO {table} ({columns}) VALUES ({values})", **row)  # noqa: S608


@pytest.fixture(scope="module", params=BACKENDS)
def trail(request, tmp_path_factory) -> Iterator[Trail]:
    with ExitStack() as stack:
        root = tmp_path_factory.mktemp(f"audit-{request.param}")
        args = []
        if request.param == "postgresql":
            database = fresh_database(request.getfixturevalue("pg_server_url"))
            args = ["--storage", stack.enter_context(database)]
        server = Server(args=args, log_path=root / "server.log", data_dir=root / "data").start()
        stack.callback(server.stop)
        name = f"audit-integrity-{uuid.uuid4().hex[:8]}"
        server.client("secretsmanager").create_secret(Name=name, SecretString="first")
        calls(server, name)
        assert len(close_period(server)) == 2  # one digest per Region
        time.sleep(1.1)  # digest times are whole seconds
        after_first_period = time.time()
        for _ in range(2):
            calls(server, name)
            assert len(close_period(server)) == 2
            time.sleep(1.1)
        before_last_calls = time.time()
        calls(server, name)
        # A restarted server cuts what is not in a log file yet at once, and digests it only
        # when the hour is over.
        server.restart()
        undigested = "SELECT * FROM audit_log_files WHERE digest_key IS NULL AND region = :r"
        wait_for(lambda: query(server, undigested, r=REGION))
        server.stop()  # verification reads storage only; nothing changes it from here on

        digests = [
            row[0]
            for row in query(
                server,
                "SELECT object_key FROM audit_digests WHERE region = :r ORDER BY end_time",
                r=REGION,
            )
        ]
        files = [
            dict(row._mapping)
            for row in query(
                server,
                "SELECT * FROM audit_log_files WHERE region = :r ORDER BY through_id",
                r=REGION,
            )
        ]
        assert len(digests) == 3
        assert files[-1]["digest_key"] is None
        assert all(f["digest_key"] is not None for f in files[:-1])
        yield Trail(
            server=server,
            account=str(files[0]["account_id"]),
            digests=digests,
            files=files,
            undigested=files[-1],
            after_first_period=after_first_period,
            before_last_calls=before_last_calls,
            snapshot={table: rows(server, table) for table in TABLES},
        )


@pytest.fixture
def untouched(trail) -> Iterator[Trail]:
    """The trail, restored after the test whatever it did."""
    yield trail
    restore(trail.server, trail.snapshot)


def problems(result) -> list[str]:
    return re.findall(r"^INVALID: (.*)$", result.stdout, re.MULTILINE)


def records_in(trail: Trail, log_file: dict[str, Any]) -> list[tuple[int, str]]:
    return [
        (row[0], row[1])
        for row in query(
            trail.server,
            "SELECT id, record FROM audit_records WHERE region = :r AND account_id = :a"
            " AND id > :after AND id <= :through ORDER BY id",
            r=log_file["region"],
            a=log_file["account_id"],
            after=log_file["after_id"],
            through=log_file["through_id"],
        )
    ]


def file_of_digest(trail: Trail, digest: str) -> dict[str, Any]:
    return next(f for f in trail.files if f["digest_key"] == digest)


def test_an_untouched_trail_verifies(trail):
    result = verify(trail.server)
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems(result) == []
    # Both Regions: 3 digests each, every log file.
    assert re.search(r"^6 digest file\(s\), \d+ log file\(s\): valid$", result.stdout, re.M)
    stored_files = query(trail.server, "SELECT count(*) FROM audit_log_files")[0][0]
    assert f", {stored_files} log file(s): valid" in result.stdout
    # Every record is in a log file.
    assert query(
        trail.server,
        "SELECT count(*) FROM audit_records WHERE id > (SELECT max(through_id) FROM"
        " audit_log_files)",
    ) == [(0,)]


# Each kind of tampering, with what verification must say about it.


def edit_record(trail: Trail) -> list[str]:
    target = file_of_digest(trail, trail.digests[1])
    record_id, text = records_in(trail, target)[0]
    record = json.loads(text)
    record["sourceIPAddress"] = "203.0.113.9"  # hide where the call came from
    execute(
        trail.server,
        "UPDATE audit_records SET record = :text WHERE id = :id",
        text=json.dumps(record, separators=(",", ":")),
        id=record_id,
    )
    return [rf"log file {re.escape(target['object_key'])}: hash differs from its digest" + EDITED]


def delete_record(trail: Trail) -> list[str]:
    target = file_of_digest(trail, trail.digests[0])
    record_id, _ = records_in(trail, target)[1]
    execute(trail.server, "DELETE FROM audit_records WHERE id = :id", id=record_id)
    return [rf"log file {re.escape(target['object_key'])}: hash differs from its digest" + EDITED]


def insert_record(trail: Trail) -> list[str]:
    """A forged home-Region record slipped into the id range of a digested log file (in
    place of another Region's record: ids have no gaps to slip into otherwise)."""
    target = file_of_digest(trail, trail.digests[1])
    own = {record_id for record_id, _ in records_in(trail, target)}
    foreign = query(
        trail.server,
        "SELECT id FROM audit_records WHERE region = :r AND id > :after AND id <= :through",
        r=OTHER_REGION,
        after=target["after_id"],
        through=target["through_id"],
    )[0][0]
    assert foreign not in own
    template = dict(
        query(trail.server, "SELECT * FROM audit_records WHERE id = :id", id=min(own))[0]._mapping
    )
    record = json.loads(template["record"])
    record.update(
        eventName="DescribeSecret", eventID=str(uuid.uuid4()), requestID=str(uuid.uuid4())
    )
    template.update(
        id=foreign,
        event_id=record["eventID"],
        request_id=record["requestID"],
        event_name="DescribeSecret",
        record=json.dumps(record, separators=(",", ":")),
    )
    columns = ", ".join(template)
    values = ", ".join(f":{column}" for column in template)
    execute(
        trail.server,
        "DELETE FROM audit_records WHERE id = :id",
        f"INSERT INTO audit_records ({columns}) VALUES ({values})",  # noqa: S608
        **template,
    )
    west = query(
        trail.server,
        "SELECT object_key FROM audit_log_files WHERE region = :r AND after_id = :after",
        r=OTHER_REGION,
        after=target["after_id"],
    )[0][0]
    return [
        rf"log file {re.escape(target['object_key'])}: hash differs from its digest" + EDITED,
        rf"log file {re.escape(west)}: hash differs from its digest" + EDITED,
    ]


def move_record(trail: Trail) -> list[str]:
    """Only the Region column changed: the record moves from one Region's log file to the
    other's, though its text is untouched."""
    target = file_of_digest(trail, trail.digests[2])
    record_id, _ = records_in(trail, target)[0]
    execute(
        trail.server,
        "UPDATE audit_records SET region = :r WHERE id = :id",
        r=OTHER_REGION,
        id=record_id,
    )
    return [
        rf"log file {re.escape(target['object_key'])}: hash differs from its digest" + EDITED,
        r"log file \S+/eu-west-1/\S+: hash differs from its digest" + EDITED,
    ]


def swap_records(trail: Trail) -> list[str]:
    target = file_of_digest(trail, trail.digests[1])
    (first, first_text), (second, second_text) = records_in(trail, target)[:2]
    assert first_text != second_text
    execute(
        trail.server,
        "UPDATE audit_records SET record = :text WHERE id = :id",
        text=second_text,
        id=first,
    )
    execute(
        trail.server,
        "UPDATE audit_records SET record = :text WHERE id = :id",
        text=first_text,
        id=second,
    )
    return [rf"log file {re.escape(target['object_key'])}: hash differs from its digest" + EDITED]


def delete_log_file(trail: Trail) -> list[str]:
    target = file_of_digest(trail, trail.digests[1])
    execute(
        trail.server,
        "DELETE FROM audit_log_files WHERE object_key = :k",
        k=target["object_key"],
    )
    return [
        rf"log file {re.escape(target['object_key'])}: listed in "
        rf"{re.escape(trail.digests[1])} but deleted",
        rf"\d+ record\(s\) of {trail.account} in {REGION} from id \d+ are in no log file: a "
        r"log file was deleted",
    ]


def orphaned_files(trail: Trail, digest: str) -> list[str]:
    """The lines for the log files a deleted digest listed."""
    return [
        rf"log file {re.escape(row[0])}: its digest {re.escape(digest)} is missing \(deleted\)"
        for row in query(
            trail.server, "SELECT object_key FROM audit_log_files WHERE digest_key = :d", d=digest
        )
    ]


def delete_middle_digest(trail: Trail) -> list[str]:
    execute(trail.server, "DELETE FROM audit_digests WHERE object_key = :k", k=trail.digests[1])
    return [
        rf"digest {re.escape(trail.digests[2])}: names {re.escape(trail.digests[1])} as the "
        rf"digest before it, but the one before it in storage is "
        rf"{re.escape(trail.digests[0])} \(a digest was deleted or reordered\)",
        *orphaned_files(trail, trail.digests[1]),
    ]


def delete_first_digest(trail: Trail) -> list[str]:
    execute(trail.server, "DELETE FROM audit_digests WHERE object_key = :k", k=trail.digests[0])
    return [
        rf"digest {re.escape(trail.digests[1])}: the digest before it "
        rf"\({re.escape(trail.digests[0])}\) is missing",
        *orphaned_files(trail, trail.digests[0]),
    ]


def edit_digest(trail: Trail) -> list[str]:
    body = json.loads(
        bytes(
            query(
                trail.server,
                "SELECT body FROM audit_digests WHERE object_key = :k",
                k=trail.digests[1],
            )[0][0]
        )
    )
    body["logFiles"][0]["hashValue"] = "0" * 64  # as if the log file had been other bytes
    execute(
        trail.server,
        "UPDATE audit_digests SET body = :body WHERE object_key = :k",
        body=json.dumps(body, separators=(",", ":")).encode(),
        k=trail.digests[1],
    )
    return [
        rf"digest {re.escape(trail.digests[1])}: signature does not verify \(edited\)",
        rf"digest {re.escape(trail.digests[2])}: the digest before it was edited \(hash "
        r"differs\)",
        rf"log file {re.escape(body['logFiles'][0]['s3Object'])}: hash differs from its digest"
        + EDITED,
    ]


def delete_undigested_log_file(trail: Trail) -> list[str]:
    execute(
        trail.server,
        "DELETE FROM audit_log_files WHERE object_key = :k",
        k=trail.undigested["object_key"],
    )
    return [
        rf"\d+ record\(s\) of {trail.account} in {REGION} from id "
        rf"{trail.undigested['after_id'] + 1} are in no log file: a log file was deleted"
    ]


def edit_undigested_record(trail: Trail) -> list[str]:
    record_id, text = records_in(trail, trail.undigested)[-1]
    execute(
        trail.server,
        "UPDATE audit_records SET record = :text WHERE id = :id",
        text=text.replace("127.0.0.1", "127.0.0.2"),
        id=record_id,
    )
    return [
        rf"log file {re.escape(trail.undigested['object_key'])}: its records changed since it "
        r"was cut \(edited, deleted, inserted or reordered\)"
    ]


TAMPERING: dict[str, Callable[[Trail], list[str]]] = {
    "edited record": edit_record,
    "deleted record": delete_record,
    "inserted record": insert_record,
    "record moved to another Region": move_record,
    "records reordered": swap_records,
    "deleted log file": delete_log_file,
    "deleted digest in the middle of the chain": delete_middle_digest,
    "deleted first digest": delete_first_digest,
    "edited digest": edit_digest,
    "deleted log file not yet digested": delete_undigested_log_file,
    "edited record not yet digested": edit_undigested_record,
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampering_is_reported(untouched, tampering):
    expected = TAMPERING[tampering](untouched)
    result = verify(untouched.server)
    assert result.returncode == 1, result.stdout + result.stderr
    found = problems(result)
    assert re.search(r": INVALID \(\d+ problem\(s\)\)$", result.stdout.strip())
    for pattern in expected:
        assert any(re.fullmatch(pattern, line) for line in found), (pattern, found)
    # Nothing else is reported: each problem is one of the expected ones.
    unexplained = [line for line in found if not any(re.fullmatch(p, line) for p in expected)]
    assert unexplained == []


def test_the_time_range_limits_what_is_checked(untouched):
    edit_record_in_first_period = file_of_digest(untouched, untouched.digests[0])
    record_id, text = records_in(untouched, edit_record_in_first_period)[0]
    execute(
        untouched.server,
        "UPDATE audit_records SET record = :text WHERE id = :id",
        text=text.replace("127.0.0.1", "127.0.0.2"),
        id=record_id,
    )
    assert verify(untouched.server).returncode == 1
    later = datetime.datetime.fromtimestamp(untouched.after_first_period, datetime.UTC)
    for start in (later.isoformat(), str(untouched.after_first_period)):
        result = verify(untouched.server, "--start-time", start)
        assert result.returncode == 0, result.stdout
        assert re.search(r"^\d+ digest file\(s\), \d+ log file\(s\): valid$", result.stdout, re.M)
    # Up to a moment in the first period, the edit is found again.
    result = verify(untouched.server, "--end-time", str(untouched.after_first_period - 1.05))
    assert result.returncode == 1
    assert len(problems(result)) == 1

    # An edit in the newest (undigested) log file is outside a range that ends before it.
    restore(untouched.server, untouched.snapshot)
    edit_undigested_record(untouched)
    assert verify(untouched.server).returncode == 1
    before = datetime.datetime.fromtimestamp(untouched.before_last_calls, datetime.UTC)
    result = verify(untouched.server, "--end-time", before.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert result.returncode == 0, result.stdout
    result = verify(untouched.server, "--start-time", str(untouched.before_last_calls))
    assert result.returncode == 1


def test_a_deleted_newest_digest_is_reported(untouched):
    target = file_of_digest(untouched, untouched.digests[2])
    execute(
        untouched.server,
        "DELETE FROM audit_digests WHERE object_key = :k",
        k=untouched.digests[2],
    )
    record_id, text = records_in(untouched, target)[0]
    execute(
        untouched.server,
        "UPDATE audit_records SET record = :text WHERE id = :id",
        text=text.replace("127.0.0.1", "127.0.0.2"),
        id=record_id,
    )
    result = verify(untouched.server)
    assert result.returncode == 1, result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_closes_keep_one_chain(make_server, backend):
    server = make_server(backend)
    sm = server.client("secretsmanager")
    name = f"audit-close-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="x")
    statuses: list[int] = []
    for _ in range(4):
        sm.describe_secret(SecretId=name)
        with ThreadPoolExecutor(6) as pool:
            replies = list(pool.map(lambda _: close_request(server), range(6)))
        statuses += [status for status, _ in replies]
        for status, body in replies:
            assert status != 200 or "digests" in json.loads(body)
    result = verify(server)
    assert result.returncode == 0, result.stdout  # whatever happened, one unbroken chain
    assert "Traceback" not in server.log_text()
    assert set(statuses) == {200}


def test_verify_right_after_quick_closes_checks_every_digest(make_server):
    server = make_server("sqlite")
    sm = server.client("secretsmanager")
    for _ in range(5):
        sm.list_secrets(MaxResults=1)
        status, _ = close_request(server)
        assert status == 200
    newest, body = query(
        server, "SELECT object_key, body FROM audit_digests ORDER BY end_time DESC LIMIT 1"
    )[0]
    digest = json.loads(bytes(body))
    digest["digestStartTime"] = "2000-01-01T00:00:00Z"  # surely not what was signed
    execute(
        server,
        "UPDATE audit_digests SET body = :body WHERE object_key = :k",
        body=json.dumps(digest, separators=(",", ":")).encode(),
        k=newest,
    )
    result = verify(server)
    assert re.search(r"^5 digest file\(s\)", result.stdout, re.M), result.stdout
    assert result.returncode == 1, result.stdout
