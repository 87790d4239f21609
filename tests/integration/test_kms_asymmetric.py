"""KMS asymmetric, HMAC and key-agreement keys through stock boto3, checked against the
`cryptography` library: Sign/Verify, RSA Encrypt/Decrypt/ReEncrypt, GenerateDataKeyPair,
DeriveSharedSecret, GenerateMac/VerifyMac, what DescribeKey and GetPublicKey report, and the
refusals (wrong key, wrong input, key state, DryRun).

Whatever the server signs, encrypts or derives is checked with the public key it hands out, so
a test passes only if a real client outside Strongroom would agree. Algorithm lists and fixed
error texts are AWS's (the KMS Developer Guide and responses recorded from AWS). Keys that no
test changes are made once per module and backend (RSA_4096 generation takes seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tests.support.kms import DRY_RUN_MESSAGE, aws_error, unchanged

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
HMAC_BITS = {"HMAC_224": 224, "HMAC_256": 256, "HMAC_384": 384, "HMAC_512": 512}
AGREEMENT_CURVES = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")
ECDSA = {
    "ECC_NIST_P256": "ECDSA_SHA_256",
    "ECC_NIST_P384": "ECDSA_SHA_384",
    "ECC_NIST_P521": "ECDSA_SHA_512",
    "ECC_SECG_P256K1": "ECDSA_SHA_256",
}
RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
# In AWS's order: the Developer Guide's DescribeKey of an RSA signing key lists PKCS #1 v1.5 first.
RSA_SIGNING = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)

# (key spec, key usage) -> the DescribeKey/GetPublicKey member listing its algorithms, and them.
KEY_ALGORITHMS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    **{(spec, "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", RSA_ENCRYPTION) for spec in RSA_BITS},
    **{(spec, "SIGN_VERIFY"): ("SigningAlgorithms", RSA_SIGNING) for spec in RSA_BITS},
    **{(spec, "SIGN_VERIFY"): ("SigningAlgorithms", (alg,)) for spec, alg in ECDSA.items()},
    **{(spec, "KEY_AGREEMENT"): ("KeyAgreementAlgorithms", ("ECDH",)) for spec in AGREEMENT_CURVES},
    **{
        (spec, "GENERATE_VERIFY_MAC"): ("MacAlgorithms", (f"HMAC_SHA_{bits}",))
        for spec, bits in HMAC_BITS.items()
    },
}
ALGORITHM_MEMBERS = {
    "EncryptionAlgorithms",
    "SigningAlgorithms",
    "KeyAgreementAlgorithms",
    "MacAlgorithms",
}
SIGNING_CASES = [
    (spec, algorithm)
    for (spec, usage), (_, algorithms) in KEY_ALGORITHMS.items()
    if usage == "SIGN_VERIFY"
    for algorithm in algorithms
]
# The largest OAEP plaintext, k/8 - 2*hLen - 2 (the limits AWS states in its refusals).
OAEP_LIMITS = {
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214,
    ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342,
    ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470,
    ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "224": hashes.SHA224,
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


# Local cryptography: what a client outside Strongroom does with the public key


def hash_of(algorithm: str) -> hashes.HashAlgorithm:
    """Every KMS algorithm name ends in its hash: RSAES_OAEP_SHA_1, ECDSA_SHA_384, HMAC_SHA_224."""
    return _HASHES[algorithm.rsplit("_", 1)[1]]()


def digest(algorithm: str, message: bytes) -> bytes:
    hasher = hashes.Hash(hash_of(algorithm))
    hasher.update(message)
    return hasher.finalize()


def oaep(algorithm: str) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(hash_of(algorithm)), algorithm=hash_of(algorithm), label=None
    )


def der(public: PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key(kms: Any, key: dict[str, Any]) -> PublicKey:
    loaded = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(loaded, PublicKey)
    return loaded


def assert_of_spec(public: PublicKey, spec: str) -> None:
    if spec in RSA_BITS:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == RSA_BITS[spec]
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert isinstance(public.curve, CURVES[spec])


def verify_locally(public: PublicKey, algorithm: str, message: bytes, signature: bytes) -> None:
    """Raises InvalidSignature unless `signature` is AWS's: PSS with a salt as long as the
    digest, PKCS #1 v1.5, or a DER-encoded ECDSA signature."""
    chosen = hash_of(algorithm)
    if isinstance(public, ec.EllipticCurvePublicKey):
        utils.decode_dss_signature(signature)  # DER, not r || s
        public.verify(signature, message, ec.ECDSA(chosen))
    elif algorithm.startswith("RSASSA_PSS_"):
        pss = padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
        public.verify(signature, message, pss, chosen)
    else:
        public.verify(signature, message, padding.PKCS1v15(), chosen)


def flipped(blob: bytes, position: int = -1) -> bytes:
    changed = bytearray(blob)
    changed[position] ^= 0x01
    return bytes(changed)


def other_curve_public_key(spec: str) -> bytes:
    other = next(curve for name, curve in CURVES.items() if name != spec)
    return der(ec.generate_private_key(other()).public_key())


# Keys


@pytest.fixture(scope="module")
def shared_key(kms) -> Callable[[str, str], dict[str, Any]]:
    """One key per (key spec, key usage) for the module; tests that change a key make their own."""
    made: dict[tuple[str, str], dict[str, Any]] = {}

    def get(spec: str, usage: str) -> dict[str, Any]:
        if (spec, usage) not in made:
            made[spec, usage] = kms.create_key(
                KeySpec=spec, KeyUsage=usage, Description=f"shared {spec} {usage}"
            )["KeyMetadata"]
        return made[spec, usage]

    return get


# Sign and Verify


@pytest.mark.parametrize(("spec", "algorithm"), SIGNING_CASES)
def test_signatures_verify_locally_and_in_strongroom(kms, shared_key, spec, algorithm):
    key = shared_key(spec, "SIGN_VERIFY")
    public = public_key(kms, key)
    assert_of_spec(public, spec)
    message = f"signed with {algorithm}".encode()
    forms = {"RAW": message, "DIGEST": digest(algorithm, message)}

    for message_type, payload in forms.items():
        signed = kms.sign(
            KeyId=key["KeyId"],
            Message=payload,
            MessageType=message_type,
            SigningAlgorithm=algorithm,
        )
        assert signed == {**signed, "KeyId": key["Arn"], "SigningAlgorithm": algorithm}
        signature = signed["Signature"]
        if spec in RSA_BITS:
            assert len(signature) == RSA_BITS[spec] // 8
        # A DIGEST signature is a signature of the message: the server must not hash again.
        verify_locally(public, algorithm, message, signature)
        for check_type, check_payload in forms.items():
            verified = kms.verify(
                KeyId=key["Arn"],
                Message=check_payload,
                MessageType=check_type,
                Signature=signature,
                SigningAlgorithm=algorithm,
            )
            assert verified == {
                **verified,
                "KeyId": key["Arn"],
                "SignatureValid": True,
                "SigningAlgorithm": algorithm,
            }
        for wrong_message, wrong_signature in (
            (message + b"!", signature),
            (message, flipped(signature)),
            (message, flipped(signature, len(signature) // 2)),
            (message, signature[:-1]),
        ):
            with aws_error("KMSInvalidSignatureException", message=""):
                kms.verify(
                    KeyId=key["KeyId"],
                    Message=wrong_message,
                    Signature=wrong_signature,
                    SigningAlgorithm=algorithm,
                )


def test_a_signature_holds_only_for_its_algorithm_and_key(kms, shared_key, new_key):
    rsa_key = shared_key("RSA_2048", "SIGN_VERIFY")
    message = b"one signature, one algorithm"
    for made_with, checked_with in (
        ("RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256"),
        ("RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384"),
    ):
        signature = kms.sign(KeyId=rsa_key["KeyId"], Message=message, SigningAlgorithm=made_with)[
            "Signature"
        ]
        with aws_error("KMSInvalidSignatureException"):
            kms.verify(
                KeyId=rsa_key["KeyId"],
                Message=message,
                Signature=signature,
                SigningAlgorithm=checked_with,
            )

    first = shared_key("ECC_NIST_P256", "SIGN_VERIFY")
    second = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    signature = kms.sign(KeyId=first["KeyId"], Message=message, SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    with aws_error("KMSInvalidSignatureException"):
        kms.verify(
            KeyId=second["KeyId"],
            Message=message,
            Signature=signature,
            SigningAlgorithm="ECDSA_SHA_256",
        )


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSASSA_PSS_SHA_384"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_512"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ],
)
def test_digest_of_the_wrong_length_is_a_validation_error(kms, shared_key, spec, algorithm):
    key = shared_key(spec, "SIGN_VERIFY")
    size = hash_of(algorithm).digest_size
    good = kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm=algorithm)["Signature"]
    text = f"Digest is invalid length for algorithm {algorithm}."
    for length in (size - 1, size + 1, 20):
        with aws_error("ValidationException", message=text):
            kms.sign(
                KeyId=key["KeyId"],
                Message=bytes(length),
                MessageType="DIGEST",
                SigningAlgorithm=algorithm,
            )
        with aws_error("ValidationException", message=text):
            kms.verify(
                KeyId=key["KeyId"],
                Message=bytes(length),
                MessageType="DIGEST",
                Signature=good,
                SigningAlgorithm=algorithm,
            )


def test_external_mu_is_not_a_message_for_ecdsa_or_rsa_keys(kms, shared_key):
    """EXTERNAL_MU is the 64-byte μ of ML-DSA signing; an ECDSA or RSA key must refuse it, not
    sign those 64 bytes as if they were a RAW message."""
    for spec, algorithm in (("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_256")):
        key = shared_key(spec, "SIGN_VERIFY")
        with pytest.raises(ClientError) as info:
            kms.sign(
                KeyId=key["KeyId"],
                Message=bytes(64),
                MessageType="EXTERNAL_MU",
                SigningAlgorithm=algorithm,
            )
        error = info.value.response  # AWS documents the refusal, not which error it is
        assert error["Error"]["Code"] in {"ValidationException", "InvalidKeyUsageException"}
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_messages_over_4096_bytes_are_validation_errors(kms, raw_kms, shared_key):
    signer = shared_key("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    mac_key = shared_key("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
    largest = b"m" * 4096
    signature = kms.sign(KeyId=signer, Message=largest, SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    mac = kms.generate_mac(KeyId=mac_key, Message=largest, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify(
        KeyId=signer,
        Message=largest,
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )["SignatureValid"]
    assert kms.verify_mac(KeyId=mac_key, Message=largest, Mac=mac, MacAlgorithm="HMAC_SHA_256")[
        "MacValid"
    ]

    too_long = largest + b"!"
    for call in (
        lambda: raw_kms.sign(KeyId=signer, Message=too_long, SigningAlgorithm="ECDSA_SHA_256"),
        lambda: raw_kms.verify(
            KeyId=signer,
            Message=too_long,
            Signature=signature,
            SigningAlgorithm="ECDSA_SHA_256",
        ),
        lambda: raw_kms.generate_mac(KeyId=mac_key, Message=too_long, MacAlgorithm="HMAC_SHA_256"),
        lambda: raw_kms.verify_mac(
            KeyId=mac_key, Message=too_long, Mac=mac, MacAlgorithm="HMAC_SHA_256"
        ),
    ):
        with aws_error("ValidationException"):
            call()


# RSA encryption


@pytest.mark.parametrize(("spec", "algorithm"), list(OAEP_LIMITS))
def test_rsa_encryption_with_the_public_key_and_through_strongroom(
    kms, shared_key, spec, algorithm
):
    key = shared_key(spec, "ENCRYPT_DECRYPT")
    public = public_key(kms, key)
    assert isinstance(public, rsa.RSAPublicKey)
    limit = OAEP_LIMITS[spec, algorithm]
    assert limit == RSA_BITS[spec] // 8 - 2 * hash_of(algorithm).digest_size - 2
    largest = bytes(i % 251 for i in range(limit))

    local = public.encrypt(largest, oaep(algorithm))
    decrypted = kms.decrypt(CiphertextBlob=local, KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)
    assert decrypted == {
        **decrypted,
        "Plaintext": largest,
        "KeyId": key["Arn"],
        "EncryptionAlgorithm": algorithm,
    }

    encrypted = kms.encrypt(KeyId=key["Arn"], Plaintext=largest, EncryptionAlgorithm=algorithm)
    assert encrypted == {**encrypted, "KeyId": key["Arn"], "EncryptionAlgorithm": algorithm}
    blob = encrypted["CiphertextBlob"]
    assert len(blob) == RSA_BITS[spec] // 8
    round_trip = kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)
    assert round_trip["Plaintext"] == largest

    with aws_error("ValidationException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=largest + b"!", EncryptionAlgorithm=algorithm)
    other_algorithm = next(a for a in RSA_ENCRYPTION if a != algorithm)
    for wrong_blob, wrong_algorithm in (
        (blob, other_algorithm),
        (flipped(blob), algorithm),
        (flipped(blob, 0), algorithm),
        (blob[:-1], algorithm),
        (blob + b"\0", algorithm),
    ):
        with aws_error("InvalidCiphertextException", message=""):
            kms.decrypt(
                CiphertextBlob=wrong_blob, KeyId=key["KeyId"], EncryptionAlgorithm=wrong_algorithm
            )


def test_oversized_rsa_plaintext_is_refused_with_aws_text(kms, shared_key):
    """The text AWS answers (recorded from AWS) names the algorithm, key spec and limit."""
    key = shared_key("RSA_2048", "ENCRYPT_DECRYPT")
    for algorithm in RSA_ENCRYPTION:
        limit = OAEP_LIMITS["RSA_2048", algorithm]
        with aws_error(
            "ValidationException",
            message=f"Algorithm {algorithm} and key spec RSA_2048 cannot encrypt data larger "
            f"than {limit} bytes.",
        ):
            kms.encrypt(
                KeyId=key["KeyId"], Plaintext=bytes(limit + 1), EncryptionAlgorithm=algorithm
            )


def test_rsa_keys_take_no_encryption_context(kms, shared_key):
    key = shared_key("RSA_2048", "ENCRYPT_DECRYPT")
    with unchanged(kms, key["KeyId"]), aws_error("ValidationException"):
        kms.encrypt(
            KeyId=key["KeyId"],
            Plaintext=b"no context",
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
            EncryptionContext={"purpose": "test"},
        )


def test_re_encrypt_between_rsa_and_symmetric_keys(kms, shared_key, key):
    rsa_key = shared_key("RSA_2048", "ENCRYPT_DECRYPT")
    context = {"stage": "symmetric"}
    algorithm = "RSAES_OAEP_SHA_256"

    # RSA -> symmetric, from a ciphertext made outside Strongroom with the public key.
    outside = public_key(kms, rsa_key).encrypt(b"from outside", oaep(algorithm))
    to_symmetric = kms.re_encrypt(
        CiphertextBlob=outside,
        SourceKeyId=rsa_key["KeyId"],
        SourceEncryptionAlgorithm=algorithm,
        DestinationKeyId=key["KeyId"],
        DestinationEncryptionContext=context,
    )
    assert to_symmetric == {
        **to_symmetric,
        "SourceKeyId": rsa_key["Arn"],
        "KeyId": key["Arn"],
        "SourceEncryptionAlgorithm": algorithm,
        "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    decrypted = kms.decrypt(
        CiphertextBlob=to_symmetric["CiphertextBlob"], EncryptionContext=context
    )
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"from outside", key["Arn"])

    # Symmetric -> RSA: the result decrypts only under the RSA key and algorithm.
    to_rsa = kms.re_encrypt(
        CiphertextBlob=to_symmetric["CiphertextBlob"],
        SourceEncryptionContext=context,
        DestinationKeyId=rsa_key["Arn"],
        DestinationEncryptionAlgorithm=algorithm,
    )
    assert to_rsa == {
        **to_rsa,
        "SourceKeyId": key["Arn"],
        "KeyId": rsa_key["Arn"],
        "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DestinationEncryptionAlgorithm": algorithm,
    }
    assert len(to_rsa["CiphertextBlob"]) == 256
    back = kms.decrypt(
        CiphertextBlob=to_rsa["CiphertextBlob"],
        KeyId=rsa_key["KeyId"],
        EncryptionAlgorithm=algorithm,
    )
    assert back["Plaintext"] == b"from outside"
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(
            CiphertextBlob=to_rsa["CiphertextBlob"],
            KeyId=rsa_key["KeyId"],
            EncryptionAlgorithm="RSAES_OAEP_SHA_1",
        )


# Data key pairs


@pytest.mark.parametrize("pair_spec", [*RSA_BITS, *CURVES])
def test_generate_data_key_pair_and_without_plaintext(kms, key, pair_spec):
    context = {"pair": pair_spec}
    pair = kms.generate_data_key_pair(
        KeyId=key["KeyId"], KeyPairSpec=pair_spec, EncryptionContext=context
    )
    assert pair == {**pair, "KeyId": key["Arn"], "KeyPairSpec": pair_spec}
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    assert isinstance(private, PrivateKey)
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pair["PrivateKeyPlaintext"] == pkcs8
    assert der(private.public_key()) == pair["PublicKey"]
    assert_of_spec(private.public_key(), pair_spec)
    decrypted = kms.decrypt(
        CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=context
    )
    assert decrypted["Plaintext"] == pair["PrivateKeyPlaintext"]
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])

    blind = kms.generate_data_key_pair_without_plaintext(
        KeyId=key["Arn"], KeyPairSpec=pair_spec, EncryptionContext=context
    )
    assert "PrivateKeyPlaintext" not in blind
    assert blind == {**blind, "KeyId": key["Arn"], "KeyPairSpec": pair_spec}
    assert blind["PublicKey"] != pair["PublicKey"]
    private_der = kms.decrypt(
        CiphertextBlob=blind["PrivateKeyCiphertextBlob"], EncryptionContext=context
    )["Plaintext"]
    blind_private = serialization.load_der_private_key(private_der, password=None)
    assert isinstance(blind_private, PrivateKey)
    assert der(blind_private.public_key()) == blind["PublicKey"]


def test_data_key_pairs_need_a_symmetric_key_and_a_supported_spec(kms, shared_key, key):
    wrong_keys = [
        shared_key("RSA_2048", "ENCRYPT_DECRYPT"),
        shared_key("ECC_NIST_P256", "SIGN_VERIFY"),
        shared_key("HMAC_256", "GENERATE_VERIFY_MAC"),
    ]
    with unchanged(kms, key["KeyId"], *(k["KeyId"] for k in wrong_keys)):
        for operation in (kms.generate_data_key_pair, kms.generate_data_key_pair_without_plaintext):
            for wrong in wrong_keys:
                with aws_error("InvalidKeyUsageException"):
                    operation(KeyId=wrong["KeyId"], KeyPairSpec="ECC_NIST_P256")
            # SM2 exists only in China Regions.
            with aws_error("UnsupportedOperationException"):
                operation(KeyId=key["KeyId"], KeyPairSpec="SM2")


# Key agreement


@pytest.mark.parametrize("spec", AGREEMENT_CURVES)
def test_derive_shared_secret_equals_local_ecdh(kms, shared_key, spec):
    key = shared_key(spec, "KEY_AGREEMENT")
    server_public = public_key(kms, key)
    assert isinstance(server_public, ec.EllipticCurvePublicKey)
    assert_of_spec(server_public, spec)
    mine = ec.generate_private_key(CURVES[spec]())

    derived = kms.derive_shared_secret(
        KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=der(mine.public_key())
    )
    assert derived == {
        **derived,
        "KeyId": key["Arn"],
        "SharedSecret": mine.exchange(ec.ECDH(), server_public),
        "KeyAgreementAlgorithm": "ECDH",
        "KeyOrigin": "AWS_KMS",
    }

    rsa_public = der(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
    for wrong in (other_curve_public_key(spec), rsa_public, b"not a public key"):
        with aws_error("ValidationException"):
            kms.derive_shared_secret(
                KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=wrong
            )


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("HMAC_256", "KEY_AGREEMENT"),
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("HMAC_256", "SIGN_VERIFY"),
        ("RSA_2048", "GENERATE_VERIFY_MAC"),
        ("ECC_NIST_P384", "GENERATE_VERIFY_MAC"),
    ],
)
def test_create_key_refuses_a_usage_the_spec_cannot_have(kms, spec, usage):
    with unchanged(kms), aws_error("ValidationException"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "HMAC_256"])
def test_create_key_needs_key_usage_unless_symmetric(kms, spec):
    """AWS: KeyUsage "is optional when you are creating a symmetric encryption KMS key;
    otherwise, it is required" (no ENCRYPT_DECRYPT default for an RSA key)."""
    with unchanged(kms), aws_error("ValidationException"):
        kms.create_key(KeySpec=spec)


# HMAC


@pytest.mark.parametrize("spec", HMAC_BITS)
def test_generate_and_verify_mac(kms, shared_key, new_key, spec):
    key = shared_key(spec, "GENERATE_VERIFY_MAC")
    algorithm = f"HMAC_SHA_{HMAC_BITS[spec]}"
    message = f"authenticated by {spec}".encode()

    generated = kms.generate_mac(KeyId=key["KeyId"], Message=message, MacAlgorithm=algorithm)
    assert generated == {**generated, "KeyId": key["Arn"], "MacAlgorithm": algorithm}
    mac = generated["Mac"]
    assert len(mac) == hash_of(algorithm).digest_size
    again = kms.generate_mac(KeyId=key["Arn"], Message=message, MacAlgorithm=algorithm)
    assert again["Mac"] == mac  # HMAC is deterministic
    verified = kms.verify_mac(KeyId=key["KeyId"], Message=message, Mac=mac, MacAlgorithm=algorithm)
    assert verified == {
        **verified,
        "KeyId": key["Arn"],
        "MacValid": True,
        "MacAlgorithm": algorithm,
    }
    for wrong_message, wrong_mac in (
        (message + b"!", mac),
        (message, flipped(mac)),
        (message, flipped(mac, 0)),
        (message, mac[:-1]),
    ):
        with aws_error("KMSInvalidMacException", message=""):
            kms.verify_mac(
                KeyId=key["KeyId"], Message=wrong_message, Mac=wrong_mac, MacAlgorithm=algorithm
            )

    sibling = new_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")
    sibling_mac = kms.generate_mac(KeyId=sibling["KeyId"], Message=message, MacAlgorithm=algorithm)
    assert sibling_mac["Mac"] != mac
    with aws_error("KMSInvalidMacException"):
        kms.verify_mac(KeyId=sibling["KeyId"], Message=message, Mac=mac, MacAlgorithm=algorithm)

    mismatched = next(f"HMAC_SHA_{bits}" for bits in HMAC_BITS.values() if bits != HMAC_BITS[spec])
    text = f"Algorithm {mismatched} is incompatible with key spec {spec}."
    with aws_error("InvalidKeyUsageException", message=text):
        kms.generate_mac(KeyId=key["KeyId"], Message=message, MacAlgorithm=mismatched)
    with aws_error("InvalidKeyUsageException", message=text):
        kms.verify_mac(KeyId=key["KeyId"], Message=message, Mac=mac, MacAlgorithm=mismatched)


# What DescribeKey and GetPublicKey report


@pytest.mark.parametrize(("spec", "usage"), list(KEY_ALGORITHMS))
def test_describe_key_and_get_public_key_list_the_specs_algorithms(kms, shared_key, spec, usage):
    member, algorithms = KEY_ALGORITHMS[spec, usage]
    created = shared_key(spec, usage)
    metadata = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert metadata == created
    expected = {"KeySpec": spec, "CustomerMasterKeySpec": spec, "KeyUsage": usage}
    expected[member] = list(algorithms)
    assert {k: metadata.get(k) for k in expected} == expected
    assert ALGORITHM_MEMBERS & metadata.keys() == {member}
    # AWS names key material (CurrentKeyMaterialId) for symmetric encryption keys only.
    assert "CurrentKeyMaterialId" not in metadata

    if usage == "GENERATE_VERIFY_MAC":
        with aws_error("UnsupportedOperationException"):
            kms.get_public_key(KeyId=created["KeyId"])
        return
    public = kms.get_public_key(KeyId=created["Arn"])
    assert public == {**public, **expected, "KeyId": created["Arn"]}
    assert ALGORITHM_MEMBERS & public.keys() == {member}
    loaded = serialization.load_der_public_key(public["PublicKey"])
    assert isinstance(loaded, PublicKey)
    assert_of_spec(loaded, spec)


def test_a_symmetric_key_has_no_public_key(kms, key):
    with unchanged(kms, key["KeyId"]), aws_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=key["KeyId"])


# Refusals: the wrong key, key state, DryRun


def test_operations_refuse_a_key_of_another_usage_or_spec(kms, shared_key, key):
    rsa_encryption = shared_key("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
    rsa_signing = shared_key("RSA_2048", "SIGN_VERIFY")["KeyId"]
    ecdsa = shared_key("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    hmac_key = shared_key("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
    agreement = shared_key("ECC_NIST_P256", "KEY_AGREEMENT")["KeyId"]
    peer = der(ec.generate_private_key(ec.SECP256R1()).public_key())
    refusals = [
        lambda: kms.sign(KeyId=rsa_encryption, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"),
        lambda: kms.verify(
            KeyId=rsa_encryption,
            Message=b"m",
            Signature=b"s" * 256,
            SigningAlgorithm="RSASSA_PSS_SHA_256",
        ),
        lambda: kms.sign(KeyId=agreement, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"),
        lambda: kms.sign(KeyId=ecdsa, Message=b"m", SigningAlgorithm="ECDSA_SHA_384"),
        lambda: kms.sign(KeyId=ecdsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"),
        lambda: kms.encrypt(
            KeyId=rsa_signing, Plaintext=b"m", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
        ),
        lambda: kms.encrypt(KeyId=rsa_encryption, Plaintext=b"m"),  # SYMMETRIC_DEFAULT
        lambda: kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256"),
        lambda: kms.verify_mac(
            KeyId=ecdsa, Message=b"m", Mac=b"x" * 32, MacAlgorithm="HMAC_SHA_256"
        ),
        lambda: kms.generate_data_key(KeyId=rsa_encryption, KeySpec="AES_256"),
        lambda: kms.generate_data_key_without_plaintext(KeyId=hmac_key, NumberOfBytes=32),
        lambda: kms.derive_shared_secret(KeyId=ecdsa, KeyAgreementAlgorithm="ECDH", PublicKey=peer),
        lambda: kms.derive_shared_secret(
            KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer
        ),
    ]
    watched = (key["KeyId"], rsa_encryption, rsa_signing, ecdsa, hmac_key, agreement)
    with unchanged(kms, *watched):
        for refusal in refusals:
            with aws_error("InvalidKeyUsageException"):
                refusal()


def test_invalid_key_usage_names_the_operation(kms, shared_key, key):
    """AWS's text (recorded from AWS): '<key ARN> key usage is ENCRYPT_DECRYPT which is not
    valid for GenerateMac.'"""
    signer = shared_key("RSA_2048", "SIGN_VERIFY")
    mac_key = shared_key("HMAC_256", "GENERATE_VERIFY_MAC")
    with aws_error(
        "InvalidKeyUsageException",
        message=f"{key['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.",
    ):
        kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    with aws_error(
        "InvalidKeyUsageException",
        message=f"{mac_key['Arn']} key usage is GENERATE_VERIFY_MAC which is not valid for Sign.",
    ):
        kms.sign(KeyId=mac_key["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    with aws_error(
        "InvalidKeyUsageException",
        message=f"{signer['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt.",
    ):
        kms.encrypt(KeyId=signer["KeyId"], Plaintext=b"m", EncryptionAlgorithm="RSAES_OAEP_SHA_1")


def _restore(kms, key_id: str) -> None:
    if kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion":
        kms.cancel_key_deletion(KeyId=key_id)
    kms.enable_key(KeyId=key_id)


@pytest.mark.parametrize(
    ("park", "error", "state"),
    [
        (lambda kms, key_id: kms.disable_key(KeyId=key_id), "DisabledException", "disabled"),
        (
            lambda kms, key_id: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7),
            "KMSInvalidStateException",
            "pending deletion",
        ),
    ],
    ids=["disabled", "pending-deletion"],
)
def test_a_key_not_enabled_refuses_every_operation(kms, new_key, park, error, state):
    signer = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    mac_key = new_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    agreement = new_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    signed = {"Message": b"before", "SigningAlgorithm": "ECDSA_SHA_256"}
    signature = kms.sign(KeyId=signer["KeyId"], **signed)["Signature"]
    maced = {"Message": b"before", "MacAlgorithm": "HMAC_SHA_256"}
    mac = kms.generate_mac(KeyId=mac_key["KeyId"], **maced)["Mac"]
    peer = der(ec.generate_private_key(ec.SECP256R1()).public_key())
    refusals = [
        (signer, lambda: kms.sign(KeyId=signer["KeyId"], **signed)),
        (signer, lambda: kms.verify(KeyId=signer["KeyId"], Signature=signature, **signed)),
        (signer, lambda: kms.get_public_key(KeyId=signer["KeyId"])),
        (mac_key, lambda: kms.generate_mac(KeyId=mac_key["KeyId"], **maced)),
        (mac_key, lambda: kms.verify_mac(KeyId=mac_key["KeyId"], Mac=mac, **maced)),
        (agreement, lambda: kms.get_public_key(KeyId=agreement["KeyId"])),
        (
            agreement,
            lambda: kms.derive_shared_secret(
                KeyId=agreement["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer
            ),
        ),
    ]
    keys = (signer["KeyId"], mac_key["KeyId"], agreement["KeyId"])
    for key_id in keys:
        park(kms, key_id)
    with unchanged(kms, *keys):
        for key, refusal in refusals:
            with aws_error(error, message=f"{key['Arn']} is {state}."):
                refusal()

    for key_id in keys:
        _restore(kms, key_id)
    assert kms.verify(KeyId=signer["KeyId"], Signature=signature, **signed)["SignatureValid"]
    assert kms.verify_mac(KeyId=mac_key["KeyId"], Mac=mac, **maced)["MacValid"]


def test_dry_run_of_signing_macs_and_key_agreement(kms, shared_key):
    signer = shared_key("ECC_NIST_P384", "SIGN_VERIFY")["KeyId"]
    mac_key = shared_key("HMAC_384", "GENERATE_VERIFY_MAC")["KeyId"]
    agreement = shared_key("ECC_NIST_P384", "KEY_AGREEMENT")["KeyId"]
    signed = {"Message": b"dry", "SigningAlgorithm": "ECDSA_SHA_384"}
    signature = kms.sign(KeyId=signer, **signed)["Signature"]
    maced = {"Message": b"dry", "MacAlgorithm": "HMAC_SHA_384"}
    mac = kms.generate_mac(KeyId=mac_key, **maced)["Mac"]
    peer = der(ec.generate_private_key(ec.SECP384R1()).public_key())
    dry_runs = [
        lambda: kms.sign(KeyId=signer, DryRun=True, **signed),
        lambda: kms.verify(KeyId=signer, Signature=signature, DryRun=True, **signed),
        lambda: kms.generate_mac(KeyId=mac_key, DryRun=True, **maced),
        lambda: kms.verify_mac(KeyId=mac_key, Mac=mac, DryRun=True, **maced),
        lambda: kms.derive_shared_secret(
            KeyId=agreement, KeyAgreementAlgorithm="ECDH", PublicKey=peer, DryRun=True
        ),
    ]
    with unchanged(kms, signer, mac_key, agreement):
        for dry_run in dry_runs:
            with aws_error("DryRunOperationException", status=412, message=DRY_RUN_MESSAGE):
                dry_run()
