"""The alarm evaluator under load, on a `--dev` server (its clock can be moved):

1. N alarms, each on a metric of its own (a mix: Sum 1 of 1, Maximum 2 of 3, p90, and a
   metric math expression), created with PutMetricAlarm;
2. each round puts one minute's datapoint on every metric (one PutMetricData of up to 1,000
   metrics), breaching in even rounds and calm in odd ones, then moves the clock to the next
   minute: every alarm is evaluated and (but for the first round's 2-of-3 ones) changes
   state, the most work an evaluation does (a history item and a compare-and-set). How long
   until they all changed (and 2 s more, for evaluations still under way), and the server's
   CPU for it, from /proc, less its idle CPU over the same time: a minute's evaluation of N
   alarms costs that CPU once a minute.

moto_server stores alarms but never evaluates one, so there is nothing of moto's to set beside
these numbers.

    python bench/alarm_evaluator.py --alarms 1000 --rounds 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from api_load import HERE
from rotation import Dev, idle_cpu

NAMESPACE = "Bench/Alarms"
THRESHOLD = 10.0


def alarm_settings(n: int) -> dict:
    """The n-th alarm's settings: a quarter of each kind."""
    metric = f"m{n}"
    kind = n % 4
    if kind == 3:
        return {
            "Metrics": [
                {
                    "Id": "m1",
                    "MetricStat": {
                        "Metric": {"Namespace": NAMESPACE, "MetricName": metric},
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                    "ReturnData": False,
                },
                {"Id": "e1", "Expression": "m1 * 2 - m1", "ReturnData": True},
            ],
            "EvaluationPeriods": 1,
        }
    base = {"Namespace": NAMESPACE, "MetricName": metric, "Period": 60}
    if kind == 0:
        return base | {"Statistic": "Sum"}
    if kind == 1:
        return base | {"Statistic": "Maximum", "EvaluationPeriods": 3, "DatapointsToAlarm": 2}
    return base | {"ExtendedStatistic": "p90"}


def in_round_state(count: int, round_number: int) -> int:
    """How many alarms are in the round's state once it is evaluated: all, but in the first
    round the 2-of-3 ones (kind 1), which need a second breaching datapoint (they alarm from
    the third round on: breaching, calm, breaching)."""
    return count - len(range(1, count, 4)) if round_number == 0 else count


def make_alarms(server: Dev, count: int) -> None:
    cloudwatch = server.client("cloudwatch")
    for n in range(count):
        cloudwatch.put_metric_alarm(
            AlarmName=f"bench-{n:05d}",
            ComparisonOperator="GreaterThanThreshold",
            Threshold=THRESHOLD,
            TreatMissingData="notBreaching",
            **alarm_settings(n),
        )


def put_minute(server: Dev, count: int, moment: float, value: float) -> None:
    cloudwatch = server.client("cloudwatch")
    stamp = datetime.fromtimestamp(moment, UTC)
    for first in range(0, count, 1000):
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {"MetricName": f"m{n}", "Timestamp": stamp, "Value": value}
                for n in range(first, min(count, first + 1000))
            ],
        )


def in_state(server: Dev, state: str) -> int:
    cloudwatch = server.client("cloudwatch")
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix="bench-", StateValue=state, PaginationConfig={"PageSize": 100}
    )
    return sum(len(page["MetricAlarms"]) for page in pages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        server = Dev(Path(workdir))
        try:
            started = time.monotonic()
            make_alarms(server, args.alarms)
            created = time.monotonic() - started
            time.sleep(10)  # the alarms' first evaluation is not idling
            idle = idle_cpu(server, 20)
            rounds = []
            for r in range(args.rounds):
                breaching = r % 2 == 0
                minute = server.advance(0) // 60 * 60
                put_minute(server, args.alarms, minute + 1, 15.0 if breaching else 5.0)
                cpu_before, began = server.cpu_seconds(), time.monotonic()
                server.advance(minute + 61 - server.advance(0))
                wanted = "ALARM" if breaching else "OK"
                while in_state(server, wanted) < in_round_state(args.alarms, r):
                    time.sleep(1)
                time.sleep(2)
                elapsed = time.monotonic() - began
                cpu = server.cpu_seconds() - cpu_before - idle / 100 * elapsed
                rounds.append({"to": wanted, "seconds": round(elapsed, 2), "cpu_s": round(cpu, 3)})
                print(rounds[-1], flush=True)
            idle_after = idle_cpu(server, 20)
        finally:
            server.stop()
    cpu_per_minute = statistics.median(r["cpu_s"] for r in rounds)
    report = {
        "alarms": args.alarms,
        "create_seconds": round(created, 1),
        "idle_cpu_percent": round(idle, 3),
        "idle_cpu_percent_after": round(idle_after, 3),
        "rounds": rounds,
        "median_cpu_seconds_per_minute": cpu_per_minute,
        "percent_of_a_core": round(100 * cpu_per_minute / 60, 2),
    }
    print(json.dumps(report, indent=2))
    (HERE / "results" / "alarm_evaluator.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
