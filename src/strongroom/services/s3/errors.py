"""S3 errors: the model's error shapes (NoSuchBucket, NoSuchKey: 404) and the codes S3 answers
without modelling them."""

from strongroom.protocol.errors import AwsError


class NoSuchBucket(AwsError):
    pass


class NoSuchKey(AwsError):
    pass


class AccessDenied(AwsError):
    status = 403


class InvalidArgument(AwsError):
    status = 400
