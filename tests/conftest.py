"""Shared fixtures: real server processes on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.postgres import fresh_database, postgres_server
from tests.support.server import Server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def session_stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def _storage_args(backend: str, request: pytest.FixtureRequest, stack: ExitStack) -> list[str]:
    if backend == "sqlite":
        return []
    server_url = request.getfixturevalue("pg_server_url")
    return ["--storage", stack.enter_context(fresh_database(server_url))]


@pytest.fixture(scope="session", params=BACKENDS)
def dev_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    session_stack: ExitStack,
) -> Iterator[Server]:
    """One shared `--dev` server per backend; tests isolate themselves with unique names."""
    log = tmp_path_factory.mktemp("dev") / "server.log"
    args = ["--dev", *_storage_args(request.param, request, session_stack)]
    server = Server(args=args, log_path=log, dev=True).start()
    yield server
    server.stop()


@pytest.fixture
def make_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Build non-dev (TLS) servers with their own data directory, on a chosen backend."""
    servers: list[Server] = []
    with ExitStack() as stack:

        def build(backend: str = "sqlite", *extra: str, start: bool = True) -> Server:
            data_dir = tmp_path / f"data{len(servers)}"
            args = [*_storage_args(backend, request, stack), *extra]
            server = Server(
                args=args, log_path=tmp_path / f"server{len(servers)}.log", data_dir=data_dir
            )
            servers.append(server)
            return server.start() if start else server

        yield build
        for server in servers:
            server.stop()
