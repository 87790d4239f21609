"""KMS input rules beyond what the model's shapes check: policies, tags, descriptions, alias
names. Each raises the KMS error AWS raises for the broken rule."""

from __future__ import annotations

from strongroom.iam import policy as iam_policy
from strongroom.iam.lockout import keeps_access
from strongroom.services.context import RequestContext
from strongroom.services.kms import errors as e
from strongroom.services.kms.model import ALIAS_PREFIX, MAX_TAGS_PER_KEY, RESERVED_ALIAS_PREFIX

_NUL = "\0"
_NUL_TAG_MESSAGE = "Tag keys and values cannot contain NUL characters."


MAX_KEY_POLICY_BYTES = 32 * 1024  # AWS's key policy document size quota


def checked_policy(policy: str, ctx: RequestContext, bypass_lockout_safety_check: bool) -> str:
    """A key policy KMS would accept from this caller: within the size quota, valid in the IAM
    policy grammar, and (unless bypassed) still letting the caller change it later."""
    if len(policy.encode()) > MAX_KEY_POLICY_BYTES:
        raise e.LimitExceededException(
            f"The key policy exceeds the maximum size of {MAX_KEY_POLICY_BYTES} bytes."
        )
    try:
        parsed = iam_policy.parse(policy, iam_policy.PolicyKind.RESOURCE)
    except iam_policy.MalformedPolicy as error:
        raise e.MalformedPolicyDocumentException(error.message) from None
    if not bypass_lockout_safety_check and not keeps_access(
        parsed, "kms:PutKeyPolicy", ctx.principal.arn, ctx.account_id
    ):
        raise e.MalformedPolicyDocumentException(
            "The new key policy will not allow you to update the key policy in the future."
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
