"""A PostgreSQL server for the tests: the one at STRONGROOM_TEST_PG_URL (default: the local
server on 127.0.0.1:5432), else a throwaway cluster started from the installed binaries.
Never a silent skip: without PostgreSQL the storage tests fail with a clear message."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _throwaway_cluster(password: str | None = None) -> Iterator[str]:
    """A cluster of its own; with `password`, connections over TCP must give it (or another
    role's password), as a production server's would."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        raise RuntimeError(
            "PostgreSQL is not reachable at STRONGROOM_TEST_PG_URL (default "
            f"{DEFAULT_URL}) and no PostgreSQL binaries are installed to start one"
        )
    bin_dir = os.path.dirname(binaries[-1])
    root = tempfile.mkdtemp(prefix="strongroom-pg-")
    # initdb refuses to run as root; run the cluster as the postgres system user then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    auth = ["-A", "trust"]
    if password is not None:
        password_file = os.path.join(root, "password")
        with open(password_file, "w") as file:
            file.write(password)
        if as_user:
            shutil.chown(password_file, "postgres")
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}"]
    subprocess.run(
        [*as_user, f"{bin_dir}/initdb", "-D", data, "-U", "postgres", *auth],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_user,
            f"{bin_dir}/pg_ctl",
            "-D",
            data,
            "-w",
            "-l",
            os.path.join(root, "log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    credentials = "postgres" if password is None else f"postgres:{password}"
    try:
        yield _when_up(f"postgresql://{credentials}@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    url = os.environ.get("STRONGROOM_TEST_PG_URL", DEFAULT_URL)
    if _reachable(url):
        yield url
        return
    with _throwaway_cluster() as throwaway:
        yield throwaway


@contextmanager
def password_checking_server() -> Iterator[str]:
    """A throwaway cluster that checks passwords over TCP (the local server may trust every
    connection from 127.0.0.1): the URL of its superuser, with the password."""
    with _throwaway_cluster(password=uuid.uuid4().hex) as url:
        yield url


def _when_up(url: str) -> str:
    deadline = time.monotonic() + 30
    while not _reachable(url):
        if time.monotonic() > deadline:
            raise RuntimeError("the throwaway PostgreSQL cluster did not come up")
        time.sleep(0.2)
    return url


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards."""
    name = f"strongroom_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
