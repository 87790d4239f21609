"""Which services this server speaks, with the botocore model that defines each one's wire API."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import botocore.loaders
from botocore.model import OperationModel, ServiceModel

from strongroom.protocol.errors import AwsError

_loader = botocore.loaders.Loader()


def load_model(service_name: str) -> ServiceModel:
    return ServiceModel(_loader.load_service_model(service_name, "service-2"), service_name)


@functools.cache
def fault_errors(service_name: str) -> frozenset[str]:
    """The error shapes the model marks as the service's fault (HTTP 500 unless it says
    otherwise). botocore's Shape does not expose the trait, so it is read from the model."""
    shapes = _loader.load_service_model(service_name, "service-2")["shapes"]
    return frozenset(name for name, shape in shapes.items() if shape.get("fault"))


def error_status(model: ServiceModel | None, error: AwsError) -> int:
    """The HTTP status of an error: the class's own, else the model's (fault: 500, else 400)."""
    if error.status is not None:
        return error.status
    if model is not None and error.code in model.shape_names:
        default = 500 if error.code in fault_errors(model.service_name) else 400
        metadata = model.shape_for(error.code).metadata
        return int(metadata.get("error", {}).get("httpStatusCode", default))
    return 400


@dataclass(frozen=True)
class ServiceEndpoint:
    model: ServiceModel
    implementation: object
    cached_operations: frozenset[str] = frozenset()
    # The error a request breaking the model's constraints gets, when the service does not
    # answer ValidationException (CloudWatch Logs: InvalidParameterException).
    validation_error: type[AwsError] | None = None
    # For services whose resources the request alone names: (ctx, operation, params) -> the
    # IAM action (None: the operation's) and resource ARN, authorized before the call runs.
    target: Callable[..., tuple[str | None, str]] | None = None

    @property
    def signing_name(self) -> str:
        return str(self.model.signing_name)

    def operation(self, name: str) -> OperationModel | None:
        return self.model.operation_model(name) if name in self.model.operation_names else None


class Registry:
    def __init__(self, endpoints: list[ServiceEndpoint]) -> None:
        self._by_target_prefix = {
            e.model.metadata["targetPrefix"]: e
            for e in endpoints
            if "targetPrefix" in e.model.metadata
        }
        self._by_signing_name = {e.signing_name: e for e in endpoints}
        self._by_query_action = {
            name: e
            for e in endpoints
            if e.model.metadata["protocol"] == "query"
            for name in e.model.operation_names
        }

    def by_target_prefix(self, prefix: str) -> ServiceEndpoint | None:
        return self._by_target_prefix.get(prefix)

    def by_signing_name(self, name: str) -> ServiceEndpoint | None:
        return self._by_signing_name.get(name)

    def by_query_action(self, action: str) -> ServiceEndpoint | None:
        """The query-protocol service with an operation of that name (for unsigned calls)."""
        return self._by_query_action.get(action)
