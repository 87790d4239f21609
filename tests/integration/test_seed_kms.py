"""Section 2 of the source document ("Create KMS Key for Extra Encryption"), verbatim through
the stock aws CLI after `eval "$(strongroom env)"`, then boto3 round trips through the alias."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS

CREATE_KEY = """
eval "$(strongroom env)"
# Create KMS key for AlphaVox
aws kms create-key \\
    --description "AlphaVox HIPAA encryption key" \\
    --key-usage ENCRYPT_DECRYPT \\
    --key-spec SYMMETRIC_DEFAULT
"""

CREATE_ALIAS = """
eval "$(strongroom env)"
# Create alias
aws kms create-alias \\
    --alias-name alias/alphavox-hipaa \\
    --target-key-id <key-id-from-above>
"""


def run_shell(script: str, data_dir: str) -> subprocess.CompletedProcess[str]:
    # Only what a user's shell would have: the data dir of their server, and the installed
    # `strongroom` and `aws` commands on PATH. No AWS_* variable comes from the test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["STRONGROOM_DATA_DIR"] = data_dir
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_section_2_verbatim_then_boto3_round_trips(make_server, backend):
    server = make_server(backend)
    created = run_shell(CREATE_KEY, str(server.data_dir))
    assert created.returncode == 0, created.stderr
    metadata = json.loads(created.stdout)["KeyMetadata"]
    assert metadata["Description"] == "AlphaVox HIPAA encryption key"
    assert metadata["KeyState"] == "Enabled"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["Arn"].endswith(f":key/{metadata['KeyId']}")

    aliased = run_shell(
        CREATE_ALIAS.replace("<key-id-from-above>", metadata["KeyId"]), str(server.data_dir)
    )
    assert aliased.returncode == 0, aliased.stderr
    assert aliased.stdout == ""

    # boto3, configured only by the same environment (endpoint, credentials, CA bundle).
    env = server.env()
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    kms = session.client("kms", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/alphavox-hipaa"]["TargetKeyId"] == metadata["KeyId"]

    plain = b"patient 4711: hemoglobin A1c 6.1%"
    blob = kms.encrypt(KeyId="alias/alphavox-hipaa", Plaintext=plain)["CiphertextBlob"]
    assert plain not in blob
    decrypted = kms.decrypt(CiphertextBlob=blob)
    assert decrypted["Plaintext"] == plain
    assert decrypted["KeyId"] == metadata["Arn"]

    context = {"app": "alphavox", "purpose": "phi"}
    blob = kms.encrypt(KeyId="alias/alphavox-hipaa", Plaintext=plain, EncryptionContext=context)[
        "CiphertextBlob"
    ]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plain
    with pytest.raises(ClientError) as missing_context:
        kms.decrypt(CiphertextBlob=blob)
    assert missing_context.value.response["Error"]["Code"] == "InvalidCiphertextException"
    with pytest.raises(ClientError) as other_context:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "alphavox", "purpose": "x"})
    assert other_context.value.response["Error"]["Code"] == "InvalidCiphertextException"
