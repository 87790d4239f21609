"""The recovery window ends: the real background job (leader-elected scheduler) destroys the
secret, its versions, labels and tags. The dev clock moves time; the job is the real one."""

from __future__ import annotations

import time

from tests.support.kms import aws_error
from tests.support.server import strongroom

DAY = 86400


def wait_until_gone(sm, name: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sm.describe_secret(SecretId=name)
        except sm.exceptions.ResourceNotFoundException:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} was not purged within {timeout} s")


def test_secrets_are_purged_when_their_recovery_window_ends(own_dev_server):
    sm = own_dev_server.client("secretsmanager")
    short = sm.create_secret(Name="purge/short", SecretString="7 days")["ARN"]
    sm.create_secret(Name="purge/long", SecretString="30 days", Tags=[{"Key": "k", "Value": "v"}])
    sm.create_secret(Name="purge/kept", SecretString="not deleted")
    sm.delete_secret(SecretId="purge/short", RecoveryWindowInDays=7)
    sm.delete_secret(SecretId="purge/long")

    endpoint = ("--endpoint", own_dev_server.endpoint)
    strongroom("dev", "advance-clock", str(8 * DAY), *endpoint)
    wait_until_gone(sm, "purge/short")
    assert sm.describe_secret(SecretId="purge/long")["Name"] == "purge/long"
    with aws_error("ResourceNotFoundException"):
        sm.get_secret_value(SecretId=short)

    strongroom("dev", "advance-clock", str(23 * DAY), *endpoint)
    wait_until_gone(sm, "purge/long")
    assert sm.get_secret_value(SecretId="purge/kept")["SecretString"] == "not deleted"
    # The name is free again, as after any deletion.
    sm.create_secret(Name="purge/short", SecretString="new")


def all_version_ids(sm, name: str) -> list[str]:
    ids, token = [], {}
    while True:
        page = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, **token)
        ids += [v["VersionId"] for v in page["Versions"]]
        if "NextToken" not in page:
            return ids
        token = {"NextToken": page["NextToken"]}


def test_version_history_keeps_100_but_never_drops_a_version_younger_than_a_day(own_dev_server):
    sm = own_dev_server.client("secretsmanager")
    first = sm.create_secret(Name="history", SecretString="v0")["VersionId"]
    for n in range(1, 106):
        sm.put_secret_value(SecretId="history", SecretString=f"v{n}")
    assert len(all_version_ids(sm, "history")) == 106  # all younger than a day: all kept

    strongroom("dev", "advance-clock", str(2 * DAY), "--endpoint", own_dev_server.endpoint)
    sm.put_secret_value(SecretId="history", SecretString="v106")
    kept = all_version_ids(sm, "history")
    assert len(kept) == 100 and first not in kept
    # The oldest unlabelled versions went; the labelled ones and the rest stay readable.
    assert sm.get_secret_value(SecretId="history")["SecretString"] == "v106"
    assert sm.get_secret_value(SecretId="history", VersionStage="AWSPREVIOUS")["SecretString"] == (
        "v105"
    )
    with aws_error("ResourceNotFoundException"):
        sm.get_secret_value(SecretId="history", VersionId=first)
