"""A function's resource policy, as AddPermission builds it, and what it lets AWS services
invoke."""

from __future__ import annotations

import json
from typing import Any

from strongroom.iam.conditions import ContextValue
from strongroom.iam.evaluation import (
    Request,
    ServicePrincipal,
    compile_document,
    evaluate,
    request_context,
)
from strongroom.iam.policy import MalformedPolicy, PolicyKind
from strongroom.services.awslambda import errors as e
from strongroom.services.awslambda.base import LambdaBase, check_revision
from strongroom.services.awslambda.model import (
    LATEST,
    MAX_POLICY_BYTES,
    LambdaFunction,
    evaluated_policy,
    parse_function_name,
    policy_document,
    policy_statement,
    statements_of,
)
from strongroom.services.context import RequestContext

NO_POLICY = "The resource you requested does not exist."
SID_EXISTS = (
    "The statement id ({}) provided already exists. Please provide a new statement id, or "
    "remove the existing statement."
)


class Permissions(LambdaBase):
    def add_permission(
        self,
        ctx: RequestContext,
        FunctionName: str,
        StatementId: str,
        Action: str,
        Principal: str,
        SourceArn: str | None = None,
        SourceAccount: str | None = None,
        EventSourceToken: str | None = None,
        Qualifier: str | None = None,
        RevisionId: str | None = None,
        PrincipalOrgID: str | None = None,
        FunctionUrlAuthType: str | None = None,
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        check_revision(function, RevisionId)
        statements = statements_of(function.policy)
        if any(s.get("Sid") == StatementId for s in statements):
            raise e.ResourceConflictException(SID_EXISTS.format(StatementId))
        statement = policy_statement(
            StatementId,
            Action,
            Principal,
            function.arn,
            SourceArn,
            SourceAccount,
            PrincipalOrgID,
            EventSourceToken,
            FunctionUrlAuthType,
        )
        document = policy_document([*statements, statement])
        try:
            compile_document(evaluated_policy(document), PolicyKind.RESOURCE)
        except MalformedPolicy as malformed:
            raise e.InvalidParameterValueException(malformed.message) from None
        if len(document) > MAX_POLICY_BYTES:
            raise e.PolicyLengthExceededException(
                f"The final policy size ({len(document)}) is bigger than the limit "
                f"({MAX_POLICY_BYTES})."
            )
        self._store(function, policy=document)
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def remove_permission(
        self,
        ctx: RequestContext,
        FunctionName: str,
        StatementId: str,
        Qualifier: str | None = None,
        RevisionId: str | None = None,
    ) -> None:
        function = self._find(ctx, FunctionName, Qualifier)
        check_revision(function, RevisionId)
        statements = statements_of(function.policy)
        kept = [s for s in statements if s.get("Sid") != StatementId]
        if len(kept) == len(statements):
            raise e.ResourceNotFoundException(
                f"Statement {StatementId} is not found in resource policy."
            )
        self._store(function, policy=policy_document(kept) if kept else None)

    def get_policy(
        self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        function = self._find(ctx, FunctionName, Qualifier)
        if function.policy is None:
            raise e.ResourceNotFoundException(NO_POLICY)
        return {"Policy": function.policy, "RevisionId": function.revision_id}

    def permitted_function(
        self,
        account_id: str,
        region: str,
        function_arn: str,
        service_principal: str,
        source_arn: str | None = None,
    ) -> LambdaFunction:
        """The function `function_arn` names, if `service_principal` may invoke it."""
        target = parse_function_name(function_arn, account_id, region)
        function = (
            self._repository.function(target.account_id, target.region, target.name)
            if target is not None and target.qualifier in (None, LATEST)
            else None
        )
        if function is None:
            raise e.FunctionNotFound(f"Function not found: {function_arn}")
        context: dict[str, ContextValue] = {"aws:SourceAccount": account_id}
        if source_arn is not None:
            context["aws:SourceArn"] = source_arn
        decision = evaluate(
            Request(
                ServicePrincipal(service_principal),
                "lambda:InvokeFunction",
                function.arn,
                request_context(context),
            ),
            resource_policy=(
                compile_document(evaluated_policy(function.policy), PolicyKind.RESOURCE)
                if function.policy
                else None
            ),
            resource_account=function.account_id,
        )
        if not decision.allowed:
            raise e.InvocationNotPermitted(
                f"The resource policy of {function.arn} does not let {service_principal} invoke it."
            )
        return function
