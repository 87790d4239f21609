"""GetSecretValue (1 KB) at 32 connections against several source trees of Strongroom, taking
turns in one run, so that a change is measured against its parent on the same machine in the
same minutes (this machine's rates drift by 20-30% between runs, and more while other work
runs beside them).

    git worktree add /tmp/before <commit>
    python bench/compare_trees.py /tmp/before /work/main [--rounds 3] [--duration 8]
                                  [--workers 2] [--postgres postgresql://127.0.0.1:5432/postgres]

Each tree's server runs with that tree's `src` first on PYTHONPATH (1 worker unless told,
TLS), on SQLite or, with --postgres, on a fresh database there (dropped afterwards). Prints
requests per second, server CPU per request and median latency per round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import api_load
import psycopg


def measure(tree: Path, duration: int, workers: int, postgres: str | None) -> dict[str, float]:
    os.environ["PYTHONPATH"] = str(tree / "src")
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-compare-"))
    storage = database = None
    if postgres:
        database = f"bench_compare_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        storage = "postgresql+psycopg://" + postgres.split("://", 1)[1].rsplit("/", 1)[0]
        storage += f"/{database}"
    target = api_load.start_strongroom(workdir, workers, storage)
    try:
        call = api_load.secretsmanager_workloads(target)["GetSecretValue 1 KB"]
        request_file = workdir / "get.req"
        api_load.write_signed_requests(target, [call], request_file)
        api_load.run_wrk(target, request_file, 32, 2)  # warm-up
        return api_load.run_wrk(target, request_file, 32, duration)
    finally:
        target.process.terminate()
        target.process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        if postgres:
            with psycopg.connect(postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server's URL")
    options = parser.parse_args()
    results: dict[Path, list[dict[str, float]]] = {tree: [] for tree in options.trees}
    for _ in range(options.rounds):
        for tree in options.trees:
            results[tree].append(measure(tree, options.duration, options.workers, options.postgres))
            print(tree, json.dumps(results[tree][-1]), flush=True)
    for tree, rows in results.items():
        print(
            f"{tree}: req/s {[round(r['rps']) for r in rows]}, "
            f"CPU ms/request {[round(r['cpu_ms_per_request'], 3) for r in rows]}, "
            f"p50 ms {[r['p50_ms'] for r in rows]}"
        )


if __name__ == "__main__":
    main()
