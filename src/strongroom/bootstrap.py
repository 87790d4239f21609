"""First start: root key and seal, keyring, account, bootstrap administrator and its access key.

Everything is generated before anything is stored, the storage rows go in one transaction, and
the files that hold secrets (root key, credentials) are renamed into place only after that
transaction commits, so a crash leaves either nothing or a complete installation.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from strongroom.auth.authenticator import access_key_aad
from strongroom.barrier import aead, seals
from strongroom.barrier.keyring import Keyring
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.storage import system
from strongroom.storage.identity import AccessKeyRecord
from strongroom.storage.system import SystemStateRepository

ADMIN_USER = "admin"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class AlreadyInitialized(Exception):
    pass


@dataclass(frozen=True)
class InitResult:
    account_id: str
    access_key_id: str
    unseal_shares: list[str]


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def new_access_key() -> tuple[str, str]:
    key_id = "AKIA" + "".join(secrets.choice(_BASE32) for _ in range(16))
    secret = base64.b64encode(secrets.token_bytes(30)).decode()
    return key_id, secret


def new_user_id() -> str:
    return "AIDA" + "".join(secrets.choice(_BASE32) for _ in range(17))


def _write_private_file(path: Path, data: bytes) -> Path:
    """Write to a temporary sibling; the caller renames it into place once storage commits."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


def credentials_text(access_key_id: str, secret: str) -> bytes:
    text = f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"
    return text.encode()


def is_initialized(engine: Engine) -> bool:
    return SystemStateRepository(engine).get(system.KEYRING) is not None


def initialize(
    settings: Settings,
    engine: Engine,
    seal_kind: seals.SealKind = "file",
    shares: int = 5,
    threshold: int = 3,
) -> InitResult:
    state = SystemStateRepository(engine)
    if state.get(system.KEYRING) is not None:
        raise AlreadyInitialized("storage is already initialized")
    root_key = aead.new_key()
    keyring = Keyring.generate()
    unseal_shares: list[str] = []
    pending_files: list[tuple[Path, Path]] = []
    if seal_kind == "shamir":
        seal_config, unseal_shares = seals.split_root_key(root_key, shares, threshold)
    else:
        seal_config = seals.SealConfig(kind="file")
        root_key_file = Path(settings.root_key_file)
        if root_key_file.exists():
            raise AlreadyInitialized(
                f"{root_key_file} exists but storage is empty: refusing to replace a root key"
            )
        temporary = _write_private_file(root_key_file, base64.b64encode(root_key) + b"\n")
        pending_files.append((temporary, root_key_file))

    account_id = settings.account_id or new_account_id()
    if settings.dev:
        access_key_id, secret = settings.dev_access_key_id, settings.dev_secret_access_key
    else:
        access_key_id, secret = new_access_key()
        temporary = _write_private_file(
            settings.credentials_file, credentials_text(access_key_id, secret)
        )
        pending_files.append((temporary, settings.credentials_file))

    user_id = new_user_id()
    admin_key = AccessKeyRecord(
        access_key_id=access_key_id,
        account_id=account_id,
        user_name=ADMIN_USER,
        user_id=user_id,
        secret_blob=keyring.encrypt(
            secret.encode(), access_key_aad(access_key_id, account_id, ADMIN_USER, user_id)
        ),
        status="Active",
    )
    barrier_state = {
        system.KEYRING: keyring.wrap(root_key),
        system.SEAL_CONFIG: seal_config.to_json().encode(),
        system.BOOTSTRAP_ACCESS_KEY: access_key_id.encode(),
    }
    if not state.initialize(barrier_state, account_id, admin_key, Clock().time()):
        for temporary, _ in pending_files:
            temporary.unlink()
        raise AlreadyInitialized("another node initialized the storage first")
    for temporary, final in pending_files:
        temporary.replace(final)
    return InitResult(account_id, access_key_id, unseal_shares)
