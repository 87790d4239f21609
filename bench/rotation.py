"""The rotation scheduler under load, on a `--dev` server (its clock can be moved):

1. N secrets rotate with the built-in random rotator (RotationRules AutomaticallyAfterDays=1),
   and R EventBridge rules `rate(1 day)` target a Lambda function;
2. the server idles: its CPU use over a minute, from /proc;
3. the clock moves one day on: every window opens and every rule comes due at once. How long
   until all have run, and whether any ran twice or not at all (each secret's versions,
   each rule's invocations in the function's log group);
4. the server idles again.

Also the end-to-end time of one rotation with the built-in rotator on the idle server (from
RotateSecret to the new version being AWSCURRENT), and, in the same run, moto_server's answer
to RotateSecret (moto rotates inline when asked, never on a schedule).

    python bench/rotation.py --secrets 10000 --rules 1000
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import boto3
from api_load import HERE, free_port, start_moto, wait_http
from botocore.config import Config

from strongroom.config import DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY

REGION = "us-east-1"
ACCOUNT = "123456789012"
RANDOM_ROTATOR = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:strongroom-rotation-random"
DAY = 86400
TICKS = 1.0  # the scheduler's tick (jobs/scheduler.py)
SCHEDULED = "bench/rotation/"
RULES_PER_REGION = 250  # AWS allows 300 rules per event bus
RULE_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
STRONGROOM = [sys.executable, "-m", "strongroom", "server"]


class Dev:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        log = open(workdir / "strongroom-dev.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*STRONGROOM, "--dev", "--port", str(self.port), "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://localhost:{self.port}"
        wait_http(f"{self.endpoint}/health")

    def client(self, service: str, region: str = REGION):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=DEV_ACCESS_KEY_ID,
            aws_secret_access_key=DEV_SECRET_ACCESS_KEY,
            config=Config(retries={"max_attempts": 3}, max_pool_connections=16),
        )

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks

    def advance(self, seconds: float) -> float:
        """Move the dev clock on; the server's time now (epoch seconds)."""
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the dev server
            f"{self.endpoint}/_strongroom/dev/clock",
            data=json.dumps({"advance_seconds": seconds}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return time.time() + float(json.loads(response.read())["offset_seconds"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def idle_cpu(server: Dev, seconds: float) -> float:
    """The server's CPU use over `seconds` of idling, in % of one core."""
    before = server.cpu_seconds()
    time.sleep(seconds)
    return 100 * (server.cpu_seconds() - before) / seconds


def make_secrets(server: Dev, count: int) -> list[str]:
    def one(n: int) -> str:
        sm = clients[n % len(clients)]
        arn = sm.create_secret(Name=f"{SCHEDULED}{n}", SecretString="x" * 32)["ARN"]
        sm.rotate_secret(
            SecretId=arn,
            RotationLambdaARN=RANDOM_ROTATOR,
            RotationRules={"AutomaticallyAfterDays": 1},
        )
        return str(arn)

    clients = [server.client("secretsmanager") for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def make_rules(server: Dev, count: int) -> list[tuple[str, str]]:
    """`count` rules `rate(1 day)`, each targeting a function of its Region: AWS allows 300
    rules per event bus, so they spread over Regions (250 each). The (Region, log group) of
    each target function."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = server.client("iam").create_role(
        RoleName="bench-target", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event['id']\n")
    targets = []
    for first in range(0, count, RULES_PER_REGION):
        region = RULE_REGIONS[first // RULES_PER_REGION]
        lam, events = server.client("lambda", region), server.client("events", region)
        function = lam.create_function(
            FunctionName="bench-target",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": package.getvalue()},
        )["FunctionArn"]
        lam.add_permission(
            FunctionName="bench-target",
            StatementId="events",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
        )
        for n in range(first, min(count, first + RULES_PER_REGION)):
            events.put_rule(Name=f"bench-{n}", ScheduleExpression="rate(1 day)")
            events.put_targets(Rule=f"bench-{n}", Targets=[{"Id": "1", "Arn": function}])
        targets.append((region, "/aws/lambda/bench-target"))
    return targets


def rotated_at(server: Dev) -> list[float]:
    """LastRotatedDate of every scheduled secret (0 for none), through ListSecrets."""
    pages = server.client("secretsmanager").get_paginator("list_secrets")
    scheduled = [{"Key": "name", "Values": [SCHEDULED]}]
    return [
        s["LastRotatedDate"].timestamp() if "LastRotatedDate" in s else 0.0
        for page in pages.paginate(Filters=scheduled, PaginationConfig={"PageSize": 100})
        for s in page["SecretList"]
    ]


def invocations(server: Dev, targets: list[tuple[str, str]]) -> int:
    """How many times the target functions ran (their START lines)."""
    total = 0
    for region, group in targets:
        logs = server.client("logs", region)
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=group, filterPattern='"START RequestId"'
            )
            total += sum(len(page["events"]) for page in pages)
        except logs.exceptions.ResourceNotFoundException:
            continue
    return total


def version_counts(server: Dev, arns: list[str]) -> dict[int, int]:
    sm = server.client("secretsmanager")
    counts: dict[int, int] = {}
    for arn in arns:
        versions = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
        counts[len(versions)] = counts.get(len(versions), 0) + 1
    return counts


def wait_until(check, timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            return float("nan")
        time.sleep(1)
    return time.monotonic() - started


def one_rotation_seconds(client, arn: str) -> float:
    started = time.monotonic()
    version = client.rotate_secret(SecretId=arn, RotationLambdaARN=RANDOM_ROTATOR)["VersionId"]
    while "AWSCURRENT" not in client.describe_secret(SecretId=arn)["VersionIdsToStages"].get(
        version, []
    ):
        time.sleep(0.01)
    return time.monotonic() - started


def moto_rotate_seconds(workdir: Path, samples: int) -> float:
    moto = start_moto(workdir)
    try:
        sm = moto.client("secretsmanager")
        times = []
        for n in range(samples):
            sm.create_secret(Name=f"moto/{n}", SecretString="x" * 32)
            started = time.monotonic()
            sm.rotate_secret(SecretId=f"moto/{n}", RotationRules={"AutomaticallyAfterDays": 1})
            times.append(time.monotonic() - started)
        return statistics.median(times)
    finally:
        moto.process.terminate()
        moto.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-bench-rotation-"))
    server = Dev(workdir)
    report: dict[str, object] = {
        "command": " ".join(["python", *sys.argv]),
        "options": vars(options),
    }
    try:
        sm = server.client("secretsmanager")
        single = sm.create_secret(Name="bench/one", SecretString="y" * 32)["ARN"]
        report["one_rotation_idle_s"] = sorted(one_rotation_seconds(sm, single) for _ in range(10))
        started = time.monotonic()
        arns = make_secrets(server, options.secrets)
        report["create_and_rotate_s"] = time.monotonic() - started
        report["first_rotations_done_s"] = (
            wait_until(lambda: min(rotated_at(server)) > 0, timeout=3600)
            + report["create_and_rotate_s"]
        )
        targets = make_rules(server, options.rules)
        report["idle_cpu_percent_before"] = idle_cpu(server, options.idle_seconds)

        moved_at = time.time() + DAY + 120
        server.advance(DAY + 120)
        started = time.monotonic()
        report["all_rules_fired_s"] = wait_until(
            lambda: invocations(server, targets) >= options.rules, timeout=3600
        )
        report["all_windows_rotated_s"] = wait_until(
            lambda: min(rotated_at(server)) >= moved_at - 300, timeout=3600
        )
        report["catch_up_total_s"] = time.monotonic() - started
        time.sleep(5 * TICKS)  # room for a duplicate, if there were one
        report["rule_invocations"] = invocations(server, targets)
        report["secrets_by_version_count"] = version_counts(server, arns)
        report["idle_cpu_percent_after"] = idle_cpu(server, options.idle_seconds)
    finally:
        server.stop()
    report["moto_rotate_secret_answer_s"] = moto_rotate_seconds(workdir, 20)
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    (HERE / "results" / "rotation.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
