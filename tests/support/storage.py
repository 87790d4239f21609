"""A server's storage opened directly, as anyone holding the database could, and every secret
the server holds recovered with the project's own keyring, to search for where it must not be."""

from __future__ import annotations

import base64
import configparser
import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from strongroom.auth.authenticator import access_key_aad
from strongroom.barrier.keyring import Keyring
from tests.support.server import Server


def storage_view(server: Server) -> Server:
    """The server as the storage helpers need it: a --dev server keeps its SQLite file in a
    directory it made itself, which its log names."""
    if "--storage" in server.args or server.data_dir is not None:
        return server
    match = re.search(r"storage sqlite:///(/\S+)/strongroom\.db;", server.log_text())
    assert match, "the dev server's log names no SQLite file"
    return dataclasses.replace(server, data_dir=Path(match[1]))


@contextmanager
def storage(server: Server) -> Iterator[sa.Engine]:
    if "--storage" in server.args:
        given = server.args[server.args.index("--storage") + 1]
        url = given.replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        url = f"sqlite:///{server.data_dir / 'strongroom.db'}"
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def stored_value(server: Server, sql: str, **params: object) -> bytes:
    with storage(server) as engine, engine.connect() as connection:
        return bytes(connection.execute(sa.text(sql), params).scalar_one())


def overwrite(server: Server, sql: str, **params: object) -> None:
    with storage(server) as engine, engine.begin() as connection:
        assert connection.execute(sa.text(sql), params).rowcount == 1


def recovered_secrets(server: Server, root_key: bytes | None = None) -> dict[str, bytes]:
    """The root key (default: the file seal's), the keyring's keys, every KMS key material and
    every access key's secret, decrypted as the server itself decrypts them."""
    if root_key is None:
        root_key = base64.b64decode((server.data_dir / "root.key").read_bytes())
    keyring_blob = stored_value(
        server, "SELECT value FROM system_state WHERE name = 'barrier.keyring'"
    )
    keyring = Keyring.unwrap(root_key, keyring_blob)
    secrets = {"root key": root_key}
    secrets.update({f"keyring key {term}": key for term, key in keyring.keys.items()})
    with storage(server) as engine, engine.connect() as connection:
        materials = connection.execute(
            sa.text(
                "SELECT k.key_id, k.account_id, k.region, m.version, m.material_blob"
                " FROM kms_key_materials m JOIN kms_keys k ON k.key_id = m.key_id"
            )
        ).all()
        access_keys = connection.execute(
            sa.text(
                "SELECT access_key_id, account_id, user_name, user_id, secret_blob FROM access_keys"
            )
        ).all()
    for key_id, account_id, region, version, blob in materials:
        arn = f"arn:aws:kms:{region}:{account_id}:key/{key_id}"
        secrets[f"material {key_id}/{version}"] = keyring.decrypt(
            bytes(blob), f"kms_key_materials/{arn}/{version}".encode()
        )
    for access_key_id, account_id, user_name, user_id, blob in access_keys:
        secrets[f"secret of {access_key_id}"] = keyring.decrypt(
            bytes(blob), access_key_aad(access_key_id, account_id, user_name, user_id)
        )
    return secrets


def admin_secret(server: Server) -> bytes:
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "credentials")
    return parser["default"]["aws_secret_access_key"].encode()


def encodings(secret: bytes) -> list[bytes]:
    """The forms a secret could leak in: raw, hex and base64."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
    ]


def leaked(secrets: dict[str, bytes], haystack: bytes) -> list[str]:
    """The names of the secrets found in `haystack` in any of their encodings."""
    return [
        name
        for name, secret in secrets.items()
        if any(encoded in haystack for encoded in encodings(secret))
    ]


def storage_dump(server: Server) -> bytes:
    """Every byte storage holds: the SQLite files, or every column of every PostgreSQL table."""
    if "--storage" not in server.args:
        files = sorted(server.data_dir.glob("strongroom.db*"))
        assert files
        return b"".join(path.read_bytes() for path in files)
    parts = []
    with storage(server) as engine, engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        assert {"system_state", "kms_key_materials", "access_keys"} <= set(tables)
        for table in tables:
            # Table names come from the database itself.
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):  # noqa: S608
                for value in row:
                    parts.append(
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                    )
            # PostgreSQL's own text rendering of each row as well (bytea as \x... hex).
            rendering = sa.text(f'SELECT t::text FROM "{table}" t')  # noqa: S608
            rendered = connection.execute(rendering).scalars()
            parts.extend(text.encode() for text in rendered)
    return b"\n".join(parts)
