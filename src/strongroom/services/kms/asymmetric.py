"""The cryptography of RSA, elliptic-curve and HMAC keys, algorithm by algorithm as AWS KMS
defines them (PSS salt as long as the digest, DER-encoded ECDSA signatures, raw ECDH secrets)."""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "224": hashes.SHA224,
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
DIGEST = "DIGEST"
RAW = "RAW"


class InvalidInput(ValueError):
    """The message, digest or public key cannot be used with the algorithm (AWS: a
    ValidationException); the text names only sizes and algorithms."""


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    # Every algorithm name ends in its hash: RSAES_OAEP_SHA_1, ECDSA_SHA_384, HMAC_SHA_224, ...
    return _HASHES[algorithm.rsplit("_", 1)[1]]()


def load_private_key(der: bytes) -> PrivateKey:
    """Parse PKCS #8 DER; ValueError unless it is an RSA or elliptic-curve private key."""
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, PrivateKey):
        raise ValueError("not an RSA or elliptic-curve private key")
    return key


def private_key_der(key: PrivateKey) -> bytes:
    """PKCS #8 DER: how key material and GenerateDataKeyPair private keys are given."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    """The DER-encoded SubjectPublicKeyInfo GetPublicKey returns."""
    public = key.public_key() if isinstance(key, PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _signed(
    algorithm: str, message: bytes, message_type: str
) -> tuple[hashes.HashAlgorithm, hashes.HashAlgorithm | utils.Prehashed]:
    digest = _hash(algorithm)
    if message_type == RAW:
        return digest, digest
    if message_type != DIGEST:  # EXTERNAL_MU: a message representative for ML-DSA keys only
        raise InvalidInput(f"MessageType {message_type} is not valid for {algorithm}.")
    if len(message) != digest.digest_size:
        raise InvalidInput(f"Digest is invalid length for algorithm {algorithm}.")
    return digest, utils.Prehashed(digest)


def _signature_padding(algorithm: str, digest: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS_"):
        return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    return padding.PKCS1v15()


def sign(key: PrivateKey, algorithm: str, message: bytes, message_type: str) -> bytes:
    digest, mode = _signed(algorithm, message, message_type)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, _signature_padding(algorithm, digest), mode)
    return key.sign(message, ec.ECDSA(mode))


def verify(
    key: PrivateKey, algorithm: str, message: bytes, message_type: str, signature: bytes
) -> bool:
    digest, mode = _signed(algorithm, message, message_type)
    try:
        if isinstance(key, rsa.RSAPrivateKey):
            key.public_key().verify(signature, message, _signature_padding(algorithm, digest), mode)
        else:
            key.public_key().verify(signature, message, ec.ECDSA(mode))
    except InvalidSignature:
        return False
    return True


def oaep(algorithm: str) -> padding.OAEP:
    """OAEP with MGF1, both with the algorithm's hash (RSAES_OAEP_SHA_256, ...SHA_1)."""
    digest = _hash(algorithm)
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def max_plaintext_bytes(key: rsa.RSAPrivateKey, algorithm: str) -> int:
    """OAEP's limit: the modulus length less two digests and two bytes (RSA_2048 with
    RSAES_OAEP_SHA_256: 190 bytes)."""
    return key.key_size // 8 - 2 * _hash(algorithm).digest_size - 2


def rsa_encrypt(key: rsa.RSAPrivateKey, algorithm: str, plaintext: bytes) -> bytes:
    limit = max_plaintext_bytes(key, algorithm)
    if len(plaintext) > limit:
        raise InvalidInput(
            f"Algorithm {algorithm} and key spec RSA_{key.key_size} cannot encrypt data larger "
            f"than {limit} bytes."
        )
    return key.public_key().encrypt(plaintext, oaep(algorithm))


def rsa_decrypt(key: rsa.RSAPrivateKey, algorithm: str, ciphertext: bytes) -> bytes | None:
    """The plaintext, or None when the ciphertext is not one of this key and algorithm."""
    try:
        return key.decrypt(ciphertext, oaep(algorithm))
    except ValueError:
        return None


def mac(material: bytes, algorithm: str, message: bytes) -> bytes:
    return hmac.new(material, message, _hash(algorithm).name).digest()


def mac_matches(material: bytes, algorithm: str, message: bytes, tag: bytes) -> bool:
    return hmac.compare_digest(mac(material, algorithm, message), tag)


def shared_secret(key: ec.EllipticCurvePrivateKey, peer_public_key: bytes) -> bytes:
    """ECDH with a peer's DER SubjectPublicKeyInfo: the raw shared secret (the x coordinate)."""
    try:
        peer = serialization.load_der_public_key(peer_public_key)
    except (ValueError, TypeError):
        peer = None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != key.curve.name:
        raise InvalidInput(
            f"PublicKey must be a DER-encoded {key.curve.name} public key (X.509 "
            "SubjectPublicKeyInfo)."
        )
    return key.exchange(ec.ECDH(), peer)
