"""KMS input rules beyond what the model's shapes check: policies, tags, descriptions, alias
names. Each raises the KMS error AWS raises for the broken rule."""

from __future__ import annotations

import json

from strongroom.services.kms import errors as e
from strongroom.services.kms.model import ALIAS_PREFIX, MAX_TAGS_PER_KEY, RESERVED_ALIAS_PREFIX

_NUL = "\0"
_NUL_TAG_MESSAGE = "Tag keys and values cannot contain NUL characters."


def checked_policy(policy: str) -> str:
    try:
        document = json.loads(policy)
    except ValueError:
        raise e.MalformedPolicyDocumentException("The policy is not valid JSON.") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise e.MalformedPolicyDocumentException(
            "The policy must be a JSON object with a Statement."
        )
    return policy


def checked_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for tag in tags:
        key = tag["TagKey"]
        if key.startswith("aws:"):
            raise e.TagException("Tag keys beginning with 'aws:' are reserved.")
        if _NUL in key or _NUL in tag["TagValue"]:
            raise e.TagException(_NUL_TAG_MESSAGE)
        if key in result:
            raise e.TagException(f"Duplicate tag key {key}.")
        result[key] = tag["TagValue"]
    if len(result) > MAX_TAGS_PER_KEY:
        raise e.LimitExceededException(f"A KMS key can have at most {MAX_TAGS_PER_KEY} tags.")
    return result


def check_description(description: str) -> None:
    if _NUL in description:
        raise e.ValidationException("The description cannot contain NUL characters.")


def check_alias_name(alias_name: str) -> None:
    if not alias_name.startswith(ALIAS_PREFIX) or alias_name == ALIAS_PREFIX:
        raise e.ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if alias_name.startswith(RESERVED_ALIAS_PREFIX):
        raise e.NotAuthorizedException("")


def check_tag_keys(tag_keys: list[str]) -> None:
    if any(_NUL in tag_key for tag_key in tag_keys):
        raise e.TagException(_NUL_TAG_MESSAGE)
