"""Message signatures as AWS signs SNS messages: SignatureVersion 1 is SHA1withRSA, 2 is
SHA256withRSA, over the canonical string of the message's fields (name, newline, value,
newline, in AWS's order). The key is the server's: an RSA key made on first use, stored as
barrier ciphertext, with a self-signed certificate that the server serves unsigned at
SIGNING_CERT_PATH so that subscribers verify messages the way they verify AWS's."""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.storage.sns import SnsRepository

SIGNING_CERT_PATH = "/_strongroom/sns/SimpleNotificationService.pem"
_KEY = "sns.signing_key"
_CERT = "sns.signing_cert"
_AAD = b"system_state/" + _KEY.encode()
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def canonical_string(message: Mapping[str, str]) -> bytes:
    """What AWS signs: each present field of the message type's list, in order."""
    names = _NOTIFICATION_FIELDS if message["Type"] == "Notification" else _CONFIRMATION_FIELDS
    return "".join(
        f"{name}\n{message[name]}\n" for name in names if message.get(name) is not None
    ).encode()


class Signer:
    def __init__(self, repository: SnsRepository, barrier: Barrier, clock: Clock) -> None:
        self._repository = repository
        self._barrier = barrier
        self._clock = clock
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = threading.Lock()

    def certificate_pem(self) -> bytes:
        """The certificate (made with the key on first use: needs an unsealed barrier)."""
        certificate = self._repository.signing_material(_CERT)
        if certificate is None:
            self._private_key()
            certificate = self._repository.signing_material(_CERT)
        assert certificate is not None
        return certificate

    def sign(self, message: Mapping[str, str], version: str) -> str:
        digest = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303 (AWS's v1)
        signature = self._private_key().sign(canonical_string(message), padding.PKCS1v15(), digest)
        return base64.b64encode(signature).decode()

    def forget(self) -> None:
        with self._lock:
            self._key = None

    def _private_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                stored = self._repository.signing_material(_KEY)
                if stored is None:
                    self._create()
                    stored = self._repository.signing_material(_KEY)
                    assert stored is not None
                key = serialization.load_der_private_key(
                    self._barrier.decrypt(stored, _AAD), password=None
                )
                assert isinstance(key, rsa.RSAPrivateKey)
                self._key = key
            return self._key

    def _create(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Strongroom"),
                x509.NameAttribute(NameOID.COMMON_NAME, "sns.strongroom"),
            ]
        )
        now = datetime.datetime.fromtimestamp(self._clock.time(), datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._repository.add_signing_material(
            {
                _KEY: self._barrier.encrypt(der, _AAD),
                _CERT: certificate.public_bytes(serialization.Encoding.PEM),
            }
        )
