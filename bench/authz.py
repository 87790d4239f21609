"""What authorization costs: GetSecretValue (1 KB) at 32 connections as the administrator
(one policy: AdministratorAccess) and as a user with 10 attached managed policies of 20
statements each, all with conditions, whose very last statement is the one that allows the
call: every statement that could match is evaluated. Same server, taking turns, so that the
machine's drift hits both alike. The issue asks the user's rate to be at least 80% of the
administrator's.

    python bench/authz.py [--rounds 3] [--duration 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import api_load

HERE = Path(__file__).parent
POLICIES, STATEMENTS = 10, 20


def statement(policy: int, index: int) -> dict[str, Any]:
    """A statement of the kind real policies hold: wildcards, several actions, conditions."""
    last = policy == POLICIES - 1 and index == STATEMENTS - 1
    conditions = {
        "StringEquals": {"aws:RequestedRegion": "us-east-1"},
        "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
        "DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"},
    }
    if last:
        return {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:*:*:secret:bench/*",
            "Condition": conditions,
        }
    return {
        "Effect": "Allow",
        "Action": [f"secretsmanager:Describe{policy}*", "logs:Get*"],
        "Resource": f"arn:aws:secretsmanager:*:*:secret:t{policy}-{index}/*",
        "Condition": conditions,
    }


def user_with_policies(target: api_load.Target) -> api_load.Target:
    iam = target.client("iam")
    iam.create_user(UserName="bench-user")
    for policy in range(POLICIES):
        document = {
            "Version": "2012-10-17",
            "Statement": [statement(policy, index) for index in range(STATEMENTS)],
        }
        arn = iam.create_policy(PolicyName=f"bench-{policy}", PolicyDocument=json.dumps(document))[
            "Policy"
        ]["Arn"]
        iam.attach_user_policy(UserName="bench-user", PolicyArn=arn)
    key = iam.create_access_key(UserName="bench-user")["AccessKey"]
    return dataclasses.replace(
        target,
        name="user with 10 policies x 20 statements",
        access_key_id=key["AccessKeyId"],
        secret=key["SecretAccessKey"],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-authz-"))
    admin = api_load.start_strongroom(workdir, 1)
    try:
        call = api_load.secretsmanager_workloads(admin)["GetSecretValue 1 KB"]
        callers = {"administrator": admin, "user": user_with_policies(admin)}
        files = {}
        for name, caller in callers.items():
            files[name] = workdir / f"{name}.req"
            api_load.write_signed_requests(caller, [call], files[name])
            api_load.run_wrk(admin, files[name], 32, 2)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in callers}
        for _ in range(options.rounds):
            for name in callers:
                result = api_load.run_wrk(admin, files[name], 32, options.duration)
                assert result["errors"] == 0, result
                rates[name].append(result["rps"])
                print(name, json.dumps(result), flush=True)
    finally:
        admin.process.terminate()
        admin.process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    pairs = zip(rates["user"], rates["administrator"], strict=True)
    ratios = [user / admin for user, admin in pairs]
    lines = [
        "# Authorization cost: GetSecretValue as the administrator and as a user with "
        f"{POLICIES} policies x {STATEMENTS} statements",
        "",
        f"Command: `python bench/authz.py --rounds {options.rounds} "
        f"--duration {options.duration}` (1 worker, TLS, 32 connections, taking turns)",
        "",
        "| round | administrator req/s | user req/s | user / administrator |",
        "|---|---:|---:|---:|",
    ]
    for index, ratio in enumerate(ratios):
        admin_rate, user_rate = rates["administrator"][index], rates["user"][index]
        lines.append(f"| {index + 1} | {admin_rate:,.0f} | {user_rate:,.0f} | {ratio:.0%} |")
    out = HERE / "results" / "authz.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
