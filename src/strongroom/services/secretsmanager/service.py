"""Secrets Manager: secrets and versions on the encrypted store (every version sealed under
the secret's KMS key, see sealing.py), with resource policies and replicas in other regions;
every operation, named after the API, grouped by what it works on."""

from __future__ import annotations

from strongroom.services.secretsmanager.policies import Policies
from strongroom.services.secretsmanager.replicas import Replicas
from strongroom.services.secretsmanager.rotating import Rotating
from strongroom.services.secretsmanager.secrets import Secrets
from strongroom.services.secretsmanager.tags import TagsAndPasswords
from strongroom.services.secretsmanager.values import Values


class SecretsManager(Secrets, Values, Rotating, Replicas, Policies, TagsAndPasswords):
    pass
