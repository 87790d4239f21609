"""One dispatcher for every service: route, authenticate, decode, call, encode.

The HTTP layer hands over a WireRequest and gets a WireResponse; it never knows a service's
operations. A service is a plain object whose methods are named after the operations
(`Encrypt` -> `encrypt(ctx, **params)`) and whose errors are AwsError subclasses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore import xform_name
from botocore.model import ServiceModel

from strongroom.audit import record
from strongroom.audit.record import AuditEvent
from strongroom.audit.writer import AuditStorageOutage, AuditUnavailable, AuditWriter
from strongroom.auth.authenticator import Authenticator
from strongroom.auth.authorizer import Authorizer
from strongroom.auth.principal import Principal
from strongroom.auth.sigv4 import AuthFailure, HttpRequest, parse_authorization
from strongroom.barrier.barrier import Barrier, SealedError
from strongroom.clock import Clock
from strongroom.protocol import json_codec, query, rest_json, rest_xml, rpc_v2_cbor
from strongroom.protocol.errors import (
    AwsError,
    InternalFailure,
    NamedError,
    NotImplementedYet,
    RequestEntityTooLarge,
    SerializationException,
    ServiceUnavailableException,
    UnknownOperationException,
    ValidationException,
)
from strongroom.protocol.registry import Registry, ServiceEndpoint, fault_errors
from strongroom.protocol.wire import WireRequest, WireResponse
from strongroom.services.cloudwatch.own_metrics import CallCounter
from strongroom.services.context import RequestContext
from strongroom.storage.audit import Reservation
from strongroom.storage.engine import StorageUnavailable

log = logging.getLogger("strongroom.dispatch")

# One codec module per botocore wire protocol; each offers decode, encode_result, encode_error
# and auth_error (all but JSON operation_name too).
_CODECS: dict[str, Any] = {
    "json": json_codec,
    "query": query,
    "rest-json": rest_json,
    "rest-xml": rest_xml,
    rpc_v2_cbor.PROTOCOL: rpc_v2_cbor,
}

SEALED_MESSAGE = "Strongroom is sealed: no request can be served until it is unsealed."
AUDIT_FAILURE_MESSAGE = (
    "The call could not be recorded in the audit trail in time, so its result is withheld."
)
# The event source of what is no AWS service's: unknown services, and the operator's actions.
OPERATOR_SOURCE = _UNKNOWN_SOURCE = "strongroom.amazonaws.com"
_UNKNOWN_OPERATION = "UnknownOperation"
_MAX_NAME = 128
_MAX_USER_AGENT = 1024
_MAX_INFLATED = 16 * 1024 * 1024  # as much as an uncompressed body may be (http/app.py)


@dataclass(frozen=True)
class Answer:
    """A response, and the audit record that must be stored before it may be sent."""

    response: WireResponse
    event: AuditEvent
    model: ServiceModel | None
    call: record.Call
    codec: Any = json_codec  # the request's protocol's, which answers it


class Dispatcher:
    def __init__(
        self,
        registry: Registry,
        authenticator: Authenticator,
        barrier: Barrier,
        audit: AuditWriter,
        clock: Clock,
        home: tuple[str, str],
        regions: frozenset[str],
        authorizer: Authorizer,
        calls: CallCounter,
    ) -> None:
        self._registry = registry
        self._calls = calls
        self._authorizer = authorizer
        self._authenticator = authenticator
        self._barrier = barrier
        self._audit = audit
        self._clock = clock
        # The account and Region that receive the records of calls that name neither validly.
        self._home_account, self._home_region = home
        self._regions = regions

    def needs_thread(self, request: WireRequest) -> bool:
        """Whether the request may wait on storage (anything not known to be cached does)."""
        endpoint, operation_name = self._route(request)
        return endpoint is None or operation_name not in endpoint.cached_operations

    def dispatch(self, request: WireRequest, refusal: AwsError | None = None) -> Answer:
        """Serve the request (or answer it with `refusal`), and make its audit record."""
        request_id = record.new_id()
        endpoint, operation_name = self._route(request)
        model = endpoint.model if endpoint else None
        codec = _codec(model, request)
        call = self._call_facts(request, request_id, model, operation_name)
        try:
            if refusal is not None:
                raise refusal
            if endpoint is None:
                raise UnknownOperationException("The requested service or operation is not known.")
            response = self._call(endpoint, operation_name, request, call, codec)
        except AuthFailure as failure:
            response = self._error(codec, model, codec.auth_error(failure), call)
            with contextlib.suppress(StorageUnavailable):
                call.recipient_account_id = (
                    self._authenticator.account_of(call.access_key_id) or call.recipient_account_id
                )
        except AwsError as error:
            response = self._error(codec, model, error, call)
        except SealedError:
            response = self._error(codec, model, ServiceUnavailableException(SEALED_MESSAGE), call)
        except (StorageUnavailable, AuditStorageOutage) as outage:
            log.error("request %s: storage unavailable: %s", request_id, outage)
            response = self._error(codec, model, _storage_outage(), call)
        except AuditUnavailable:
            response = self._error(codec, model, _audit_failure(model), call)
        except Exception:
            # A bug: log where it happened (never parameters or values) and answer as AWS does.
            log.exception("request %s: unexpected failure in %s", request_id, operation_name)
            error = InternalFailure("An internal error occurred.")
            response = self._error(codec, model, error, call)
        return Answer(response, _record_of(call), model, call, codec)

    async def recorded(self, answer: Answer) -> WireResponse:
        """The answer's response once its record is stored; if the record cannot be stored,
        an internal error instead: nothing is answered that the audit trail does not show."""
        try:
            await self._audit.write_async(answer.event, functools.partial(_refused, answer))
        except AuditUnavailable as failure:
            error = (
                _storage_outage()
                if isinstance(failure, AuditStorageOutage)
                else _audit_failure(answer.model)
            )
            return answer.codec.encode_error(answer.model, error, answer.response.request_id)
        for bookkeeping in answer.call.when_recorded:
            bookkeeping()
        return answer.response

    def operator_record(
        self,
        request: WireRequest,
        action: str,
        principal: Principal | None,
        error_code: str,
        resources: Sequence[tuple[str, str]] = (),
    ) -> AuditEvent:
        """The record of an operator's action on the server itself (seal, unseal shares,
        closing the audit period, creating an account): Strongroom's own event source, no
        parameters; `resources` (type, ARN) are what the action made."""
        call = self._call_facts(request, record.new_id(), None, action)
        call.event_source = OPERATOR_SOURCE
        if principal is not None:
            call.principal, call.recipient_account_id = principal, principal.account_id
        call.error_code = error_code
        call.resources = list(resources)
        return _record_of(call)

    def _route(self, request: WireRequest) -> tuple[ServiceEndpoint | None, str]:
        target = json_codec.target(request)
        if target is not None:
            return self._registry.by_target_prefix(target[0]), target[1]
        # Not a JSON request: the signing name in the credential scope names the service.
        try:
            service = parse_authorization(request.http).scope.service
        except AuthFailure:
            # Unsigned: a query service's call names its operation (STS's
            # AssumeRoleWithWebIdentity is unsigned by design), which tells the service.
            action = query.operation_name(None, request.http)
            return self._registry.by_query_action(action), action
        endpoint = self._registry.by_signing_name(service)
        if endpoint is None or _protocol(endpoint.model, request) == "json":
            return endpoint, ""
        # REST protocols name the operation by method, path and query string, rpc-v2-cbor by
        # path, awsQuery by the form's Action.
        codec = _codec(endpoint.model, request)
        return endpoint, codec.operation_name(endpoint.model, request.http)

    def _call_facts(
        self, request: WireRequest, request_id: str, model: ServiceModel | None, operation: str
    ) -> record.Call:
        """What is known of a call before it is authenticated: its record's first draft."""
        call = record.Call(
            request_id=request_id,
            # Whole milliseconds: CloudWatch Logs orders events by millisecond timestamps.
            event_time=round(self._clock.time(), 3),
            source_ip=request.source_ip,
            user_agent=request.user_agent[:_MAX_USER_AGENT],
            event_source=record.event_source(model) if model else _UNKNOWN_SOURCE,
            event_name=operation[:_MAX_NAME] or _UNKNOWN_OPERATION,
            region=self._home_region,
            recipient_account_id=self._home_account,
            tls=request.tls,
        )
        with contextlib.suppress(AuthFailure):
            scope = parse_authorization(request.http).scope
            call.access_key_id = scope.access_key_id[:_MAX_NAME]
            if scope.region in self._regions:
                call.region = scope.region
        return call

    def _call(
        self,
        endpoint: ServiceEndpoint,
        operation_name: str,
        request: WireRequest,
        call: record.Call,
        codec: Any,
    ) -> WireResponse:
        if self._barrier.sealed:
            raise ServiceUnavailableException(SEALED_MESSAGE)
        principal, region = self._authenticator.authenticate(request.http, endpoint.signing_name)
        call.principal, call.region, call.recipient_account_id = (
            principal,
            region,
            principal.account_id,
        )
        operation = endpoint.operation(operation_name)
        if operation is None:
            raise UnknownOperationException(
                f"Operation {operation_name[:128]} is not supported.", operation_name[:128]
            )
        # AWS/Usage CallCount: every call to an operation by an authenticated caller, whatever
        # happens to it next.
        service_name = endpoint.model.service_name
        self._calls.count(
            principal.account_id, region, service_name, operation.name, call.event_time
        )
        handler = getattr(endpoint.implementation, xform_name(operation.name), None)
        if handler is None:
            raise NotImplementedYet(
                f"Strongroom does not implement {endpoint.model.service_id} {operation.name} yet."
            )
        call.operation = operation
        try:
            params: dict[str, Any] = codec.decode(operation, _decompressed(request.http))
        except ValidationException as error:
            if endpoint.validation_error is None:
                raise
            raise endpoint.validation_error(error.message) from None
        call.parameters = params
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
            request_id=call.request_id,
            principal=principal,
            region=region,
            source_ip=request.source_ip,
            user_agent=request.user_agent,
            operation=operation.name,
            resources=call.resources,
            when_recorded_callbacks=call.when_recorded,
            authorizer=self._authorizer,
            service_prefix=endpoint.model.endpoint_prefix,
            protocol=_protocol(endpoint.model, request),
            secure_transport=request.tls is not None,
            time=datetime.fromtimestamp(call.event_time, UTC),
        )
        if not record.is_read_only(operation.name):
            # A call that may change something runs only once its record has a place in the
            # trail: if the audit store cannot take it, nothing happens.
            self._audit.reserve(
                Reservation(call.request_id, call.event_time, record.build(call).text)
            )
        if endpoint.target is not None:
            action, resource = endpoint.target(context, operation.name, params)
            context.authorize(resource, action=action)
        call.result = handler(context, **params)
        if not context.decisions:
            # A bug: the operation never asked whether its caller may call it. Withheld.
            log.error(
                "request %s: %s made no authorization decision", call.request_id, operation.name
            )
            raise InternalFailure("An internal error occurred.")
        response: WireResponse = codec.encode_result(
            endpoint.model, operation, call.result, call.request_id
        )
        return response

    @staticmethod
    def _error(
        codec: Any, model: ServiceModel | None, error: AwsError, call: record.Call
    ) -> WireResponse:
        call.error_code, call.error_message = error.code, error.message
        response: WireResponse = codec.encode_error(model, error, call.request_id)
        response.operation = call.event_name
        return response


def _record_of(call: record.Call) -> AuditEvent:
    try:
        return record.build(call)
    except Exception:
        # A bug in the record builder must not cost the call its record: the record goes
        # without the parameters and results it could not render.
        log.exception("request %s: its audit record left out parameters", call.request_id)
        call.parameters = call.result = None
        return record.build(call)


def _refused(answer: Answer) -> AuditEvent:
    """The record of a call answered with the audit failure: stored instead of its own when
    the caller stopped waiting before that was stored."""
    call = answer.call
    error = _audit_failure(answer.model)
    call.error_code, call.error_message, call.result = error.code, error.message, None
    return _record_of(call)


def _storage_outage() -> AwsError:
    return ServiceUnavailableException("Storage is unavailable; try again later.")


def _audit_failure(model: ServiceModel | None) -> AwsError:
    """The service's own internal error (Secrets Manager's InternalServiceError, KMS's
    KMSInternalException), for a call whose audit record cannot be stored."""
    faults = sorted(fault_errors(model.service_name)) if model is not None else []
    code = next((name for name in faults if "Internal" in name), None)
    return NamedError(code or "InternalFailure", AUDIT_FAILURE_MESSAGE, status=500)


def _decompressed(http: HttpRequest) -> HttpRequest:
    """The request with its body inflated when botocore compressed it (`Content-Encoding:
    gzip`, for operations with the requestcompression trait: CloudWatch's PutMetricData)."""
    if (http.header("content-encoding") or "").strip().lower() != "gzip":
        return http
    inflater = zlib.decompressobj(wbits=31)
    try:
        body = inflater.decompress(http.body, _MAX_INFLATED + 1)
    except zlib.error:
        raise SerializationException("Request body is not valid gzip") from None
    if len(body) > _MAX_INFLATED:
        raise RequestEntityTooLarge()
    return dataclasses.replace(http, body=body)


@functools.cache
def _parameters(handler: Callable[..., Any]) -> frozenset[str] | None:
    """The members a handler takes; None when it takes any (**options)."""
    parameters = inspect.signature(handler).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


def _codec(model: ServiceModel | None, request: WireRequest) -> Any:
    """The codec of the request's protocol; JSON when the service itself is unknown."""
    return _CODECS[_protocol(model, request)] if model is not None else json_codec


def _protocol(model: ServiceModel, request: WireRequest) -> str:
    """The protocol the request speaks, of those the service's model lists (CloudWatch:
    rpc-v2-cbor, awsJson1.0 and awsQuery; botocore 1.43 speaks awsJson1.0, ranking the
    protocols by its own order, other SDKs rpc-v2-cbor); the model's own for services that
    list one."""
    protocols = model.metadata.get("protocols") or [model.metadata["protocol"]]
    if len(protocols) > 1:
        if rpc_v2_cbor.PROTOCOL in protocols and rpc_v2_cbor.speaks(request):
            return rpc_v2_cbor.PROTOCOL
        if "json" in protocols and json_codec.target(request) is not None:
            return "json"
        if "query" in protocols:
            return "query"
    return str(model.metadata["protocol"])
