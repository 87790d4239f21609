"""Imported key material (origin EXTERNAL, AWS's "bring your own key") through stock boto3:
GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial, with the wrapping
done client-side with the `cryptography` library exactly as AWS documents it (RSA-OAEP with
MGF1 of the same hash; or RSA-OAEP around a fresh AES key that wraps the material with AES key
wrap with padding, RFC 5649).

Every refused import changes nothing. Expiry runs through the real background job on a server
whose dev clock moves. What an imported key signs, MACs or decrypts is checked against the
material the client holds, and that material is searched for in the server's log and storage.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.conftest import BACKENDS
from tests.support.kms import aws_error, unchanged
from tests.support.operator import post
from tests.support.storage import leaked, recovered_secrets, storage, storage_dump

DAY = 86400
OAEP_SHA_1, OAEP_SHA_256 = "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"
AES_WRAP_SHA_1, AES_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"
WRAPPING_ALGORITHMS = (OAEP_SHA_1, OAEP_SHA_256, AES_WRAP_SHA_1, AES_WRAP_SHA_256)
RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
EXPIRES, DOES_NOT_EXPIRE = "KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"
DER, PKCS8, SPKI = (
    serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8,
    serialization.PublicFormat.SubjectPublicKeyInfo,
)


# Client side: what an AWS user runs to wrap material

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def oaep(algorithm: str) -> padding.OAEP:
    digest = hashes.SHA1() if algorithm.endswith("_SHA_1") else hashes.SHA256()  # noqa: S303
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def wrap(material: bytes, public_key_der: bytes, algorithm: str) -> bytes:
    """Encrypt key material under a GetParametersForImport public key, as AWS documents."""
    public_key = serialization.load_der_public_key(public_key_der)
    assert isinstance(public_key, rsa.RSAPublicKey)
    if algorithm.startswith("RSAES_OAEP"):
        return public_key.encrypt(material, oaep(algorithm))
    aes_key = os.urandom(32)
    return public_key.encrypt(aes_key, oaep(algorithm)) + keywrap.aes_key_wrap_with_padding(
        aes_key, material
    )


@functools.cache
def private_key(spec: str) -> PrivateKey:
    """A client-made private key of a KMS key spec (made once: RSA_3072 takes a while)."""
    if spec in RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[spec])
    curve = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1}[spec]
    return ec.generate_private_key(curve())


def pkcs8(key: PrivateKey) -> bytes:
    return key.private_bytes(DER, PKCS8, serialization.NoEncryption())


def spki(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(DER, SPKI)


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


# Requests


def parameters(
    kms: Any, key_id: str, algorithm: str = OAEP_SHA_256, spec: str = "RSA_2048"
) -> dict[str, Any]:
    return kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )


def import_request(
    kms: Any,
    key_id: str,
    material: bytes,
    algorithm: str = OAEP_SHA_256,
    wrap_as: str | None = None,
    **expiry: Any,
) -> dict[str, Any]:
    """ImportKeyMaterial parameters with fresh import parameters of `algorithm` (the material
    wrapped `wrap_as` instead, if given); the material does not expire unless `expiry` says."""
    params = parameters(kms, key_id, algorithm)
    return {
        "KeyId": key_id,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": wrap(material, params["PublicKey"], wrap_as or algorithm),
        **(expiry or {"ExpirationModel": DOES_NOT_EXPIRE}),
    }


def import_material(kms: Any, key_id: str, material: bytes, **options: Any) -> dict[str, Any]:
    return kms.import_key_material(**import_request(kms, key_id, material, **options))


def metadata(kms: Any, key_id: str) -> dict[str, Any]:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]


def assert_pending_import(kms: Any, key_id: str) -> None:
    described = metadata(kms, key_id)
    assert described["KeyState"] == "PendingImport" and described["Enabled"] is False
    assert described["Origin"] == "EXTERNAL"
    assert "CurrentKeyMaterialId" not in described


def assert_round_trip(kms: Any, key_id: str) -> bytes:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    return blob


def advance_clock(server: Any, seconds: float) -> None:
    assert post(server, "/_strongroom/dev/clock", {"advance_seconds": seconds})[0] == 200


def wait_for_state(kms: Any, key_id: str, state: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while metadata(kms, key_id)["KeyState"] != state:
        assert time.monotonic() < deadline, f"{key_id} did not become {state} in {timeout} s"
        time.sleep(0.2)


def material_rows(server: Any, key_id: str) -> int:
    with storage(server) as engine, engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM kms_key_materials WHERE key_id = :key_id")
        return connection.execute(query, {"key_id": key_id}).scalar_one()


@pytest.fixture
def external_key(new_key):
    def make(**params: Any) -> str:
        return new_key(Origin="EXTERNAL", **params)["KeyId"]

    return make


# A key without material


def test_a_new_external_key_is_pending_import_and_unusable(kms, new_key):
    key = new_key(Origin="EXTERNAL")
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    assert "CurrentKeyMaterialId" not in key
    assert_pending_import(kms, key["KeyId"])
    for refused in (
        lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"),
        lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"),
        lambda: kms.enable_key(KeyId=key["KeyId"]),
        lambda: kms.disable_key(KeyId=key["KeyId"]),
    ):
        with unchanged(kms, key["KeyId"]), aws_error("KMSInvalidStateException"):
            refused()


# GetParametersForImport

PARAMETER_CASES = [
    *((algorithm, "RSA_2048") for algorithm in WRAPPING_ALGORITHMS),
    *((algorithm, "RSA_3072") for algorithm in WRAPPING_ALGORITHMS),
    (OAEP_SHA_256, "RSA_4096"),
    (AES_WRAP_SHA_1, "RSA_4096"),
]


@pytest.mark.parametrize(("algorithm", "spec"), PARAMETER_CASES)
def test_parameters_for_import_wrap_material_that_imports(kms, new_key, algorithm, spec):
    key = new_key(Origin="EXTERNAL")
    params = parameters(kms, key["KeyId"], algorithm, spec)
    assert params["KeyId"] == key["Arn"]
    public_key = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == RSA_BITS[spec]
    assert public_key.public_bytes(DER, SPKI) == params["PublicKey"]  # DER SubjectPublicKeyInfo
    valid_for = params["ParametersValidTo"] - datetime.now(UTC)
    assert abs(valid_for - timedelta(hours=24)) < timedelta(minutes=1)

    material = os.urandom(32)
    imported = kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(material, params["PublicKey"], algorithm),
        ExpirationModel=DOES_NOT_EXPIRE,
    )
    assert imported["KeyId"] == key["Arn"]
    assert_round_trip(kms, key["KeyId"])


@pytest.mark.parametrize(
    ("algorithm", "spec"),
    [("RSAES_PKCS1_V1_5", "RSA_2048"), (OAEP_SHA_256, "SM2")],
    ids=["retired PKCS1 v1.5 wrapping", "SM2 (China Regions only)"],
)
def test_unsupported_wrapping_is_refused(kms, external_key, algorithm, spec):
    key_id = external_key()
    with unchanged(kms, key_id), aws_error("UnsupportedOperationException"):
        parameters(kms, key_id, algorithm, spec)


@pytest.mark.parametrize(
    "operation",
    [
        lambda kms, key_id: parameters(kms, key_id),
        lambda kms, key_id: kms.import_key_material(
            KeyId=key_id,
            ImportToken=b"token",
            EncryptedKeyMaterial=b"material",
            ExpirationModel=DOES_NOT_EXPIRE,
        ),
        lambda kms, key_id: kms.delete_imported_key_material(KeyId=key_id),
    ],
    ids=["GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial"],
)
def test_import_operations_refuse_a_key_of_origin_aws_kms(kms, key, operation):
    with unchanged(kms, key["KeyId"]), aws_error("UnsupportedOperationException"):
        operation(kms, key["KeyId"])
    assert_round_trip(kms, key["KeyId"])


# ImportKeyMaterial


def test_import_symmetric_material(kms, external_key):
    key_id = external_key()
    material = os.urandom(32)
    valid_to = in_days(30).replace(microsecond=0)
    imported = import_material(kms, key_id, material, ExpirationModel=EXPIRES, ValidTo=valid_to)
    described = metadata(kms, key_id)
    assert described["KeyState"] == "Enabled" and described["Enabled"] is True
    assert described["ExpirationModel"] == EXPIRES and described["ValidTo"] == valid_to
    assert described["CurrentKeyMaterialId"] == imported["KeyMaterialId"]
    assert len(imported["KeyMaterialId"]) == 64
    blob = assert_round_trip(kms, key_id)
    kms.disable_key(KeyId=key_id)
    kms.enable_key(KeyId=key_id)

    # On a key that has material, refusals change nothing either.
    with unchanged(kms, key_id), aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(32))
    with unchanged(kms, key_id), aws_error("ValidationException"):
        import_material(kms, key_id, material, ExpirationModel=EXPIRES, ValidTo=in_days(-1))

    # Re-importing the same material changes when (whether) it expires.
    import_material(kms, key_id, material)
    described = metadata(kms, key_id)
    assert described["ExpirationModel"] == DOES_NOT_EXPIRE and "ValidTo" not in described
    assert described["CurrentKeyMaterialId"] == imported["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


MakeRequest = Callable[[Any, str, str], dict[str, Any]]


def _tampered_token(kms: Any, key_id: str, other: str) -> dict[str, Any]:
    request = import_request(kms, key_id, os.urandom(32))
    token = request["ImportToken"]
    return {**request, "ImportToken": token[:-1] + bytes([token[-1] ^ 1])}


REFUSED_IMPORTS: list[Any] = [
    pytest.param(
        lambda kms, key_id, other: import_request(
            kms, key_id, os.urandom(32), ExpirationModel=EXPIRES
        ),
        "ValidationException",
        id="expiring without ValidTo",
    ),
    pytest.param(
        lambda kms, key_id, other: import_request(
            kms, key_id, os.urandom(32), ExpirationModel=DOES_NOT_EXPIRE, ValidTo=in_days(30)
        ),
        "ValidationException",
        id="ValidTo for material that does not expire",
    ),
    pytest.param(
        lambda kms, key_id, other: import_request(
            kms, key_id, os.urandom(32), ExpirationModel=EXPIRES, ValidTo=in_days(-1)
        ),
        "ValidationException",
        id="ValidTo in the past",
    ),
    pytest.param(
        lambda kms, key_id, other: import_request(
            kms, key_id, os.urandom(32), ExpirationModel=EXPIRES, ValidTo=in_days(366)
        ),
        "ValidationException",
        id="ValidTo beyond 365 days",
    ),
    pytest.param(
        lambda kms, key_id, other: {**import_request(kms, other, os.urandom(32)), "KeyId": key_id},
        "InvalidImportTokenException",
        id="token of another key",
    ),
    pytest.param(
        lambda kms, key_id, other: {
            **import_request(kms, key_id, os.urandom(32)),
            "ImportToken": os.urandom(300),
        },
        "InvalidImportTokenException",
        id="garbage token",
    ),
    pytest.param(_tampered_token, "InvalidImportTokenException", id="tampered token"),
    pytest.param(
        lambda kms, key_id, other: {
            **import_request(kms, key_id, os.urandom(32)),
            "ImportToken": parameters(kms, key_id)["ImportToken"],
        },
        "InvalidCiphertextException",
        id="wrapped for another request's token",
    ),
    *(
        pytest.param(
            lambda kms, key_id, other, token=token, used=used: import_request(
                kms, key_id, os.urandom(32), algorithm=token, wrap_as=used
            ),
            "InvalidCiphertextException",
            id=f"{used} under a {token} token",
        )
        for token, used in [
            (OAEP_SHA_256, OAEP_SHA_1),
            (OAEP_SHA_1, OAEP_SHA_256),
            (AES_WRAP_SHA_256, OAEP_SHA_256),
            (AES_WRAP_SHA_256, AES_WRAP_SHA_1),
            (OAEP_SHA_256, AES_WRAP_SHA_256),
        ]
    ),
    *(
        pytest.param(
            lambda kms, key_id, other, size=size: import_request(kms, key_id, os.urandom(size)),
            "IncorrectKeyMaterialException",
            id=f"{size} bytes",
        )
        for size in (16, 31, 33, 64)
    ),
]


@pytest.mark.parametrize(("make_request", "code"), REFUSED_IMPORTS)
def test_a_refused_import_changes_nothing(kms, external_key, make_request: MakeRequest, code):
    key_id, other = external_key(), external_key()
    request = make_request(kms, key_id, other)
    with unchanged(kms, key_id, other), aws_error(code):
        kms.import_key_material(**request)
    assert_pending_import(kms, key_id)


# DeleteImportedKeyMaterial


def test_deleted_material_comes_back_only_as_itself(kms, external_key):
    key_id = external_key()
    material = os.urandom(32)
    material_id = import_material(kms, key_id, material)["KeyMaterialId"]
    blob = assert_round_trip(kms, key_id)

    deleted = kms.delete_imported_key_material(KeyId=key_id)
    assert deleted["KeyMaterialId"] == material_id
    assert_pending_import(kms, key_id)
    with aws_error("KMSInvalidStateException"):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    with unchanged(kms, key_id), aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(32))

    reimported = import_material(kms, key_id, material, algorithm=AES_WRAP_SHA_1)
    assert reimported["KeyMaterialId"] == material_id
    assert metadata(kms, key_id)["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


def test_cancelling_the_deletion_of_a_key_without_material_leaves_it_pending_import(
    kms, external_key
):
    key_id = external_key()
    material = os.urandom(32)
    import_material(kms, key_id, material)
    kms.delete_imported_key_material(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    assert_pending_import(kms, key_id)
    import_material(kms, key_id, material)
    assert metadata(kms, key_id)["KeyState"] == "Enabled"


def test_material_can_be_deleted_from_a_key_pending_deletion(kms, external_key):
    """AWS: "When the specified KMS key is in the PendingDeletion state, this operation does
    not change the KMS key's state. Otherwise, it changes the KMS key's state to PendingImport."
    (DeleteImportedKeyMaterial); cancelling the deletion then leaves the key PendingImport."""
    key_id = external_key()
    import_material(kms, key_id, os.urandom(32))
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.delete_imported_key_material(KeyId=key_id)
    assert metadata(kms, key_id)["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key_id)
    assert_pending_import(kms, key_id)


# Expiry, through the dev clock and the real background job


def test_import_tokens_and_material_expire(own_dev_server):
    kms = own_dev_server.client("kms")
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(32)
    early = import_request(kms, key_id, material)  # its token is valid for 24 hours
    valid_to = in_days(2)
    import_material(kms, key_id, material, ExpirationModel=EXPIRES, ValidTo=valid_to)
    blob = assert_round_trip(kms, key_id)
    if "--storage" in own_dev_server.args:  # a --dev server's SQLite file is in a temp dir
        assert material_rows(own_dev_server, key_id) == 1

    advance_clock(own_dev_server, 25 * 3600)
    with unchanged(kms, key_id), aws_error("ExpiredImportTokenException"):
        kms.import_key_material(**early)
    assert metadata(kms, key_id)["KeyState"] == "Enabled"  # a day before ValidTo

    advance_clock(own_dev_server, 2 * DAY)
    wait_for_state(kms, key_id, "PendingImport")
    assert_pending_import(kms, key_id)
    if "--storage" in own_dev_server.args:
        assert material_rows(own_dev_server, key_id) == 0
    with aws_error("KMSInvalidStateException"):
        kms.decrypt(CiphertextBlob=blob)

    import_material(kms, key_id, material)  # fresh parameters, the same material
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


# Asymmetric and HMAC material


def test_import_an_elliptic_curve_signing_key(kms, external_key):
    key_id = external_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    mine = ec.generate_private_key(ec.SECP256R1())
    import_material(kms, key_id, pkcs8(mine), algorithm=AES_WRAP_SHA_256)
    described = metadata(kms, key_id)
    assert described["KeyState"] == "Enabled" and "CurrentKeyMaterialId" not in described
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(mine)
    message = b"signed by imported material"
    signature = kms.sign(KeyId=key_id, Message=message, SigningAlgorithm="ECDSA_SHA_256")
    mine.public_key().verify(signature["Signature"], message, ec.ECDSA(hashes.SHA256()))
    by_client = mine.sign(message, ec.ECDSA(hashes.SHA256()))
    verified = kms.verify(
        KeyId=key_id, Message=message, Signature=by_client, SigningAlgorithm="ECDSA_SHA_256"
    )
    assert verified["SignatureValid"] is True


def test_import_an_rsa_encryption_key(kms, external_key):
    key_id = external_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    mine = private_key("RSA_2048")
    import_material(kms, key_id, pkcs8(mine), algorithm=AES_WRAP_SHA_1)
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(mine)
    blob = mine.public_key().encrypt(b"for the imported key", oaep(OAEP_SHA_256))
    opened = kms.decrypt(KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm=OAEP_SHA_256)
    assert opened["Plaintext"] == b"for the imported key"


@pytest.mark.parametrize(
    ("spec", "usage", "material"),
    [
        ("RSA_2048", "SIGN_VERIFY", lambda: pkcs8(private_key("RSA_3072"))),
        ("RSA_2048", "SIGN_VERIFY", lambda: pkcs8(private_key("ECC_NIST_P256"))),
        ("RSA_2048", "ENCRYPT_DECRYPT", lambda: os.urandom(32)),
        ("ECC_NIST_P256", "SIGN_VERIFY", lambda: pkcs8(private_key("ECC_NIST_P384"))),
        ("ECC_NIST_P256", "SIGN_VERIFY", lambda: spki(private_key("ECC_NIST_P256"))),
    ],
    ids=[
        "RSA_2048 key, RSA_3072 material",
        "RSA_2048 key, P-256 material",
        "RSA_2048 key, 32 random bytes",
        "P-256 key, P-384 material",
        "P-256 key, its public key",
    ],
)
def test_asymmetric_material_must_fit_the_key_spec(kms, external_key, spec, usage, material):
    key_id = external_key(KeySpec=spec, KeyUsage=usage)
    with unchanged(kms, key_id), aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, material(), algorithm=AES_WRAP_SHA_256)


@pytest.mark.parametrize(("size", "accepted"), [(31, False), (32, True), (48, True), (64, True)])
def test_import_hmac_material(kms, external_key, size, accepted):
    key_id = external_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    material = os.urandom(size)
    if not accepted:
        with unchanged(kms, key_id), aws_error("IncorrectKeyMaterialException"):
            import_material(kms, key_id, material)
        return
    import_material(kms, key_id, material)
    message = b"MAC me"
    mac = kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, message, hashlib.sha256).digest()
    verified = kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert verified["MacValid"] is True


# Nothing secret leaks


@pytest.mark.parametrize("backend", BACKENDS)
def test_imported_material_is_neither_logged_nor_stored_in_the_clear(make_server, backend):
    server = make_server(backend, "--log-level", "debug")
    kms = server.client("kms")

    def external(**params: str) -> str:
        return kms.create_key(Origin="EXTERNAL", **params)["KeyMetadata"]["KeyId"]

    symmetric, other = external(), external()
    mac_key = external(KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC")
    signing = external(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    secrets = {
        "symmetric": os.urandom(32),
        "hmac": os.urandom(64),
        "private key": pkcs8(ec.generate_private_key(ec.SECP256R1())),
        "refused": os.urandom(33),
        "different": os.urandom(32),
    }
    import_material(kms, symmetric, secrets["symmetric"], algorithm=AES_WRAP_SHA_256)
    import_material(kms, mac_key, secrets["hmac"], algorithm=OAEP_SHA_1)
    import_material(kms, signing, secrets["private key"], algorithm=AES_WRAP_SHA_1)
    for refused in (
        lambda: import_material(kms, other, secrets["refused"]),
        lambda: import_material(kms, symmetric, secrets["different"]),
    ):
        with pytest.raises(ClientError) as error:
            refused()
        assert leaked(secrets, json.dumps(error.value.response["Error"]).encode()) == []

    stored = recovered_secrets(server)
    assert stored[f"material {symmetric}/1"] == secrets["symmetric"]
    assert stored[f"material {mac_key}/1"] == secrets["hmac"]
    assert stored[f"material {signing}/1"] == secrets["private key"]
    log = server.log_path.read_bytes()
    assert b"ImportKeyMaterial 200" in log and b"ImportKeyMaterial 400" in log
    assert leaked(secrets, log) == []
    assert leaked(secrets, storage_dump(server)) == []
