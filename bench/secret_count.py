"""Does Strongroom slow down or grow as the store fills? The same load at 1,000 and at 100,000
stored secrets (1 KB each), on one Strongroom server (TLS, 2 workers, SQLite):

- GetSecretValue of one hot secret, and spread round robin over 2,000 secrets picked at random
  from the whole store (so that most reads miss the per-process caches at first);
- ListSecrets first page (MaxResults 100), and a name-filtered page near the end of the order;
- server RSS per process after the runs, and the store's size on disk.

    python bench/secret_count.py [--duration 10] [--secrets 1000,100000]

Needs wrk (Debian package `wrk`). moto_server is not in this run: it keeps secrets in a Python
dict, and api_load.py compares the two on the same calls.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from api_load import HERE, Call, Target, run_wrk, start_strongroom, write_signed_requests

SM = "secretsmanager"
CONNECTIONS = 32
SPREAD = 2000


def secret_name(n: int) -> str:
    return f"bench/count/{n:06d}"


def fill(target: Target, start: int, stop: int) -> float:
    """Create secrets start..stop-1 (1 KB values); returns creations per second."""
    client = target.client(SM)
    began = time.monotonic()

    def create(n: int) -> None:
        value = base64.b64encode(os.urandom(768)).decode()
        client.create_secret(Name=secret_name(n), SecretString=value)

    with ThreadPoolExecutor(16) as pool:
        for _ in pool.map(create, range(start, stop)):
            pass
    return (stop - start) / (time.monotonic() - began)


def workloads(count: int) -> dict[str, list[Call]]:
    def get(n: int) -> Call:
        return Call(SM, SM, "GetSecretValue", {"SecretId": secret_name(n)})

    picked = random.Random(count).sample(range(count), min(SPREAD, count))
    late = secret_name(count - 50)[:-2]  # a prefix matching the last hundred names or so
    return {
        "GetSecretValue, one secret": [get(0)],
        f"GetSecretValue, {len(picked)} secrets round robin": [get(n) for n in picked],
        "ListSecrets first page of 100": [Call(SM, SM, "ListSecrets", {"MaxResults": 100})],
        "ListSecrets name filter, late in the order": [
            Call(
                SM,
                SM,
                "ListSecrets",
                {"MaxResults": 100, "Filters": [{"Key": "name", "Values": [late]}]},
            )
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--secrets", default="1000,100000")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "secret_count.md")
    options = parser.parse_args()
    sizes = [int(size) for size in options.secrets.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    target = start_strongroom(workdir, 2)
    rows, fills = [], []
    try:
        stored = 0
        for size in sizes:
            rate = fill(target, stored, size)
            fills.append({"from": stored, "to": size, "creates_per_s": rate})
            print(json.dumps(fills[-1]), flush=True)
            stored = size
            for workload, calls in workloads(size).items():
                request_file = workdir / "requests"
                write_signed_requests(target, calls, request_file)
                connections = 8 if calls[0].operation == "ListSecrets" else CONNECTIONS
                result = run_wrk(target, request_file, connections, options.duration)
                rows.append({"secrets": size, "workload": workload, "connections": connections})
                rows[-1] |= result | {"store_mb": store_mb(workdir)}
                print(json.dumps(rows[-1]), flush=True)
    finally:
        target.process.terminate()
        target.process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    write_report(rows, fills, options)


def store_mb(workdir: Path) -> float:
    files = (workdir / "strongroom-2").glob("*.db*")
    return sum(f.stat().st_size for f in files) / 2**20


def write_report(rows: list[dict], fills: list[dict], options: argparse.Namespace) -> None:
    lines = [
        "# Latency and memory as the store fills: 1,000 vs 100,000 secrets",
        "",
        f"Command: `python bench/secret_count.py --duration {options.duration} "
        f"--secrets {options.secrets}`  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Strongroom with TLS and 2 workers on SQLite, wrk "
        "on the same machine.",
        "",
        "Filling (CreateSecret with 1 KB values from 16 client threads): "
        + ", ".join(
            f"{f['from']:,}→{f['to']:,} at {f['creates_per_s']:.0f} creates/s" for f in fills
        ),
        "",
        "| secrets | workload | conns | req/s | p50 ms | p99 ms | errors | RSS MB per process "
        "| store MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['secrets']:,} | {r['workload']} | {r['connections']} | {r['rps']:.0f} "
        f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['rss_mb']:.0f} "
        f"| {r['store_mb']:.0f} |"
        for r in rows
    ]
    options.out.write_text("\n".join(lines) + "\n")
    options.out.with_suffix(".json").write_text(json.dumps(rows + fills, indent=2) + "\n")
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
