"""KMS errors, named after the error shapes of botocore's KMS model."""

from strongroom.protocol.errors import AwsError, ValidationException

__all__ = ["ValidationException"]


class NotFoundException(AwsError):
    pass


class AlreadyExistsException(AwsError):
    pass


class DisabledException(AwsError):
    pass


class KMSInvalidStateException(AwsError):
    pass


class InvalidCiphertextException(AwsError):
    pass


class IncorrectKeyException(AwsError):
    pass


class InvalidKeyUsageException(AwsError):
    pass


class AccessDeniedException(AwsError):
    """Not in the KMS model, but what KMS answers when no policy allows a request."""


class NotAuthorizedException(AwsError):
    """Not in the model, but what KMS answers for names under the reserved `alias/aws/`."""


class InvalidMarkerException(AwsError):
    pass


class LimitExceededException(AwsError):
    pass


class TagException(AwsError):
    pass


class MalformedPolicyDocumentException(AwsError):
    pass


class UnsupportedOperationException(AwsError):
    pass


class DryRunOperationException(AwsError):
    status = 412


class CustomKeyStoreNotFoundException(AwsError):
    pass


class InvalidGrantTokenException(AwsError):
    pass


class InvalidGrantIdException(AwsError):
    pass


class KMSInvalidSignatureException(AwsError):
    pass


class KMSInvalidMacException(AwsError):
    pass


class ConflictException(AwsError):
    pass


class IncorrectKeyMaterialException(AwsError):
    pass


class InvalidImportTokenException(AwsError):
    pass


class ExpiredImportTokenException(AwsError):
    pass
