"""The AWS managed policies Strongroom offers: global (account "aws"), attachable in every
account, never changed by one. Their documents are AWS's published default versions (as of
the version named); ids and dates are AWS's as far as they are known."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from strongroom.services.iam.model import AWS_ACCOUNT, ManagedPolicy, PolicyVersion, arn

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def _time(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=4)


# name: (policy id, description, default version, created, updated, document)
_POLICIES: dict[str, tuple[str, str, str, str, str, str]] = {
    "AdministratorAccess": (
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        "v1",
        "2015-02-06T18:39:46",
        "2015-02-06T18:39:46",
        _document([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
    ),
    "PowerUserAccess": (
        "ANPAJYRXTHIB4FOVS3ZXS",
        "Provides full access to AWS services and resources, but does not allow management "
        "of Users and groups.",
        "v5",
        "2015-02-06T18:39:47",
        "2023-07-06T22:04:00",
        _document(
            [
                {
                    "Effect": "Allow",
                    "NotAction": ["iam:*", "organizations:*", "account:*"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "account:GetAccountInformation",
                        "account:GetPrimaryEmail",
                        "account:ListRegions",
                        "iam:CreateServiceLinkedRole",
                        "iam:DeleteServiceLinkedRole",
                        "iam:ListRoles",
                        "organizations:DescribeOrganization",
                    ],
                    "Resource": "*",
                },
            ]
        ),
    ),
    "IAMFullAccess": (
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        "v2",
        "2015-02-06T18:40:38",
        "2019-06-21T19:40:00",
        _document(
            [
                {
                    "Effect": "Allow",
                    "Action": [
                        "iam:*",
                        "organizations:DescribeAccount",
                        "organizations:DescribeOrganization",
                        "organizations:DescribeOrganizationalUnit",
                        "organizations:DescribePolicy",
                        "organizations:ListChildren",
                        "organizations:ListParents",
                        "organizations:ListPoliciesForTarget",
                        "organizations:ListRoots",
                        "organizations:ListPolicies",
                        "organizations:ListTargetsForPolicy",
                    ],
                    "Resource": "*",
                }
            ]
        ),
    ),
    "IAMReadOnlyAccess": (
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        "v4",
        "2015-02-06T18:40:39",
        "2018-01-25T19:11:27",
        _document(
            [
                {
                    "Effect": "Allow",
                    "Action": [
                        "iam:GenerateCredentialReport",
                        "iam:GenerateServiceLastAccessedDetails",
                        "iam:Get*",
                        "iam:List*",
                        "iam:SimulateCustomPolicy",
                        "iam:SimulatePrincipalPolicy",
                    ],
                    "Resource": "*",
                }
            ]
        ),
    ),
    "SecretsManagerReadWrite": (
        "ANPAJOAJDFJFC4SGJOBZ6",
        "Provides read/write access to AWS Secrets Manager via the AWS Management Console. "
        "Note: this exludes IAM actions, so combine with IAMFullAccess if rotation "
        "configuration is required.",
        "v5",
        "2018-04-04T18:05:29",
        "2024-03-15T21:45:00",
        _document(
            [
                {
                    "Sid": "BasePermissions",
                    "Effect": "Allow",
                    "Action": [
                        "secretsmanager:*",
                        "cloudformation:CreateChangeSet",
                        "cloudformation:DescribeChangeSet",
                        "cloudformation:DescribeStackResource",
                        "cloudformation:DescribeStacks",
                        "cloudformation:ExecuteChangeSet",
                        "docdb-elastic:GetCluster",
                        "docdb-elastic:ListClusters",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                        "kms:DescribeKey",
                        "kms:ListAliases",
                        "kms:ListKeys",
                        "lambda:ListFunctions",
                        "rds:DescribeDBClusters",
                        "rds:DescribeDBInstances",
                        "redshift:DescribeClusters",
                        "redshift-serverless:ListWorkgroups",
                        "redshift-serverless:GetNamespace",
                        "tag:GetResources",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "LambdaPermissions",
                    "Effect": "Allow",
                    "Action": [
                        "lambda:AddPermission",
                        "lambda:CreateFunction",
                        "lambda:GetFunction",
                        "lambda:InvokeFunction",
                        "lambda:UpdateFunctionConfiguration",
                    ],
                    "Resource": "arn:aws:lambda:*:*:function:SecretsManager*",
                },
                {
                    "Sid": "SARPermissions",
                    "Effect": "Allow",
                    "Action": [
                        "serverlessrepo:CreateCloudFormationChangeSet",
                        "serverlessrepo:GetApplication",
                    ],
                    "Resource": "arn:aws:serverlessrepo:*:*:applications/SecretsManager*",
                },
                {
                    "Sid": "S3Permissions",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [
                        "arn:aws:s3:::awsserverlessrepo-changesets*",
                        "arn:aws:s3:::secrets-manager-rotation-apps-*/*",
                    ],
                },
            ]
        ),
    ),
}

POLICIES: dict[str, ManagedPolicy] = {}  # by ARN
DOCUMENTS: dict[str, PolicyVersion] = {}  # the default version of each, by ARN
for _name, (_id, _description, _version, _created, _updated, _text) in _POLICIES.items():
    _arn = arn(AWS_ACCOUNT, "policy", "/", _name)
    POLICIES[_arn] = ManagedPolicy(
        account_id=AWS_ACCOUNT,
        name=_name,
        policy_id=_id,
        arn=_arn,
        path="/",
        description=_description,
        default_version=_version,
        created=_time(_created),
        updated=_time(_updated),
    )
    DOCUMENTS[_arn] = PolicyVersion(_version, _text, _time(_updated))


def policy(policy_arn: str) -> ManagedPolicy | None:
    return POLICIES.get(policy_arn)


def document(policy_arn: str) -> str | None:
    version = DOCUMENTS.get(policy_arn)
    return version.document if version is not None else None
