"""Secrets Manager errors, named after the error shapes of botocore's model."""

from strongroom.protocol.errors import AwsError


class ResourceNotFoundException(AwsError):
    pass


class ResourceExistsException(AwsError):
    pass


class InvalidParameterException(AwsError):
    pass


class InvalidRequestException(AwsError):
    pass


class InvalidNextTokenException(AwsError):
    pass


class LimitExceededException(AwsError):
    pass


class EncryptionFailure(AwsError):
    pass


class DecryptionFailure(AwsError):
    pass


class MalformedPolicyDocumentException(AwsError):
    pass


class PublicPolicyException(AwsError):
    pass


class AccessDeniedException(AwsError):
    """Not in the model; what AWS answers when a secret's KMS key refuses the caller."""
