"""SNS errors, named after the error shapes of botocore's model (the wire codes are the
model's: InvalidParameterException is `InvalidParameter`, NotFoundException `NotFound`)."""

from strongroom.protocol.errors import AwsError


class InvalidParameterException(AwsError):
    pass


class InvalidParameterValueException(AwsError):
    pass


class NotFoundException(AwsError):
    pass


class ResourceNotFoundException(AwsError):
    pass


class TagLimitExceededException(AwsError):
    pass


class TopicLimitExceededException(AwsError):
    pass


class SubscriptionLimitExceededException(AwsError):
    pass


class TooManyEntriesInBatchRequestException(AwsError):
    pass


class BatchEntryIdsNotDistinctException(AwsError):
    pass


class EmptyBatchRequestException(AwsError):
    pass


class BatchRequestTooLongException(AwsError):
    pass


class InvalidBatchEntryIdException(AwsError):
    pass


class AuthorizationErrorException(AwsError):
    pass
