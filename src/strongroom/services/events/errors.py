"""EventBridge errors, named after the error shapes of botocore's model (ValidationException,
which the model does not list, is the code EventBridge answers bad parameters with)."""

from strongroom.protocol.errors import AwsError


class ResourceNotFoundException(AwsError):
    pass


class ValidationException(AwsError):
    pass


class InvalidEventPatternException(AwsError):
    pass


class LimitExceededException(AwsError):
    pass


class ManagedRuleException(AwsError):
    pass
