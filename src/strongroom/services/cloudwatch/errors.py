"""CloudWatch errors, named after the error shapes of botocore's model; the query protocol's
codes (InvalidParameterValue, MissingParameter...) are the shapes' `awsQueryError` codes."""

from strongroom.protocol.errors import AwsError


class InvalidParameterValueException(AwsError):
    pass


class InvalidParameterCombinationException(AwsError):
    pass


class MissingRequiredParameterException(AwsError):
    pass


class InvalidNextToken(AwsError):
    pass


class LimitExceededFault(AwsError):
    pass


class ValidationError(AwsError):
    """CloudWatch's answer to an alarm or a metric query it cannot accept (not a shape of its
    model; AWS sends it with status 400)."""

    status = 400


class ResourceNotFound(AwsError):
    pass


class ResourceNotFoundException(AwsError):
    pass


class InvalidFormatFault(AwsError):
    pass


class ConcurrentModificationException(AwsError):
    pass
