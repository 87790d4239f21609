"""Strongroom's own metrics through real servers: AWS/Usage CallCount published by each
process's flush thread (and on a clean stop), AWS/SecretsManager ResourceCount published hourly
by the leader (driven by a dev server's clock), and the Prometheus text at /metrics, summed over
two worker processes."""

from __future__ import annotations

import ssl
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BACKENDS
from tests.integration.test_workers import worker_pids
from tests.support.audit import raw_call, wait_for
from tests.support.operator import cli, post
from tests.support.server import Server, dev_server_for

USAGE = {"Type": "API", "Class": "None"}
SECRET_COUNT = {
    "Service": "Secrets Manager",
    "Type": "Resource",
    "Resource": "SecretCount",
    "Class": "None",
}


def dimensions(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in values.items()]


@pytest.fixture(params=BACKENDS)
def flushing_dev_server(request, tmp_path: Path) -> Iterator[Server]:
    """A dev server of the test's own whose processes publish their call counts every second."""
    with dev_server_for(request, tmp_path / "dev.log", "--usage-flush-seconds", "1") as server:
        yield server


def call_count(
    cloudwatch: Any, operation: str, statistic: str = "Sum", service: str = "Secrets Manager"
) -> float:
    """AWS/Usage CallCount of the last hour."""
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Usage",
        MetricName="CallCount",
        Dimensions=dimensions(USAGE | {"Service": service, "Resource": operation}),
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return sum(point[statistic] for point in points)


def settled_call_count(cloudwatch: Any, operation: str, expected: float) -> float:
    """The count once it reached `expected` (or whatever it is after the wait)."""
    with suppress(AssertionError):
        wait_for(lambda: call_count(cloudwatch, operation) >= expected, timeout=20)
    return call_count(cloudwatch, operation)


def scrape(server: Server) -> dict[str, Any]:
    """/metrics, parsed by prometheus_client: every sample by (name, sorted labels)."""
    context = ssl.create_default_context(cafile=server.ca_bundle) if server.ca_bundle else None
    with urllib.request.urlopen(f"{server.endpoint}/metrics", context=context) as reply:  # noqa: S310
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("text/plain")
        text = reply.read().decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return {"text": text, "samples": samples}


def requests_of(scraped: dict[str, Any], operation: str, status_class: str = "2xx") -> float:
    return sum(
        value
        for (name, labels), value in scraped["samples"].items()
        if name == "strongroom_requests_total"
        and ("operation", operation) in labels
        and ("status_class", status_class) in labels
    )


def test_every_authenticated_call_is_counted_in_aws_usage(flushing_dev_server):
    server = flushing_dev_server
    sm = server.client("secretsmanager")
    cloudwatch = server.client("cloudwatch")
    name = f"metrics/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="value")
    for _ in range(7):
        sm.get_secret_value(SecretId=name)
    # Failed calls are calls too; a request whose signature fails was made by no one.
    for _ in range(2):
        with pytest.raises(ClientError):
            sm.get_secret_value(SecretId=f"{name}/missing")
    forged = server.client("secretsmanager", aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        forged.get_secret_value(SecretId=name)
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"

    assert settled_call_count(cloudwatch, "GetSecretValue", 9) == 9
    assert call_count(cloudwatch, "GetSecretValue", "SampleCount") == 9
    assert call_count(cloudwatch, "CreateSecret") == 1
    listed = cloudwatch.list_metrics(Namespace="AWS/Usage", MetricName="CallCount")["Metrics"]
    expected = USAGE | {"Service": "Secrets Manager", "Resource": "GetSecretValue"}
    assert expected in [{d["Name"]: d["Value"] for d in metric["Dimensions"]} for metric in listed]
    # KMS calls count under KMS's own Service name; IAM publishes no usage metrics.
    server.client("kms").list_keys()
    server.client("iam").list_users()
    wait_for(lambda: call_count(cloudwatch, "ListKeys", service="KMS") == 1, timeout=20)
    assert call_count(cloudwatch, "ListUsers", service="IAM") == 0

    # AWS/ namespaces stay AWS's: customers cannot write into them.
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_metric_data(
            Namespace="AWS/Usage", MetricData=[{"MetricName": "CallCount", "Value": 1.0}]
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"


def secret_count(cloudwatch: Any, hour: float) -> list[tuple[float, float]]:
    """(count, times published) of the hour starting at `hour`."""
    start = datetime.fromtimestamp(hour, UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SecretsManager",
        MetricName="ResourceCount",
        Dimensions=dimensions(SECRET_COUNT),
        StartTime=start,
        EndTime=start + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum", "SampleCount"],
    )["Datapoints"]
    return [(point["Maximum"], point["SampleCount"]) for point in points]


def next_hour(server: Server) -> float:
    """Move the dev server's clock an hour on; the start of that hour."""
    status, reply = post(server, "/_strongroom/dev/clock", {"advance_seconds": 3600})
    assert status == 200, reply
    return float(reply["now"]) // 3600 * 3600


def test_secret_count_is_published_hourly_per_account_and_region(flushing_dev_server):
    server = flushing_dev_server
    home, other = "us-east-1", "eu-west-1"
    sm = {r: server.client("secretsmanager", region_name=r) for r in (home, other)}
    cloudwatch = {r: server.client("cloudwatch", region_name=r) for r in (home, other)}
    sm[home].create_secret(Name="count/one", SecretString="1")
    sm[home].create_secret(Name="count/two", SecretString="2")
    sm[home].delete_secret(SecretId="count/two", RecoveryWindowInDays=7)  # still counted
    sm[other].create_secret(Name="count/three", SecretString="3")

    hour = next_hour(server)
    assert wait_for(lambda: secret_count(cloudwatch[home], hour), timeout=20) == [(2, 1)]
    assert secret_count(cloudwatch[other], hour) == [(1, 1)]

    # Within the hour nothing more is published; the next hour counts again, and a Region
    # whose secrets are all gone says 0 rather than falling silent.
    sm[other].delete_secret(SecretId="count/three", ForceDeleteWithoutRecovery=True)
    later = next_hour(server)
    assert wait_for(lambda: secret_count(cloudwatch[other], later), timeout=20) == [(0, 1)]
    assert secret_count(cloudwatch[home], later) == [(2, 1)]
    assert secret_count(cloudwatch[home], hour) == [(2, 1)]


def test_prometheus_metrics_and_counts_published_on_a_clean_stop(make_server):
    # Counts are published once an hour here, so only the clean stop publishes them.
    server = make_server("sqlite", "--usage-flush-seconds", "3600")
    account_id = server.client("sts").get_caller_identity()["Account"]
    sm = server.client("secretsmanager")
    name = f"prometheus/{uuid.uuid4()}"
    sm.create_secret(Name=name, SecretString="value")
    for _ in range(5):
        sm.get_secret_value(SecretId=name)
    with pytest.raises(ClientError):
        sm.describe_secret(SecretId=f"{name}/missing")
    bogus = f"Bogus{uuid.uuid4().hex}"
    assert raw_call(server, f"secretsmanager.{bogus}", signing_name="secretsmanager").status == 400

    scraped = scrape(server)
    samples = scraped["samples"]
    assert requests_of(scraped, "GetSecretValue") == 5
    missing = [
        value
        for (metric, labels), value in samples.items()
        if metric == "strongroom_requests_total"
        and dict(labels)
        == {
            "service": "secretsmanager",
            "operation": "DescribeSecret",
            "status_class": "4xx",
            "error_code": "ResourceNotFoundException",
        }
    ]
    assert missing == [1]
    assert requests_of(scraped, "unknown", "4xx") == 1  # a name no model has is no label
    latency = {"service": "secretsmanager", "operation": "GetSecretValue"}
    buckets = {
        dict(labels)["le"]: value
        for (metric, labels), value in samples.items()
        if metric == "strongroom_request_duration_seconds_bucket"
        and {k: v for k, v in labels if k != "le"} == latency
    }
    assert buckets["+Inf"] == 5 and len(buckets) > 5
    assert list(buckets.values()) == sorted(buckets.values())  # cumulative
    count = ("strongroom_request_duration_seconds_count", tuple(sorted(latency.items())))
    assert samples[count] == 5
    assert samples[("strongroom_sealed", ())] == 0
    assert samples[("strongroom_audit_writable", ())] == 1
    assert samples[("strongroom_job_backlog", (("job", "secretsmanager.rotate"),))] == 0
    assert ("strongroom_job_lag_seconds", (("job", "audit.deliver"),)) in samples
    # Nothing that names a customer, a resource or a credential.
    access_key_id, _ = server.credentials()
    for private in (account_id, name, access_key_id, bogus):
        assert private not in scraped["text"]

    server.restart()
    cloudwatch = server.client("cloudwatch")
    assert call_count(cloudwatch, "GetSecretValue") == 5
    assert call_count(cloudwatch, "DescribeSecret") == 1

    assert cli(server, "seal").returncode == 0
    assert scrape(server)["samples"][("strongroom_sealed", ())] == 1


def test_two_workers_count_every_call(make_server):
    server = make_server("sqlite", "--workers", "2", "--usage-flush-seconds", "1")
    workers = worker_pids(server)
    name = f"workers/{uuid.uuid4()}"
    server.client("secretsmanager").create_secret(Name=name, SecretString="value")
    calls = 24
    for _ in range(calls):  # new clients, new connections: the kernel spreads them
        server.client("secretsmanager").get_secret_value(SecretId=name)
    files = {path.name for path in (server.data_dir / "metrics").iterdir()}
    assert {f"counter_{pid}.db" for pid in workers} <= files  # both workers counted calls
    for _ in range(6):  # each scrape reaches one worker and sums them all
        assert requests_of(scrape(server), "GetSecretValue") == calls
    cloudwatch = server.client("cloudwatch")
    assert settled_call_count(cloudwatch, "GetSecretValue", calls) == calls
