"""Fail closed, never hang: with the audit tables made unwritable (triggers that refuse every
INSERT) or stalled (locked by another connection), API calls fail with the service's internal
error within a few seconds and change nothing; /health and `strongroom status` say so; once the
audit store takes records again, service resumes and the chain still verifies."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from strongroom.protocol.dispatcher import AUDIT_FAILURE_MESSAGE
from tests.conftest import BACKENDS
from tests.support.audit import (
    close_period,
    execute,
    query,
    record_counts,
    record_of,
    request_id,
    reservation_ids,
    verify,
)
from tests.support.operator import cli
from tests.support.server import Server
from tests.support.storage import storage

# The store's own wait for a record; a call that may change something waits twice (its
# reservation, then its record).
WRITER_TIMEOUT = 5.0
# Service state a refused call must not change (bookkeeping of reads is checked apart).
STATE_TABLES = (
    "accounts",
    "access_keys",
    "kms_keys",
    "kms_key_materials",
    "kms_aliases",
    "kms_tags",
    "kms_grants",
    "sm_secrets",
    "sm_versions",
    "sm_stages",
    "sm_tags",
    "sm_replicas",
)

SQLITE_REFUSE = [
    f"CREATE TRIGGER audit_refuse_{table} BEFORE INSERT ON {table}"
    " BEGIN SELECT RAISE(ABORT, 'audit storage read-only'); END"
    for table in ("audit_records", "audit_reservations")
]
SQLITE_ALLOW = [
    f"DROP TRIGGER audit_refuse_{table}" for table in ("audit_records", "audit_reservations")
]
POSTGRES_REFUSE = [
    "CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'audit storage read-only'; END $$",
    *(
        f"CREATE TRIGGER audit_refuse_{table} BEFORE INSERT ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION audit_refuse()"
        for table in ("audit_records", "audit_reservations")
    ),
]
POSTGRES_ALLOW = [
    *(
        f"DROP TRIGGER audit_refuse_{table} ON {table}"
        for table in ("audit_records", "audit_reservations")
    ),
    "DROP FUNCTION audit_refuse()",
]


def is_postgres(server: Server) -> bool:
    return server.args[:1] == ["--storage"]


@contextmanager
def unwritable_audit(server: Server) -> Iterator[None]:
    postgres = is_postgres(server)
    execute(server, *(POSTGRES_REFUSE if postgres else SQLITE_REFUSE))
    try:
        yield
    finally:
        execute(server, *(POSTGRES_ALLOW if postgres else SQLITE_ALLOW))


@contextmanager
def stalled_audit(server: Server) -> Iterator[None]:
    """Another connection holds the audit tables (SQLite: the whole database) locked."""
    with storage(server) as engine, engine.connect() as connection:
        if is_postgres(server):
            connection.begin()
            connection.exec_driver_sql(
                "LOCK TABLE audit_records, audit_reservations IN ACCESS EXCLUSIVE MODE"
            )
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.rollback()


def clients(server: Server) -> tuple[Any, Any]:
    """Secrets Manager and KMS clients that send each call once (no retries) and wait long
    enough to see how long the server takes."""
    config = Config(retries={"total_max_attempts": 1}, read_timeout=60)
    return server.client("secretsmanager", config=config), server.client("kms", config=config)


def refused(call: Callable[[], Any], limit: float = WRITER_TIMEOUT) -> dict[str, Any]:
    """The error response of a call the server must refuse as unrecordable, within `limit`."""
    started = time.monotonic()
    with pytest.raises(ClientError) as failure:
        call()
    elapsed = time.monotonic() - started
    response = failure.value.response
    assert elapsed < limit, f"answered after {elapsed:.1f} s"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500, response
    assert response["Error"]["Message"] == AUDIT_FAILURE_MESSAGE
    return response


def state(server: Server) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    for table in STATE_TABLES:
        rows = [dict(row._mapping) for row in query(server, f"SELECT * FROM {table}")]  # noqa: S608
        for row in rows:
            row.pop("last_accessed_date", None)  # see test_refused_reads_leave_no_usage_behind
        found[table] = sorted(tuple(sorted(row.items())) for row in rows)
    return found


def trail(server: Server) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in query(server, "SELECT id, record FROM audit_records ORDER BY id")]


def names(sm) -> list[str]:
    return sorted(s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"])


def key_ids(kms) -> list[str]:
    return sorted(k["KeyId"] for k in kms.list_keys()["Keys"])


def health(server: Server) -> tuple[int, dict[str, Any]]:
    report = server.health()
    assert report is not None
    return (200 if report["status"] == "ok" else 503), report


@pytest.mark.parametrize("backend", BACKENDS)
def test_unwritable_audit_storage_fails_calls_and_changes_nothing(make_server, backend):
    server = make_server(backend)
    sm, kms = clients(server)
    existing = f"audit-closed-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=existing, SecretString="before the outage")
    key = kms.create_key(Description="before the outage")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    secrets_before, keys_before = names(sm), key_ids(kms)
    stored_before = state(server)
    records_before = trail(server)
    new_name = f"audit-closed-new-{uuid.uuid4().hex[:8]}"

    failed: list[str] = []
    with unwritable_audit(server):
        mutating = [
            lambda: sm.create_secret(Name=new_name, SecretString="during the outage"),
            lambda: sm.put_secret_value(SecretId=existing, SecretString="during the outage"),
            lambda: sm.delete_secret(SecretId=existing, ForceDeleteWithoutRecovery=True),
            lambda: kms.create_key(Description="during the outage"),
            lambda: kms.disable_key(KeyId=key["KeyId"]),
            lambda: kms.create_alias(AliasName=f"alias/{new_name}", TargetKeyId=key["KeyId"]),
        ]
        for call in mutating:
            failed.append(request_id(refused(call)))
        # Nothing the refused calls would have changed has changed.
        assert state(server) == stored_before

        reads = [
            lambda: sm.get_secret_value(SecretId=existing),
            lambda: kms.decrypt(CiphertextBlob=blob),  # answered from caches, on the loop
            lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"during"),
            lambda: sm.list_secrets(),
        ]
        for call in reads:
            response = refused(call)
            failed.append(request_id(response))
            text = json.dumps(response, default=str)
            assert "before the outage" not in text and "SecretString" not in text
            assert "Plaintext" not in response and "CiphertextBlob" not in response

        status, report = health(server)
        assert status == 503
        assert report["status"] == "audit unavailable"
        assert report["storage_available"] is True
        assert report["audit"]["writable"] is False
        assert "audit storage read-only" in report["audit"]["error"]
        shown = cli(server, "status", check=False)
        assert shown.returncode == 1, shown.stdout
        assert "Audit trail:" in shown.stdout and "FAILING" in shown.stdout, shown.stdout
        assert "audit storage read-only" in shown.stdout

    # Writable again: the refused calls left nothing behind, and service resumes.
    assert state(server) == stored_before
    assert names(sm) == secrets_before
    assert key_ids(kms) == keys_before
    with pytest.raises(ClientError) as missing:
        sm.describe_secret(SecretId=new_name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert sm.get_secret_value(SecretId=existing)["SecretString"] == "before the outage"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Enabled"] is True
    # The refused calls are not in the trail (it could not take them), nor half in it.
    assert set(record_counts(server, failed).values()) == {0}
    assert reservation_ids(server) == set()
    assert trail(server)[: len(records_before)] == records_before

    created = sm.create_secret(Name=new_name, SecretString="after the outage")
    assert record_of(server, request_id(created))["eventName"] == "CreateSecret"
    status, report = health(server)
    assert (status, report["status"], report["audit"]["writable"]) == (200, "ok", True)
    assert cli(server, "status").returncode == 0
    assert close_period(server)
    result = verify(server)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith(": valid")


def test_unrecordable_calls_answer_the_services_internal_error(make_server):
    server = make_server("sqlite")
    sm, kms = clients(server)
    with unwritable_audit(server):
        secret = refused(lambda: sm.create_secret(Name="never", SecretString="x"))
        key = refused(lambda: kms.create_key())
    assert secret["Error"]["Code"] == "InternalServiceError"
    assert key["Error"]["Code"] == "KMSInternalException"


def test_health_recovers_without_traffic(make_server):
    server = make_server("sqlite")
    sm, _ = clients(server)
    with unwritable_audit(server):
        refused(lambda: sm.list_secrets())
        assert health(server)[0] == 503
    deadline = time.monotonic() + 5
    while health(server)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert health(server)[1]["status"] == "ok"


def test_refused_reads_leave_no_usage_behind(make_server):
    server = make_server("sqlite")
    sm, kms = clients(server)
    name = f"audit-usage-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="x")
    key = kms.create_key()["KeyMetadata"]
    with unwritable_audit(server):
        refused(lambda: sm.get_secret_value(SecretId=name))
        refused(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))
    time.sleep(2.5)  # usage is stored about a second late
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=name)
    assert "KeyLastUsage" not in kms.get_key_last_usage(KeyId=key["KeyId"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stalled_audit_store_fails_calls_in_bounded_time(make_server, backend):
    server = make_server(backend)
    sm, _ = clients(server)
    name = f"audit-stalled-{uuid.uuid4().hex[:8]}"
    with stalled_audit(server):
        # A reservation, then the record of the refusal: two waits at most.
        response = refused(
            lambda: sm.create_secret(Name=name, SecretString="x"), 2 * WRITER_TIMEOUT + 2
        )
    rid = request_id(response)
    with pytest.raises(ClientError) as missing:
        sm.describe_secret(SecretId=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # Once the store moves again, what waited is stored: the call has exactly one record,
    # and its reservation is gone.
    deadline = time.monotonic() + 10
    while record_counts(server, [rid])[rid] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert record_counts(server, [rid]) == {rid: 1}
    assert record_of(server, rid)["errorCode"] == response["Error"]["Code"]
    assert reservation_ids(server) == set()
    assert health(server)[1]["status"] == "ok"


def test_a_stalled_audit_store_shows_on_health(make_server):
    server = make_server("sqlite")
    sm, _ = clients(server)
    reports: list[dict[str, Any]] = []
    with stalled_audit(server):
        caller = threading.Thread(
            target=lambda: refused(lambda: sm.list_secrets(), WRITER_TIMEOUT + 2)
        )
        caller.start()
        time.sleep(3)  # the call waits for its record
        reports.append(health(server)[1])
        caller.join()
    assert reports[0]["status"] == "audit unavailable", reports
