"""Secrets Manager input rules beyond what the model's shapes check: names, values, NUL in
stored text, tags, policy documents and page tokens. Each raises the error AWS raises."""

from __future__ import annotations

from strongroom.iam import policy
from strongroom.protocol.errors import ValidationException
from strongroom.services.secretsmanager import errors as e
from strongroom.services.secretsmanager.model import MAX_VALUE_BYTES, valid_name
from strongroom.services.secretsmanager.sealing import Value

_MAX_TAGS = 50
_INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
    "following: -/_+=.@!"
)


def check_name(name: str) -> None:
    if not valid_name(name):
        raise ValidationException(_INVALID_NAME)


def secret_value(string: str | None, binary: bytes | None) -> Value | None:
    if string is not None and binary is not None:
        raise e.InvalidParameterException(
            "You can't specify both a binary secret value and a string secret value in the same "
            "secret."
        )
    if string is not None:
        encoded = string.encode()
        if len(encoded) > MAX_VALUE_BYTES:
            # The model counts characters; AWS's quota is 65,536 bytes of value.
            raise ValidationException(
                "1 validation error detected: Value at 'secretString' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_VALUE_BYTES}"
            )
        return False, encoded
    if binary is not None:
        return True, binary
    return None


def refuse_nul(**members: str | list[str] | None) -> None:
    """PostgreSQL text can neither hold nor compare NUL: refuse it on every backend alike
    (secret values are stored as ciphertext and may hold anything)."""
    for member, text in members.items():
        values = text if isinstance(text, list) else [text]
        if any(value is not None and "\0" in value for value in values):
            raise e.InvalidParameterException(f"{member} must not contain NUL characters.")


def parsed_policy(document: str) -> policy.Policy:
    try:
        return policy.parse(document, policy.PolicyKind.RESOURCE)
    except policy.MalformedPolicy as error:
        raise e.MalformedPolicyDocumentException(error.message) from None


def page_start(token: str | None, total: int) -> int:
    if token is None:
        return 0
    if not (token.isascii() and token.isdigit()) or int(token) > total:
        raise e.InvalidNextTokenException("The NextToken value is invalid.")
    return int(token)


def checked_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for tag in tags:
        key, value = tag.get("Key"), tag.get("Value", "")
        refuse_nul(Tags=[key or "", value])
        if not key:
            raise e.InvalidParameterException("A tag key must not be empty.")
        if key.lower().startswith("aws:"):
            raise e.InvalidParameterException("Tag keys beginning with 'aws:' are reserved.")
        result[key] = value
    check_tag_count(len(result))
    return result


def check_tag_count(count: int) -> None:
    if count > _MAX_TAGS:
        raise e.InvalidParameterException(f"A secret can have at most {_MAX_TAGS} tags.")
