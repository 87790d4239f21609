"""When storage goes away under a running server, calls fail with a retryable 503 (never a 500
or a traceback), /health and `strongroom status` say so, and nothing is half-written."""

from __future__ import annotations

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.support.operator import cli
from tests.support.postgres import fresh_database
from tests.support.server import Server


def test_a_lost_database_answers_503_and_health_reports_it(pg_server_url, tmp_path):
    with fresh_database(pg_server_url) as url:
        server = Server(
            args=["--storage", url], log_path=tmp_path / "server.log", data_dir=tmp_path / "data"
        ).start()
        try:
            kms = server.client("kms")
            kms.create_key(Description="before the outage")
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(pg_server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

            for call in (lambda: kms.list_keys(), lambda: kms.create_key()):
                with pytest.raises(ClientError) as outage:
                    call()
                error = outage.value.response
                assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
                assert error["Error"]["Code"] == "ServiceUnavailableException"
                assert error["Error"]["Message"] == "Storage is unavailable; try again later."

            health = server.health()
            assert health["storage_available"] is False
            assert health["status"] == "storage unavailable"
            status = cli(server, "status", check=False)
            assert status.returncode == 1
            assert "UNAVAILABLE" in status.stdout
            assert "Traceback" not in server.log_text()
        finally:
            server.stop()
