"""The source document's monitoring commands verbatim through the stock aws CLI after
`eval "$(strongroom env)"`: the "Security Monitoring" metric filter on the CloudTrail log group
and its alarm, which 11 secret reads in 5 minutes set off (10 do not) and which notifies the
security team's topic, reaching a real HTTP endpoint and a real SMTP server; step 2 of "Secret
Compromise Response", which must return exactly the GetSecretValue calls; and step 4, its
`aws sns publish`, which reaches every confirmed subscription."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BACKENDS
from tests.integration.test_cloudwatch_alarms import current_minute, evaluate_at, wait_for_state
from tests.integration.test_seed_kms import run_shell
from tests.integration.test_seed_rotation import shell
from tests.integration.test_sns import confirmed_http_subscription, visit
from tests.support.audit import request_id, wait_for
from tests.support.notifications import Endpoint
from tests.support.server import Server, dev_server_for

PUT_METRIC_FILTER = """
eval "$(strongroom env)"
# Alert on secret access
aws logs put-metric-filter \\
    --log-group-name "CloudTrail/AlphaVoxSecrets" \\
    --filter-name "SecretAccess" \\
    --filter-pattern "{ $.eventName = GetSecretValue }" \\
    --metric-transformations \\
        metricName=SecretAccess,metricNamespace=AlphaVox,metricValue=1
"""

# The document's alarm, with the security team's topic added as its action.
PUT_METRIC_ALARM = """
# Create alarm
aws cloudwatch put-metric-alarm \\
    --alarm-name "AlphaVox-Unusual-Secret-Access" \\
    --alarm-description "Alert on unusual secret access patterns" \\
    --metric-name SecretAccess \\
    --namespace AlphaVox \\
    --statistic Sum \\
    --period 300 \\
    --threshold 10 \\
    --comparison-operator GreaterThanThreshold \\
    --alarm-actions arn:aws:sns:us-east-1:123456789012:security-alerts
"""

NOTIFY_SECURITY_TEAM = """
# 4. Notify security team
aws sns publish \\
    --topic-arn arn:aws:sns:us-east-1:123456789012:security-alerts \\
    --message "AlphaVox secret rotation completed due to potential compromise"
"""

REVIEW_ACCESS_LOGS = """
eval "$(strongroom env)"
# 2. Review access logs
aws logs filter-log-events \\
    --log-group-name CloudTrail/AlphaVoxSecrets \\
    --start-time $(date -d '24 hours ago' +%s)000 \\
    --filter-pattern "{ $.eventName = GetSecretValue }"
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_review_access_logs_returns_exactly_the_secret_reads(make_server, backend):
    server = make_server(backend)
    secrets = server.client("secretsmanager")
    secrets.create_secret(Name="alphavox/admin-credentials", SecretString='{"username":"a"}')
    reads = {
        request_id(secrets.get_secret_value(SecretId="alphavox/admin-credentials"))
        for _ in range(3)
    }
    secrets.describe_secret(SecretId="alphavox/admin-credentials")
    secrets.list_secrets()
    missing = secrets.exceptions.ResourceNotFoundException
    with pytest.raises(missing) as failed:
        secrets.get_secret_value(SecretId="alphavox/no-such-secret")
    reads.add(request_id(failed.value.response))  # a refused read is a read all the same

    done = run_shell(PUT_METRIC_FILTER, str(server.data_dir))
    assert done.returncode == 0, done.stderr
    (metric_filter,) = server.client("logs").describe_metric_filters(
        logGroupName="CloudTrail/AlphaVoxSecrets"
    )["metricFilters"]
    assert metric_filter["filterPattern"] == "{ $.eventName = GetSecretValue }"
    assert metric_filter["metricTransformations"] == [
        {"metricName": "SecretAccess", "metricNamespace": "AlphaVox", "metricValue": "1"}
    ]

    done = run_shell(REVIEW_ACCESS_LOGS, str(server.data_dir))
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["events"]
    records = [json.loads(event["message"]) for event in events]
    assert {record["eventName"] for record in records} == {"GetSecretValue"}
    assert {record["requestID"] for record in records} == reads
    assert "SecretString" not in done.stdout and '{"username":"a"}' not in done.stdout


@pytest.fixture(params=BACKENDS)
def monitored(request, mailbox, tmp_path) -> Iterator[Server]:
    """A dev server (its clock is moved on) that mails through the test's SMTP server."""
    smtp = f"smtp://127.0.0.1:{mailbox[1]}?from=alerts@example.com"
    with dev_server_for(request, tmp_path / "server.log", "--smtp-url", smtp) as server:
        yield server


def secret_access(server: Server, since: datetime) -> float:
    """The SecretAccess metric's sum since `since` (what the metric filter emitted)."""
    points = server.client("cloudwatch").get_metric_statistics(
        Namespace="AlphaVox",
        MetricName="SecretAccess",
        StartTime=since,
        EndTime=since + timedelta(hours=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_eleven_reads_in_five_minutes_alarm_and_reach_the_security_team(monitored, mailbox):
    server, (box, _) = monitored, mailbox
    secrets, sns = server.client("secretsmanager"), server.client("sns")
    secrets.create_secret(Name="alphavox/admin-credentials", SecretString='{"password":"p"}')
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    assert topic == "arn:aws:sns:us-east-1:123456789012:security-alerts"
    endpoint = Endpoint().start()
    try:
        confirmed_http_subscription(sns, endpoint, topic)
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="security@example.com")
        confirmation = box.next().get_payload(decode=True).decode()
        visit(
            next(line for line in confirmation.splitlines() if "/_strongroom/sns/confirm?" in line)
        )
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="never-confirmed@example.com")
        box.next()  # its confirmation request, never answered
        for script in (PUT_METRIC_FILTER, PUT_METRIC_ALARM):
            done = shell(server, script)
            assert done.returncode == 0, done.stderr
        alarm = "AlphaVox-Unusual-Secret-Access"
        cloudwatch = server.client("cloudwatch")

        # 10 reads within five minutes: not unusual.
        start = datetime.fromtimestamp(current_minute(server), UTC)
        for _ in range(10):
            secrets.get_secret_value(SecretId="alphavox/admin-credentials")
        wait_for(lambda: secret_access(server, start) == 10)
        evaluate_at(server, start.timestamp() + 60)
        wait_for_state(cloudwatch, alarm, "OK")

        # Five minutes later, 11 reads: the alarm goes off and the team hears of it.
        evaluate_at(server, start.timestamp() + 600)
        start = datetime.fromtimestamp(current_minute(server), UTC)
        for _ in range(11):
            secrets.get_secret_value(SecretId="alphavox/admin-credentials")
        wait_for(lambda: secret_access(server, start) == 11)
        evaluate_at(server, start.timestamp() + 60)
        state = wait_for_state(cloudwatch, alarm, "ALARM")
        assert state["StateReason"].startswith("Threshold Crossed: 1 datapoint [11.0 (")

        _, body = endpoint.next(timeout=30)
        notification = json.loads(body)
        assert notification["Subject"] == f'ALARM: "{alarm}" in US East (N. Virginia)'
        message = json.loads(notification["Message"])
        assert message["AlarmName"] == alarm and message["NewStateValue"] == "ALARM"
        assert message["AlarmDescription"] == "Alert on unusual secret access patterns"
        mail = box.next(timeout=30)
        assert mail["X-Envelope-To"] == "security@example.com"
        assert mail["Subject"] == f'ALARM: "{alarm}" in US East (N. Virginia)'
        assert '"password"' not in body.decode() and '"password"' not in str(mail)

        # Step 4 of the incident response reaches every confirmed subscription, only those.
        done = shell(server, NOTIFY_SECURITY_TEAM)
        assert done.returncode == 0, done.stderr
        published = "AlphaVox secret rotation completed due to potential compromise"
        assert json.loads(endpoint.next(timeout=30)[1])["Message"] == published
        mail = box.next(timeout=30)
        assert mail["X-Envelope-To"] == "security@example.com"
        assert mail.get_payload(decode=True).decode().splitlines()[0] == published
        with pytest.raises(queue.Empty):
            box.next(timeout=3)
    finally:
        endpoint.stop()
