"""The `strongroom` command."""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import shlex
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from strongroom import __version__, config
from strongroom.config import Settings, default_data_dir

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory [env STRONGROOM_DATA_DIR; default: the user's data dir].",
)


def _settings(data_dir: Path | None, storage: str | None = None, **overrides: Any) -> Settings:
    return Settings.load(data_dir or default_data_dir(), storage_url=storage, **overrides)


@click.group()
@click.version_option(__version__)
def main() -> None:
    """Strongroom: secrets and key management that speaks the AWS APIs."""
    # Everything the server or CLI creates (storage, keys, certificates) is for this user only.
    os.umask(0o077)


@main.command()
@_data_dir_option
@click.option(
    "--storage", envvar="STRONGROOM_STORAGE", help="Storage URL: sqlite:///PATH or postgresql://..."
)
@click.option(
    "--host", envvar="STRONGROOM_HOST", help=f"Listen address [default {config.DEFAULT_HOST}]."
)
@click.option("--port", envvar="STRONGROOM_PORT", type=int, help="Listen port.")
@click.option(
    "--region", envvar="STRONGROOM_REGION", help=f"Default region [{config.DEFAULT_REGION}]."
)
@click.option(
    "--root-key-file", envvar="STRONGROOM_ROOT_KEY_FILE", help="File seal: root key path."
)
@click.option("--account-id", envvar="STRONGROOM_ACCOUNT_ID", help="Account id of the first start.")
@click.option(
    "--audit-log-group",
    envvar="STRONGROOM_AUDIT_LOG_GROUP",
    help=f"CloudWatch Logs group of the audit trail [{config.DEFAULT_AUDIT_LOG_GROUP}].",
)
@click.option(
    "--audit-retention-days",
    envvar="STRONGROOM_AUDIT_RETENTION_DAYS",
    type=click.IntRange(1, 36500),
    help=f"Days the audit trail is kept [{config.DEFAULT_AUDIT_RETENTION_DAYS}].",
)
@click.option(
    "--smtp-url",
    envvar="STRONGROOM_SMTP_URL",
    help="SMTP server for SNS email: smtp[s]://[user:pass@]host[:port][?starttls=true&from=ADDR].",
)
@click.option(
    "--usage-flush-seconds",
    envvar="STRONGROOM_USAGE_FLUSH_SECONDS",
    type=click.IntRange(1, 3600),
    help="How often each process publishes its API call counts to CloudWatch [60].",
)
@click.option("--dev", is_flag=True, help="Throwaway test server: plain HTTP, test credentials.")
@click.option("--access-key-id", envvar="STRONGROOM_DEV_ACCESS_KEY_ID", help="--dev access key id.")
@click.option(
    "--secret-access-key", envvar="STRONGROOM_DEV_SECRET_ACCESS_KEY", help="--dev secret key."
)
@click.option(
    "--workers",
    envvar="STRONGROOM_WORKERS",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (file seal only).",
)
@click.option(
    "--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"])
)
def server(data_dir: Path | None, dev: bool, workers: int, log_level: str, **options: Any) -> None:
    """Start the server (initialising the data directory on first start)."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    from strongroom.http.server import serve
    from strongroom.storage.engine import StorageError

    if dev:
        if data_dir is not None:
            raise click.UsageError("--dev always uses a throwaway data directory")
        if options["host"] and not config.is_loopback(options["host"]):
            raise click.UsageError("a --dev server listens on loopback only")
        data_dir = Path(tempfile.mkdtemp(prefix="strongroom-dev-"))
        options["account_id"] = options["account_id"] or config.DEV_ACCOUNT_ID
        options["port"] = options["port"] or config.DEFAULT_DEV_PORT
        options["dev_access_key_id"] = options.pop("access_key_id") or config.DEV_ACCESS_KEY_ID
        options["dev_secret_access_key"] = (
            options.pop("secret_access_key") or config.DEV_SECRET_ACCESS_KEY
        )
    elif options.pop("access_key_id") or options.pop("secret_access_key"):
        raise click.UsageError("--access-key-id/--secret-access-key are for --dev servers only")
    if options["smtp_url"]:
        from strongroom.services.sns.delivery import SmtpSettings

        try:
            SmtpSettings.from_url(options["smtp_url"])
        except ValueError as error:
            raise click.UsageError(f"--smtp-url: {error}") from None
    settings = _settings(data_dir, dev=dev, **options)
    try:
        serve(settings, workers)
    except StorageError as error:
        raise click.ClickException(str(error)) from None
    finally:
        if dev:
            shutil.rmtree(settings.data_dir, ignore_errors=True)


@main.command()
@_data_dir_option
@click.option("--storage", envvar="STRONGROOM_STORAGE", help="Storage URL.")
@click.option("--seal", "seal_kind", type=click.Choice(["file", "shamir"]), default="file")
@click.option("--key-shares", default=5, show_default=True, help="Shamir: shares to create.")
@click.option("--key-threshold", default=3, show_default=True, help="Shamir: shares to unseal.")
@click.option(
    "--root-key-file", envvar="STRONGROOM_ROOT_KEY_FILE", help="File seal: root key path."
)
@click.option("--account-id", envvar="STRONGROOM_ACCOUNT_ID")
@click.option("--region", envvar="STRONGROOM_REGION")
def init(
    data_dir: Path | None, seal_kind: str, key_shares: int, key_threshold: int, **options: Any
) -> None:
    """Initialise a data directory and storage; with --seal shamir, print the unseal shares."""
    from strongroom.barrier.shamir import ShamirError
    from strongroom.bootstrap import AlreadyInitialized
    from strongroom.node import initialize_node
    from strongroom.storage.engine import StorageError

    settings = _settings(data_dir, **options)
    try:
        result = initialize_node(settings, seal_kind, key_shares, key_threshold)  # type: ignore[arg-type]
    except ShamirError as error:
        raise click.UsageError(str(error)) from None
    except (StorageError, AlreadyInitialized) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Initialised {settings.data_dir} (account {result.account_id}).")
    click.echo(f"Administrator credentials: {settings.credentials_file} (mode 0600).")
    if result.unseal_shares:
        click.echo(
            f"\nUnseal shares ({key_threshold} of {key_shares} unseal the server). They are shown "
            "only now and stored nowhere: give each to a different custodian.\n"
        )
        for number, share in enumerate(result.unseal_shares, 1):
            click.echo(f"Unseal share {number}: {share}")


@main.command()
@_data_dir_option
@click.option("--dev", is_flag=True, help="Print the settings of a local --dev server.")
@click.option("--port", type=int, default=None, help="With --dev: the dev server's port.")
def env(data_dir: Path | None, dev: bool, port: int | None) -> None:
    """Print export lines for the aws CLI and boto3: eval "$(strongroom env)"."""
    if dev:
        values = {
            "AWS_ENDPOINT_URL": f"http://localhost:{port or config.DEFAULT_DEV_PORT}",
            "AWS_ACCESS_KEY_ID": config.DEV_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": config.DEV_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": config.DEFAULT_REGION,
        }
    else:
        settings = _settings(data_dir)
        access_key_id, secret = _read_credentials(settings)
        values = {
            "AWS_ENDPOINT_URL": settings.endpoint,
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": settings.region,
            "AWS_CA_BUNDLE": str(settings.ca_file),
        }
    for name, value in values.items():
        click.echo(f"export {name}={shlex.quote(value)}")


@main.command()
@_data_dir_option
def status(data_dir: Path | None) -> None:
    """Show whether the server is sealed, its storage, version and listen address."""
    from strongroom.storage.engine import describe

    settings = _settings(data_dir)
    click.echo(f"Data directory: {settings.data_dir}")
    click.echo(f"Storage:        {describe(settings.storage_url)}")
    click.echo(f"Listen address: {settings.endpoint}")
    try:
        health = _control(settings, "GET", "/health")
    except ConnectionError as error:
        click.echo(f"Server:         not reachable ({error})")
        sys.exit(2)
    click.echo(f"Version:        {health['version']}")
    click.echo(f"Seal:           {health['seal']}")
    state = "sealed" if health["sealed"] else "unsealed"
    if "unseal_progress" in health:
        state += f" (unseal progress {health['unseal_progress']})"
    click.echo(f"State:          {state}")
    if not health["storage_available"]:
        click.echo("Storage state:  UNAVAILABLE (API calls answer 503 until it is back)")
    audit = health["audit"]
    if audit["writable"]:
        click.echo(f"Audit trail:    writable ({audit['waiting']} record(s) waiting)")
    else:
        click.echo(
            f"Audit trail:    FAILING for {audit['failing_for_seconds']:.0f} s: {audit['error']} "
            "(API calls fail until records can be stored)"
        )
    sys.exit(0 if health["status"] == "ok" else 1)


@main.command()
@_data_dir_option
@click.argument("share", required=False)
def unseal(data_dir: Path | None, share: str | None) -> None:
    """Submit one unseal share (prompted for, unechoed, when not given)."""
    settings = _settings(data_dir)
    if share is None:
        share = click.prompt("Unseal share", hide_input=True)
    reply = _operator_call(settings, "POST", "/_strongroom/unseal", {"share": share})
    if "error" in reply:
        raise click.ClickException(reply["error"])
    if reply["sealed"]:
        click.echo(f"Sealed: {reply['progress']} of {reply['threshold']} shares submitted.")
    else:
        click.echo("Unsealed.")


@main.command()
@_data_dir_option
def seal(data_dir: Path | None) -> None:
    """Seal the running server: it forgets its keys until unsealed again."""
    settings = _settings(data_dir)
    reply = _operator_call(settings, "POST", "/_strongroom/seal", {}, signed=True)
    if "error" in reply:
        raise click.ClickException(reply["error"])
    click.echo("Sealed.")


@main.group()
def audit() -> None:
    """The audit trail: verify it; close the current digest period."""


def _moment(value: str | None) -> float | None:
    """ISO 8601 ("2026-11-30T10:00:00Z") or seconds since the epoch."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither ISO 8601 nor epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


@audit.command("verify")
@_data_dir_option
@click.option("--storage", help="Storage URL (default: the data directory's).")
@click.option("--start-time", help="Check from this time (ISO 8601 or epoch seconds).")
@click.option("--end-time", help="Check up to this time (default: everything after the start).")
def audit_verify(
    data_dir: Path | None, storage: str | None, start_time: str | None, end_time: str | None
) -> None:
    """Check every digest signature, the digest chain, every log file's hash and that every
    record is in a log file; exit status 1 on any problem. Reads storage directly: the
    server need not run or be unsealed."""
    from strongroom.audit.verify import verify
    from strongroom.storage.audit import AuditRepository
    from strongroom.storage.engine import StorageError, create_storage_engine

    settings = _settings(data_dir, storage)
    start, end = _moment(start_time) or 0.0, _moment(end_time) or math.inf
    try:
        report = verify(AuditRepository(create_storage_engine(settings.storage_url)), start, end)
    except StorageError as error:
        raise click.ClickException(f"cannot read storage: {error}") from None
    for problem in report.problems:
        click.echo(f"INVALID: {problem}")
    verdict = "valid" if report.valid else f"INVALID ({len(report.problems)} problem(s))"
    click.echo(f"{report.digests} digest file(s), {report.log_files} log file(s): {verdict}")
    sys.exit(0 if report.valid else 1)


@audit.command("close")
@_data_dir_option
def audit_close(data_dir: Path | None) -> None:
    """Deliver and digest every record now, without waiting for the hour (before an
    export, say)."""
    settings = _settings(data_dir)
    reply = _operator_call(settings, "POST", "/_strongroom/audit/close", {}, signed=True)
    if "error" in reply:
        raise click.ClickException(reply["error"])
    for key in reply["digests"]:
        click.echo(f"Digest: {key}")


@main.group()
def account() -> None:
    """Accounts: each one isolated, with an administrator of its own."""


@account.command("create")
@_data_dir_option
@click.option(
    "--credentials-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the new administrator's credentials go (mode 0600, aws CLI format) "
    "[default: credentials-ACCOUNT in the data directory].",
)
@click.option(
    "--show-secret",
    is_flag=True,
    help="Print the secret access key instead of writing a file (unless --credentials-file).",
)
def account_create(data_dir: Path | None, credentials_file: Path | None, show_secret: bool) -> None:
    """Create an account and its administrator (IAM user "admin", AdministratorAccess); its
    access key is shown only now."""
    settings = _settings(data_dir)
    if credentials_file is not None and credentials_file.exists():
        raise click.UsageError(f"{credentials_file} exists: refusing to overwrite it")
    if credentials_file is not None and not credentials_file.parent.is_dir():
        raise click.UsageError(f"{credentials_file.parent} is not a directory")
    reply = _operator_call(settings, "POST", "/_strongroom/accounts", {}, signed=True)
    if "error" in reply:
        raise click.ClickException(reply["error"])
    account_id, access_key_id = reply["account_id"], reply["access_key_id"]
    click.echo(f"Account: {account_id}")
    click.echo(f"Administrator: arn:aws:iam::{account_id}:user/{reply['user_name']}")
    click.echo(f"Access key id: {access_key_id}")
    if credentials_file is None and not show_secret:
        credentials_file = settings.data_dir / f"credentials-{account_id}"
    if credentials_file is not None:
        _write_credentials(credentials_file, access_key_id, reply["secret_access_key"])
        click.echo(f"Credentials: {credentials_file} (mode 0600)")
    if show_secret:
        click.echo(f"Secret access key: {reply['secret_access_key']}")


def _write_credentials(path: Path, access_key_id: str, secret: str) -> None:
    """A new file, readable by its owner only, in the aws CLI credentials format."""
    from strongroom.bootstrap import credentials_text

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        # The account exists already: say so, or its administrator would be lost unnoticed.
        raise click.ClickException(
            f"the account was created, but {path} could not be written ({error.strerror}); "
            "create another account"
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(credentials_text(access_key_id, secret))


@main.group()
def dev() -> None:
    """Controls of a --dev server (they do not exist on other servers)."""


_endpoint_option = click.option(
    "--endpoint",
    envvar="AWS_ENDPOINT_URL",
    default=f"http://localhost:{config.DEFAULT_DEV_PORT}",
    show_default=True,
    help="The dev server [env AWS_ENDPOINT_URL].",
)


@dev.command("reset")
@_endpoint_option
def dev_reset(endpoint: str) -> None:
    """Delete every resource (keys, aliases, ...) without a restart."""
    _dev_control(endpoint, "/_strongroom/dev/reset", {})
    click.echo("Reset.")


@dev.command("advance-clock")
@_endpoint_option
@click.argument("seconds", type=float)
def dev_advance_clock(endpoint: str, seconds: float) -> None:
    """Move the server's clock forward by SECONDS (background jobs see the new time)."""
    reply = _dev_control(endpoint, "/_strongroom/dev/clock", {"advance_seconds": seconds})
    click.echo(f"Server clock offset: {reply['offset_seconds']:.0f} s")


def _read_credentials(settings: Settings) -> tuple[str, str]:
    import configparser

    parser = configparser.ConfigParser()
    if not parser.read(settings.credentials_file):
        raise click.ClickException(
            f"no credentials at {settings.credentials_file}: start the server once first"
        )
    section = parser["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def _control(
    settings: Settings,
    method: str,
    path: str,
    payload: dict[str, Any] | None = None,
    signed: bool = False,
) -> dict[str, Any]:
    """Call the local server's operator endpoint, trusting its CA."""
    if not settings.ca_file.exists():
        raise ConnectionError(
            f"no CA certificate at {settings.ca_file}: start the server once first"
        )
    url = settings.endpoint + path
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"content-type": "application/json"}
    if signed:
        headers = _signed_headers(settings, method, url, body or b"", headers)
    context = ssl.create_default_context(cafile=settings.ca_file)
    return _request(url, method, body, headers, context)[1]


def _operator_call(settings: Settings, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _control(settings, *args, **kwargs)
    except ConnectionError as error:
        raise click.ClickException(f"server not reachable: {error}") from None


def _dev_control(endpoint: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    url = endpoint.rstrip("/") + path
    try:
        status, reply = _request(
            url, "POST", json.dumps(payload).encode(), {"content-type": "application/json"}, None
        )
    except ConnectionError as error:
        raise click.ClickException(f"{url}: {error}") from None
    if status != 200:
        raise click.ClickException(f"{url}: HTTP {status} (is this a --dev server?)")
    return reply


def _request(
    url: str,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    context: ssl.SSLContext | None,
) -> tuple[int, dict[str, Any]]:
    # Only ever http(s) URLs built from the configured endpoint.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
            return response.status, dict(json.load(response))
    except urllib.error.HTTPError as error:
        try:
            return error.code, dict(json.load(error))
        except ValueError:
            return error.code, {"error": f"HTTP {error.code}"}
    except (urllib.error.URLError, OSError) as error:
        raise ConnectionError(str(getattr(error, "reason", error))) from None


def _signed_headers(
    settings: Settings, method: str, url: str, body: bytes, headers: dict[str, str]
) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    access_key_id, secret = _read_credentials(settings)
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(access_key_id, secret), "strongroom", settings.region).add_auth(request)
    return dict(request.headers.items())
