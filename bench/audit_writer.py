"""How many audit records per second the writer stores durably, alone, on SQLite and on
PostgreSQL: N concurrent callers (asyncio tasks, as on the server's event loop) each hand over a
GetSecretValue record (about 1 KB, CloudTrail's format) and wait until it is committed, again
and again, for --duration seconds. Group commit is what lets many callers share one commit.

    python bench/audit_writer.py [--duration 10] [--concurrency 1,32,256]
                                 [--postgres postgresql://127.0.0.1:5432/postgres]

The database is a fresh one (a temp SQLite file with synchronous=FULL, as the server runs it;
a new PostgreSQL database, dropped afterwards). Compare the rates with GetSecretValue's in
results/secretsmanager.md: the issue asks the writer to sustain 5 times the server's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import uvloop

from strongroom.audit import record
from strongroom.audit.writer import AuditWriter
from strongroom.auth.principal import Principal
from strongroom.protocol.registry import load_model
from strongroom.storage.audit import AuditRepository
from strongroom.storage.engine import create_storage_engine, migrate, sqlite_url

HERE = Path(__file__).parent
PRINCIPAL = Principal("123456789012", "alphavox-app", "AIDACKCEVSQ6C2EXAMPLE", "AKIAEXAMPLE")
OPERATION = load_model("secretsmanager").operation_model("GetSecretValue")


def get_secret_value_record() -> record.AuditEvent:
    call = record.Call(
        request_id=str(uuid.uuid4()),
        event_time=time.time(),
        source_ip="10.0.0.1",
        user_agent="Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 lang/python#3.11.7",
        event_source="secretsmanager.amazonaws.com",
        event_name="GetSecretValue",
        region="us-east-1",
        recipient_account_id=PRINCIPAL.account_id,
        principal=PRINCIPAL,
        tls={"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_256_GCM_SHA384"},
        operation=OPERATION,
        parameters={"SecretId": "alphavox/admin-credentials"},
        resources=[
            (
                "AWS::SecretsManager::Secret",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:alphavox/admin-AbCdEf",
            )
        ],
    )
    return record.build(call)


async def run(writer: AuditWriter, concurrency: int, duration: float) -> dict[str, float]:
    # The writer alone: building a record is the request's work, so records are made before
    # the clock starts (a template with fresh ids, event ids in time order as the server makes
    # them), enough for the fastest rate seen, twice.
    template = get_secret_value_record()
    events = [
        dataclasses.replace(
            template, event_id=record.new_event_id(time.time()), request_id=record.new_id()
        )
        for _ in range(int(40_000 * duration))
    ]
    events.reverse()
    latencies: list[float] = []
    deadline = time.monotonic() + duration

    async def caller() -> None:
        while events and time.monotonic() < deadline:
            event = events.pop()
            began = time.perf_counter()
            await writer.write_async(event)
            latencies.append(time.perf_counter() - began)

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "records_per_second": round(len(latencies) / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def measure(url: str, concurrencies: list[int], duration: float) -> list[dict[str, object]]:
    engine = create_storage_engine(url)
    migrate(engine)
    writer = AuditWriter(AuditRepository(engine))
    rows = []
    for concurrency in concurrencies:
        result = uvloop.run(run(writer, concurrency, duration))
        rows.append({"backend": engine.dialect.name, "concurrency": concurrency, **result})
        print(rows[-1], flush=True)
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--concurrency", default="1,32,256")
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/postgres")
    options = parser.parse_args()
    concurrencies = [int(n) for n in options.concurrency.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        rows += measure(sqlite_url(Path(directory) / "audit.db"), concurrencies, options.duration)
    database = f"bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(options.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        url = options.postgres.rsplit("/", 1)[0] + f"/{database}"
        rows += measure(url, concurrencies, options.duration)
    finally:
        with psycopg.connect(options.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    write_report(rows, options)


def write_report(rows: list[dict[str, object]], options: argparse.Namespace) -> None:
    lines = [
        "# Audit writer alone: durable records per second (group commit)",
        "",
        f"Command: `python bench/audit_writer.py --duration {options.duration:g} "
        f"--concurrency {options.concurrency}`  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 cores, "
        f"Python {platform.python_version()}; record: a GetSecretValue record of "
        f"{len(get_secret_value_record().text)} bytes.",
        "",
        "| backend | concurrent callers | records/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['backend']} | {r['concurrency']} | {r['records_per_second']:,} | "
        f"{r['p50_ms']} | {r['p99_ms']} |"
        for r in rows
    ]
    (HERE / "results" / "audit_writer.md").write_text("\n".join(lines) + "\n")
    (HERE / "results" / "audit_writer.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
