"""Would a resource policy still let its caller manage the resource?

KMS refuses a key policy that would lock the caller out of changing it again (its "lockout
safety check"). Until every request is evaluated against identity policies too, this is
decided on the resource policy alone: some Allow statement must name the caller (its ARN, its
account, or everyone) for the action, and no unconditional Deny may take it away. Naming the
account delegates to the account's IAM policies, as the default key policy does.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from strongroom.iam.policy import Policy, Statement


def keeps_access(policy: Policy, action: str, caller_arn: str, account_id: str) -> bool:
    names = {"*", caller_arn, account_id, f"arn:aws:iam::{account_id}:root"}
    allowed = any(
        s.effect == "Allow" and _names_caller(s, names, caller_arn) and _covers(s, action)
        for s in policy.statements
    )
    denied = any(
        s.effect == "Deny"
        and not s.condition
        and _names_caller(s, names, caller_arn)
        and _covers(s, action)
        for s in policy.statements
    )
    return allowed and not denied


def _names_caller(statement: Statement, names: set[str], caller_arn: str) -> bool:
    if statement.principal is not None:
        return any(p in names for p in statement.principal.get("AWS", ()))
    excluded = statement.not_principal.get("AWS", ()) if statement.not_principal else ()
    return caller_arn not in excluded and "*" not in excluded


def _covers(statement: Statement, action: str) -> bool:
    action = action.lower()
    if statement.action is not None:
        return any(fnmatchcase(action, pattern.lower()) for pattern in statement.action)
    return not any(fnmatchcase(action, pattern.lower()) for pattern in statement.not_action or ())
