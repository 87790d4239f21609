"""Section 1 of the source document ("Create AWS Secrets Manager Secrets") verbatim through the
stock aws CLI after `eval "$(strongroom env)"`, with its `$(openssl rand -base64 32)`
substitutions; then the document's Python helper, as written, reads the secrets back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import BACKENDS
from tests.integration.test_seed_kms import run_shell
from tests.support.storage import storage_dump

SECTION_1 = r"""
eval "$(strongroom env)"
# Admin credentials
aws secretsmanager create-secret \
    --name "alphavox/admin-credentials" \
    --description "AlphaVox admin authentication" \
    --secret-string '{"username":"admin_secure_user","password_hash":"$2b$12$..."}'

# JWT secrets
aws secretsmanager create-secret \
    --name "alphavox/jwt-secret" \
    --description "JWT signing key for AlphaVox" \
    --secret-string "$(openssl rand -base64 32)"

# HIPAA encryption key
aws secretsmanager create-secret \
    --name "alphavox/hipaa-encryption-key" \
    --description "HIPAA encryption master key" \
    --secret-string "$(openssl rand -base64 32)"

# API keys
aws secretsmanager create-secret \
    --name "alphavox/api-keys" \
    --description "External API keys" \
    --secret-string '{
        "OPENAI_API_KEY":"sk-...",
        "ANTHROPIC_API_KEY":"sk-ant-...",
        "PERPLEXITY_API_KEY":"pplx-..."
    }'
"""

# The source document's helper and its usage, as written (print and all).
PYTHON_HELPER = '''
import boto3
import json
from botocore.exceptions import ClientError

class SecretsManager:
    def __init__(self, region='us-east-1'):
        self.client = boto3.client('secretsmanager', region_name=region)

    def get_secret(self, secret_name):
        """Retrieve secret from AWS Secrets Manager."""
        try:
            response = self.client.get_secret_value(SecretId=secret_name)
            return json.loads(response['SecretString'])
        except ClientError as e:
            print(f"Error retrieving secret {secret_name}: {e}")
            return None

    def rotate_secret(self, secret_name):
        """Trigger secret rotation."""
        try:
            self.client.rotate_secret(SecretId=secret_name)
            return True
        except ClientError as e:
            print(f"Error rotating secret {secret_name}: {e}")
            return False

# Usage in production_app.py
secrets = SecretsManager()
admin_creds = secrets.get_secret('alphavox/admin-credentials')
'''


@pytest.mark.parametrize("backend", BACKENDS)
def test_section_1_verbatim_then_the_python_helper(make_server, backend):
    server = make_server(backend)
    created = run_shell(SECTION_1, str(server.data_dir))
    assert created.returncode == 0, created.stderr
    replies = [
        json.loads(part) for part in created.stdout.replace("}\n{", "}\n\x00{").split("\x00")
    ]
    assert [r["Name"] for r in replies] == [
        "alphavox/admin-credentials",
        "alphavox/jwt-secret",
        "alphavox/hipaa-encryption-key",
        "alphavox/api-keys",
    ]
    for reply in replies:
        assert reply["ARN"].startswith("arn:aws:secretsmanager:us-east-1:") and reply["ARN"].split(
            ":secret:"
        )[1].startswith(reply["Name"] + "-")

    # The helper runs in its own process with nothing but the environment strongroom env sets.
    script = PYTHON_HELPER + "\nprint(json.dumps(admin_creds))\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | server.env()
    helper = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert helper.returncode == 0, helper.stderr
    assert json.loads(helper.stdout) == {
        "username": "admin_secure_user",
        "password_hash": "$2b$12$...",
    }

    sm = server.client("secretsmanager")
    jwt = sm.get_secret_value(SecretId="alphavox/jwt-secret")["SecretString"]
    assert len(jwt) == 44 and jwt.endswith("=")  # openssl rand -base64 32
    api_keys = json.loads(sm.get_secret_value(SecretId="alphavox/api-keys")["SecretString"])
    assert api_keys["ANTHROPIC_API_KEY"] == "sk-ant-..."
    # Stored only as ciphertext.
    server.stop()
    dump = storage_dump(server)
    for value in (jwt.encode(), b"admin_secure_user", b"sk-ant-..."):
        assert value not in dump
