"""`strongroom account create`: the bootstrap administrator makes further accounts, each with an
administrator of its own (IAM user "admin", AdministratorAccess) whose credentials are handed
out once, in a 0600 file by default and never on stdout unless asked. Through the real CLI
against real servers on both storage backends, then stock boto3 with the new credentials."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.support.accounts import Account, account_create, client, read_credentials
from tests.support.audit import audit_text, query
from tests.support.operator import cli, post
from tests.support.server import REGION, Server

ACCOUNT_LINE = re.compile(r"^Account: (\d{12})$", re.MULTILINE)
CREDENTIALS_LINE = re.compile(r"^Credentials: (\S+) \(mode 0600\)$", re.MULTILINE)
OPERATOR_SOURCE = "strongroom.amazonaws.com"


def operator_records(server, action: str) -> list[dict]:
    rows = query(
        server,
        "SELECT record FROM audit_records WHERE event_source = :s AND event_name = :a ORDER BY id",
        s=OPERATOR_SOURCE,
        a=action,
    )
    return [json.loads(row[0]) for row in rows]


def accounts_in_storage(server) -> set[str]:
    return {row[0] for row in query(server, "SELECT account_id FROM accounts")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_account_works_with_its_own_credentials(make_server, backend):
    server = make_server(backend)
    bootstrap_account = client(
        server, "sts", Account("", *server.credentials())
    ).get_caller_identity()["Account"]

    result = account_create(server)
    account_id = ACCOUNT_LINE.search(result.stdout)[1]
    path = Path(CREDENTIALS_LINE.search(result.stdout)[1])
    assert path.parent == server.data_dir
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    access_key_id, secret = read_credentials(path)
    assert access_key_id in result.stdout
    assert secret not in result.stdout + result.stderr
    assert account_id != bootstrap_account
    assert accounts_in_storage(server) == {bootstrap_account, account_id}

    account = Account(account_id, access_key_id, secret)
    identity = client(server, "sts", account).get_caller_identity()
    assert identity["Account"] == account_id
    assert identity["Arn"] == f"arn:aws:iam::{account_id}:user/admin"
    # Its administrator can do anything in its own account.
    secret_arn = client(server, "secretsmanager", account).create_secret(
        Name="alphavox/db", SecretString="s3cr3t"
    )["ARN"]
    assert secret_arn.startswith(f"arn:aws:secretsmanager:{REGION}:{account_id}:secret:")
    key = client(server, "kms", account).create_key()["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:{REGION}:{account_id}:key/")
    iam = client(server, "iam", account)
    user = iam.create_user(UserName="alphavox-app")["User"]
    assert user["Arn"] == f"arn:aws:iam::{account_id}:user/alphavox-app"
    attached = iam.list_attached_user_policies(UserName="admin")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AdministratorAccess"]
    app_key = iam.create_access_key(UserName="alphavox-app")["AccessKey"]
    app_identity = client(server, "sts", app_key).get_caller_identity()
    assert app_identity["Arn"] == user["Arn"]
    # Its audit trail is its own, as a log group too.
    groups = client(server, "logs", account).describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["CloudTrail/AlphaVoxSecrets"]

    # A second account is another one.
    second = ACCOUNT_LINE.search(account_create(server).stdout)[1]
    assert second not in (account_id, bootstrap_account)

    # The operator's record names the account made, never the secret.
    records = operator_records(server, "CreateAccount")
    assert len(records) == 2
    assert records[0]["userIdentity"]["userName"] == "admin"
    assert records[0]["userIdentity"]["accountId"] == bootstrap_account
    assert "errorCode" not in records[0]
    assert [r["resources"][0]["ARN"] for r in records] == [
        f"arn:aws:iam::{account_id}:root",
        f"arn:aws:iam::{second}:root",
    ]
    assert secret.encode() not in audit_text(server)
    assert secret not in server.log_text()


def test_credentials_go_where_asked_and_the_secret_is_shown_only_when_asked(make_server, tmp_path):
    server = make_server()
    chosen = tmp_path / "alphavox.credentials"
    output = account_create(server, "--credentials-file", str(chosen)).stdout
    assert CREDENTIALS_LINE.search(output)[1] == str(chosen)
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
    account_id = ACCOUNT_LINE.search(output)[1]
    identity = client(server, "sts", Account(account_id, *read_credentials(chosen)))
    assert identity.get_caller_identity()["Account"] == account_id

    # An existing file is never overwritten, and no account is made.
    before = accounts_in_storage(server)
    refused = account_create(server, "--credentials-file", str(chosen), check=False)
    assert refused.returncode == 2
    assert "exists" in refused.stderr
    assert accounts_in_storage(server) == before

    # --show-secret prints the secret and writes no file.
    files = written_files(server)
    shown = account_create(server, "--show-secret").stdout
    secret = re.search(r"^Secret access key: (\S+)$", shown, re.MULTILINE)[1]
    access_key_id = re.search(r"^Access key id: (\S+)$", shown, re.MULTILINE)[1]
    assert not CREDENTIALS_LINE.search(shown)
    assert written_files(server) == files
    account = Account(ACCOUNT_LINE.search(shown)[1], access_key_id, secret)
    assert client(server, "sts", account).get_caller_identity()["Account"] == account.account_id


def test_only_the_bootstrap_administrator_creates_accounts(make_server):
    server = make_server()
    result = account_create(server)
    path = Path(CREDENTIALS_LINE.search(result.stdout)[1])
    other = Account(ACCOUNT_LINE.search(result.stdout)[1], *read_credentials(path))
    before = accounts_in_storage(server)

    # Unsigned, and signed by another account's administrator: refused and recorded.
    status, reply = post(server, "/_strongroom/accounts", {})
    assert status == 403, reply
    (server.data_dir / "credentials").write_text(
        f"[default]\naws_access_key_id = {other.access_key_id}\n"
        f"aws_secret_access_key = {other.secret_access_key}\n"
    )
    refused = account_create(server, check=False)
    assert refused.returncode == 1
    assert "only the administrator may create an account" in refused.stderr
    assert accounts_in_storage(server) == before
    codes = [r.get("errorCode") for r in operator_records(server, "CreateAccount")]
    assert codes == [None, "InvalidSignature", "AccessDenied"]
    # Nor may that administrator seal the server, though AdministratorAccess allows all.
    assert cli(server, "seal", check=False).returncode == 1
    assert server.health()["sealed"] is False


def written_files(server: Server) -> set[Path]:
    """The data directory's files but those the server keeps coming and going (its leader
    lock, SQLite's write-ahead log and shared memory)."""
    return {
        path
        for path in server.data_dir.iterdir()
        if path.name != "jobs.lock" and not path.name.endswith(("-wal", "-shm"))
    }
