"""The operator's actions on the server itself are in the audit trail too: unseal shares
submitted (accepted or refused, never the share), seals and closes of the audit period (by
whom, or who tried)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.audit import audit_text, close_period, query
from tests.support.operator import cli, init_shamir, post

SOURCE = "strongroom.amazonaws.com"


def operator_records(server, action: str) -> list[dict[str, Any]]:
    rows = query(
        server,
        "SELECT record FROM audit_records WHERE event_source = :s AND event_name = :a ORDER BY id",
        s=SOURCE,
        a=action,
    )
    return [json.loads(row[0]) for row in rows]


def test_unseal_shares_seals_and_closes_are_recorded(make_server):
    server = make_server("sqlite", start=False)
    shares, _ = init_shamir(server)
    server.start(wait_unsealed=False)
    assert post(server, "/_strongroom/unseal", {"share": shares[0][:-2] + "AA"})[0] == 400
    for share in shares[:3]:
        cli(server, "unseal", share)
    server.wait_ready()
    close_period(server)
    cli(server, "seal")

    submitted = operator_records(server, "SubmitUnsealShare")
    assert [r.get("errorCode") for r in submitted] == ["InvalidUnsealShare", None, None, None]
    assert all(r["userIdentity"] == {"type": "Unknown"} for r in submitted)
    (closed,) = operator_records(server, "CloseAuditPeriod")
    (sealed,) = operator_records(server, "Seal")
    for record in (closed, sealed):
        assert record["userIdentity"]["userName"] == "admin"
        assert record["eventSource"] == SOURCE
        assert "errorCode" not in record
    stored = audit_text(server)
    assert not any(share.encode() in stored for share in shares)
