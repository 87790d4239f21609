"""What the audit log group's metric filters cost: GetSecretValue (1 KB) at 32 connections
against one server (TLS, 1 worker) with no metric filter on `CloudTrail/AlphaVoxSecrets`, and
with 10 varied ones (the source document's SecretAccess among them), taking turns in one run
so that the machine's drift hits both alike: each round measures both, the one that went second
going first in the next (a server slows as its audit table grows). The issue asks the rate with
the filters to stay at least 90% of the rate without.

Every call's CloudTrail record is matched by the leader's job (`logs.audit_metric_filters`),
which runs in the server's jobs thread; its CPU is read from /proc (the thread is named
`strongroom-jobs`) from the start of a round until 2 s after it, when the job has caught up.
SecretAccess's Sum over the filtered rounds is checked against the calls the server answered.

    python bench/metric_filters.py [--rounds 3] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import api_load

HERE = Path(__file__).parent
GROUP = "CloudTrail/AlphaVoxSecrets"
JOBS_THREAD = "strongroom-jobs"
DRAIN_SECONDS = 2
# CloudTrail metric filters of the kind monitoring guides recommend (CIS AWS Foundations'
# alarms, the source document's SecretAccess), some answered from indexed columns, some
# needing every record parsed, two with dimensions, one a plain term.
FILTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "SecretAccess": ("{ $.eventName = GetSecretValue }", {}),
    "SecretReads": (
        "{ $.eventName = GetSecretValue && $.errorCode NOT EXISTS }",
        {"dimensions": {"SecretId": "$.requestParameters.secretId"}},
    ),
    "SecretChanges": (
        "{ ($.eventSource = secretsmanager.amazonaws.com) && (($.eventName = PutSecretValue) || "
        "($.eventName = UpdateSecret) || ($.eventName = DeleteSecret)) }",
        {},
    ),
    "UnauthorizedCalls": (
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        {},
    ),
    "RootUsage": (
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && '
        '$.eventType != "AwsServiceEvent" }',
        {},
    ),
    "KeyDisabledOrDeleted": (
        "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || "
        "($.eventName = ScheduleKeyDeletion)) }",
        {},
    ),
    "PolicyChanges": (
        "{ ($.eventName = PutUserPolicy) || ($.eventName = PutRolePolicy) || "
        "($.eventName = AttachUserPolicy) || ($.eventName = AttachRolePolicy) || "
        "($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicy) }",
        {},
    ),
    "SignInFailures": (
        '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
        {},
    ),
    "ReadsByUser": (
        "{ $.eventSource = secretsmanager.amazonaws.com && $.readOnly IS TRUE }",
        {"dimensions": {"User": "$.userIdentity.userName"}},
    ),
    "Throttled": ("ThrottlingException", {}),
}


def jobs_thread_cpu(target: api_load.Target) -> float:
    """CPU seconds of the server's jobs thread(s) so far."""
    total = 0
    for pid in target.processes():
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                if (task / "comm").read_text().strip() != JOBS_THREAD:
                    continue
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / api_load.CLOCK_TICKS


def put_filters(logs: Any) -> None:
    for name, (pattern, extra) in FILTERS.items():
        transformation = {"metricName": name, "metricNamespace": "AlphaVox", "metricValue": "1"}
        logs.put_metric_filter(
            logGroupName=GROUP,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[transformation | extra],
        )


def delete_filters(logs: Any) -> None:
    for name in FILTERS:
        logs.delete_metric_filter(logGroupName=GROUP, filterName=name)


def secret_access_sum(cloudwatch: Any, since: float) -> float:
    reply = cloudwatch.get_metric_statistics(
        Namespace="AlphaVox",
        MetricName="SecretAccess",
        StartTime=datetime.fromtimestamp(since - 60, UTC),
        EndTime=datetime.fromtimestamp(time.time() + 60, UTC),
        Period=86400,
        Statistics=["Sum"],
    )
    return float(sum(p["Sum"] for p in reply["Datapoints"]))


def round_of(target: api_load.Target, request_file: Path, duration: int) -> dict[str, float]:
    cpu_before = jobs_thread_cpu(target)
    result = api_load.run_wrk(target, request_file, 32, duration)
    assert result["errors"] == 0, result
    time.sleep(DRAIN_SECONDS)
    job_cpu = jobs_thread_cpu(target) - cpu_before
    return result | {
        "job_cpu_s": job_cpu,
        "job_cpu_percent_of_core": 100 * job_cpu / duration,
        "job_cpu_us_per_request": 1e6 * job_cpu / (result["rps"] * duration),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-metric-filters-"))
    target = api_load.start_strongroom(workdir, 1)
    rows: list[dict[str, Any]] = []
    try:
        call = api_load.secretsmanager_workloads(target)["GetSecretValue 1 KB"]
        request_file = workdir / "get.req"
        api_load.write_signed_requests(target, [call], request_file)
        logs, cloudwatch = target.client("logs"), target.client("cloudwatch")
        api_load.run_wrk(target, request_file, 32, options.duration)  # warm-up
        since, counted_calls = time.time(), 0.0
        for index in range(options.rounds):
            order = (0, len(FILTERS)) if index % 2 == 0 else (len(FILTERS), 0)
            for filters in order:
                if filters:
                    put_filters(logs)
                row = {"round": index + 1, "filters": filters}
                row |= round_of(target, request_file, options.duration)
                if filters:
                    delete_filters(logs)
                    counted_calls += row["rps"] * options.duration
                rows.append(row)
                print(json.dumps(row), flush=True)
        counted = secret_access_sum(cloudwatch, since)
    finally:
        target.process.terminate()
        target.process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    report(rows, counted, counted_calls, options)


def report(rows: list[dict[str, Any]], counted: float, calls: float, options: Any) -> None:
    lines = [
        "| round | no filter req/s | 10 filters req/s | ratio | jobs thread CPU, no filter "
        "| jobs thread CPU, 10 filters | per call |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for index in range(options.rounds):
        bare, filtered = sorted(rows[2 * index : 2 * index + 2], key=lambda row: row["filters"])
        ratios.append(filtered["rps"] / bare["rps"])
        lines.append(
            f"| {index + 1} | {bare['rps']:,.0f} | {filtered['rps']:,.0f} | {ratios[-1]:.0%} "
            f"| {bare['job_cpu_percent_of_core']:.1f}% | "
            f"{filtered['job_cpu_percent_of_core']:.1f}% "
            f"| {filtered['job_cpu_us_per_request']:.0f} µs |"
        )
    summary = {
        "command": f"python bench/metric_filters.py --rounds {options.rounds} "
        f"--duration {options.duration}",
        "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "filters": {name: pattern for name, (pattern, _) in FILTERS.items()},
        "rows": rows,
        "ratios": ratios,
        "secret_access_sum": counted,
        "calls_answered_in_filtered_rounds": calls,
    }
    out = HERE / "results" / "metric_filters.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))
    print(f"SecretAccess Sum {counted:,.0f}; calls answered in the filtered rounds {calls:,.0f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
