"""aead, sealed boxes, keys and Argon2 parameters."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import aead, sealed
from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.keys import DataKey, StaffKeyPair, random_token
from crypto.passwords import Argon2Params, derive_key

KEY = bytes(range(32))
CANARY = b"CANARY-testimony-7731"


# -- aead ----------------------------------------------------------------------


@settings(deadline=None, database=None)
@given(st.binary(max_size=300), st.binary(max_size=40))
def test_aead_round_trip(plaintext: bytes, context: bytes) -> None:
    blob = aead.encrypt(KEY, plaintext, context)
    assert len(blob) == len(plaintext) + aead.OVERHEAD
    assert blob[0] == aead.VERSION
    assert aead.decrypt(KEY, blob, context) == plaintext


def test_aead_fresh_nonce_each_time() -> None:
    assert aead.encrypt(KEY, b"x", b"c") != aead.encrypt(KEY, b"x", b"c")


def test_aead_rejects_wrong_key_context_and_tampering() -> None:
    blob = aead.encrypt(KEY, CANARY, b"dokaz/a")
    with pytest.raises(DecryptionError) as info:
        aead.decrypt(bytes(32), blob, b"dokaz/a")
    assert CANARY.decode() not in str(info.value)
    with pytest.raises(DecryptionError):
        aead.decrypt(KEY, blob, b"dokaz/b")
    for i in range(1, len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptionError):
            aead.decrypt(KEY, bytes(tampered), b"dokaz/a")


def test_aead_format_errors() -> None:
    blob = aead.encrypt(KEY, b"x", b"c")
    with pytest.raises(FormatError):
        aead.decrypt(KEY, b"\x03" + blob[1:], b"c")
    # The version byte is authenticated: relabelling 1 <-> 2 (padded) fails.
    with pytest.raises(DecryptionError):
        aead.decrypt(KEY, b"\x02" + blob[1:], b"c")
    padded = aead.encrypt(KEY, b"x", b"c", pad=True)
    with pytest.raises(DecryptionError):
        aead.decrypt(KEY, b"\x01" + padded[1:], b"c")
    with pytest.raises(FormatError):
        aead.decrypt(KEY, blob[: aead.OVERHEAD - 1], b"c")
    with pytest.raises(FormatError):
        aead.encrypt(KEY[:16], b"x", b"c")
    with pytest.raises(FormatError):
        aead.encrypt(KEY, b"x", b"c", nonce=b"short")
    assert issubclass(FormatError, CryptoError) and issubclass(DecryptionError, CryptoError)


# -- sealed boxes ------------------------------------------------------------------


@settings(deadline=None, database=None)
@given(st.binary(max_size=200), st.binary(max_size=40))
def test_seal_round_trip(plaintext: bytes, context: bytes) -> None:
    pair = StaffKeyPair.generate()
    box = sealed.seal(pair.public_bytes, plaintext, context)
    assert len(box) == len(plaintext) + sealed.OVERHEAD
    assert sealed.open_sealed(pair.private_bytes, box, context) == plaintext


def test_seal_wrong_recipient_context_and_tampering() -> None:
    alice, mallory = StaffKeyPair.generate(), StaffKeyPair.generate()
    box = sealed.seal(alice.public_bytes, CANARY, b"dokaz/case-key/staff/1")
    with pytest.raises(DecryptionError):
        sealed.open_sealed(mallory.private_bytes, box, b"dokaz/case-key/staff/1")
    with pytest.raises(DecryptionError):
        sealed.open_sealed(alice.private_bytes, box, b"dokaz/case-key/staff/2")
    for i in range(1, len(box)):
        tampered = bytearray(box)
        tampered[i] ^= 0x80
        with pytest.raises(DecryptionError):
            sealed.open_sealed(alice.private_bytes, bytes(tampered), b"dokaz/case-key/staff/1")
    with pytest.raises(FormatError):
        sealed.open_sealed(alice.private_bytes, b"\x02" + box[1:], b"dokaz/case-key/staff/1")
    with pytest.raises(FormatError):
        sealed.open_sealed(alice.private_bytes, box[:60], b"dokaz/case-key/staff/1")


def test_seal_rejects_small_order_public_key() -> None:
    # The all-zero point gives an all-zero shared secret; it must not be used.
    with pytest.raises(CryptoError):
        sealed.seal(bytes(32), b"secret", b"ctx")


def test_box_binds_recipient_public_key() -> None:
    """Replacing the ephemeral key invalidates the box (it is in KDF info and AAD)."""
    pair = StaffKeyPair.generate()
    box = sealed.seal(pair.public_bytes, b"k" * 32, b"c")
    other = sealed.seal(pair.public_bytes, b"k" * 32, b"c")
    spliced = box[:1] + other[1:33] + box[33:]
    with pytest.raises(DecryptionError):
        sealed.open_sealed(pair.private_bytes, spliced, b"c")


def test_wrap_data_key_public_and_symmetric() -> None:
    pair, dk = StaffKeyPair.generate(), DataKey.generate()
    wrapped = sealed.wrap_data_key(pair.public_bytes, dk, b"dokaz/case-key/recovery")
    assert dk.raw not in wrapped
    assert sealed.unwrap_data_key(pair.private_bytes, wrapped, b"dokaz/case-key/recovery") == dk
    kek = DataKey.generate().raw
    sym = sealed.wrap_data_key_symmetric(kek, dk, b"dokaz/case-key/receipt/9")
    assert len(sym) == 32 + aead.OVERHEAD
    assert sealed.unwrap_data_key_symmetric(kek, sym, b"dokaz/case-key/receipt/9") == dk
    with pytest.raises(DecryptionError):
        sealed.unwrap_data_key_symmetric(kek, sym, b"dokaz/case-key/receipt/10")
    # Authentic but not 32 bytes: refused rather than silently truncated.
    with pytest.raises(FormatError):
        sealed.unwrap_data_key_symmetric(kek, aead.encrypt(kek, b"short", b"c"), b"c")


# -- keys ---------------------------------------------------------------------------


def test_data_key_basics() -> None:
    dk = DataKey.generate()
    assert len(dk.raw) == 32
    assert DataKey(dk.raw) == dk and DataKey.generate() != dk
    assert repr(dk) == str(dk) == "DataKey(<redacted>)"
    assert dk.raw.hex() not in repr(dk)
    with pytest.raises(FormatError):
        DataKey(b"x" * 31)
    with pytest.raises(TypeError):
        hash(dk)
    with pytest.raises(TypeError):
        pickle.dumps(dk)


def test_staff_key_pair() -> None:
    pair = StaffKeyPair.generate()
    assert len(pair.public_bytes) == len(pair.private_bytes) == 32
    again = StaffKeyPair.from_private_bytes(pair.private_bytes)
    assert again.public_bytes == pair.public_bytes
    assert pair.private_bytes.hex() not in repr(pair)
    assert "<redacted>" in repr(pair) and "<redacted>" in str(pair)
    with pytest.raises(FormatError):
        StaffKeyPair.from_private_bytes(b"x" * 31)
    with pytest.raises(TypeError):
        pickle.dumps(pair)


def test_random_token() -> None:
    tokens = {random_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and t.isascii() and "/" not in t and "+" not in t for t in tokens)
    with pytest.raises(ValueError):
        random_token(8)


# -- Argon2 ------------------------------------------------------------------------


def test_argon2_params_encoding() -> None:
    for params in (Argon2Params.default(), Argon2Params.for_tests()):
        encoded = params.encode()
        assert len(encoded) == Argon2Params.ENCODED_SIZE == 13
        assert encoded[0] == 1
        assert Argon2Params.decode(encoded) == params
    assert Argon2Params.default() == Argon2Params(3, 65536, 4)
    with pytest.raises(FormatError):
        Argon2Params.decode(b"\x02" + Argon2Params.default().encode()[1:])
    with pytest.raises(FormatError):
        Argon2Params.decode(b"\x01" * 5)


@pytest.mark.parametrize(
    ("t", "m", "p"),
    [(0, 64, 1), (1, 7, 1), (1, 16, 4), (1, 8, 0), (65, 64, 1), (1, 5 * 1024 * 1024, 1)],
)
def test_argon2_params_bounds(t: int, m: int, p: int) -> None:
    # A tampered stored blob must not make a worker allocate or spin without limit.
    with pytest.raises(FormatError):
        Argon2Params(t, m, p)


def test_derive_key(test_params: Argon2Params) -> None:
    a = derive_key(b"pw", b"s" * 16, test_params)
    assert len(a) == 32 and a == derive_key(b"pw", b"s" * 16, test_params)
    assert a != derive_key(b"pw", b"t" * 16, test_params)
    assert a != derive_key(b"pw", b"s" * 16, Argon2Params(2, 8, 1))
    assert len(derive_key(b"pw", b"s" * 16, test_params, length=64)) == 64
    with pytest.raises(ValueError):
        derive_key(b"pw", b"short", test_params)
