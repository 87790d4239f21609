"""FilterLogEvents on the audit trail's log group with 1,000,000 stored records: how long one
hour's query takes, through the real server, on SQLite and on PostgreSQL.

The records (CloudTrail-shaped, a realistic mix of calls, users, sources and errors) are spread
evenly over --days days before the hour queried, so the hour holds 1,000,000 / (24 * days) of
them. They are stored through the audit repository and cut into log files while the server is
stopped (the cut is timed too), then the server starts and each filter pattern is run --repeat
times over one hour in the middle of the range: the time to the first page, and to the whole
result (every page), median of the repeats.

    python bench/audit_filter.py [--records 1000000] [--days 30,2] [--repeat 5]
                                 [--postgres postgresql://127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from api_load import HERE, start_strongroom

from strongroom.audit.record import AuditEvent, event_of
from strongroom.audit.trail import cut_log_files
from strongroom.storage.audit import AuditRepository
from strongroom.storage.engine import create_storage_engine

GROUP = "CloudTrail/AlphaVoxSecrets"
PATTERNS = {
    "eventName equality": "{ $.eventName = GetSecretValue }",
    "errorCode or source IP": '{ ($.errorCode = "AccessDenied*") || ($.sourceIPAddress = 10.9.*) }',
    "terms": 'AccessDenied "oncall-alice"',
}
CALLS = [  # (weight, event source, event name, read only)
    (60, "secretsmanager.amazonaws.com", "GetSecretValue", True),
    (15, "kms.amazonaws.com", "Decrypt", True),
    (10, "kms.amazonaws.com", "GenerateDataKey", True),
    (5, "secretsmanager.amazonaws.com", "DescribeSecret", True),
    (5, "secretsmanager.amazonaws.com", "PutSecretValue", False),
    (5, "kms.amazonaws.com", "Encrypt", True),
]
USERS = ["alphavox-app", "alphavox-worker", "ci-deployer", "oncall-alice", "oncall-bob"]


def records(account_id: str, count: int, start: float, end: float) -> list[AuditEvent]:
    rng = random.Random(count)
    weights = [c[0] for c in CALLS]
    step = (end - start) / count
    made = []
    for n in range(count):
        _, source, name, read_only = rng.choices(CALLS, weights)[0]
        user = rng.choice(USERS)
        error = rng.random() < 0.02
        record = {
            "eventVersion": "1.11",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDACKCEVSQ6C2EXAMPLE",
                "arn": f"arn:aws:iam::{account_id}:user/{user}",
                "accountId": account_id,
                "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "userName": user,
            },
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + n * step)),
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": f"10.{rng.randrange(10)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "userAgent": "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.11.7",
            **({"errorCode": "AccessDenied", "errorMessage": "denied"} if error else {}),
            "requestParameters": {"secretId": f"alphavox/secret-{rng.randrange(50)}"},
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account_id,
            "eventCategory": "Management",
        }
        made.append(event_of(record, round(start + n * step, 3)))
    return made


def fill(storage_url: str, account_id: str, count: int, start: float, end: float) -> dict:
    repository = AuditRepository(create_storage_engine(storage_url))
    began = time.monotonic()
    batch = 20_000
    for first in range(0, count, batch):
        span = (end - start) / count
        repository.append(
            [], records(account_id, min(batch, count - first), start + first * span, end)
        )
    stored = time.monotonic() - began
    began = time.monotonic()
    files = cut_log_files(repository, time.time())
    return {
        "store_seconds": round(stored, 1),
        "cut_seconds": round(time.monotonic() - began, 1),
        "log_files": len(files),
    }


def run_filter(logs, pattern: str, start_ms: int, end_ms: int) -> tuple[float, float, int]:
    """(seconds to the first page, seconds to the last page, events found)."""
    began = time.perf_counter()
    params = {"logGroupName": GROUP, "startTime": start_ms, "endTime": end_ms}
    params["filterPattern"] = pattern
    page = logs.filter_log_events(**params)
    first = time.perf_counter() - began
    found = len(page["events"])
    while "nextToken" in page:
        page = logs.filter_log_events(**params, nextToken=page["nextToken"])
        found += len(page["events"])
    return first, time.perf_counter() - began, found


def measure(storage: str | None, count: int, days: float, repeat: int, workdir: Path) -> list:
    target = start_strongroom(workdir, 1, storage=storage)
    account_id = target.client("cloudtrail").describe_trails()["trailList"][0]["TrailARN"]
    account_id = account_id.split(":")[4]
    target.process.terminate()
    target.process.wait()
    data_dir = workdir / "strongroom-1"
    storage_url = storage or f"sqlite:///{data_dir / 'strongroom.db'}"
    end = time.time() - 3600
    start = end - days * 86400
    filled = fill(storage_url, account_id, count, start, end)
    print(filled, flush=True)
    target = start_strongroom(workdir, 1, storage=storage)
    logs = target.client("logs")
    hour_start = int((start + (end - start) / 2) * 1000)
    rows = []
    for name, pattern in PATTERNS.items():
        hour_end = hour_start + 3_600_000
        runs = [run_filter(logs, pattern, hour_start, hour_end) for _ in range(repeat)]
        row = {
            "backend": "postgresql" if storage else "sqlite",
            "records": count,
            "days": days,
            "records_in_hour": round(count / (days * 24)),
            "pattern": name,
            "matched": runs[0][2],
            "first_page_s": round(statistics.median(r[0] for r in runs), 3),
            "all_pages_s": round(statistics.median(r[1] for r in runs), 3),
            **filled,
        }
        rows.append(row)
        print(row, flush=True)
    target.process.terminate()
    target.process.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", default="30,2")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/postgres")
    options = parser.parse_args()
    rows = []
    for days in (float(d) for d in options.days.split(",")):
        with tempfile.TemporaryDirectory() as directory:
            rows += measure(None, options.records, days, options.repeat, Path(directory))
        database = f"bench_filter_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(options.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        try:
            url = options.postgres.rsplit("/", 1)[0] + f"/{database}"
            with tempfile.TemporaryDirectory() as directory:
                rows += measure(url, options.records, days, options.repeat, Path(directory))
        finally:
            with psycopg.connect(options.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    write_report(rows, options)


def write_report(rows: list[dict], options: argparse.Namespace) -> None:
    lines = [
        "# FilterLogEvents on the audit log group, 1 hour of a large trail",
        "",
        f"Command: `python bench/audit_filter.py --records {options.records} "
        f"--days {options.days} --repeat {options.repeat}`  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 cores, "
        f"Python {platform.python_version()}; Strongroom TLS, 1 worker; boto3 client.",
        "",
        "Patterns: " + "; ".join(f"{name}: `{p}`" for name, p in PATTERNS.items()),
        "",
        "| backend | records | spread (days) | records in the hour | pattern | matched "
        "| first page s | all pages s | store s | cut s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['backend']} | {r['records']:,} | {r['days']:g} | {r['records_in_hour']:,} | "
        f"{r['pattern']} | {r['matched']:,} | {r['first_page_s']} | {r['all_pages_s']} | "
        f"{r['store_seconds']} | {r['cut_seconds']} |"
        for r in rows
    ]
    (HERE / "results" / "audit_filter.md").write_text("\n".join(lines) + "\n")
    (HERE / "results" / "audit_filter.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
