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
