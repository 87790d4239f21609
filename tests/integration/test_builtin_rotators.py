"""Strongroom's built-in rotators through a real server: random values that keep their shape,
and database passwords on real servers — PostgreSQL (a throwaway cluster that checks
passwords) and the local MariaDB — for a single user (the old password stops working) and
alternating users (the users take turns; both keep working until the next rotation)."""

from __future__ import annotations

import base64
import json
import string
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pymysql
import pytest
from botocore.exceptions import ClientError

from tests.support.functions import package, unique
from tests.support.postgres import password_checking_server
from tests.support.server import REGION

ACCOUNT = "123456789012"  # the dev server's
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def built_in(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:strongroom-rotation-{name}"


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, Any]]:
    with password_checking_server() as url:
        parts = urlsplit(url)
        yield {
            "engine": "postgres",
            "host": parts.hostname,
            "port": parts.port,
            "username": parts.username,
            "password": parts.password,
            "dbname": "postgres",
        }


@pytest.fixture(scope="module")
def mariadb() -> dict[str, Any]:
    pymysql.connect(**MARIADB).close()  # the local server must answer: fail, never skip
    return {"engine": "mysql", **{k: v for k, v in MARIADB.items() if k != "user"}} | {
        "username": "root"
    }


def rotate(sm: Any, arn: str, rotator: str) -> str:
    """Rotate with a built-in rotator and wait until the new version is current: its id."""
    version = sm.rotate_secret(SecretId=arn, RotationLambdaARN=built_in(rotator))["VersionId"]
    deadline = time.monotonic() + 30
    while "AWSCURRENT" not in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].get(
        version, []
    ):
        assert time.monotonic() < deadline, "the rotation did not finish"
        time.sleep(0.1)
    return str(version)


def value(sm: Any, arn: str, stage: str = "AWSCURRENT") -> str:
    return str(sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])


def new_secret(sm: Any, text: str, **options: Any) -> str:
    return str(sm.create_secret(Name=unique("builtin"), SecretString=text, **options)["ARN"])


# Random values


@pytest.mark.parametrize(
    "old",
    [
        base64.b64encode(uuid.uuid4().bytes * 2).decode(),  # `openssl rand -base64 32`
        uuid.uuid4().hex,
        uuid.uuid4().hex.upper(),
        "Pass-word_with.Punctuation42",
        "onlylowercaseletters",
    ],
)
def test_random_keeps_the_shape_of_a_plain_value(sm, old):
    arn = new_secret(sm, old)
    rotate(sm, arn, "random")
    new = value(sm, arn)
    assert new != old and len(new) == len(old)
    assert value(sm, arn, "AWSPREVIOUS") == old
    if old.endswith("="):
        assert len(base64.b64decode(new, validate=True)) == 32
    else:
        allowed = set()
        for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
            if any(c in chars for c in old):
                allowed |= set(chars)
        allowed |= {c for c in old if not c.isalnum()}
        if all(c in "0123456789abcdef" for c in old) or all(c in "0123456789ABCDEF" for c in old):
            allowed = set("0123456789abcdef" if old.islower() else "0123456789ABCDEF")
        assert set(new) <= allowed


def test_random_regenerates_only_the_tagged_fields_of_json(sm):
    old = {"username": "app", "apiKey": uuid.uuid4().hex, "port": 443}
    tags = [{"Key": "strongroom:rotate-fields", "Value": "apiKey"}]
    arn = new_secret(sm, json.dumps(old), Tags=tags)
    rotate(sm, arn, "random")
    new = json.loads(value(sm, arn))
    assert new["apiKey"] != old["apiKey"] and len(new["apiKey"]) == 32
    assert set(new["apiKey"]) <= set("0123456789abcdef")
    assert {k: v for k, v in new.items() if k != "apiKey"} == {"username": "app", "port": 443}


def test_random_refuses_json_without_the_fields_tag(dev_server, sm):
    arn = new_secret(sm, json.dumps({"password": "kept"}))
    sm.rotate_secret(SecretId=arn, RotationLambdaARN=built_in("random"))
    trail = dev_server.client("cloudtrail")
    deadline = time.monotonic() + 30
    while True:
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
        )["Events"]
        if any(e["EventName"] == "RotationFailed" for e in events):
            break
        assert time.monotonic() < deadline, "no RotationFailed"
        time.sleep(0.1)
    assert json.loads(value(sm, arn)) == {"password": "kept"}


def test_functions_cannot_take_a_built_in_rotators_name(dev_server):
    lam = dev_server.client("lambda")
    with pytest.raises(ClientError) as refused:
        lam.create_function(
            FunctionName="strongroom-rotation-random",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{ACCOUNT}:role/any",
            Handler="app.handler",
            Code={"ZipFile": package("def handler(event, context):\n    return 1\n")},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"


# PostgreSQL


def pg_connect(details: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=details["host"],
        port=details["port"],
        user=details["username"],
        password=details["password"],
        dbname=details["dbname"],
        autocommit=True,
        connect_timeout=5,
    )


def pg_logs_in(details: dict[str, Any]) -> bool:
    try:
        pg_connect(details).close()
    except psycopg.OperationalError:
        return False
    return True


def pg_user(postgres: dict[str, Any]) -> dict[str, Any]:
    """A new login role that may read a table of its own: its connection details."""
    name, password = f"app_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with pg_connect(postgres) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        admin.execute(f"CREATE TABLE {name}_data (n int)")
        admin.execute(f"GRANT SELECT ON {name}_data TO {name}")
    return postgres | {"username": name, "password": password}


def test_postgresql_single_user(sm, postgres):
    user = pg_user(postgres)
    arn = new_secret(sm, json.dumps(user))
    rotate(sm, arn, "postgresql-single-user")
    new = json.loads(value(sm, arn))
    assert new["username"] == user["username"] and new["password"] != user["password"]
    assert pg_logs_in(new)
    assert not pg_logs_in(user)  # the old password stops working


def test_postgresql_alternating_users(sm, postgres):
    user = pg_user(postgres)
    master_arn = new_secret(sm, json.dumps(postgres))
    arn = new_secret(sm, json.dumps(user | {"masterarn": master_arn}))
    rotate(sm, arn, "postgresql-alternating-users")
    clone = json.loads(value(sm, arn))
    assert clone["username"] == f"{user['username']}_clone"
    with pg_connect(clone) as connection:  # with the user's privileges
        connection.execute(f"SELECT count(*) FROM {user['username']}_data")  # noqa: S608
    assert pg_logs_in(user)  # the previous credentials still work
    rotate(sm, arn, "postgresql-alternating-users")
    back = json.loads(value(sm, arn))
    assert back["username"] == user["username"] and back["password"] != user["password"]
    assert pg_logs_in(back) and pg_logs_in(clone)
    assert not pg_logs_in(user)


# MariaDB (MySQL)


def my_connect(details: dict[str, Any]) -> Any:
    return pymysql.connect(
        host=details["host"],
        port=details["port"],
        user=details["username"],
        password=details["password"],
        connect_timeout=5,
    )


def my_logs_in(details: dict[str, Any]) -> bool:
    try:
        my_connect(details).close()
    except pymysql.err.OperationalError:
        return False
    return True


@pytest.fixture
def my_user(mariadb) -> Iterator[dict[str, Any]]:
    name, password = f"app_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with my_connect(mariadb) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}_db")
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
        cursor.execute(f"GRANT SELECT ON {name}_db.* TO %s@'%%'", (name,))
    yield mariadb | {"username": name, "password": password}
    with my_connect(mariadb) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {name}_db")
        for user in (name, f"{name}_clone"):
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def test_mysql_single_user(sm, my_user):
    arn = new_secret(sm, json.dumps(my_user))
    rotate(sm, arn, "mysql-single-user")
    new = json.loads(value(sm, arn))
    assert new["username"] == my_user["username"] and new["password"] != my_user["password"]
    assert my_logs_in(new)
    assert not my_logs_in(my_user)


def test_mysql_alternating_users(sm, mariadb, my_user):
    master_arn = new_secret(sm, json.dumps(mariadb))
    arn = new_secret(sm, json.dumps(my_user | {"masterarn": master_arn}))
    rotate(sm, arn, "mysql-alternating-users")
    clone = json.loads(value(sm, arn))
    assert clone["username"] == f"{my_user['username']}_clone"
    with my_connect(clone) as connection, connection.cursor() as cursor:
        cursor.execute(f"SHOW TABLES FROM {my_user['username']}_db")  # the user's privileges
    assert my_logs_in(my_user)
    rotate(sm, arn, "mysql-alternating-users")
    back = json.loads(value(sm, arn))
    assert back["username"] == my_user["username"] and back["password"] != my_user["password"]
    assert my_logs_in(back) and my_logs_in(clone)
    assert not my_logs_in(my_user)
