"""Load benchmark: Strongroom vs moto_server on the same machine, in the same run.

Suites: `kms` (Encrypt of 1 KB, GenerateDataKey, Sign with ECC_NIST_P256 and RSA_2048 keys,
Verify, GenerateMac) and `secretsmanager` (GetSecretValue of a 1 KB secret, PutSecretValue).
The kms suite also measures what the `cryptography` library alone does for each asymmetric and
HMAC primitive on this machine, in 1 and in 2 processes (the yardstick for Sign and Verify).

Both servers run on loopback in the same run and get the same pre-signed requests from wrk
at 1, 8 and 32 connections. Reported per run: throughput, p50/p99 latency, server CPU per
request (from /proc, user+system of the server process) and server RSS afterwards.

    python bench/api_load.py --suite kms|secretsmanager [--duration 10]

Needs wrk (Debian package `wrk`) and moto[server] (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import multiprocessing
import os
import platform
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

HERE = Path(__file__).parent
REGION = "us-east-1"
CONNECTIONS = (1, 8, 32)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, context: object = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1, context=context)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Target:
    name: str
    endpoint: str
    process: subprocess.Popen[bytes]
    access_key_id: str
    secret: str
    verify: str | bool

    def client(self, service: str = "kms"):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            verify=self.verify,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret,
            config=Config(retries={"max_attempts": 1}),
        )

    def processes(self) -> list[int]:
        """The server process and its workers (a supervisor's children)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == self.process.pid:
                children.append(int(stat.parent.name))
        return [self.process.pid, *children]

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.processes():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS

    def rss_mb(self) -> float:
        """The largest RSS of one process (the budget is per worker)."""
        sizes = []
        for pid in self.processes():
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024)
        return max(sizes)


def start_strongroom(workdir: Path, workers: int, storage: str | None = None) -> Target:
    port = free_port()
    data_dir = workdir / f"strongroom-{workers}"
    log = open(workdir / f"strongroom-{workers}.log", "ab")  # noqa: SIM115
    command = [sys.executable, "-m", "strongroom", "server", "--data-dir", str(data_dir)]
    command += ["--storage", storage] if storage else []
    command += ["--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    ca = data_dir / "tls" / "ca.pem"
    deadline = time.monotonic() + 30
    while not (data_dir / "credentials").exists() or not ca.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("strongroom did not initialise")
        time.sleep(0.1)
    wait_http(f"https://localhost:{port}/health", ssl.create_default_context(cafile=str(ca)))
    credentials = dict(
        line.split(" = ") for line in (data_dir / "credentials").read_text().splitlines()[1:]
    )
    return Target(
        f"strongroom (TLS, {workers} worker{'s' if workers > 1 else ''})",
        f"https://localhost:{port}",
        process,
        credentials["aws_access_key_id"],
        credentials["aws_secret_access_key"],
        str(ca),
    )


def start_moto(workdir: Path) -> Target:
    port = free_port()
    log = open(workdir / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [shutil.which("moto_server") or "moto_server", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/moto-api/")
    return Target(
        "moto_server (HTTP)",
        f"http://127.0.0.1:{port}",
        process,
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        False,
    )


def write_signed_requests(target: Target, calls: list[Call], path: Path) -> None:
    """Sign `calls` now for wrk to send round robin (see request.lua for the format)."""
    credentials = Credentials(target.access_key_id, target.secret)
    with path.open("wb") as out:
        for call in calls:
            request = AWSRequest(
                method="POST",
                url=target.endpoint + "/",
                data=json.dumps(call.body).encode(),  # one line: JSON without indent
                headers={
                    "X-Amz-Target": f"{call.target_prefix}.{call.operation}",
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            SigV4Auth(credentials, call.service, REGION).add_auth(request)
            lines = ["POST", *(f"{k}: {v}" for k, v in request.headers.items()), ""]
            out.write("\n".join(lines).encode() + b"\n" + request.body + b"\n")


def run_wrk(target: Target, request_file: Path, connections: int, duration: int) -> dict:
    threads = min(connections, 2)
    cpu_before = target.cpu_seconds()
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(HERE / "request.lua"),
            target.endpoint + "/",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_REQUEST": str(request_file)},
        check=True,
    ).stdout
    cpu = target.cpu_seconds() - cpu_before
    match = re.search(r"BENCH p50=(\d+) p99=(\d+) requests=(\d+) errors=(\d+)", output)
    requests = int(match[3])
    return {
        "rps": requests / duration,
        "p50_ms": int(match[1]) / 1000,
        "p99_ms": int(match[2]) / 1000,
        "errors": int(match[4]),
        "cpu_ms_per_request": cpu * 1000 / max(requests, 1),
        "rss_mb": target.rss_mb(),
    }


@dataclass(frozen=True)
class Call:
    service: str
    target_prefix: str
    operation: str
    body: dict


SIGNED_MESSAGE = os.urandom(32)


def kms_workloads(target: Target) -> dict[str, Call]:
    kms = target.client("kms")

    def new_key(**params: str) -> str:
        return kms.create_key(Description="bench", **params)["KeyMetadata"]["KeyId"]

    def call(operation: str, **body: str) -> Call:
        return Call("kms", "TrentService", operation, body)

    key_id = new_key()
    ecc_key = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    rsa_key = new_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    hmac_key = new_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    plaintext = base64.b64encode(os.urandom(1024)).decode()
    message = base64.b64encode(SIGNED_MESSAGE).decode()
    ecc_signature = kms.sign(
        KeyId=ecc_key, Message=SIGNED_MESSAGE, SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    return {
        "Encrypt 1 KB": call("Encrypt", KeyId=key_id, Plaintext=plaintext),
        "GenerateDataKey": call("GenerateDataKey", KeyId=key_id, KeySpec="AES_256"),
        "Sign ECC_NIST_P256": call(
            "Sign", KeyId=ecc_key, Message=message, SigningAlgorithm="ECDSA_SHA_256"
        ),
        "Sign RSA_2048 PSS": call(
            "Sign", KeyId=rsa_key, Message=message, SigningAlgorithm="RSASSA_PSS_SHA_256"
        ),
        "Verify ECC_NIST_P256": call(
            "Verify",
            KeyId=ecc_key,
            Message=message,
            Signature=base64.b64encode(ecc_signature).decode(),
            SigningAlgorithm="ECDSA_SHA_256",
        ),
        "GenerateMac HMAC_256": call(
            "GenerateMac", KeyId=hmac_key, Message=message, MacAlgorithm="HMAC_SHA_256"
        ),
    }


def kms_primitives() -> dict[str, Callable[[], object]]:
    """The primitive behind each asymmetric and HMAC workload, with `cryptography` alone."""
    ecc = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ecc_signature = ecc.sign(SIGNED_MESSAGE, ec.ECDSA(hashes.SHA256()))
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    mac_key = os.urandom(32)
    return {
        "Sign ECC_NIST_P256": lambda: ecc.sign(SIGNED_MESSAGE, ec.ECDSA(hashes.SHA256())),
        "Sign RSA_2048 PSS": lambda: rsa_key.sign(SIGNED_MESSAGE, pss, hashes.SHA256()),
        "Verify ECC_NIST_P256": lambda: ecc.public_key().verify(
            ecc_signature, SIGNED_MESSAGE, ec.ECDSA(hashes.SHA256())
        ),
        "GenerateMac HMAC_256": lambda: hmac.new(mac_key, SIGNED_MESSAGE, "sha256").digest(),
    }


def _primitive_rate(name: str, seconds: float) -> float:
    operation = kms_primitives()[name]
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(50):
            operation()
        done += 50
    return done / seconds


def primitive_baselines(seconds: float = 5.0) -> list[dict]:
    """Operations per second of each primitive in 1 process and in 2 (this machine's cores)."""
    rows = []
    for name in kms_primitives():
        for processes in (1, 2):
            with multiprocessing.Pool(processes) as pool:
                rates = pool.starmap(_primitive_rate, [(name, seconds)] * processes)
            rows.append({"primitive": name, "processes": processes, "ops": sum(rates)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def secretsmanager_workloads(target: Target) -> dict[str, Call]:
    name = "bench/secret-1kb"
    value = base64.b64encode(os.urandom(768)).decode()  # 1,024 characters
    target.client("secretsmanager").create_secret(Name=name, SecretString=value)
    prefix = "secretsmanager"
    return {
        "GetSecretValue 1 KB": Call(prefix, prefix, "GetSecretValue", {"SecretId": name}),
        "PutSecretValue 1 KB": Call(
            prefix, prefix, "PutSecretValue", {"SecretId": name, "SecretString": value}
        ),
    }


SUITES = {"kms": kms_workloads, "secretsmanager": secretsmanager_workloads}
BASELINES = {"kms": primitive_baselines}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", choices=SUITES, default="kms")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None)
    options = parser.parse_args()
    options.out = options.out or HERE / "results" / f"{options.suite}.md"
    baselines = BASELINES[options.suite]() if options.suite in BASELINES else []
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    targets = [start_strongroom(workdir, 1), start_strongroom(workdir, 2), start_moto(workdir)]
    rows = []
    try:
        for target in targets:
            for workload, call in SUITES[options.suite](target).items():
                request_file = workdir / f"{target.process.pid}-{call.operation}.req"
                write_signed_requests(target, [call], request_file)
                for connections in CONNECTIONS:
                    result = run_wrk(target, request_file, connections, options.duration)
                    row = {"server": target.name, "workload": workload, "connections": connections}
                    rows.append(row | result)
                    print(json.dumps(rows[-1]), flush=True)
    finally:
        for target in targets:
            target.process.terminate()
            target.process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    write_report(rows, baselines, options)


def write_report(rows: list[dict], baselines: list[dict], options: argparse.Namespace) -> None:
    options.out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# {options.suite} load benchmark: Strongroom vs moto_server",
        "",
        f"Command: `python bench/api_load.py --suite {options.suite} "
        f"--duration {options.duration}`  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, wrk on the same machine.",
        "",
        "| server | workload | conns | req/s | p50 ms | p99 ms | errors | server CPU ms/req "
        "| RSS MB per process |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['server']} | {r['workload']} | {r['connections']} | {r['rps']:.0f} "
        f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} "
        f"| {r['cpu_ms_per_request']:.3f} | {r['rss_mb']:.0f} |"
        for r in rows
    ]
    if baselines:
        lines += [
            "",
            "The same primitives with the `cryptography` library alone (no HTTP, no KMS), "
            "operations per second:",
            "",
            "| primitive | processes | ops/s |",
            "|---|---:|---:|",
        ]
        lines += [f"| {b['primitive']} | {b['processes']} | {b['ops']:.0f} |" for b in baselines]
    options.out.write_text("\n".join(lines) + "\n")
    results = {"rows": rows, "baselines": baselines} if baselines else rows
    options.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
