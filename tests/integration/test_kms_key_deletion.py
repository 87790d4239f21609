"""ScheduleKeyDeletion and CancelKeyDeletion against a real server: a key pending deletion
refuses use, cancelling brings it back disabled, and when the waiting period ends (the dev
clock moves; the leader-elected job is the real one) the key and its material are gone from
storage (scanned where the test can reach it: the PostgreSQL database)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from tests.support.kms import MISSING_KEY_MESSAGE, aws_error
from tests.support.server import strongroom
from tests.support.storage import storage

DAY = 86400


def wait_until_deleted(kms, key_id: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kms.describe_key(KeyId=key_id)
        except kms.exceptions.NotFoundException:
            return
        time.sleep(0.2)
    raise AssertionError(f"{key_id} was not deleted within {timeout} s")


def material_rows(server, key_id: str) -> int:
    with storage(server) as engine, engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM kms_key_materials WHERE key_id = :key_id")
        return connection.execute(query, {"key_id": key_id}).scalar_one()


def test_schedule_cancel_and_delete_a_key(own_dev_server):
    kms = own_dev_server.client("kms")
    key_id = kms.create_key(Description="doomed")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]

    with aws_error("ValidationException"):
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6)
    with aws_error("ValidationException"):
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=31)
    with aws_error("KMSInvalidStateException"):
        kms.cancel_key_deletion(KeyId=key_id)  # not pending deletion
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"
    assert metadata["DeletionDate"] == scheduled["DeletionDate"]
    for refused in (
        lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.enable_key(KeyId=key_id),
        lambda: kms.schedule_key_deletion(KeyId=key_id),
    ):
        with aws_error("KMSInvalidStateException"):
            refused()

    # Cancelled, the key comes back disabled; enabled again, old ciphertexts still decrypt.
    kms.cancel_key_deletion(KeyId=key_id)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Disabled" and "DeletionDate" not in metadata
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"

    # The default window is 30 days; a day short of it the key is still there.
    assert kms.schedule_key_deletion(KeyId=key_id)["PendingWindowInDays"] == 30
    endpoint = ("--endpoint", own_dev_server.endpoint)
    strongroom("dev", "advance-clock", str(29 * DAY), *endpoint)
    time.sleep(2)  # several scheduler ticks
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    strongroom("dev", "advance-clock", str(2 * DAY), *endpoint)
    wait_until_deleted(kms, key_id)
    if "--storage" in own_dev_server.args:  # a --dev server's SQLite file is in a temp dir
        assert material_rows(own_dev_server, key_id) == 0
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/doomed" not in aliases
    with aws_error("AccessDeniedException", message=MISSING_KEY_MESSAGE):
        kms.decrypt(CiphertextBlob=blob)


def test_secrets_under_a_deleted_key_fail_to_decrypt(own_dev_server):
    kms = own_dev_server.client("kms")
    sm = own_dev_server.client("secretsmanager")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name="under-doomed-key", SecretString="value", KmsKeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with aws_error("DecryptionFailure"):
        sm.get_secret_value(SecretId="under-doomed-key")
    strongroom("dev", "advance-clock", str(8 * DAY), "--endpoint", own_dev_server.endpoint)
    wait_until_deleted(kms, key_id)
    with aws_error("DecryptionFailure"):
        sm.get_secret_value(SecretId="under-doomed-key")
