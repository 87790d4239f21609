"""STS errors, named after the error shapes of botocore's model (the query codec writes each
shape's own code, e.g. MalformedPolicyDocument)."""

from strongroom.protocol.errors import AwsError


class MalformedPolicyDocumentException(AwsError):
    pass


class PackedPolicyTooLargeException(AwsError):
    pass


class ValidationError(AwsError):
    """Not a model shape: the query services' word for a request their rules refuse."""

    status = 400


class AccessDenied(AwsError):
    status = 403
