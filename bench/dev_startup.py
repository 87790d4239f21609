"""How soon a `strongroom server --dev` answers its first signed API call.

    python bench/dev_startup.py [--runs 10] [--out bench/results/dev_startup.md]

Each run starts a fresh dev server, waits for its port, then calls KMS ListKeys (boto3, real
SigV4); the time is from process start to that first answer.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3
from api_load import free_port
from botocore.config import Config

HERE = Path(__file__).parent


def one_run() -> float:
    port = free_port()
    kms = boto3.client(
        "kms",
        endpoint_url=f"http://localhost:{port}",
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.2),
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "server", "--dev", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Wait for the port first: a refused connection through boto3 costs far more than a
        # raw connect, and would be measured as server start-up.
        while not _port_open(port):
            if time.perf_counter() - started > 30:
                raise RuntimeError("the dev server did not open its port")
            time.sleep(0.005)
        kms.list_keys()
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dev_startup.md")
    options = parser.parse_args()
    times = [one_run() for _ in range(options.runs)]
    lines = [
        "# `strongroom server --dev`: time to the first answered API call",
        "",
        f"Command: `python bench/dev_startup.py --runs {options.runs}`  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"- median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
        f"max {max(times):.3f} s over {len(times)} starts",
        f"- every run: {', '.join(f'{t:.3f}' for t in times)}",
    ]
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
