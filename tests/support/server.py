"""Start and stop real `strongroom server` processes for the tests."""

from __future__ import annotations

import configparser
import gc
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.postgres import fresh_database

DEV_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DEV_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def strongroom(
    *args: str, env: dict[str, str] | None = None, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `strongroom` command line."""
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=check,
        input=input,
        timeout=120,
    )


@dataclass
class Server:
    """A running (or stopped) strongroom server and how to talk to it."""

    args: list[str]
    log_path: Path
    port: int = field(default_factory=free_port)
    dev: bool = False
    data_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _clients: list[Any] = field(default_factory=list, repr=False)

    @property
    def endpoint(self) -> str:
        return f"{'http' if self.dev else 'https'}://localhost:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        return None if self.dev else str(self.data_dir / "tls" / "ca.pem")

    def credentials(self) -> tuple[str, str]:
        if self.dev:
            return DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY
        parser = configparser.ConfigParser()
        parser.read(self.data_dir / "credentials")
        return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]

    def start(self, wait_unsealed: bool = True) -> Server:
        command = [
            sys.executable,
            "-m",
            "strongroom",
            "server",
            *self.args,
            "--port",
            str(self.port),
        ]
        if self.data_dir is not None:
            command += ["--data-dir", str(self.data_dir)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready(wait_unsealed)
        return self

    def health(self) -> dict[str, object] | None:
        if self.ca_bundle and not os.path.exists(self.ca_bundle):
            return None  # the first start has not written its CA yet
        context = ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else None
        try:
            url = f"{self.endpoint}/health"
            with urllib.request.urlopen(url, context=context, timeout=2) as r:  # noqa: S310
                return json.load(r)
        except urllib.error.HTTPError as error:
            with error:  # an unclosed TLS socket would hold up the server's shutdown
                return json.load(error)
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return None

    def wait_ready(self, unsealed: bool = True, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"server exited early; log:\n{log}")
            health = self.health()
            if health is not None and (not unsealed or not health["sealed"]):
                return
            time.sleep(0.05)
        raise RuntimeError(f"server not ready; log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        # Idle keep-alive connections would hold up the server's graceful shutdown. Connections
        # that served an error response stay out of the pool until their ClientError's reference
        # cycle is collected, so collect it.
        for client in self._clients:
            client.close()
        gc.collect()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def env(self) -> dict[str, str]:
        """What `eval "$(strongroom env)"` would set for this server."""
        access_key_id, secret = self.credentials()
        values = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": REGION,
        }
        if self.ca_bundle:
            values["AWS_CA_BUNDLE"] = self.ca_bundle
        return values

    def client(self, service: str, **overrides: object):
        access_key_id, secret = self.credentials()
        settings = {
            "endpoint_url": self.endpoint,
            "region_name": REGION,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret,
            "verify": self.ca_bundle if self.ca_bundle else True,
            "config": Config(retries={"max_attempts": 1}),
        }
        settings.update(overrides)
        client = boto3.client(service, **settings)
        self._clients.append(client)
        return client

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def dev_server_for(request: pytest.FixtureRequest, log_path: Path, *args: str) -> Iterator[Server]:
    """A started `--dev` server of a test's own (its clock may be moved, its state reset) on
    the backend `request.param` names, with further `args`; stopped afterwards."""
    with ExitStack() as stack:
        storage = []
        if request.param == "postgresql":
            database = fresh_database(request.getfixturevalue("pg_server_url"))
            storage = ["--storage", stack.enter_context(database)]
        server = Server(args=["--dev", *args, *storage], log_path=log_path, dev=True).start()
        stack.callback(server.stop)
        yield server
