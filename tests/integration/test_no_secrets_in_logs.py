"""Nothing secret is logged, printed or stored in the clear: a shamir-sealed TLS server at debug
level goes through unsealing, KMS and Secrets Manager work (good and bad requests, replicas),
seal and unseal; then every secret it handled is searched for (raw, hex, base64) in its log, in
every CLI output except the intended ones, and in a dump of its storage."""

from __future__ import annotations

import base64
import hmac
import json
import os
import struct
import time

import pytest
from botocore.exceptions import ClientError

from strongroom.barrier import shamir
from tests.conftest import BACKENDS
from tests.support.operator import cli, init_shamir, post
from tests.support.storage import admin_secret, leaked, recovered_secrets, storage_dump


def kms_work(kms) -> dict[str, bytes]:
    """Good and bad KMS requests carrying secrets; returns the secrets they carried."""
    secrets = {
        "plaintext": b"PHI-MARKER diagnosis: type 2 diabetes, patient 4711",
        # The start of a too-long plaintext: even a partial echo of it would be found.
        "bad-request plaintext": b"PHI-MARKER-" + os.urandom(8).hex().encode(),
    }
    key_id = kms.create_key(Description="log test")["KeyMetadata"]["KeyId"]
    other = kms.create_key(Description="log test 2")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=secrets["plaintext"])["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == secrets["plaintext"]
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other)
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    secrets["data key"] = data_key["Plaintext"]
    secrets["decrypted data key"] = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])[
        "Plaintext"
    ]
    secrets["data key 2"] = kms.generate_data_key(KeyId=key_id, NumberOfBytes=48)["Plaintext"]
    kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")
    secrets["random"] = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    secrets["data key pair private key"] = pair["PrivateKeyPlaintext"]
    kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="RSA_2048")
    secrets.update(asymmetric_work(kms))

    refusals = [
        lambda: kms.encrypt(KeyId=key_id, Plaintext=secrets["bad-request plaintext"] * 200),
        lambda: kms.encrypt(KeyId="alias/does-not-exist", Plaintext=secrets["plaintext"]),
        lambda: kms.decrypt(CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1])),
        lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"wrong": "context"}),
    ]
    for refused in refusals:
        with pytest.raises(ClientError) as error:
            refused()
        message = json.dumps(error.value.response["Error"]).encode()
        assert leaked(secrets, message) == []
    return secrets


def asymmetric_work(kms) -> dict[str, bytes]:
    """Signing, RSA encryption, ECDH and MACs; returns the secrets they handled."""
    secrets = {"rsa plaintext": b"PHI-MARKER rsa " + os.urandom(8).hex().encode()}
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    signature = kms.sign(KeyId=signer["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    kms.verify(
        KeyId=signer["KeyId"],
        Message=b"m",
        Signature=signature["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    blob = kms.encrypt(
        KeyId=rsa["KeyId"],
        Plaintext=secrets["rsa plaintext"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )["CiphertextBlob"]
    kms.decrypt(KeyId=rsa["KeyId"], CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    agreement = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    peer = kms.get_public_key(KeyId=signer["KeyId"])["PublicKey"]
    secrets["shared secret"] = kms.derive_shared_secret(
        KeyId=agreement["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer
    )["SharedSecret"]
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    kms.generate_mac(KeyId=mac_key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    with pytest.raises(ClientError):
        kms.verify_mac(
            KeyId=mac_key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=b"x" * 32
        )
    return secrets


def secretsmanager_work(sm, replica_sm) -> dict[str, bytes]:
    """Good and bad Secrets Manager requests carrying values; returns the values."""
    secrets = {
        "secret string": b"PHI-MARKER db password " + os.urandom(8).hex().encode(),
        "secret binary": b"PHI-MARKER-BIN" + os.urandom(16),
        "second value": b"PHI-MARKER rotated " + os.urandom(8).hex().encode(),
        "refused value": b"PHI-MARKER refused " + os.urandom(8).hex().encode(),
    }
    token = "a" * 32
    sm.create_secret(
        Name="logs/db",
        SecretString=secrets["secret string"].decode(),
        ClientRequestToken=token,
        AddReplicaRegions=[{"Region": "eu-west-1"}],
    )
    sm.create_secret(Name="logs/bin", SecretBinary=secrets["secret binary"])
    sm.put_secret_value(SecretId="logs/db", SecretString=secrets["second value"].decode())
    assert replica_sm.get_secret_value(SecretId="logs/db")["SecretString"].startswith("PHI")
    sm.update_secret(SecretId="logs/db", KmsKeyId="")
    refusals = [
        lambda: sm.create_secret(
            Name="logs/db", SecretString=secrets["refused value"].decode(), ClientRequestToken=token
        ),
        lambda: sm.put_secret_value(
            SecretId="logs/db",
            ClientRequestToken=token,
            SecretString=secrets["refused value"].decode(),
        ),
        lambda: replica_sm.put_secret_value(
            SecretId="logs/db", SecretString=secrets["refused value"].decode()
        ),
        lambda: sm.put_secret_value(
            SecretId="logs/missing", SecretString=secrets["refused value"].decode()
        ),
        lambda: sm.create_secret(
            Name="logs/big", SecretString=secrets["refused value"].decode() * 2000
        ),
    ]
    for refused in refusals:
        with pytest.raises(ClientError) as error:
            refused()
        message = json.dumps(error.value.response["Error"]).encode()
        assert leaked(secrets, message) == []
    return secrets


def iam_work(iam, server) -> dict[str, bytes]:
    """IAM calls handing out secrets (an access key, an MFA seed), using them and renaming
    their user (which re-encrypts the key); returns the secrets."""
    iam.create_user(UserName="log-user")
    may_list = {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}
    iam.put_user_policy(
        UserName="log-user",
        PolicyName="list",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [may_list]}),
    )
    key = iam.create_access_key(UserName="log-user")["AccessKey"]
    own = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    server.client("secretsmanager", **own).list_secrets()
    # Temporary credentials: their secret and session token are secrets too.
    session = server.client("sts", **own).get_session_token()["Credentials"]
    server.client(
        "secretsmanager",
        aws_access_key_id=session["AccessKeyId"],
        aws_secret_access_key=session["SecretAccessKey"],
        aws_session_token=session["SessionToken"],
    ).list_secrets()
    iam.update_user(UserName="log-user", NewUserName="log-user-renamed")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="log-phone")["VirtualMFADevice"]
    seed, serial = device["Base32StringSeed"], device["SerialNumber"]
    with pytest.raises(ClientError):  # wrong codes
        enable_mfa(iam, serial, "000000", "000001")
    enable_mfa(iam, serial, totp_code(seed, -1), totp_code(seed, 0))
    return {
        "new access key secret": key["SecretAccessKey"].encode(),
        "session secret": session["SecretAccessKey"].encode(),
        "session token": session["SessionToken"].encode(),
        "MFA seed": seed,
        "MFA seed bytes": base64.b32decode(seed),
    }


def enable_mfa(iam, serial: str, first: str, second: str) -> None:
    iam.enable_mfa_device(
        UserName="log-user-renamed",
        SerialNumber=serial,
        AuthenticationCode1=first,
        AuthenticationCode2=second,
    )


def totp_code(seed_base32: bytes, steps_from_now: int) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written out here."""
    step = int(time.time() // 30) + steps_from_now
    digest = hmac.new(base64.b32decode(seed_base32), struct.pack(">Q", step), "sha1").digest()
    offset = digest[19] & 0x0F
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_secret_in_the_log_or_in_cli_output(make_server, backend):
    server = make_server(backend, "--log-level", "debug", start=False)
    shares, init_output = init_shamir(server)
    server.start(wait_unsealed=False)
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, check: bool = True) -> None:
        result = cli(server, *args, check=check)
        outputs[name] = result.stdout + result.stderr

    run("unseal 1", "unseal", shares[0])
    corrupted = ("B" if shares[1][0] == "A" else "A") + shares[1][1:]
    run("refused share", "unseal", corrupted, check=False)
    run("unseal 2", "unseal", shares[1])
    run("status sealed", "status", check=False)
    run("unseal 3", "unseal", shares[2])
    secrets = kms_work(server.client("kms"))
    secrets |= secretsmanager_work(
        server.client("secretsmanager"), server.client("secretsmanager", region_name="eu-west-1")
    )
    secrets |= iam_work(server.client("iam"), server)
    run("status", "status")
    run("seal", "seal")
    for share in shares[2:]:
        post(server, "/_strongroom/unseal", {"share": share})
    assert server.health()["sealed"] is False
    run("env", "env")

    root_key = shamir.combine([base64.b64decode(share) for share in shares[:3]])
    secrets.update(recovered_secrets(server, root_key))
    admin = admin_secret(server)
    assert admin in secrets.values()
    for number, share in enumerate(shares, 1):
        secrets[f"share {number}"] = base64.b64decode(share)
        secrets[f"share {number} as printed"] = share.encode()
    secrets["corrupted share"] = corrupted.encode()

    log = server.log_path.read_bytes()
    assert b"Encrypt 200" in log and b"Decrypt 400" in log  # the log did record the work
    assert leaked(secrets, log) == []
    stored = storage_dump(server)
    assert b"logs/db" in stored  # the dump does hold the secrets' rows
    assert leaked(secrets, stored) == []

    # Printed only where meant to be: each share once by init, the credentials by env.
    for share in shares:
        assert init_output.count(share) == 1
    assert leaked({"admin secret": admin}, init_output.encode()) == []
    admin_names = sorted(name for name, value in secrets.items() if value == admin)
    for name, output in outputs.items():
        expected = admin_names if name == "env" else []
        assert sorted(leaked(secrets, output.encode())) == expected, name
    assert f"AWS_SECRET_ACCESS_KEY={admin.decode()}" in outputs["env"]
