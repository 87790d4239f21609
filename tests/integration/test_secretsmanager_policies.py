"""Secret resource policies, secret types and changing a secret's KMS key, through stock boto3
against a real server on both storage backends."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.kms import aws_error

ACCOUNT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadersOnly",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    ],
}
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    ],
}
PINNED_PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            **PUBLIC_POLICY["Statement"][0],
            "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}},
        }
    ],
}


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture
def secret(sm):
    name = f"policy/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="guarded")
    return name


def test_put_get_delete_resource_policy(sm, secret):
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret)
    document = json.dumps(ACCOUNT_POLICY)
    answer = sm.put_resource_policy(SecretId=secret, ResourcePolicy=document)
    assert answer["Name"] == secret
    assert json.loads(sm.get_resource_policy(SecretId=secret)["ResourcePolicy"]) == ACCOUNT_POLICY
    sm.delete_resource_policy(SecretId=secret)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        json.dumps({"Statement": []}),
        json.dumps({"Version": "2011-01-01", "Statement": ACCOUNT_POLICY["Statement"]}),
        json.dumps({**ACCOUNT_POLICY, "Extra": 1}),
        json.dumps({"Statement": [{**ACCOUNT_POLICY["Statement"][0], "Effect": "Maybe"}]}),
        json.dumps({"Statement": [{**ACCOUNT_POLICY["Statement"][0], "Action": "GetSecret"}]}),
        json.dumps(
            {
                "Statement": [
                    {k: v for k, v in PUBLIC_POLICY["Statement"][0].items() if k != "Principal"}
                ]
            }
        ),
        json.dumps(
            {"Statement": [{**ACCOUNT_POLICY["Statement"][0], "Principal": {"AWS": "bob"}}]}
        ),
        json.dumps(
            {
                "Statement": [
                    {**ACCOUNT_POLICY["Statement"][0], "Condition": {"StringSorta": {"a": "b"}}}
                ]
            }
        ),
        json.dumps({"Statement": [ACCOUNT_POLICY["Statement"][0]] * 2}),
    ],
)
def test_malformed_policies_are_refused_and_change_nothing(sm, secret, document):
    sm.put_resource_policy(SecretId=secret, ResourcePolicy=json.dumps(ACCOUNT_POLICY))
    with aws_error("MalformedPolicyDocumentException"):
        sm.put_resource_policy(SecretId=secret, ResourcePolicy=document)
    with aws_error("MalformedPolicyDocumentException"):
        sm.validate_resource_policy(SecretId=secret, ResourcePolicy=document)
    assert json.loads(sm.get_resource_policy(SecretId=secret)["ResourcePolicy"]) == ACCOUNT_POLICY


def test_block_public_policy_refuses_broad_access_unless_a_condition_pins_it(sm, secret):
    with aws_error("PublicPolicyException"):
        sm.put_resource_policy(
            SecretId=secret, ResourcePolicy=json.dumps(PUBLIC_POLICY), BlockPublicPolicy=True
        )
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret)
    sm.put_resource_policy(
        SecretId=secret, ResourcePolicy=json.dumps(PINNED_PUBLIC_POLICY), BlockPublicPolicy=True
    )
    # Without BlockPublicPolicy, AWS stores a public policy (its default does not block).
    sm.put_resource_policy(SecretId=secret, ResourcePolicy=json.dumps(PUBLIC_POLICY))
    assert json.loads(sm.get_resource_policy(SecretId=secret)["ResourcePolicy"]) == PUBLIC_POLICY


def test_validate_resource_policy_reports_broad_access(sm, secret):
    passed = sm.validate_resource_policy(ResourcePolicy=json.dumps(ACCOUNT_POLICY))
    assert passed["PolicyValidationPassed"] is True and passed["ValidationErrors"] == []
    failed = sm.validate_resource_policy(SecretId=secret, ResourcePolicy=json.dumps(PUBLIC_POLICY))
    assert failed["PolicyValidationPassed"] is False
    assert [e["CheckName"] for e in failed["ValidationErrors"]] == ["BROAD_ACCESS"]
    with aws_error("ResourceNotFoundException"):
        sm.validate_resource_policy(
            SecretId=f"missing/{uuid.uuid4()}", ResourcePolicy=json.dumps(ACCOUNT_POLICY)
        )


def test_policies_of_a_secret_scheduled_for_deletion_are_refused(sm, secret):
    sm.delete_secret(SecretId=secret, RecoveryWindowInDays=7)
    with aws_error("InvalidRequestException"):
        sm.put_resource_policy(SecretId=secret, ResourcePolicy=json.dumps(ACCOUNT_POLICY))
    sm.restore_secret(SecretId=secret)
    sm.put_resource_policy(SecretId=secret, ResourcePolicy=json.dumps(ACCOUNT_POLICY))


def test_secret_type_is_stored_and_reported(sm):
    name = f"typed/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="{}", Type="SalesforceClientSecret")
    assert sm.describe_secret(SecretId=name)["Type"] == "SalesforceClientSecret"
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert listed[0]["Type"] == "SalesforceClientSecret"
    sm.update_secret(SecretId=name, Type="DatadogApiKey")
    assert sm.describe_secret(SecretId=name)["Type"] == "DatadogApiKey"


def test_changing_the_kms_key_reencrypts_the_labelled_versions(dev_server, sm):
    kms = dev_server.client("kms")
    old_key = kms.create_key()["KeyMetadata"]["Arn"]
    new_key = kms.create_key()["KeyMetadata"]["Arn"]
    name = f"rekey/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="first", KmsKeyId=old_key)
    sm.put_secret_value(SecretId=name, SecretString="second")
    sm.put_secret_value(SecretId=name, SecretString="third")  # "first" loses its labels
    sm.update_secret(SecretId=name, KmsKeyId=new_key)
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == new_key
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    keys = {tuple(v.get("VersionStages", [])): v["KmsKeyIds"] for v in versions}
    assert keys == {("AWSCURRENT",): [new_key], ("AWSPREVIOUS",): [new_key], (): [old_key]}
    # The old key can go: every labelled version is readable under the new one alone.
    kms.disable_key(KeyId=old_key)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "third"
    assert (
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "second"
    )
    sm.put_secret_value(SecretId=name, SecretString="fourth")
    current = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert all(v["KmsKeyIds"] == [new_key] for v in current)
    # An empty KmsKeyId means the account's aws/secretsmanager key again.
    sm.update_secret(SecretId=name, KmsKeyId="")
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "fourth"
    kms.enable_key(KeyId=old_key)


def test_a_key_that_cannot_encrypt_changes_nothing(dev_server, sm):
    kms = dev_server.client("kms")
    disabled = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=disabled)
    name = f"rekey/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="kept")
    with aws_error("EncryptionFailure"):
        sm.update_secret(SecretId=name, KmsKeyId=disabled)
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "kept"
