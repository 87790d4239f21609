"""Key specs: the key usages each allows, the algorithms of each usage, and new key material.

A key's material is stored behind the barrier as bytes: 32 random bytes for SYMMETRIC_DEFAULT,
the key itself for HMAC, and the private key as PKCS #8 DER for RSA and elliptic-curve keys.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from strongroom.barrier.aead import new_key
from strongroom.services.kms.asymmetric import PrivateKey, private_key_der

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_AGREEMENT = "KEY_AGREEMENT"
ECDH = "ECDH"

RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
RSA_SIGNING = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)

RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
HMAC_BITS = {"HMAC_224": 224, "HMAC_256": 256, "HMAC_384": 384, "HMAC_512": 512}

# Key spec -> key usage -> the algorithms a key of that spec and usage accepts, as AWS lists them.
ALGORITHMS: dict[str, dict[str, tuple[str, ...]]] = {
    SYMMETRIC_DEFAULT: {ENCRYPT_DECRYPT: (SYMMETRIC_DEFAULT,)},
    **{spec: {ENCRYPT_DECRYPT: RSA_ENCRYPTION, SIGN_VERIFY: RSA_SIGNING} for spec in RSA_BITS},
    "ECC_NIST_P256": {SIGN_VERIFY: ("ECDSA_SHA_256",), KEY_AGREEMENT: (ECDH,)},
    "ECC_NIST_P384": {SIGN_VERIFY: ("ECDSA_SHA_384",), KEY_AGREEMENT: (ECDH,)},
    "ECC_NIST_P521": {SIGN_VERIFY: ("ECDSA_SHA_512",), KEY_AGREEMENT: (ECDH,)},
    "ECC_SECG_P256K1": {SIGN_VERIFY: ("ECDSA_SHA_256",)},
    **{spec: {GENERATE_VERIFY_MAC: (f"HMAC_SHA_{bits}",)} for spec, bits in HMAC_BITS.items()},
}

# The DescribeKey / GetPublicKey member that lists a usage's algorithms.
ALGORITHMS_MEMBER = {
    ENCRYPT_DECRYPT: "EncryptionAlgorithms",
    SIGN_VERIFY: "SigningAlgorithms",
    GENERATE_VERIFY_MAC: "MacAlgorithms",
    KEY_AGREEMENT: "KeyAgreementAlgorithms",
}

# Data key pairs GenerateDataKeyPair makes (AWS's SM2 exists only in China Regions).
DATA_KEY_PAIR_SPECS = (*RSA_BITS, *CURVES)


def is_asymmetric(key_spec: str) -> bool:
    return key_spec in RSA_BITS or key_spec in CURVES


def new_material(key_spec: str) -> bytes:
    if key_spec == SYMMETRIC_DEFAULT:
        return new_key()
    if key_spec in HMAC_BITS:
        return os.urandom(HMAC_BITS[key_spec] // 8)
    return private_key_der(new_private_key(key_spec))


def new_private_key(key_spec: str) -> PrivateKey:
    """A new RSA or elliptic-curve private key of an asymmetric key spec."""
    if key_spec in RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[key_spec])
    return ec.generate_private_key(CURVES[key_spec]())
