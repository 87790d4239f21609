"""Rotators built into Strongroom, chosen as a secret's RotationLambdaARN by a reserved function
name in the secret's own account and Region (no user code, no sandbox: they run in process
and reach the secret through `SecretAccess`):

- `strongroom-rotation-random`: a new random value of the same shape (rotators/shapes.py);
- `strongroom-rotation-postgresql-single-user`, `strongroom-rotation-mysql-single-user`: the
  user of the secret's connection details changes its own password;
- `strongroom-rotation-postgresql-alternating-users`, `strongroom-rotation-mysql-alternating-
  users`: a second user (`<name>_clone`) takes turns with the first, set up by the superuser
  whose secret `masterarn` names, so the credentials in use are never the ones being changed.
"""

from __future__ import annotations

from strongroom.services.awslambda.model import BUILT_IN_ROTATOR_PREFIX
from strongroom.services.secretsmanager.rotators.base import BuiltInRotator, SecretAccess
from strongroom.services.secretsmanager.rotators.databases import (
    MySqlAlternatingUsers,
    MySqlSingleUser,
    PostgresAlternatingUsers,
    PostgresSingleUser,
)
from strongroom.services.secretsmanager.rotators.random_value import RandomValue

BUILT_IN: dict[str, type[BuiltInRotator]] = {
    f"{BUILT_IN_ROTATOR_PREFIX}random": RandomValue,
    f"{BUILT_IN_ROTATOR_PREFIX}postgresql-single-user": PostgresSingleUser,
    f"{BUILT_IN_ROTATOR_PREFIX}postgresql-alternating-users": PostgresAlternatingUsers,
    f"{BUILT_IN_ROTATOR_PREFIX}mysql-single-user": MySqlSingleUser,
    f"{BUILT_IN_ROTATOR_PREFIX}mysql-alternating-users": MySqlAlternatingUsers,
}

__all__ = ["BUILT_IN", "BuiltInRotator", "SecretAccess", "built_in"]


def built_in(
    function_arn: str, account_id: str, region: str, access: SecretAccess
) -> BuiltInRotator | None:
    """The built-in rotator a RotationLambdaARN names for a secret of `account_id` in `region`,
    if it names one."""
    prefix = f"arn:aws:lambda:{region}:{account_id}:function:"
    if not function_arn.startswith(prefix):
        return None
    rotator = BUILT_IN.get(function_arn.removeprefix(prefix))
    return rotator(access) if rotator is not None else None
