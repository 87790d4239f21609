"""Further accounts, made by the operator: each one isolated, with an administrator of its own.

An account is the isolation boundary (every resource and every query is scoped by its id), so
a new account starts empty but for its administrator: the IAM user "admin" with
AdministratorAccess and one access key, whose secret is handed out once and stored only as
barrier ciphertext bound to its owner, exactly as the first account's bootstrap administrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.auth.authenticator import access_key_aad
from strongroom.barrier.barrier import Barrier
from strongroom.bootstrap import ADMIN_USER, new_access_key, new_account_id, new_user_id
from strongroom.services.iam.model import ACTIVE, AccessKey
from strongroom.storage.iam import IamRepository

# Account ids are drawn from 9 * 10^11: a second collision in a row means something is wrong.
_ATTEMPTS = 3


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a log, should one show this


def create_account(iam: IamRepository, barrier: Barrier, now: float) -> NewAccount:
    """A new account (a fresh 12-digit id) with its administrator and the administrator's
    access key, stored in one transaction."""
    access_key_id, secret = new_access_key()
    user_id = new_user_id()
    for _ in range(_ATTEMPTS):
        account_id = new_account_id()
        key = AccessKey(access_key_id, account_id, ADMIN_USER, user_id, ACTIVE, now)
        aad = access_key_aad(access_key_id, account_id, ADMIN_USER, user_id)
        if iam.create_account(key, barrier.encrypt(secret.encode(), aad)):
            return NewAccount(account_id, access_key_id, secret)
    raise RuntimeError("no free account id was found")
