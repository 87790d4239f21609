"""Secrets Manager operations through stock boto3 against a real server: versions and staging
labels, idempotency tokens, lookup by name and ARN, deletion and restore, errors as AWS
documents them. Tests share one server per backend and use unique secret names."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.kms import aws_error


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


def unique_name() -> str:
    return f"test/{uuid.uuid4()}"


def token() -> str:
    return str(uuid.uuid4())


def test_lookup_by_name_full_arn_and_partial_arn(sm):
    name = unique_name()
    arn = sm.create_secret(Name=name, SecretString="v1")["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-")
    assert len(arn.rsplit("-", 1)[1]) == 6
    partial = arn.rsplit("-", 1)[0]
    for secret_id in (name, arn, partial):
        reply = sm.get_secret_value(SecretId=secret_id)
        assert (reply["ARN"], reply["Name"], reply["SecretString"]) == (arn, name, "v1")
    with aws_error(
        "ResourceNotFoundException", message="Secrets Manager can't find the specified secret."
    ):
        sm.get_secret_value(SecretId=unique_name())


def test_versions_and_staging_labels(sm):
    name = unique_name()
    first = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="two")
    assert second["VersionStages"] == ["AWSCURRENT"]
    third = sm.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {third: ["AWSCURRENT"], second["VersionId"]: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=name, VersionId=first)["SecretString"] == "one"
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in listed} == {third, second["VersionId"]}
    deprecated = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in deprecated} == {first, second["VersionId"], third}

    # A custom label, then AWSCURRENT moved back by hand: AWSPREVIOUS follows.
    pending = sm.put_secret_value(SecretId=name, SecretString="four", VersionStages=["AWSPENDING"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    sm.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=third,
    )
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[pending["VersionId"]] == ["AWSCURRENT", "AWSPENDING"]
    assert stages[third] == ["AWSPREVIOUS"]
    with aws_error("InvalidParameterException"):
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=first
        )
    with aws_error("ResourceNotFoundException"):
        sm.get_secret_value(SecretId=name, VersionStage="NOPE")


def test_client_request_token_is_idempotent(sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="a")
    same = token()
    first = sm.put_secret_value(SecretId=name, SecretString="b", ClientRequestToken=same)
    again = sm.put_secret_value(SecretId=name, SecretString="b", ClientRequestToken=same)
    assert again["VersionId"] == first["VersionId"] == same
    assert len(sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]) == 2
    with aws_error("ResourceExistsException"):
        sm.put_secret_value(SecretId=name, SecretString="other", ClientRequestToken=same)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "b"


def test_binary_secrets_and_value_rules(sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01binary")
    reply = sm.get_secret_value(SecretId=name)
    assert reply["SecretBinary"] == b"\x00\x01binary" and "SecretString" not in reply
    with aws_error("InvalidParameterException"):
        sm.create_secret(Name=unique_name(), SecretString="x", SecretBinary=b"x")
    with aws_error("ResourceExistsException"):
        sm.create_secret(Name=name, SecretString="again")
    with aws_error("InvalidRequestException"):
        sm.put_secret_value(SecretId=name)
    # The limit is 65,536 bytes of value, not characters.
    sm.put_secret_value(SecretId=name, SecretString="é" * 32768)
    with aws_error("ValidationException"):
        sm.put_secret_value(SecretId=name, SecretString="é" * 32769)


def test_delete_with_recovery_window_restore_and_force_delete(sm):
    name = unique_name()
    arn = sm.create_secret(Name=name, SecretString="keep me")["ARN"]
    with aws_error("InvalidParameterException"):
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=6)
    with aws_error("InvalidParameterException"):
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert deleted["ARN"] == arn
    with aws_error(
        "InvalidRequestException",
        message=(
            "You can't perform this operation on the secret because it was marked for deletion."
        ),
    ):
        sm.get_secret_value(SecretId=name)
    with aws_error("InvalidRequestException"):
        sm.create_secret(Name=name, SecretString="x")
    assert sm.describe_secret(SecretId=name)["DeletedDate"] == deleted["DeletionDate"]
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "keep me"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with aws_error("ResourceNotFoundException"):
        sm.describe_secret(SecretId=arn)
    sm.create_secret(Name=name, SecretString="a new secret of that name")


def test_update_secret_description_and_value(sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="one", Description="before")
    updated = sm.update_secret(SecretId=name, Description="after", SecretString="two")
    assert sm.get_secret_value(SecretId=name)["VersionId"] == updated["VersionId"]
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "after"
    # The read is noted in the background, by day (AWS reports it with day granularity).
    deadline = time.monotonic() + 10
    while "LastAccessedDate" not in described and time.monotonic() < deadline:
        time.sleep(0.05)
        described = sm.describe_secret(SecretId=name)
    assert described["LastAccessedDate"].timestamp() % 86400 == 0


def test_tags(sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="x", Tags=[{"Key": "team", "Value": "phi"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "test"}])
    sm.untag_resource(SecretId=name, TagKeys=["team"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "env", "Value": "test"}]
    with aws_error("InvalidParameterException"):
        sm.tag_resource(SecretId=name, Tags=[{"Key": "aws:reserved", "Value": "x"}])


def test_customer_kms_key_and_a_disabled_key_refuses_reads(dev_server, sm):
    kms = dev_server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    name = unique_name()
    sm.create_secret(Name=name, SecretString="guarded", KmsKeyId=key_id)
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key_id
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "guarded"
    kms.disable_key(KeyId=key_id)
    with aws_error("DecryptionFailure"):
        sm.get_secret_value(SecretId=name)
    with aws_error("EncryptionFailure"):
        sm.put_secret_value(SecretId=name, SecretString="new")
    kms.enable_key(KeyId=key_id)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "guarded"


def test_get_random_password(sm):
    password = sm.get_random_password(PasswordLength=40, ExcludePunctuation=True)["RandomPassword"]
    assert len(password) == 40 and password.isalnum()
    with aws_error("InvalidParameterException"):
        sm.get_random_password(
            ExcludeNumbers=True,
            ExcludePunctuation=True,
            ExcludeUppercase=True,
            ExcludeLowercase=True,
        )


def test_concurrent_puts_leave_one_current_one_previous_and_every_version(dev_server, sm):
    name = unique_name()
    sm.create_secret(Name=name, SecretString="start")
    clients = [dev_server.client("secretsmanager") for _ in range(8)]

    def put(i: int) -> str:
        reply = clients[i % len(clients)].put_secret_value(SecretId=name, SecretString=f"v{i}")
        return reply["VersionId"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        acknowledged = set(pool.map(put, range(50)))
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sorted(label for labels in stages.values() for label in labels) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]
    stored = {
        v["VersionId"]
        for v in sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    }
    assert acknowledged <= stored and len(stored) == 51
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] in acknowledged


def test_concurrent_creates_of_one_name_make_one_secret(dev_server, sm):
    name = unique_name()
    clients = [dev_server.client("secretsmanager") for _ in range(8)]

    def create(i: int) -> str:
        try:
            clients[i % len(clients)].create_secret(Name=name, SecretString=f"v{i}")
        except sm.exceptions.ResourceExistsException:
            return "exists"
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(16)))
    assert sorted(outcomes) == ["created"] + ["exists"] * 15
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert [entry["Name"] for entry in listed] == [name]
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 1


def list_all(sm, **params) -> list[dict]:
    entries, token = [], None
    while True:
        page = sm.list_secrets(**params, **({"NextToken": token} if token else {}))
        entries.extend(page["SecretList"])
        token = page.get("NextToken")
        if not token:
            return entries


def test_list_secrets_filters_sorting_and_pages(sm):
    prefix = f"list-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}/Database{i}" for i in range(7)]
    for i, name in enumerate(names):
        sm.create_secret(
            Name=name,
            SecretString="x",
            Description=f"Payroll DB {i}",
            Tags=[{"Key": "team", "Value": "blue" if i % 2 else "red"}],
        )
    by_name = [{"Key": "name", "Values": [prefix]}]
    listed = list_all(sm, Filters=by_name, MaxResults=3, SortBy="name")
    assert [e["Name"] for e in listed] == names
    newest_first = list_all(sm, Filters=by_name, MaxResults=2, SortOrder="desc")
    assert [e["Name"] for e in newest_first] == names[::-1]
    blue = list_all(sm, Filters=[*by_name, {"Key": "tag-value", "Values": ["blue"]}])
    assert {e["Name"] for e in blue} == set(names[1::2])
    not_blue = list_all(sm, Filters=[*by_name, {"Key": "tag-value", "Values": ["!blue"]}])
    assert {e["Name"] for e in not_blue} == set(names[0::2])
    # description is case-insensitive, name is not; `all` searches words anywhere.
    assert len(list_all(sm, Filters=[*by_name, {"Key": "description", "Values": ["payroll"]}])) == 7
    assert list_all(sm, Filters=[{"Key": "name", "Values": [prefix.upper()]}]) == []
    assert len(list_all(sm, Filters=[{"Key": "all", "Values": [prefix]}])) >= 7

    sm.delete_secret(SecretId=names[0], RecoveryWindowInDays=7)
    assert names[0] not in {e["Name"] for e in list_all(sm, Filters=by_name)}
    planned = list_all(sm, Filters=by_name, IncludePlannedDeletion=True)
    assert names[0] in {e["Name"] for e in planned}
    with aws_error("InvalidNextTokenException"):
        sm.list_secrets(NextToken="garbage")
    by_name_token = sm.list_secrets(Filters=by_name, MaxResults=1, SortBy="name")["NextToken"]
    with aws_error("InvalidNextTokenException"):  # a token of a listing ordered otherwise
        sm.list_secrets(Filters=by_name, MaxResults=1, NextToken=by_name_token)


def test_list_pages_stay_exact_while_secrets_come_and_go(sm):
    prefix = f"pages-{uuid.uuid4().hex[:8]}"
    # More secrets than the server reads in one batch, with the matches spread among them.
    names = [f"{prefix}/{i:03d}" for i in range(230)]
    for name in names:
        tags = [{"Key": "pick", "Value": "yes"}] if name.endswith("7") else []
        sm.create_secret(Name=name, SecretString="x", Tags=tags)
    filters = [{"Key": "name", "Values": [prefix]}, {"Key": "tag-key", "Values": ["pick"]}]
    first = sm.list_secrets(Filters=filters, MaxResults=10, SortBy="name")
    assert [e["Name"] for e in first["SecretList"]] == [n for n in names if n.endswith("7")][:10]
    # A secret created before the position, and one deleted after it, move no page boundary.
    sm.create_secret(Name=f"{prefix}/000a", SecretString="x", Tags=[{"Key": "pick", "Value": "y"}])
    sm.delete_secret(SecretId=f"{prefix}/117", ForceDeleteWithoutRecovery=True)
    rest, token = [], first["NextToken"]
    while token:
        page = sm.list_secrets(Filters=filters, MaxResults=5, SortBy="name", NextToken=token)
        rest += page["SecretList"]
        token = page.get("NextToken")
    expected = [n for n in names if n.endswith("7")][10:]
    assert [e["Name"] for e in rest] == [n for n in expected if n != f"{prefix}/117"]


def test_batch_get_secret_value_by_ids_and_by_filter(sm):
    prefix = f"batch-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        sm.create_secret(Name=f"{prefix}/{i}", SecretString=f"value {i}")
    missing = f"{prefix}/missing"
    reply = sm.batch_get_secret_value(SecretIdList=[f"{prefix}/0", missing, f"{prefix}/2"])
    assert [v["SecretString"] for v in reply["SecretValues"]] == ["value 0", "value 2"]
    assert reply["Errors"] == [
        {
            "SecretId": missing,
            "ErrorCode": "ResourceNotFoundException",
            "Message": "Secrets Manager can't find the specified secret.",
        }
    ]
    filtered = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert sorted(v["SecretString"] for v in filtered["SecretValues"]) == [
        "value 0",
        "value 1",
        "value 2",
    ]
    with aws_error("InvalidParameterException"):
        sm.batch_get_secret_value(
            SecretIdList=[f"{prefix}/0"], Filters=[{"Key": "name", "Values": [prefix]}]
        )


def test_concurrent_first_use_of_a_region_creates_one_default_key(dev_server):
    # The first secret of an account and region creates its aws/secretsmanager key; many first
    # secrets at once must all succeed and share the one key.
    region = "ca-west-1"
    regional = dev_server.client("secretsmanager", region_name=region)
    names = [unique_name() for _ in range(12)]
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda name: regional.create_secret(Name=name, SecretString="v"), names))
    keys = {
        v["KmsKeyIds"][0]
        for name in names
        for v in regional.list_secret_version_ids(SecretId=name)["Versions"]
    }
    aliases = dev_server.client("kms", region_name=region).list_aliases()["Aliases"]
    default = [a for a in aliases if a["AliasName"] == "alias/aws/secretsmanager"]
    assert len(keys) == 1 and len(default) == 1


def test_name_filters_match_exactly_even_where_sql_has_wildcards(sm):
    prefix = f"like-{uuid.uuid4().hex[:8]}"
    for name in (f"{prefix}/a_b", f"{prefix}/axb", f"{prefix}/A_B"):
        sm.create_secret(Name=name, SecretString="x")
    listed = list_all(sm, Filters=[{"Key": "name", "Values": [f"{prefix}/a_"]}])
    assert [e["Name"] for e in listed] == [f"{prefix}/a_b"]
