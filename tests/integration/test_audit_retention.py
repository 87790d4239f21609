"""Retention of the audit trail: six years by default; then whole digest periods go (digest,
log files, records) and the chain still verifies from the first digest kept. The event history
(LookupEvents) shows 90 days. On a dev server of its own, whose clock the test moves."""

from __future__ import annotations

from tests.integration.test_s3_audit_bucket import close_period
from tests.support.audit import query, request_id, wait_for
from tests.support.operator import post
from tests.support.server import Server, strongroom
from tests.support.storage import storage_view

DAY = 86400


def verify(server: Server) -> str:
    data_dir = storage_view(server).data_dir
    storage = (
        server.args[server.args.index("--storage") + 1]
        if "--storage" in server.args
        else (f"sqlite:///{data_dir / 'strongroom.db'}")
    )
    result = strongroom("audit", "verify", "--storage", storage, check=False)
    assert result.returncode == 0, result.stdout
    return result.stdout


def advance(server: Server, days: float) -> None:
    status, reply = post(server, "/_strongroom/dev/clock", {"advance_seconds": days * DAY})
    assert status == 200, reply


def records_of(server: Server, request: str) -> int:
    rows = query(server, "SELECT count(*) FROM audit_records WHERE request_id = :r", r=request)
    return int(rows[0][0])


def test_six_years_are_kept_then_whole_periods_go(own_dev_server):
    server = own_dev_server
    kms = server.client("kms")
    old = request_id(kms.list_keys())
    close_period(server)
    assert "valid" in verify(server)

    advance(server, 2191)  # within six years (2,192 days): nothing goes
    recent = request_id(kms.list_keys())
    close_period(server)
    assert records_of(server, old) == 1

    advance(server, 2)  # the first period is now older than 2,192 days
    wait_for(lambda: records_of(server, old) == 0)
    assert records_of(server, recent) == 1
    close_period(server)
    assert "valid" in verify(server)  # the first digest kept names one retention deleted


def test_event_history_shows_ninety_days(own_dev_server):
    server = own_dev_server
    kms, trail = server.client("kms"), server.client("cloudtrail")
    old = request_id(kms.list_keys())
    advance(server, 91)
    recent = request_id(kms.list_keys())
    shown = {
        event["EventId"]
        for page in trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListKeys"}]
        )
        for event in page["Events"]
    }
    ids = {
        row[0]: row[1]
        for row in query(
            server,
            "SELECT request_id, event_id FROM audit_records WHERE request_id IN (:a, :b)",
            a=old,
            b=recent,
        )
    }
    assert ids[recent] in shown
    assert ids[old] not in shown
