"""Read secrets from Secrets Manager the way applications want them.

The source document's helper prints errors and returns None, and crashes on its own
`alphavox/jwt-secret` (a plain string, not JSON). This one returns JSON objects as dicts, plain
strings as strings and binary secrets as bytes, and raises typed exceptions that say what went
wrong without echoing any secret.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError


class SecretsError(Exception):
    """A secret could not be read or changed; the AWS error is the __cause__."""

    def __init__(self, secret_id: str, code: str, message: str) -> None:
        super().__init__(f"{secret_id}: {code}: {message}")
        self.secret_id = secret_id
        self.code = code


class SecretNotFoundError(SecretsError, LookupError):
    """No such secret, or no version with the requested id or label."""


class SecretUnavailableError(SecretsError):
    """The secret exists but cannot be used now (e.g. it is scheduled for deletion)."""


class SecretDecryptionError(SecretsError):
    """The secret's KMS key cannot decrypt it (disabled, deleted, or not permitted)."""


_ERRORS: dict[str, type[SecretsError]] = {
    "ResourceNotFoundException": SecretNotFoundError,
    "InvalidRequestException": SecretUnavailableError,
    "DecryptionFailure": SecretDecryptionError,
}


class SecretsClient:
    def __init__(self, region: str | None = None, client: Any = None) -> None:
        self.client = client or boto3.client("secretsmanager", region_name=region)

    def get(self, secret_id: str, version_stage: str | None = None) -> dict[str, Any] | str | bytes:
        """The current (or `version_stage`) value: a dict for a JSON object, else the string;
        bytes for a binary secret."""
        params = {"SecretId": secret_id} | (
            {"VersionStage": version_stage} if version_stage else {}
        )
        reply = self._call(secret_id, "get_secret_value", **params)
        if "SecretBinary" in reply:
            return bytes(reply["SecretBinary"])
        text: str = reply["SecretString"]
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        return parsed if isinstance(parsed, dict) else text

    def rotate(self, secret_id: str) -> None:
        """Start a rotation with the secret's stored rotation configuration."""
        self._call(secret_id, "rotate_secret", SecretId=secret_id)

    def _call(self, secret_id: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = getattr(self.client, operation)(**params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            message = error.response.get("Error", {}).get("Message", "")
            raise _ERRORS.get(code, SecretsError)(secret_id, code, message) from error
        return reply
