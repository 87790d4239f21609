"""The barrier's primitives: AEAD with per-message keys, the keyring, the KMS ciphertext blob."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.barrier import aead, envelope
from strongroom.barrier.barrier import Barrier, SealedError
from strongroom.barrier.keyring import Keyring
from strongroom.services.kms import ciphertext

KEY = bytes(range(32))


@given(st.binary(max_size=512), st.binary(max_size=64))
def test_aead_round_trip(plaintext, aad):
    blob = aead.encrypt(KEY, plaintext, aad, b"test")
    assert aead.decrypt(KEY, blob, aad, b"test") == plaintext
    assert len(blob) == len(plaintext) + aead.OVERHEAD


def test_aead_never_repeats_salt_or_nonce():
    blobs = {
        aead.encrypt(KEY, b"same", b"", b"test")[: aead.SALT_LEN + aead.NONCE_LEN]
        for _ in range(2000)
    }
    assert len(blobs) == 2000


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=64), st.data())
def test_aead_any_flipped_bit_fails(plaintext, data):
    blob = bytearray(aead.encrypt(KEY, plaintext, b"aad", b"test"))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(aead.IntegrityError):
        aead.decrypt(KEY, bytes(blob), b"aad", b"test")


def test_aead_binds_aad_purpose_and_key():
    blob = aead.encrypt(KEY, b"x", b"aad", b"test")
    for key, aad, purpose in [
        (KEY, b"other", b"test"),
        (KEY, b"aad", b"other"),
        (bytes(32), b"aad", b"test"),
    ]:
        with pytest.raises(aead.IntegrityError):
            aead.decrypt(key, blob, aad, purpose)
    with pytest.raises(aead.IntegrityError):
        aead.decrypt(KEY, blob[:10], b"aad", b"test")


def test_keyring_wrap_unwrap_and_wrong_root_key():
    keyring = Keyring.generate()
    root = aead.new_key()
    wrapped = keyring.wrap(root)
    assert Keyring.unwrap(root, wrapped).keys == keyring.keys
    with pytest.raises(aead.IntegrityError):
        Keyring.unwrap(aead.new_key(), wrapped)


def test_keyring_values_are_bound_to_their_row():
    keyring = Keyring.generate()
    blob = keyring.encrypt(b"secret", b"table/row-1")
    assert keyring.decrypt(blob, b"table/row-1") == b"secret"
    with pytest.raises(aead.IntegrityError):
        keyring.decrypt(blob, b"table/row-2")


def test_barrier_refuses_everything_while_sealed():
    barrier = Barrier()
    with pytest.raises(SealedError):
        barrier.encrypt(b"x", b"")
    root, keyring = aead.new_key(), Keyring.generate()
    barrier.unseal(root, keyring.wrap(root))
    blob = barrier.encrypt(b"x", b"row")
    barrier.seal()
    with pytest.raises(SealedError):
        barrier.decrypt(blob, b"row")


contexts = st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4)


@settings(max_examples=100)
@given(st.binary(max_size=4096), contexts, st.integers(1, 2**32 - 1))
def test_ciphertext_blob_round_trip_and_header(plaintext, context, version):
    key_id = str(uuid.uuid4())
    blob = ciphertext.seal(key_id, version, KEY, plaintext, context)
    header = ciphertext.read_header(blob)
    assert (header.key_id, header.material_version) == (key_id, version)
    assert ciphertext.open_blob(blob, KEY, dict(reversed(list(context.items())))) == plaintext


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=64), contexts, st.data())
def test_ciphertext_blob_any_flipped_byte_is_detected(plaintext, context, data):
    blob = bytearray(ciphertext.seal(str(uuid.uuid4()), 1, KEY, plaintext, context))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises((aead.IntegrityError, ciphertext.MalformedCiphertext)):
        ciphertext.read_header(bytes(blob))
        ciphertext.open_blob(bytes(blob), KEY, context)


@given(contexts, contexts)
def test_ciphertext_blob_is_bound_to_its_encryption_context(context, other):
    blob = ciphertext.seal(str(uuid.uuid4()), 1, KEY, b"phi", context)
    if other != context:
        with pytest.raises(aead.IntegrityError):
            ciphertext.open_blob(blob, KEY, other)


@given(st.binary(max_size=100))
def test_garbage_blobs_are_malformed_or_fail_authentication(garbage):
    with pytest.raises((aead.IntegrityError, ciphertext.MalformedCiphertext)):
        ciphertext.read_header(garbage)
        ciphertext.open_blob(garbage, KEY, None)


@given(st.binary(max_size=256), st.data())
def test_row_tags_detect_any_change_and_survive_a_new_keyring_term(record, data):
    keyring = Keyring.generate()
    tag = keyring.mac(record)
    keyring.verify(record, tag)
    changed = bytearray(record + b"!")
    changed[data.draw(st.integers(0, len(changed) - 1))] ^= 1
    with pytest.raises(aead.IntegrityError):
        keyring.verify(bytes(changed), tag)
    # A later term tags new rows; rows tagged under the old term still verify.
    keyring.keys[2], keyring.active_term = aead.new_key(), 2
    keyring.verify(record, tag)
    assert keyring.mac(record) != tag
    with pytest.raises(aead.IntegrityError):
        Keyring.generate().verify(record, tag)
    with pytest.raises(aead.IntegrityError):
        keyring.verify(record, tag[:-1])


@given(st.binary(min_size=1, max_size=200), st.binary(max_size=512), st.data())
def test_envelope_round_trip_and_damage(wrapped, plaintext, data):
    blob = envelope.seal(KEY, wrapped, plaintext, b"arn/version")
    assert envelope.wrapped_key(blob) == wrapped
    assert envelope.open_blob(KEY, blob, b"arn/version") == plaintext
    with pytest.raises(aead.IntegrityError):
        envelope.open_blob(KEY, blob, b"arn/other-version")
    with pytest.raises(aead.IntegrityError):
        envelope.wrapped_key(blob[: data.draw(st.integers(0, len(wrapped) + aead.OVERHEAD))])
