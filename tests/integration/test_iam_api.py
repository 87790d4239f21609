"""IAM through a real server with boto3 and the aws CLI, on SQLite and PostgreSQL: users,
groups, roles, managed policies and their versions, attachments, inline policies, tags, pages,
quotas and delete conflicts; access keys that sign requests until made inactive or deleted;
virtual MFA devices enabled with TOTP codes computed here; the bootstrap administrator as an
IAM user; the account summary; the storage contract policy enforcement reads; and no access
key secret or MFA seed in the server's log or the audit trail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from strongroom.storage.changes import ChangeFeed
from strongroom.storage.iam import IamRepository
from tests.support.audit import audit_text, aws, record_of, request_id
from tests.support.kms import aws_error
from tests.support.operator import post
from tests.support.server import DEV_ACCESS_KEY_ID, Server
from tests.support.storage import leaked, storage, storage_view

ACCOUNT = "123456789012"
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
AWS_POLICIES = {
    "AdministratorAccess",
    "PowerUserAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "SecretsManagerReadWrite",
}
NOT_FOUND = "NoSuchEntity"
EXISTS = "EntityAlreadyExists"
CONFLICT = "DeleteConflict"
LIMIT = "LimitExceeded"


def unique(prefix: str = "sr") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def identity_policy(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def trust_policy(service: str = "lambda.amazonaws.com") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def every(call: Callable[..., dict[str, Any]], member: str, **params: Any) -> list[list[Any]]:
    """Every page of a Marker/IsTruncated listing."""
    found: list[list[Any]] = []
    marker: str | None = None
    while True:
        page = call(**params, **({"Marker": marker} if marker else {}))
        found.append(page[member])
        if not page["IsTruncated"]:
            assert "Marker" not in page
            return found
        marker = page["Marker"]


def totp_code(seed_base32: bytes, step: int) -> str:
    """RFC 6238 with SHA-1, 6 digits, written out independently of the server's code."""
    key = base64.b32decode(seed_base32)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[19] & 0x0F
    value = (int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


@pytest.fixture(scope="module")
def iam(dev_server):
    return dev_server.client("iam")


@pytest.fixture
def user(iam):
    name = unique("user")
    iam.create_user(UserName=name)
    return name


def summary(iam) -> dict[str, int]:
    return dict(iam.get_account_summary()["SummaryMap"])


# The bootstrap administrator


def test_the_bootstrap_administrator_is_an_iam_user_with_administrator_access(iam):
    users = {u["UserName"]: u for page in every(iam.list_users, "Users") for u in page}
    admin = users["admin"]
    assert admin["UserId"].startswith("AIDA") and len(admin["UserId"]) == 21
    assert admin["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert iam.get_user()["User"] == admin  # no name: the caller's own user
    attached = iam.list_attached_user_policies(UserName="admin")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ACCESS}]
    keys = iam.list_access_keys()["AccessKeyMetadata"]  # the caller's own
    assert DEV_ACCESS_KEY_ID in [k["AccessKeyId"] for k in keys]
    assert {k["UserName"] for k in keys} == {"admin"}
    with aws_error(CONFLICT, 409, "Cannot delete entity, must delete access keys first."):
        iam.delete_user(UserName="admin")


def test_a_dev_reset_keeps_only_the_administrator(own_dev_server):
    iam = own_dev_server.client("iam")
    iam.create_user(UserName="temporary")
    key = iam.create_access_key(UserName="temporary")["AccessKey"]
    iam.create_role(RoleName="temporary", AssumeRolePolicyDocument=trust_policy())
    assert post(own_dev_server, "/_strongroom/dev/reset", {}) == (200, {"reset": True})
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["admin"]
    assert iam.list_roles()["Roles"] == []
    attached = iam.list_attached_user_policies(UserName="admin")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN_ACCESS]
    own = own_dev_server.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    with aws_error("InvalidClientTokenId", 403):
        own.get_user()


# Users


def test_user_lifecycle(iam):
    name = unique("user")
    created = iam.create_user(UserName=name, Path="/clinic/staff/")["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/clinic/staff/{name}"
    assert created["Path"] == "/clinic/staff/"
    assert created["UserId"].startswith("AIDA")
    assert abs(created["CreateDate"].timestamp() - time.time()) < 60
    assert iam.get_user(UserName=name)["User"] == created
    assert iam.get_user(UserName=name.upper())["User"] == created  # names ignore case
    for taken in (name, name.upper()):
        with aws_error(EXISTS, 409, f"User with name {taken} already exists."):
            iam.create_user(UserName=taken)

    renamed = unique("renamed")
    iam.update_user(UserName=name, NewUserName=renamed, NewPath="/clinic/")
    with aws_error(NOT_FOUND, 404, f"The user with name {name} cannot be found."):
        iam.get_user(UserName=name)
    moved = iam.get_user(UserName=renamed)["User"]
    assert moved["UserId"] == created["UserId"]
    assert moved["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/clinic/{renamed}"
    listed = [u["UserName"] for u in iam.list_users(PathPrefix="/clinic/")["Users"]]
    assert renamed in listed

    iam.delete_user(UserName=renamed)
    with aws_error(NOT_FOUND, 404, f"The user with name {renamed} cannot be found."):
        iam.delete_user(UserName=renamed)
    iam.create_user(UserName=name)  # the name is free again
    iam.delete_user(UserName=name)


def test_renaming_onto_another_user_is_refused(iam, user):
    other = unique("user")
    iam.create_user(UserName=other)
    with aws_error(EXISTS, 409, f"User with name {other.upper()} already exists."):
        iam.update_user(UserName=user, NewUserName=other.upper())
    iam.update_user(UserName=user, NewUserName=user.upper())  # its own name in another case
    assert iam.get_user(UserName=user)["User"]["UserName"] == user.upper()


def test_list_users_pages_with_small_max_items(iam):
    path = f"/{unique('page')}/"
    names = sorted(unique("pu") for _ in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    pages = every(iam.list_users, "Users", PathPrefix=path, MaxItems=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [u["UserName"] for p in pages for u in p] == names
    paginator = iam.get_paginator("list_users")
    listed = paginator.paginate(PathPrefix=path, PaginationConfig={"PageSize": 3})
    assert [u["UserName"] for page in listed for u in page["Users"]] == names
    with aws_error("InvalidInput", 400):
        iam.list_users(PathPrefix=path, Marker="not-a-marker")


def test_user_tags(iam, user):
    iam.tag_user(
        UserName=user, Tags=[{"Key": "Dept", "Value": "cardio"}, {"Key": "a", "Value": ""}]
    )
    assert iam.list_user_tags(UserName=user)["Tags"] == [
        {"Key": "a", "Value": ""},
        {"Key": "Dept", "Value": "cardio"},
    ]
    # Keys ignore case: "dept" replaces "Dept".
    iam.tag_user(UserName=user, Tags=[{"Key": "dept", "Value": "onco"}])
    tags = {t["Key"]: t["Value"] for t in iam.get_user(UserName=user)["User"]["Tags"]}
    assert tags == {"a": "", "dept": "onco"}
    with aws_error("InvalidInput", 400):
        iam.tag_user(UserName=user, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    iam.tag_user(UserName=user, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(48)])
    pages = every(iam.list_user_tags, "Tags", UserName=user, MaxItems=20)
    assert [len(p) for p in pages] == [20, 20, 10]
    with aws_error(LIMIT, 409):
        iam.tag_user(UserName=user, Tags=[{"Key": "one-too-many", "Value": "v"}])
    iam.untag_user(UserName=user, TagKeys=["DEPT", "missing", *(f"k{i}" for i in range(48))])
    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "a", "Value": ""}]
    with aws_error(NOT_FOUND, 404):
        iam.tag_user(UserName=unique("ghost"), Tags=[{"Key": "k", "Value": "v"}])


def test_delete_user_conflicts(iam, user):
    group = unique("group")
    iam.create_group(GroupName=group)
    policy_arn = iam.create_policy(PolicyName=unique("p"), PolicyDocument=identity_policy("s3:*"))[
        "Policy"
    ]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"))["VirtualMFADevice"]
    enable_mfa(iam, user, serial["SerialNumber"], serial["Base32StringSeed"])
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=identity_policy("s3:*"))
    iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)
    iam.add_user_to_group(GroupName=group, UserName=user)

    steps = [
        ("delete access keys", lambda: iam.delete_access_key(UserName=user, AccessKeyId=key)),
        (
            "delete MFA device",
            lambda: iam.deactivate_mfa_device(UserName=user, SerialNumber=serial["SerialNumber"]),
        ),
        ("delete policies", lambda: iam.delete_user_policy(UserName=user, PolicyName="inline")),
        (
            "detach all policies",
            lambda: iam.detach_user_policy(UserName=user, PolicyArn=policy_arn),
        ),
        ("all groups", lambda: iam.remove_user_from_group(GroupName=group, UserName=user)),
    ]
    for what, remove in steps:
        with pytest.raises(ClientError) as refused:
            iam.delete_user(UserName=user)
        error = refused.value.response["Error"]
        assert error["Code"] == CONFLICT and what in error["Message"], error
        remove()
    iam.delete_user(UserName=user)
    iam.delete_virtual_mfa_device(SerialNumber=serial["SerialNumber"])
    iam.delete_group(GroupName=group)
    iam.delete_policy(PolicyArn=policy_arn)


# Groups


def test_groups_and_members(iam):
    group = unique("group")
    created = iam.create_group(GroupName=group, Path="/wards/")["Group"]
    assert created["GroupId"].startswith("AGPA")
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/wards/{group}"
    with aws_error(EXISTS, 409, f"Group with name {group.upper()} already exists."):
        iam.create_group(GroupName=group.upper())
    members = sorted(unique("member") for _ in range(3))
    for name in members:
        iam.create_user(UserName=name)
        iam.add_user_to_group(GroupName=group, UserName=name)
    iam.add_user_to_group(GroupName=group, UserName=members[0])  # again: nothing changes
    pages = every(iam.get_group, "Users", GroupName=group, MaxItems=2)
    assert [u["UserName"] for p in pages for u in p] == members
    assert iam.get_group(GroupName=group)["Group"] == created
    groups = iam.list_groups_for_user(UserName=members[0])["Groups"]
    assert [g["GroupName"] for g in groups] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/wards/")["Groups"]]

    with aws_error(CONFLICT, 409, "Cannot delete entity, must remove users from group first."):
        iam.delete_group(GroupName=group)
    for name in members:
        iam.remove_user_from_group(GroupName=group, UserName=name)
    with aws_error(NOT_FOUND, 404):
        iam.remove_user_from_group(GroupName=group, UserName=members[0])
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=identity_policy("s3:*"))
    with aws_error(CONFLICT, 409, "Cannot delete entity, must delete policies first."):
        iam.delete_group(GroupName=group)
    iam.delete_group_policy(GroupName=group, PolicyName="g")
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    with aws_error(CONFLICT, 409, "Cannot delete entity, must detach all policies first."):
        iam.delete_group(GroupName=group)
    iam.detach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    iam.delete_group(GroupName=group)
    with aws_error(NOT_FOUND, 404, f"The group with name {group} cannot be found."):
        iam.get_group(GroupName=group)


def test_a_user_is_in_at_most_ten_groups(iam, user):
    groups = [unique("g10") for _ in range(11)]
    for group in groups:
        iam.create_group(GroupName=group)
    for group in groups[:10]:
        iam.add_user_to_group(GroupName=group, UserName=user)
    with aws_error(LIMIT, 409, "Cannot exceed quota for GroupsPerUser: 10"):
        iam.add_user_to_group(GroupName=groups[10], UserName=user)
    assert len(iam.list_groups_for_user(UserName=user)["Groups"]) == 10


# Roles


def test_role_lifecycle(iam):
    name = unique("role")
    created = iam.create_role(
        RoleName=name,
        Path="/service-role/",
        AssumeRolePolicyDocument=trust_policy(),
        Description="rotation lambda",
        MaxSessionDuration=7200,
        Tags=[{"Key": "app", "Value": "alphavox"}],
    )["Role"]
    assert created["RoleId"].startswith("AROA")
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"
    assert created["AssumeRolePolicyDocument"] == json.loads(trust_policy())  # boto3 decodes it
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Description"] == "rotation lambda"
    assert role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "app", "Value": "alphavox"}]
    listed = {r["RoleName"]: r for r in iam.list_roles(PathPrefix="/service-role/")["Roles"]}
    assert listed[name]["MaxSessionDuration"] == 7200
    with aws_error(EXISTS, 409, f"Role with name {name} already exists."):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())

    iam.update_role(RoleName=name, Description="", MaxSessionDuration=43200)
    role = iam.get_role(RoleName=name)["Role"]
    assert "Description" not in role and role["MaxSessionDuration"] == 43200
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust_policy("ec2.amazonaws.com"))
    document = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert document["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    iam.tag_role(RoleName=name, Tags=[{"Key": "APP", "Value": "x"}, {"Key": "b", "Value": "y"}])
    tags = iam.list_role_tags(RoleName=name)["Tags"]
    assert tags == [{"Key": "APP", "Value": "x"}, {"Key": "b", "Value": "y"}]
    iam.untag_role(RoleName=name, TagKeys=["app"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "b", "Value": "y"}]

    iam.put_role_policy(RoleName=name, PolicyName="r", PolicyDocument=identity_policy("kms:*"))
    with aws_error(CONFLICT, 409, "Cannot delete entity, must delete policies first."):
        iam.delete_role(RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="r")
    iam.attach_role_policy(RoleName=name, PolicyArn=READ_ONLY)
    with aws_error(CONFLICT, 409, "Cannot delete entity, must detach all policies first."):
        iam.delete_role(RoleName=name)
    iam.detach_role_policy(RoleName=name, PolicyArn=READ_ONLY)
    iam.delete_role(RoleName=name)
    with aws_error(NOT_FOUND, 404, f"The role with name {name} cannot be found."):
        iam.get_role(RoleName=name)


def test_list_roles_pages(iam):
    path = f"/{unique('rp')}/"
    names = sorted(unique("r") for _ in range(3))
    for name in names:
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust_policy())
    pages = every(iam.list_roles, "Roles", PathPrefix=path, MaxItems=1)
    assert [r["RoleName"] for p in pages for r in p] == names and len(pages) == 3


# Managed policies


def test_managed_policy_versions(iam):
    name = unique("policy")
    policy = iam.create_policy(
        PolicyName=name,
        Path="/phi/",
        PolicyDocument=identity_policy("secretsmanager:GetSecretValue"),
        Description="read PHI secrets",
        Tags=[{"Key": "k", "Value": "v"}],
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/phi/{name}"
    assert policy["PolicyId"].startswith("ANPA")
    assert (policy["DefaultVersionId"], policy["AttachmentCount"]) == ("v1", 0)
    with aws_error(EXISTS, 409):
        iam.create_policy(PolicyName=name.upper(), PolicyDocument=identity_policy("s3:*"))
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "read PHI secrets" and got["Tags"] == [{"Key": "k", "Value": "v"}]

    for number in range(2, 6):
        version = iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=identity_policy(f"s3:Get{number}"), SetAsDefault=False
        )["PolicyVersion"]
        assert version["VersionId"] == f"v{number}" and version["IsDefaultVersion"] is False
    with aws_error(LIMIT, 409):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=identity_policy("s3:*"))
    pages = every(iam.list_policy_versions, "Versions", PolicyArn=arn, MaxItems=2)
    listed = [v["VersionId"] for p in pages for v in p]
    assert listed == ["v5", "v4", "v3", "v2", "v1"]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    v3 = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert v3["IsDefaultVersion"] is True
    assert v3["Document"] == json.loads(identity_policy("s3:Get3"))
    with aws_error(CONFLICT, 409, "Cannot delete the default version of a policy."):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    added = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=identity_policy("s3:Put*"), SetAsDefault=True
    )["PolicyVersion"]
    assert added["VersionId"] == "v6"  # numbers are never reused
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v6"
    with aws_error(NOT_FOUND, 404):
        iam.get_policy_version(PolicyArn=arn, VersionId="v1")

    with aws_error(CONFLICT, 409):
        iam.delete_policy(PolicyArn=arn)  # it has versions besides the default
    for version in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.delete_policy(PolicyArn=arn)
    with aws_error(NOT_FOUND, 404, f"Policy {arn} was not found."):
        iam.get_policy(PolicyArn=arn)


def test_aws_managed_policies(iam):
    aws_policies = {p["PolicyName"]: p for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert set(aws_policies) == AWS_POLICIES
    admin = iam.get_policy(PolicyArn=ADMIN_ACCESS)["Policy"]
    assert admin["Arn"] == ADMIN_ACCESS and admin["IsAttachable"] is True
    assert admin["AttachmentCount"] >= 1  # the bootstrap administrator's
    document = iam.get_policy_version(PolicyArn=ADMIN_ACCESS, VersionId="v1")["PolicyVersion"]
    assert document["Document"] == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    with aws_error("AccessDenied", 403):
        iam.create_policy_version(PolicyArn=ADMIN_ACCESS, PolicyDocument=identity_policy("s3:*"))
    with aws_error("AccessDenied", 403):
        iam.delete_policy(PolicyArn=ADMIN_ACCESS)


def test_list_policies_scope_attachment_and_path(iam, user):
    path = f"/{unique('lp')}/"
    arns = [
        iam.create_policy(
            PolicyName=unique("lp"), Path=path, PolicyDocument=identity_policy("s3:*")
        )["Policy"]["Arn"]
        for _ in range(3)
    ]
    local = [p["Arn"] for p in every(iam.list_policies, "Policies", Scope="Local")[0]]
    assert set(arns) <= set(local)
    assert not {p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]} & {ADMIN_ACCESS}
    pages = every(iam.list_policies, "Policies", Scope="Local", PathPrefix=path, MaxItems=2)
    assert sorted(p["Arn"] for page in pages for p in page) == sorted(arns)
    iam.attach_user_policy(UserName=user, PolicyArn=arns[1])
    attached = iam.list_policies(Scope="Local", PathPrefix=path, OnlyAttached=True)["Policies"]
    assert [(p["Arn"], p["AttachmentCount"]) for p in attached] == [(arns[1], 1)]
    everything = [p["Arn"] for page in every(iam.list_policies, "Policies") for p in page]
    assert ADMIN_ACCESS in everything and set(arns) <= set(everything)


# Attachments


def test_attachments_and_entities_for_policy(iam, user):
    group, role = unique("group"), unique("role")
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy())
    arn = iam.create_policy(PolicyName=unique("att"), PolicyDocument=identity_policy("s3:*"))[
        "Policy"
    ]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)  # again: nothing changes
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    name = arn.rsplit("/", 1)[1]
    for listing, member, value in (
        (iam.list_attached_user_policies, "UserName", user),
        (iam.list_attached_group_policies, "GroupName", group),
        (iam.list_attached_role_policies, "RoleName", role),
    ):
        assert listing(**{member: value})["AttachedPolicies"] == [
            {"PolicyName": name, "PolicyArn": arn}
        ]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    roles_only = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert (roles_only["PolicyUsers"], len(roles_only["PolicyRoles"])) == ([], 1)
    paged = every(iam.list_entities_for_policy, "PolicyUsers", PolicyArn=arn, MaxItems=1)
    assert len(paged) == 3

    with aws_error(CONFLICT, 409, "Cannot delete a policy attached to entities."):
        iam.delete_policy(PolicyArn=arn)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    with aws_error(NOT_FOUND, 404, f"Policy {arn} was not found."):
        iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{unique('missing')}"
    with aws_error(NOT_FOUND, 404, f"Policy {missing} does not exist or is not attachable."):
        iam.attach_user_policy(UserName=user, PolicyArn=missing)


def test_at_most_ten_managed_policies_per_entity(iam, user):
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy())
    arns = [
        iam.create_policy(PolicyName=unique("ten"), PolicyDocument=identity_policy("s3:*"))[
            "Policy"
        ]["Arn"]
        for _ in range(6)
    ]
    aws_arns = [f"arn:aws:iam::aws:policy/{name}" for name in sorted(AWS_POLICIES)]
    for arn in [*arns, *aws_arns][:10]:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    eleventh = aws_arns[-1]
    with aws_error(LIMIT, 409, "Cannot exceed quota for PoliciesPerUser: 10"):
        iam.attach_user_policy(UserName=user, PolicyArn=eleventh)
    with aws_error(LIMIT, 409, "Cannot exceed quota for PoliciesPerRole: 10"):
        iam.attach_role_policy(RoleName=role, PolicyArn=eleventh)
    pages = every(iam.list_attached_user_policies, "AttachedPolicies", UserName=user, MaxItems=4)
    assert [len(p) for p in pages] == [4, 4, 2]


# Inline policies


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_inline_policies(iam, kind):
    name = unique(kind.lower())
    if kind == "Role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())
    else:
        getattr(iam, f"create_{kind.lower()}")(**{f"{kind}Name": name})
    entity = {f"{kind}Name": name}
    put = getattr(iam, f"put_{kind.lower()}_policy")
    get = getattr(iam, f"get_{kind.lower()}_policy")
    listing = getattr(iam, f"list_{kind.lower()}_policies")
    delete = getattr(iam, f"delete_{kind.lower()}_policy")
    for policy_name in ("b-policy", "a-policy", "c-policy"):
        put(**entity, PolicyName=policy_name, PolicyDocument=identity_policy("s3:GetObject"))
    put(**entity, PolicyName="a-policy", PolicyDocument=identity_policy("s3:PutObject"))
    got = get(**entity, PolicyName="a-policy")
    assert got["PolicyName"] == "a-policy"
    assert got["PolicyDocument"] == json.loads(identity_policy("s3:PutObject"))
    pages = every(listing, "PolicyNames", **entity, MaxItems=2)
    assert pages == [["a-policy", "b-policy"], ["c-policy"]]
    delete(**entity, PolicyName="b-policy")
    message = f"The {kind.lower()} policy with name b-policy cannot be found."
    with aws_error(NOT_FOUND, 404, message):
        get(**entity, PolicyName="b-policy")
    with aws_error(NOT_FOUND, 404, message):
        delete(**entity, PolicyName="b-policy")


@pytest.mark.parametrize(("kind", "quota"), [("user", 2048), ("group", 5120), ("role", 10240)])
def test_inline_policies_share_a_size_quota(iam, kind, quota):
    name = unique(kind)
    if kind == "role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())
    else:
        getattr(iam, f"create_{kind}")(**{f"{kind.capitalize()}Name": name})
    entity = {f"{kind.capitalize()}Name": name}
    put = getattr(iam, f"put_{kind}_policy")
    small = identity_policy("s3:GetObject")
    half = identity_policy(*(f"s3:Get{i:04d}" for i in range(quota // 26)))
    assert quota // 2 < len(half.replace(" ", "")) <= quota - len(small)
    put(**entity, PolicyName="half", PolicyDocument=half)
    put(**entity, PolicyName="small", PolicyDocument=small)
    message = f"Maximum policy size of {quota} bytes exceeded for {kind} {name}"
    with aws_error(LIMIT, 409, message):
        put(**entity, PolicyName="second-half", PolicyDocument=half)
    put(**entity, PolicyName="half", PolicyDocument=half)  # replacing counts it once


# Access keys


def test_access_key_signs_until_inactive_or_deleted(iam, dev_server, user):
    created = iam.create_access_key(UserName=user)["AccessKey"]
    key_id, secret = created["AccessKeyId"], created["SecretAccessKey"]
    assert key_id.startswith("AKIA") and len(key_id) == 20 and len(secret) == 40
    assert created["Status"] == "Active" and created["UserName"] == user
    never = iam.get_access_key_last_used(AccessKeyId=key_id)
    assert never["UserName"] == user
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    # What the user may do: list secrets and read itself.
    may = {
        "Effect": "Allow",
        "Action": ["secretsmanager:ListSecrets", "iam:GetUser"],
        "Resource": "*",
    }
    iam.put_user_policy(
        UserName=user,
        PolicyName="list",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [may]}),
    )
    config = Config(retries={"max_attempts": 1})
    secrets = dev_server.client(
        "secretsmanager", aws_access_key_id=key_id, aws_secret_access_key=secret, config=config
    )
    own_iam = dev_server.client(
        "iam", aws_access_key_id=key_id, aws_secret_access_key=secret, config=config
    )
    secrets.list_secrets()
    assert own_iam.get_user()["User"]["UserName"] == user  # the key's own user

    iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    with aws_error("UnrecognizedClientException", 400):
        secrets.list_secrets()
    with aws_error("InvalidClientTokenId", 403):
        own_iam.get_user()
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key_id, "Inactive")]

    iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Active")
    secrets.list_secrets()
    deadline = time.monotonic() + 10
    while (
        "LastUsedDate" not in iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
    ):
        assert time.monotonic() < deadline, "the key's use was never stored"
        time.sleep(0.2)
    used = iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
    assert used["ServiceName"] in ("secretsmanager", "iam") and used["Region"] == "us-east-1"
    assert abs(used["LastUsedDate"].timestamp() - time.time()) < 60

    iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    with aws_error("UnrecognizedClientException", 400):
        secrets.list_secrets()
    with aws_error(NOT_FOUND, 404, f"The Access Key with id {key_id} cannot be found."):
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)


def test_at_most_two_access_keys_per_user(iam, user):
    first = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    second = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    with aws_error(LIMIT, 409, "Cannot exceed quota for AccessKeysPerUser: 2"):
        iam.create_access_key(UserName=user)
    pages = every(iam.list_access_keys, "AccessKeyMetadata", UserName=user, MaxItems=1)
    assert [k["AccessKeyId"] for p in pages for k in p] == [first, second]
    other = unique("user")
    iam.create_user(UserName=other)
    with aws_error(NOT_FOUND, 404):  # a key is only found through its own user
        iam.update_access_key(UserName=other, AccessKeyId=first, Status="Inactive")


def allow_to(iam: Any, user: str, *actions: str) -> None:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_user_policy(UserName=user, PolicyName="allowed", PolicyDocument=document)


def test_a_renamed_user_keeps_its_access_keys(iam, dev_server, user):
    key = iam.create_access_key(UserName=user)["AccessKey"]
    allow_to(iam, user, "iam:GetUser")  # its policies go with it too
    renamed = unique("renamed")
    iam.update_user(UserName=user, NewUserName=renamed)
    own = dev_server.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    assert own.get_user()["User"]["UserName"] == renamed
    listed = iam.list_access_keys(UserName=renamed)["AccessKeyMetadata"]
    assert [k["UserName"] for k in listed] == [renamed]


# MFA


def enable_mfa(iam: Any, user: str, serial: str, seed: bytes) -> None:
    step = int(time.time() // 30)
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp_code(seed, step - 1),
        AuthenticationCode2=totp_code(seed, step),
    )


def test_virtual_mfa_device_lifecycle(iam, user):
    name = unique("mfa")
    device = iam.create_virtual_mfa_device(
        VirtualMFADeviceName=name, Path="/phones/", Tags=[{"Key": "owner", "Value": user}]
    )["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"]
    assert serial == f"arn:aws:iam::{ACCOUNT}:mfa/phones/{name}"
    assert len(seed) == 64 and base64.b32decode(seed)
    assert device["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    with aws_error(EXISTS, 409):
        iam.create_virtual_mfa_device(VirtualMFADeviceName=name, Path="/phones/")
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in unassigned]

    step = int(time.time() // 30)
    with aws_error(
        "InvalidAuthenticationCode", 403, "Authentication code for device is not valid."
    ):
        iam.enable_mfa_device(
            UserName=user,
            SerialNumber=serial,
            AuthenticationCode1=totp_code(seed, step),
            AuthenticationCode2=totp_code(seed, step),  # not consecutive
        )
    enable_mfa(iam, user, serial, seed)
    devices = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [(user, serial)]
    with aws_error(EXISTS, 409):
        enable_mfa(iam, user, serial, seed)
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    entry = next(d for d in assigned if d["SerialNumber"] == serial)
    assert entry["User"]["UserName"] == user and "EnableDate" in entry
    assert entry["Tags"] == [{"Key": "owner", "Value": user}]
    assert "Base32StringSeed" not in entry and "QRCodePNG" not in entry
    with aws_error(CONFLICT, 409):
        iam.delete_virtual_mfa_device(SerialNumber=serial)

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with aws_error(NOT_FOUND, 404):
        iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with aws_error(NOT_FOUND, 404):
        iam.delete_virtual_mfa_device(SerialNumber=serial)


# The account


def test_account_summary_counts(iam):
    before = summary(iam)
    assert before["UsersQuota"] == 5000 and before["AccessKeysPerUserQuota"] == 2
    assert before["PolicySizeQuota"] == 6144 and before["VersionsPerPolicyQuota"] == 5
    assert before["Users"] >= 1  # the administrator
    user, group, role = unique("sum"), unique("sum"), unique("sum")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy())
    arn = iam.create_policy(PolicyName=unique("sum"), PolicyDocument=identity_policy("s3:*"))[
        "Policy"
    ]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("sum"))["VirtualMFADevice"]
    enable_mfa(iam, user, device["SerialNumber"], device["Base32StringSeed"])
    after = summary(iam)
    changed = {key: after[key] - before[key] for key in after if after[key] != before[key]}
    assert changed == {
        "Users": 1,
        "Groups": 1,
        "Roles": 1,
        "Policies": 1,
        "PolicyVersionsInUse": 1,
        "MFADevices": 1,
        "MFADevicesInUse": 1,
    }


def test_aws_cli(dev_server):
    name = unique("cli")
    created = aws(dev_server, "iam", "create-user", "--user-name", name, "--path", "/cli/")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["User"]["Arn"].endswith(f":user/cli/{name}")
    put = aws(
        dev_server,
        *("iam", "put-user-policy", "--user-name", name, "--policy-name", "p"),
        *("--policy-document", identity_policy("secretsmanager:*")),
    )
    assert put.returncode == 0, put.stderr
    got = aws(dev_server, "iam", "get-user-policy", "--user-name", name, "--policy-name", "p")
    assert json.loads(got.stdout)["PolicyDocument"] == json.loads(
        identity_policy("secretsmanager:*")
    )
    listed = aws(dev_server, "iam", "list-users", "--path-prefix", "/cli/")
    assert listed.returncode == 0, listed.stderr
    assert name in [u["UserName"] for u in json.loads(listed.stdout)["Users"]]
    refused = aws(dev_server, "iam", "delete-user", "--user-name", name)
    assert refused.returncode != 0 and "DeleteConflict" in refused.stderr
    attached = aws(dev_server, "iam", "list-attached-user-policies", "--user-name", "admin")
    assert json.loads(attached.stdout)["AttachedPolicies"][0]["PolicyArn"] == ADMIN_ACCESS


# What policy enforcement reads: the storage contract


def test_repository_serves_identity_policies_and_sees_changes_at_once(iam, dev_server, user):
    group, role = unique("group"), unique("role")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy())
    own = identity_policy("s3:GetObject")
    of_group = identity_policy("kms:Decrypt")
    managed = identity_policy("secretsmanager:GetSecretValue")
    arn = iam.create_policy(PolicyName=unique("contract"), PolicyDocument=managed)["Policy"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="own", PolicyDocument=own)
    iam.put_group_policy(GroupName=group, PolicyName="group", PolicyDocument=of_group)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    iam.tag_user(UserName=user, Tags=[{"Key": "team", "Value": "records"}])

    with storage(storage_view(dev_server)) as engine:
        repository = IamRepository(engine, ChangeFeed(engine))
        found = repository.user(ACCOUNT, user.upper())
        assert found is not None and found.name == user and found.tags == {"team": "records"}
        assert found.arn == f"arn:aws:iam::{ACCOUNT}:user/{user}"
        assert sorted(repository.identity_policies(ACCOUNT, "user", user)) == sorted(
            [own, of_group, managed]
        )
        documents = repository.identity_policies(ACCOUNT, "role", role)
        assert len(documents) == 1 and "iam:Get*" in documents[0]
        admin = repository.identity_policies(ACCOUNT, "user", "admin")
        assert [json.loads(d)["Statement"][0]["Action"] for d in admin] == ["*"]
        assert repository.managed_policy_documents([arn, ADMIN_ACCESS, arn + "x"]) == (
            managed,
            admin[0],
        )
        role_entry = repository.role(ACCOUNT, role)
        assert role_entry is not None and role_entry.max_session_duration == 3600
        assert repository.user(ACCOUNT, unique("nobody")) is None
        assert repository.identity_policies(ACCOUNT, "user", unique("nobody")) == ()

        # A change through the server reaches this process's caches within the poll bound.
        changed = identity_policy("s3:PutObject")
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=changed, SetAsDefault=True)
        iam.remove_user_from_group(GroupName=group, UserName=user)
        time.sleep(0.25)
        assert repository.identity_policies(ACCOUNT, "user", user) == (own,)
        assert repository.managed_policy_documents([arn]) == (changed,)


# Secrets


def test_no_access_key_secret_or_mfa_seed_in_the_log_or_the_audit_trail(iam, dev_server, user):
    key = iam.create_access_key(UserName=user)["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("leak"))["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    enable_mfa(iam, user, device["SerialNumber"], seed)
    secrets = {
        "secret access key": key["SecretAccessKey"].encode(),
        "MFA seed": seed,
        "MFA seed bytes": base64.b32decode(seed),
        "QR code": device["QRCodePNG"][40:104],
    }
    time.sleep(0.5)  # the records are stored before the answers; the log a moment later
    assert leaked(secrets, dev_server.log_text().encode()) == []
    trail = audit_text(dev_server)
    assert key["AccessKeyId"].encode() in trail  # the calls were recorded
    assert leaked(secrets, trail) == []


def test_errors_name_no_secret(iam, dev_server: Server, user):
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("codes"))["VirtualMFADevice"]
    with pytest.raises(ClientError) as refused:
        iam.enable_mfa_device(
            UserName=user,
            SerialNumber=device["SerialNumber"],
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
    assert "123456" not in json.dumps(refused.value.response["Error"])
    # One-time codes stay out of the trail too. (This call's record only: the whole trail's
    # random ids hold any six digits now and then.)
    record = record_of(dev_server, request_id(refused.value.response))
    assert set(record["requestParameters"]) == {"userName", "serialNumber"}
    assert "654321" not in json.dumps(record)
