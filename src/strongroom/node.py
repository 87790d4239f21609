"""Bringing a node up: open and migrate storage, first-start initialisation, TLS, unseal."""

from __future__ import annotations

import logging
import ssl

from sqlalchemy.engine import Engine

from strongroom import bootstrap
from strongroom.barrier import seals
from strongroom.barrier.seals import SealError, SealKind
from strongroom.config import Settings
from strongroom.core import Core
from strongroom.http import tls
from strongroom.storage.engine import create_storage_engine, describe, migrate
from strongroom.storage.system import SEAL_CONFIG, SystemStateRepository

log = logging.getLogger("strongroom.node")

DEV_BANNER = """
==============================================================================
 STRONGROOM DEV SERVER: NOT FOR REAL DATA
 Plain HTTP, published test credentials, throwaway storage, movable clock.
 Use it in test suites in place of moto or LocalStack; never for real secrets.

   export AWS_ENDPOINT_URL={endpoint}
   export AWS_ACCESS_KEY_ID={access_key_id}
   export AWS_SECRET_ACCESS_KEY=<the documented dev secret, see `strongroom env --dev`>
   export AWS_DEFAULT_REGION={region}
   Account: {account_id}
   Wipe all state:   POST {endpoint}/_strongroom/dev/reset
   Advance clock:    POST {endpoint}/_strongroom/dev/clock {{"advance_seconds": N}}
==============================================================================
"""


def _open_storage(settings: Settings) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_storage_engine(settings.storage_url)
    migrate(engine)
    return engine


def initialize_node(
    settings: Settings, seal_kind: SealKind = "file", shares: int = 5, threshold: int = 3
) -> bootstrap.InitResult:
    """`strongroom init`: create data directory and storage without starting a server."""
    engine = _open_storage(settings)
    result = bootstrap.initialize(settings, engine, seal_kind, shares, threshold)
    settings.account_id = result.account_id
    settings.save()
    return result


def prepare_storage(settings: Settings) -> Engine:
    """Open and migrate storage, initialise it on first start, make the TLS certificates."""
    engine = _open_storage(settings)
    if settings.dev and bootstrap.is_initialized(engine):
        raise SystemExit("a --dev server needs empty storage; this storage is in use")
    if not bootstrap.is_initialized(engine):
        try:
            result = bootstrap.initialize(settings, engine)
        except bootstrap.AlreadyInitialized as error:
            # E.g. a root key file left from an earlier installation: say so, no traceback.
            raise SystemExit(f"cannot initialise: {error}") from None
        settings.account_id = result.account_id
        if not settings.dev:
            log.info(
                "initialised %s: account %s; administrator credentials in %s",
                settings.data_dir,
                result.account_id,
                settings.credentials_file,
            )
    if not settings.dev:
        settings.save()
        tls.ensure_certificates(settings.tls_dir, settings.host)
    return engine


def stored_seal_kind(engine: Engine) -> str:
    stored = SystemStateRepository(engine).get(SEAL_CONFIG) or b""
    try:
        return seals.SealConfig.from_json(stored.decode()).kind
    except SealError as error:
        raise SystemExit(f"cannot start: {error}") from None


def start_node(settings: Settings, engine: Engine) -> tuple[Core, ssl.SSLContext | None]:
    """Build the node on prepared storage and unseal it when the seal allows."""
    try:
        core = Core(settings, engine)
    except SealError as error:
        raise SystemExit(f"cannot start: {error}") from None
    tls_context = None if settings.dev else tls.server_context(settings.tls_dir)
    if core.seal_config.kind == "file":
        try:
            core.unseal_from_file()
        except SealError as error:
            raise SystemExit(f"cannot unseal: {error}") from None
    log.info(
        "storage %s; %s; listening on %s",
        describe(settings.storage_url),
        "sealed (submit shares with `strongroom unseal`)" if core.barrier.sealed else "unsealed",
        settings.endpoint,
    )
    if settings.dev:
        log.warning(
            DEV_BANNER.format(
                endpoint=settings.endpoint,
                access_key_id=settings.dev_access_key_id,
                region=settings.region,
                account_id=settings.account_id,
            )
        )
    return core, tls_context


def reopen_storage(settings: Settings) -> Engine:
    """A worker's own connection pool (pools must not cross a fork)."""
    return _open_storage(settings)
