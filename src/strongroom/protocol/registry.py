"""Which services this server speaks, with the botocore model that defines each one's wire API."""

from __future__ import annotations

from dataclasses import dataclass

import botocore.loaders
from botocore.model import OperationModel, ServiceModel

from strongroom.protocol.errors import AwsError

_loader = botocore.loaders.Loader()


def load_model(service_name: str) -> ServiceModel:
    return ServiceModel(_loader.load_service_model(service_name, "service-2"), service_name)


@dataclass(frozen=True)
class ServiceEndpoint:
    model: ServiceModel
    implementation: object
    cached_operations: frozenset[str] = frozenset()
    # The error a request breaking the model's constraints gets, when the service does not
    # answer ValidationException (CloudWatch Logs: InvalidParameterException).
    validation_error: type[AwsError] | None = None

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

    def by_target_prefix(self, prefix: str) -> ServiceEndpoint | None:
        return self._by_target_prefix.get(prefix)

    def by_signing_name(self, name: str) -> ServiceEndpoint | None:
        return self._by_signing_name.get(name)
