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
