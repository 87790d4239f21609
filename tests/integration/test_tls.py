"""The listener speaks TLS 1.2+ with forward-secret AEAD suites only, under a certificate from
the server's own CA that names localhost and the loopback addresses."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import warnings
from types import SimpleNamespace

import pytest
from cryptography import x509

from tests.support.server import Server

CBC_SUITES = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0"
# The server key is ECDSA, so every TLS 1.2 suite OpenSSL offers with it is ECDHE (forward
# secret); what is left to refuse are CBC suites and old protocol versions.
OUTDATED_OFFERS = {
    "TLS 1.2 CBC suites": {"maximum": ssl.TLSVersion.TLSv1_2, "ciphers": CBC_SUITES},
    "TLS 1.1": {
        "minimum": ssl.TLSVersion.MINIMUM_SUPPORTED,
        "maximum": ssl.TLSVersion.TLSv1_1,
        "ciphers": "ALL:@SECLEVEL=0",
    },
}


def handshake(
    server,
    minimum=ssl.TLSVersion.TLSv1_2,
    maximum=ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str | None = None,
    host: str = "localhost",
) -> tuple[str, str]:
    context = ssl.create_default_context(cafile=server.ca_bundle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1
        context.minimum_version, context.maximum_version = minimum, maximum
    if ciphers:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.version(), tls.cipher()[0]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    server = Server(args=[], log_path=root / "server.log", data_dir=root / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def permissive_server(tls_server):
    """A control: a TLS server with the same certificate that accepts anything, to show that
    the client can offer what Strongroom refuses."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    tls_dir = tls_server.data_dir / "tls"
    context.load_cert_chain(tls_dir / "server.pem", tls_dir / "server.key")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), connection:
                context.wrap_socket(connection, server_side=True).close()

    threading.Thread(target=serve, daemon=True).start()
    yield SimpleNamespace(port=listener.getsockname()[1], ca_bundle=tls_server.ca_bundle)
    listener.close()


def test_tls13_and_tls12_with_ecdhe_aead_are_accepted(tls_server):
    assert handshake(tls_server)[0] == "TLSv1.3"
    version, cipher = handshake(tls_server, maximum=ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)


@pytest.mark.parametrize("offer", OUTDATED_OFFERS.values(), ids=OUTDATED_OFFERS.keys())
def test_old_protocols_and_non_aead_suites_are_refused(tls_server, permissive_server, offer):
    handshake(permissive_server, **offer)  # the client can offer it...
    with pytest.raises(ssl.SSLError):
        handshake(tls_server, **offer)  # ...and Strongroom refuses it


def test_certificate_names_localhost_and_loopback(tls_server):
    cert = x509.load_pem_x509_certificate((tls_server.data_dir / "tls" / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert handshake(tls_server, host="127.0.0.1")[0] == "TLSv1.3"
