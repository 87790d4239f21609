"""CloudTrail errors, named after the error shapes of botocore's cloudtrail model."""

from strongroom.protocol.errors import AwsError


class TrailNotFoundException(AwsError):
    pass


class InvalidTrailNameException(AwsError):
    pass


class CloudTrailARNInvalidException(AwsError):
    pass


class InvalidLookupAttributesException(AwsError):
    pass


class InvalidTimeRangeException(AwsError):
    pass


class InvalidNextTokenException(AwsError):
    pass


class InvalidTokenException(AwsError):
    pass


class InvalidEventCategoryException(AwsError):
    pass
