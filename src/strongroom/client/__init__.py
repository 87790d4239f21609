"""Client helpers for applications (they work against Strongroom and against AWS alike)."""

from strongroom.client.secrets import (
    SecretDecryptionError,
    SecretNotFoundError,
    SecretsClient,
    SecretsError,
    SecretUnavailableError,
)

__all__ = [
    "SecretDecryptionError",
    "SecretNotFoundError",
    "SecretUnavailableError",
    "SecretsClient",
    "SecretsError",
]
