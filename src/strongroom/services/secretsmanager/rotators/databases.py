"""Database passwords, rotated as AWS's rotation templates rotate them. The secret is JSON
connection details: `host`, `username`, `password`, and optionally `port`, `dbname`, and for
alternating users `masterarn` (the ARN of a secret holding a superuser's details).

Single user: the user changes its own password (logging in with the current password, or the
previous one when an earlier attempt changed it already). Alternating users: the superuser
creates `<username>_clone` with the user's privileges on the first rotation and afterwards
sets the password of whichever user the secret does not name now, so the credentials clients
hold keep working until the new ones are current."""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

import psycopg
import pymysql
from psycopg import sql

from strongroom.services.secretsmanager.model import AWSCURRENT, AWSPREVIOUS, Secret
from strongroom.services.secretsmanager.passwords import random_password
from strongroom.services.secretsmanager.rotators.base import BuiltInRotator, RotationFailure

CLONE_SUFFIX = "_clone"
# Characters AWS's templates keep out of database passwords (they break connection strings).
_EXCLUDED = ":/@\"'\\"
_CONNECT_TIMEOUT_SECONDS = 5
_REQUIRED = ("host", "username", "password")

Details = dict[str, Any]


def details_of(text: str | None) -> Details:
    """Connection details from a secret's text (RotationFailure without them)."""
    try:
        details = json.loads(text or "")
    except json.JSONDecodeError:
        raise RotationFailure("the secret is not JSON connection details") from None
    if not isinstance(details, dict) or any(
        not isinstance(details.get(key), str) for key in _REQUIRED
    ):
        raise RotationFailure("the secret lacks host, username or password")
    return details


class DatabaseRotator(BuiltInRotator):
    def new_value(self, secret: Secret, current: str) -> str:
        details = details_of(current)
        details["password"] = random_password(32, ExcludeCharacters=_EXCLUDED)
        return json.dumps(details)

    def set_secret(self, secret: Secret, version_id: str) -> None:
        pending = details_of(self.pending(secret, version_id))
        if self._can_log_in(pending):
            return  # an earlier attempt got this far
        self.change_password(secret, pending)

    def test_secret(self, secret: Secret, version_id: str) -> None:
        pending = details_of(self.pending(secret, version_id))
        if not self._can_log_in(pending):
            raise RotationFailure("the new credentials do not log in")

    def _can_log_in(self, details: Details) -> bool:
        try:
            self.connect(details).close()
        except (psycopg.Error, pymysql.MySQLError, OSError, ValueError):
            return False
        return True

    @abstractmethod
    def connect(self, details: Details) -> Any:
        """An autocommit connection as the details' user."""

    @abstractmethod
    def change_password(self, secret: Secret, pending: Details) -> None:
        """Give the pending user the pending password."""


class SingleUser(DatabaseRotator):
    def change_password(self, secret: Secret, pending: Details) -> None:
        for stage in (AWSCURRENT, AWSPREVIOUS):
            text = self.access.value(secret, stage=stage)
            if text is None:
                continue
            try:
                connection = self.connect(details_of(text))
            except (psycopg.Error, pymysql.MySQLError, OSError, ValueError):
                continue
            with connection:
                self.set_own_password(connection, pending["password"])
            return
        raise RotationFailure("neither the current nor the previous credentials log in")

    @abstractmethod
    def set_own_password(self, connection: Any, password: str) -> None: ...


class AlternatingUsers(DatabaseRotator):
    def new_value(self, secret: Secret, current: str) -> str:
        details = json.loads(super().new_value(secret, current))
        if not isinstance(details.get("masterarn"), str):
            raise RotationFailure("alternating users need masterarn, the superuser's secret")
        name = details["username"]
        alternate = name.removesuffix(CLONE_SUFFIX) if name.endswith(CLONE_SUFFIX) else None
        details["username"] = alternate or name + CLONE_SUFFIX
        return json.dumps(details)

    def change_password(self, secret: Secret, pending: Details) -> None:
        superuser = details_of(self.access.value_of(pending["masterarn"], secret))
        current = details_of(self.access.value(secret, stage=AWSCURRENT))
        try:
            connection = self.connect(superuser)
        except (psycopg.Error, pymysql.MySQLError, OSError, ValueError):
            raise RotationFailure("the superuser's credentials do not log in") from None
        with connection:
            self.set_user(connection, current["username"], pending["username"], pending["password"])

    @abstractmethod
    def set_user(self, connection: Any, model_user: str, user: str, password: str) -> None:
        """Create `user` with `model_user`'s privileges if it does not exist, and give it
        `password`."""


class Postgres:
    def connect(self, details: Details) -> Any:
        return psycopg.connect(
            host=details["host"],
            port=int(details.get("port") or 5432),
            user=details["username"],
            password=details["password"],
            dbname=details.get("dbname") or "postgres",
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            autocommit=True,
        )


class PostgresSingleUser(Postgres, SingleUser):
    def set_own_password(self, connection: Any, password: str) -> None:
        connection.execute(
            sql.SQL("ALTER USER CURRENT_USER WITH PASSWORD {}").format(sql.Literal(password))
        )


class PostgresAlternatingUsers(Postgres, AlternatingUsers):
    def set_user(self, connection: Any, model_user: str, user: str, password: str) -> None:
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        if exists:
            statement = sql.SQL("ALTER USER {} WITH PASSWORD {}")
            connection.execute(statement.format(sql.Identifier(user), sql.Literal(password)))
            return
        create = sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}")
        connection.execute(create.format(sql.Identifier(user), sql.Literal(password)))
        grant = sql.SQL("GRANT {} TO {}")
        connection.execute(grant.format(sql.Identifier(model_user), sql.Identifier(user)))


class MySql:
    def connect(self, details: Details) -> Any:
        return pymysql.connect(
            host=details["host"],
            port=int(details.get("port") or 3306),
            user=details["username"],
            password=details["password"],
            database=details.get("dbname") or None,
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            autocommit=True,
        )


class MySqlSingleUser(MySql, SingleUser):
    def set_own_password(self, connection: Any, password: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            (version,) = cursor.fetchone()
            # MariaDB (and MySQL 5) let a user set its own password only this way; MySQL 8
            # dropped PASSWORD().
            if "MariaDB" in version or version.startswith("5."):
                cursor.execute("SET PASSWORD = PASSWORD(%s)", (password,))
            else:
                cursor.execute("ALTER USER CURRENT_USER() IDENTIFIED BY %s", (password,))


class MySqlAlternatingUsers(MySql, AlternatingUsers):
    def set_user(self, connection: Any, model_user: str, user: str, password: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (model_user,))
            host = (cursor.fetchone() or ("%",))[0]
            cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
            if cursor.fetchone():
                cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
                return
            cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
            cursor.execute("SHOW GRANTS FOR %s@%s", (model_user, host))
            for (grant,) in cursor.fetchall():
                privileges = grant.split(" TO ", 1)[0].replace("%", "%%")
                cursor.execute(f"{privileges} TO %s@%s", (user, host))
