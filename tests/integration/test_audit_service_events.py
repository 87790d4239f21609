"""What the server does by itself is in the audit trail as AwsServiceEvent records, the way
CloudTrail writes them: a KMS key deleted when its waiting period ends (DeleteKey), rotated on
schedule (RotateKey), and a secret deleted when its recovery window ends
(EndSecretVersionDelete). On a dev server of its own, whose clock the test moves."""

from __future__ import annotations

import json
from typing import Any

from tests.support.audit import query, wait_for
from tests.support.operator import post

DAY = 86400


def service_events(server, name: str, arn: str) -> list[dict[str, Any]]:
    rows = query(
        server,
        "SELECT record FROM audit_records WHERE event_name = :name AND resource_name = :arn",
        name=name,
        arn=arn,
    )
    records = [json.loads(row[0]) for row in rows]
    return [r for r in records if r["eventType"] == "AwsServiceEvent"]


def advance(server, days: float) -> None:
    status, reply = post(server, "/_strongroom/dev/clock", {"advance_seconds": days * DAY})
    assert status == 200, reply


def test_scheduled_deletions_and_rotations_are_service_events(own_dev_server):
    server = own_dev_server
    kms, secrets = server.client("kms"), server.client("secretsmanager")
    doomed = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    rotated = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=rotated["KeyId"], RotationPeriodInDays=90)
    secret = secrets.create_secret(Name="service-events/doomed", SecretString="v")
    secrets.delete_secret(SecretId=secret["ARN"], RecoveryWindowInDays=7)

    advance(server, 91)

    for name, arn, source in (
        ("DeleteKey", doomed["Arn"], "kms.amazonaws.com"),
        ("RotateKey", rotated["Arn"], "kms.amazonaws.com"),
        ("EndSecretVersionDelete", secret["ARN"], "secretsmanager.amazonaws.com"),
    ):
        (record,) = wait_for(lambda n=name, a=arn: service_events(server, n, a))
        account_id = arn.split(":")[4]
        assert record["eventSource"] == source
        assert record["userIdentity"] == {"accountId": account_id, "invokedBy": source}
        assert record["sourceIPAddress"] == source
        assert record["readOnly"] is False
        assert record["managementEvent"] is True
        assert record["recipientAccountId"] == account_id
        assert record["resources"][0]["ARN"] == arn
