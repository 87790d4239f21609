"""Functions: create, read, list, update, delete, and their tags."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import replace
from typing import Any

from strongroom.protocol.errors import NotImplementedYet
from strongroom.services.awslambda import errors as e
from strongroom.services.awslambda import runtime
from strongroom.services.awslambda.base import (
    BAD_ZIP,
    FUNCTION_RESOURCE,
    LambdaBase,
    check_revision,
    sha256_of,
)
from strongroom.services.awslambda.model import (
    BUILT_IN_ROTATOR_PREFIX,
    DEFAULT_LIST_ITEMS,
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    DEPRECATED_RUNTIMES,
    LATEST,
    MAX_ENVIRONMENT_BYTES,
    MAX_MEMORY,
    MAX_TAGS,
    MAX_TIMEOUT,
    NEWEST_RUNTIME,
    RESERVED_VARIABLES,
    RUNTIMES,
    Configuration,
    LambdaFunction,
    parse_function_name,
)
from strongroom.services.context import RequestContext
from strongroom.storage.awslambda import FunctionExists

RESERVED_KEYS = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided contains reserved keys that are currently not supported for "
    "modification. Reserved keys used in this request: {}"
)
ENVIRONMENT_TOO_LARGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided exceeded the 4KB limit."
)
RUNTIME_AND_HANDLER = (
    "Runtime and Handler are mandatory parameters for functions created with deployment packages."
)
DEPRECATED_RUNTIME = (
    "The runtime parameter of {} is no longer supported for creating or updating AWS Lambda "
    f"functions. We recommend you use the new runtime ({NEWEST_RUNTIME}) while creating or "
    "updating functions."
)
UNSUPPORTED_RUNTIME = (
    "The runtime parameter of {} is not supported by Strongroom, which runs Python functions "
    f"only ({', '.join(sorted(RUNTIMES))})."
)
S3_CODE = (
    "Strongroom does not support function code in S3 (S3Bucket, S3Key, S3ObjectVersion): "
    "upload the deployment package as ZipFile."
)
IMAGE_CODE = "Strongroom runs .zip deployment packages only: container images are not supported."
NO_CODE = "Please provide a source for function code."


class Functions(LambdaBase):
    def create_function(
        self,
        ctx: RequestContext,
        FunctionName: str,
        Role: str,
        Code: dict[str, Any],
        Runtime: str | None = None,
        Handler: str | None = None,
        Description: str = "",
        Timeout: int = DEFAULT_TIMEOUT,
        MemorySize: int = DEFAULT_MEMORY,
        Publish: bool = False,
        PackageType: str = "Zip",
        Environment: dict[str, Any] | None = None,
        Tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        target = self._name(ctx, FunctionName)
        ctx.authorize(target.arn, resource_account=target.account_id)
        if target.qualifier is not None or target.region != ctx.region:
            raise e.InvalidParameterValueException(
                "FunctionName must name an unqualified function in the Region of the request."
            )
        if target.name.startswith(BUILT_IN_ROTATOR_PREFIX):
            raise e.InvalidParameterValueException(
                f"Function names starting {BUILT_IN_ROTATOR_PREFIX} are reserved for "
                "Strongroom's built-in rotators."
            )
        self._pass_role(ctx, Role)
        _check_limits(Timeout, MemorySize)
        if PackageType != "Zip":
            raise e.InvalidParameterValueException(IMAGE_CODE)
        if Runtime is None or Handler is None:
            raise e.InvalidParameterValueException(RUNTIME_AND_HANDLER)
        _check_runtime(Runtime)
        variables = _variables(Environment)
        if len(Tags or {}) > MAX_TAGS:
            raise e.InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        code = _zip_file(Code)
        if Publish:
            raise NotImplementedYet("Strongroom does not publish function versions yet.")
        self._assumable_role(ctx.account_id, Role)
        function_id = uuid.uuid4().hex
        configuration = Configuration(
            runtime=Runtime,
            role=Role,
            handler=Handler,
            description=Description,
            timeout=Timeout,
            memory_size=MemorySize,
            code_sha256=sha256_of(code),
            code_size=len(code),
            last_modified=self._now_text(),
        )
        function = LambdaFunction(
            function_id,
            ctx.account_id,
            ctx.region,
            target.name,
            str(uuid.uuid4()),
            configuration,
            self._seal_variables(function_id, target.arn, variables),
            tags=dict(Tags or {}),
        )
        try:
            self._repository.create(function, self._seal_code(function, code))
        except FunctionExists:
            raise e.ResourceConflictException(f"Function already exist: {target.name}") from None
        ctx.note_resource(FUNCTION_RESOURCE, function.arn)
        return self._configuration(function, variables)

    def get_function(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        result: dict[str, Any] = {
            "Configuration": self._configuration(function),
            # Lambda answers a presigned S3 URL; the code stays here behind the barrier.
            "Code": {"RepositoryType": "S3"},
        }
        if function.tags:
            result["Tags"] = function.tags
        return result

    def get_function_configuration(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        return self._configuration(self._find(ctx, FunctionName, Qualifier))

    def list_functions(
        self,
        ctx: RequestContext,
        FunctionVersion: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        ctx.authorize("*")
        after = _unmarker(Marker) if Marker is not None else None
        limit = min(MaxItems or DEFAULT_LIST_ITEMS, DEFAULT_LIST_ITEMS)
        found = self._repository.functions(ctx.account_id, ctx.region, after, limit + 1)
        page = found[:limit]
        result: dict[str, Any] = {"Functions": [self._configuration(f) for f in page]}
        if len(found) > limit:
            result["NextMarker"] = _marker(page[-1].name)
        return result

    def update_function_code(
        self,
        ctx: RequestContext,
        FunctionName: str,
        ZipFile: bytes | None = None,
        S3Bucket: str | None = None,
        S3Key: str | None = None,
        S3ObjectVersion: str | None = None,
        ImageUri: str | None = None,
        Publish: bool = False,
        DryRun: bool = False,
        RevisionId: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName)
        code = _zip_file(
            {
                "ZipFile": ZipFile,
                "S3Bucket": S3Bucket,
                "S3Key": S3Key,
                "S3ObjectVersion": S3ObjectVersion,
                "ImageUri": ImageUri,
            }
        )
        if Publish:
            raise NotImplementedYet("Strongroom does not publish function versions yet.")
        check_revision(function, RevisionId)
        changed = replace(
            function.configuration,
            code_sha256=sha256_of(code),
            code_size=len(code),
            last_modified=self._now_text(),
        )
        if DryRun:
            return self._configuration(replace(function, configuration=changed))
        updated = self._store(function, configuration=changed, code=code)
        return self._configuration(updated)

    def update_function_configuration(
        self,
        ctx: RequestContext,
        FunctionName: str,
        Role: str | None = None,
        Handler: str | None = None,
        Description: str | None = None,
        Timeout: int | None = None,
        MemorySize: int | None = None,
        Environment: dict[str, Any] | None = None,
        Runtime: str | None = None,
        RevisionId: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName)
        if Role is not None:
            self._pass_role(ctx, Role)
        current = function.configuration
        _check_limits(
            Timeout if Timeout is not None else current.timeout,
            MemorySize if MemorySize is not None else current.memory_size,
        )
        if Runtime is not None:
            _check_runtime(Runtime)
        variables = _variables(Environment) if Environment is not None else None
        if Role is not None:
            self._assumable_role(ctx.account_id, Role)
        check_revision(function, RevisionId)
        changed = replace(
            current,
            role=Role if Role is not None else current.role,
            handler=Handler if Handler is not None else current.handler,
            description=Description if Description is not None else current.description,
            timeout=Timeout if Timeout is not None else current.timeout,
            memory_size=MemorySize if MemorySize is not None else current.memory_size,
            runtime=Runtime if Runtime is not None else current.runtime,
            last_modified=self._now_text(),
        )
        updated = self._store(function, configuration=changed, variables=variables)
        return self._configuration(updated)

    def delete_function(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        if (Qualifier or parse_qualifier(FunctionName)) == LATEST:
            raise e.InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if not self._repository.delete(function.function_id):
            raise e.ResourceNotFoundException(f"Function not found: {function.arn}")
        return {"StatusCode": 204}

    # Tags

    def tag_resource(self, ctx: RequestContext, Resource: str, Tags: dict[str, str]) -> None:
        function = self._find(ctx, Resource, arn_only=True)
        tags = function.tags | Tags
        if len(tags) > MAX_TAGS:
            raise e.InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        self._store(function, tags=tags, new_revision=False)

    def untag_resource(self, ctx: RequestContext, Resource: str, TagKeys: list[str]) -> None:
        function = self._find(ctx, Resource, arn_only=True)
        tags = {k: v for k, v in function.tags.items() if k not in TagKeys}
        self._store(function, tags=tags, new_revision=False)

    def list_tags(self, ctx: RequestContext, Resource: str) -> dict[str, Any]:
        return {"Tags": self._find(ctx, Resource, arn_only=True).tags}


def parse_qualifier(function_name: str) -> str | None:
    target = parse_function_name(function_name, "000000000000", "us-east-1")
    return target.qualifier if target is not None else None


def _check_limits(timeout: int, memory_size: int) -> None:
    violations = []
    if timeout > MAX_TIMEOUT:
        violations.append(
            f"Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have "
            f"value less than or equal to {MAX_TIMEOUT}"
        )
    if memory_size > MAX_MEMORY:
        violations.append(
            f"Value '{memory_size}' at 'memorySize' failed to satisfy constraint: Member must "
            f"have value less than or equal to {MAX_MEMORY}"
        )
    if violations:
        noun = "error" if len(violations) == 1 else "errors"
        raise e.ValidationException(
            f"{len(violations)} validation {noun} detected: " + "; ".join(violations)
        )


def _check_runtime(name: str) -> None:
    if name in DEPRECATED_RUNTIMES:
        raise e.InvalidParameterValueException(DEPRECATED_RUNTIME.format(name))
    if name not in RUNTIMES:
        raise e.InvalidParameterValueException(UNSUPPORTED_RUNTIME.format(name))


def _variables(environment: dict[str, Any] | None) -> dict[str, str]:
    variables: dict[str, str] = dict((environment or {}).get("Variables") or {})
    reserved = sorted(variables.keys() & RESERVED_VARIABLES)
    if reserved:
        raise e.InvalidParameterValueException(RESERVED_KEYS.format(",".join(reserved)))
    if len(json.dumps(variables, separators=(",", ":")).encode()) > MAX_ENVIRONMENT_BYTES:
        # AWS quotes the variables measured; they may be secrets, so they are left out.
        raise e.InvalidParameterValueException(ENVIRONMENT_TOO_LARGE)
    return variables


def _zip_file(code: dict[str, Any]) -> bytes:
    """The deployment package, once it is known to be a zip file Lambda would take."""
    if code.get("ImageUri") is not None:
        raise e.InvalidParameterValueException(IMAGE_CODE)
    if any(code.get(k) is not None for k in ("S3Bucket", "S3Key", "S3ObjectVersion")):
        raise e.InvalidParameterValueException(S3_CODE)
    data = code.get("ZipFile")
    if not data:
        raise e.InvalidParameterValueException(NO_CODE)
    try:
        runtime.validate_package(data)
    except runtime.InvalidDeploymentPackage as refused:
        message = str(refused)
        raise e.InvalidParameterValueException(
            message if message.startswith("Unzipped size") else BAD_ZIP
        ) from None
    return bytes(data)


def _marker(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _unmarker(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, ValueError):
        raise e.InvalidParameterValueException("Invalid Marker") from None
