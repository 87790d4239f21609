"""The source document's audit commands verbatim through the stock aws CLI after
`eval "$(strongroom env)"`: the "Security Monitoring" metric filter on the CloudTrail log group,
and step 2 of "Secret Compromise Response", which must return exactly the GetSecretValue calls.
(The alarm and the SNS notification of those sections come with the monitoring issue.)"""

from __future__ import annotations

import json

import pytest

from tests.conftest import BACKENDS
from tests.integration.test_seed_kms import run_shell
from tests.support.audit import request_id

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
