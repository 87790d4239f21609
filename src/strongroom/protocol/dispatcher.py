"""One dispatcher for every service: route, authenticate, decode, call, encode.

The HTTP layer hands over a WireRequest and gets a WireResponse; it never knows a service's
operations. A service is a plain object whose methods are named after the operations
(`Encrypt` -> `encrypt(ctx, **params)`) and whose errors are AwsError subclasses.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.model import ServiceModel

from strongroom.auth.authenticator import Authenticator
from strongroom.auth.sigv4 import AuthFailure, parse_authorization
from strongroom.barrier.barrier import Barrier, SealedError
from strongroom.protocol import json_codec
from strongroom.protocol.errors import (
    AwsError,
    InternalFailure,
    NotImplementedYet,
    ServiceUnavailableException,
    UnknownOperationException,
)
from strongroom.protocol.registry import Registry, ServiceEndpoint
from strongroom.protocol.wire import WireRequest, WireResponse
from strongroom.services.context import RequestContext
from strongroom.storage.engine import StorageUnavailable

log = logging.getLogger("strongroom.dispatch")

# One codec module per botocore wire protocol; each offers decode, encode_result, encode_error
# and auth_error. query, rest-json and rpc-v2-cbor join here as the services that use them do.
_CODECS: dict[str, Any] = {"json": json_codec}

SEALED_MESSAGE = "Strongroom is sealed: no request can be served until it is unsealed."


class Dispatcher:
    def __init__(self, registry: Registry, authenticator: Authenticator, barrier: Barrier) -> None:
        self._registry = registry
        self._authenticator = authenticator
        self._barrier = barrier

    def needs_thread(self, request: WireRequest) -> bool:
        """Whether the request may wait on storage (anything not known to be cached does)."""
        endpoint, operation_name = self._route(request)
        return endpoint is None or operation_name not in endpoint.cached_operations

    def dispatch(self, request: WireRequest) -> WireResponse:
        request_id = str(uuid.uuid4())
        endpoint, operation_name = self._route(request)
        model = endpoint.model if endpoint else None
        try:
            if endpoint is None:
                raise UnknownOperationException("The requested service or operation is not known.")
            return self._call(endpoint, operation_name, request, request_id)
        except AuthFailure as failure:
            return self._error(model, _codec(model).auth_error(failure), request_id, operation_name)
        except AwsError as error:
            return self._error(model, error, request_id, operation_name)
        except SealedError:
            return self._error(
                model, ServiceUnavailableException(SEALED_MESSAGE), request_id, operation_name
            )
        except StorageUnavailable as outage:
            log.error("request %s: storage unavailable: %s", request_id, outage)
            unavailable = ServiceUnavailableException("Storage is unavailable; try again later.")
            return self._error(model, unavailable, request_id, operation_name)
        except Exception:
            # A bug: log where it happened (never parameters or values) and answer as AWS does.
            log.exception("request %s: unexpected failure in %s", request_id, operation_name)
            return self._error(
                model, InternalFailure("An internal error occurred."), request_id, operation_name
            )

    def _route(self, request: WireRequest) -> tuple[ServiceEndpoint | None, str]:
        target = json_codec.target(request)
        if target is not None:
            return self._registry.by_target_prefix(target[0]), target[1]
        # Not a JSON request: the signing name in the credential scope names the service.
        try:
            service = parse_authorization(request.http).scope.service
        except AuthFailure:
            return None, ""
        return self._registry.by_signing_name(service), ""

    def _call(
        self, endpoint: ServiceEndpoint, operation_name: str, request: WireRequest, request_id: str
    ) -> WireResponse:
        if self._barrier.sealed:
            raise ServiceUnavailableException(SEALED_MESSAGE)
        principal, region = self._authenticator.authenticate(request.http, endpoint.signing_name)
        operation = endpoint.operation(operation_name)
        if operation is None:
            raise UnknownOperationException(f"Operation {operation_name[:128]} is not supported.")
        handler = getattr(endpoint.implementation, xform_name(operation.name), None)
        if handler is None:
            raise NotImplementedYet(
                f"Strongroom does not implement {endpoint.model.service_id} {operation.name} yet."
            )
        codec = _codec(endpoint.model)
        params: dict[str, Any] = codec.decode(operation, request.http.body)
        accepted = _parameters(handler)
        unsupported = params.keys() - accepted if accepted is not None else set()
        if unsupported:
            # A member newer botocore models know and this service does not: refuse rather
            # than ignore it (an ignored DryRun, say, would change things).
            raise NotImplementedYet(
                f"Strongroom does not support {', '.join(sorted(unsupported))} in "
                f"{operation.name} yet."
            )
        context = RequestContext(
            request_id=request_id,
            principal=principal,
            region=region,
            source_ip=request.source_ip,
            user_agent=request.user_agent,
            operation=operation.name,
        )
        result = handler(context, **params)
        response: WireResponse = codec.encode_result(endpoint.model, operation, result, request_id)
        return response

    @staticmethod
    def _error(
        model: ServiceModel | None, error: AwsError, request_id: str, operation_name: str
    ) -> WireResponse:
        response: WireResponse = _codec(model).encode_error(model, error, request_id)
        response.operation = operation_name
        return response


@functools.cache
def _parameters(handler: Callable[..., Any]) -> frozenset[str] | None:
    """The members a handler takes; None when it takes any (**options)."""
    parameters = inspect.signature(handler).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


def _codec(model: ServiceModel | None) -> Any:
    """The codec of the service's protocol; JSON when the service itself is unknown."""
    return _CODECS[model.metadata["protocol"]] if model is not None else json_codec
