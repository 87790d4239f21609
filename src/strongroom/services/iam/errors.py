"""IAM errors, named after the error shapes of botocore's model (the codec writes the model's
wire codes: NoSuchEntityException is `NoSuchEntity`, with its status, 404)."""

from strongroom.protocol.errors import AwsError


class NoSuchEntityException(AwsError):
    pass


class EntityAlreadyExistsException(AwsError):
    pass


class DeleteConflictException(AwsError):
    pass


class LimitExceededException(AwsError):
    pass


class MalformedPolicyDocumentException(AwsError):
    pass


class InvalidInputException(AwsError):
    pass


class InvalidAuthenticationCodeException(AwsError):
    pass


class AccessDenied(AwsError):
    """An AWS managed policy belongs to AWS's account: no account may change it."""

    status = 403
