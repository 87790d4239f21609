"""Errors that become AWS error responses.

A service raises a subclass named after an error shape of its botocore model; the codec writes
the class name as the error code. The HTTP status comes from the model (`httpStatusCode`, or 500
for shapes marked `fault`, else 400) unless the class pins one.
"""

from __future__ import annotations


class AwsError(Exception):
    status: int | None = None

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


class ValidationException(AwsError):
    pass


class SerializationException(AwsError):
    pass


class UnknownOperationException(AwsError):
    def __init__(self, message: str = "", operation: str = "") -> None:
        super().__init__(message)
        # The name the request gave: awsQuery's InvalidAction repeats it.
        self.operation = operation


class InternalFailure(AwsError):
    status = 500


class NamedError(AwsError):
    """An error whose code is known only at run time: an authentication failure's, or a
    service's own internal-error shape (InternalServiceError, KMSInternalException)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self._code = code
        self.status = status

    @property
    def code(self) -> str:
        return self._code


class ServiceUnavailableException(AwsError):
    status = 503


class NotImplementedYet(AwsError):
    """An operation of the AWS API that this version of Strongroom does not provide yet."""

    status = 400

    @property
    def code(self) -> str:
        return "UnsupportedOperationException"


class RequestEntityTooLarge(AwsError):
    status = 413

    def __init__(self) -> None:
        super().__init__("Request is too large.")

    @property
    def code(self) -> str:
        return "RequestEntityTooLargeException"
