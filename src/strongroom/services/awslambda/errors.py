"""Lambda errors, named after the error shapes of botocore's model (Lambda answers model
violations ValidationException, which its model does not list)."""

from strongroom.protocol.errors import AwsError, ValidationException


class InvalidParameterValueException(AwsError):
    pass


class ResourceNotFoundException(AwsError):
    pass


class ResourceConflictException(AwsError):
    pass


class PolicyLengthExceededException(AwsError):
    pass


class PreconditionFailedException(AwsError):
    pass


class RequestTooLargeException(AwsError):
    pass


class InvalidRequestContentException(AwsError):
    pass


class ServiceException(AwsError):
    pass


class InvalidZipFileException(AwsError):
    pass


class InvocationRefused(Exception):
    """An in-process invocation for an AWS service (rotation, a schedule) that cannot run."""


class FunctionNotFound(InvocationRefused):
    """No such function."""


class InvocationNotPermitted(InvocationRefused):
    """The function's resource policy does not let the service invoke it."""


__all__ = [
    "FunctionNotFound",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "InvalidZipFileException",
    "InvocationNotPermitted",
    "InvocationRefused",
    "PolicyLengthExceededException",
    "PreconditionFailedException",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "ServiceException",
    "ValidationException",
]
