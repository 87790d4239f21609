"""CloudWatch Logs errors, named after the error shapes of botocore's model."""

from strongroom.protocol.errors import AwsError


class InvalidParameterException(AwsError):
    pass


class ResourceNotFoundException(AwsError):
    pass


class ResourceAlreadyExistsException(AwsError):
    pass


class LimitExceededException(AwsError):
    pass


class TooManyTagsException(AwsError):
    pass


class ValidationException(AwsError):
    pass
