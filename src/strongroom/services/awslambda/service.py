"""AWS Lambda, the subset rotation and schedules need: functions (Python runtimes, zip
packages), their configuration, code, resource policy and tags, and invocations, per account
and Region.

A function is Active and its last update Successful at once (nothing is provisioned), so
boto3's waiters pass. Code and environment variables pass the barrier (either may embed
secrets). An invocation runs in the sandbox of `runtime.py` with temporary credentials of the
function's execution role, as STS would issue them for a role session named after the function,
and its output goes to the log group /aws/lambda/NAME.
"""

from __future__ import annotations

from strongroom.services.awslambda.functions import Functions
from strongroom.services.awslambda.invocations import Invocations
from strongroom.services.awslambda.permissions import Permissions


class Lambda(Functions, Permissions, Invocations):
    """The Lambda API: one method per operation (see the mixins), on LambdaBase."""
