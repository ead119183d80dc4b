"""Staff private keys (password-sealed, session-bound) and the recovery key."""

from __future__ import annotations

import unicodedata

import pytest

from crypto import _base32
from crypto.errors import DecryptionError, FormatError
from crypto.keys import DataKey, StaffKeyPair, random_token
from crypto.passwords import Argon2Params
from crypto.recovery import (
    PREFIX,
    PUBLIC_PREFIX,
    format_recovery_key,
    format_recovery_public_key,
    generate_recovery_key,
    parse_recovery_key,
    parse_recovery_public_key,
    recovery_public_key,
)
from crypto.sealed import unwrap_data_key, wrap_data_key
from crypto.staff_keys import (
    SEALED_SIZE,
    decrypt_for_session,
    encrypt_for_session,
    reseal_private_key,
    seal_private_key,
    session_token_hash,
    unseal_private_key,
)


@pytest.fixture
def pair() -> StaffKeyPair:
    return StaffKeyPair.generate()


# -- password sealing ------------------------------------------------------------


def test_seal_unseal(pair: StaffKeyPair, test_params: Argon2Params) -> None:
    blob = seal_private_key(pair.private_bytes, "hunter2 ў", test_params)
    assert len(blob) == SEALED_SIZE and blob[0] == 1
    assert pair.private_bytes not in blob
    assert blob[1:14] == test_params.encode()
    assert unseal_private_key(blob, "hunter2 ў") == pair.private_bytes


def test_fresh_salt_per_seal(pair: StaffKeyPair, test_params: Argon2Params) -> None:
    a = seal_private_key(pair.private_bytes, "pw", test_params)
    b = seal_private_key(pair.private_bytes, "pw", test_params)
    assert a[14:30] != b[14:30]


def test_wrong_password(pair: StaffKeyPair, test_params: Argon2Params) -> None:
    blob = seal_private_key(pair.private_bytes, "right", test_params)
    with pytest.raises(DecryptionError) as info:
        unseal_private_key(blob, "wrong")
    assert "right" not in str(info.value) and "wrong password" in str(info.value)


def test_tampered_params_or_salt(pair: StaffKeyPair, test_params: Argon2Params) -> None:
    blob = seal_private_key(pair.private_bytes, "pw", test_params)
    salt_changed = blob[:14] + bytes([blob[14] ^ 1]) + blob[15:]
    with pytest.raises(DecryptionError):
        unseal_private_key(salt_changed, "pw")
    other_params = Argon2Params(2, 8, 1).encode()
    with pytest.raises(DecryptionError):
        unseal_private_key(blob[:1] + other_params + blob[14:], "pw")
    with pytest.raises(FormatError):
        unseal_private_key(b"\x02" + blob[1:], "pw")
    with pytest.raises(FormatError):
        unseal_private_key(blob[:-1], "pw")


def test_password_is_nfc_normalised(pair: StaffKeyPair, test_params: Argon2Params) -> None:
    composed = "ўсё"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    blob = seal_private_key(pair.private_bytes, composed, test_params)
    assert unseal_private_key(blob, decomposed) == pair.private_bytes


def test_reseal(pair: StaffKeyPair, test_params: Argon2Params) -> None:
    blob = seal_private_key(pair.private_bytes, "old", test_params)
    new = reseal_private_key(blob, "old", "new", test_params)
    assert unseal_private_key(new, "new") == pair.private_bytes
    with pytest.raises(DecryptionError):
        unseal_private_key(new, "old")
    with pytest.raises(DecryptionError):
        reseal_private_key(blob, "not-old", "new", test_params)


# -- session binding ---------------------------------------------------------------


def test_session_round_trip(pair: StaffKeyPair) -> None:
    token = random_token()
    blob = encrypt_for_session(pair.private_bytes, token, "sess-1")
    assert blob[0] == 1 and pair.private_bytes not in blob
    assert decrypt_for_session(blob, token, "sess-1") == pair.private_bytes


def test_session_wrong_token_or_id(pair: StaffKeyPair) -> None:
    token = random_token()
    blob = encrypt_for_session(pair.private_bytes, token, "sess-1")
    with pytest.raises(DecryptionError) as info:
        decrypt_for_session(blob, random_token(), "sess-1")
    assert token not in str(info.value)
    with pytest.raises(DecryptionError):
        decrypt_for_session(blob, token, "sess-2")
    with pytest.raises(FormatError):
        decrypt_for_session(blob[:-1], token, "sess-1")


def test_session_token_hash_is_not_the_kek(pair: StaffKeyPair) -> None:
    """What the database stores (the hash) must not open the session blob."""
    token = random_token()
    stored = session_token_hash(token)
    assert len(stored) == 32 and stored == session_token_hash(token)
    blob = encrypt_for_session(pair.private_bytes, token, "s")
    with pytest.raises(DecryptionError):
        decrypt_for_session(blob, stored.hex(), "s")


def test_session_rejects_short_tokens(pair: StaffKeyPair) -> None:
    with pytest.raises(ValueError):
        encrypt_for_session(pair.private_bytes, "short-token", "s")


# -- recovery key --------------------------------------------------------------------


def test_recovery_round_trip_and_unwrap() -> None:
    public, text = generate_recovery_key()
    assert text.startswith(PREFIX)
    groups = text[len(PREFIX) :].split("-")
    assert len(groups) == 14 and all(len(g) == 4 for g in groups)
    private = parse_recovery_key(text)
    assert recovery_public_key(private) == public
    dk = DataKey.generate()
    wrapped = wrap_data_key(public, dk, b"dokaz/case-key/recovery")
    assert unwrap_data_key(private, wrapped, b"dokaz/case-key/recovery") == dk


def test_recovery_parse_is_tolerant() -> None:
    private = bytes(range(32))
    text = format_recovery_key(private)
    body = text[len(PREFIX) :]
    variants = [
        text.lower(),
        text.replace("-", " "),
        text.replace("-", ""),
        "  " + text.replace("-", "_") + "\n",
        body,  # without prefix
        body.replace("0", "O").replace("1", "l"),
    ]
    for variant in variants:
        assert parse_recovery_key(variant) == private, variant


def test_recovery_checksum_catches_typos() -> None:
    text = format_recovery_key(bytes(range(32)))
    body = _base32.normalise(text)[8:]
    for i, char in enumerate(body):
        replacement = _base32.ALPHABET[(_base32.ALPHABET.index(char) + 1) % 32]
        typo = body[:i] + replacement + body[i + 1 :]
        with pytest.raises(FormatError) as info:
            parse_recovery_key(typo)
        assert typo not in str(info.value)
    # Two adjacent symbols swapped.
    swapped = body[1] + body[0] + body[2:]
    if swapped != body:
        with pytest.raises(FormatError):
            parse_recovery_key(swapped)


def test_recovery_public_text_round_trip_and_tolerance() -> None:
    public, _text = generate_recovery_key()
    text = format_recovery_public_key(public)
    assert text.startswith(PUBLIC_PREFIX)
    groups = text[len(PUBLIC_PREFIX) :].split("-")
    assert len(groups) == 14 and all(len(g) == 4 for g in groups)
    for variant in [text, text.lower(), text.replace("-", " "), text[len(PUBLIC_PREFIX) :]]:
        assert parse_recovery_public_key(variant) == public, variant


def test_recovery_public_checksum_catches_typos() -> None:
    public = StaffKeyPair.generate().public_bytes
    body = _base32.normalise(format_recovery_public_key(public))[8:]
    for i, char in enumerate(body):
        replacement = _base32.ALPHABET[(_base32.ALPHABET.index(char) + 1) % 32]
        with pytest.raises(FormatError):
            parse_recovery_public_key(body[:i] + replacement + body[i + 1 :])


def test_recovery_public_parse_refuses_the_private_key() -> None:
    """Pasting the private text where the public one belongs is refused, never stored."""
    _public, private_text = generate_recovery_key()
    for mistaken in (private_text, private_text[len(PREFIX) :]):
        with pytest.raises(FormatError, match="PRIVATE") as info:
            parse_recovery_public_key(mistaken)
        assert private_text[len(PREFIX) :] not in str(info.value)
    with pytest.raises(FormatError):  # and the other way round
        parse_recovery_key(format_recovery_public_key(StaffKeyPair.generate().public_bytes))


def test_recovery_public_parse_refuses_a_small_order_point() -> None:
    # All zeros: X25519 with it gives an all-zero secret, so a wrap would protect nothing.
    with pytest.raises(FormatError, match="usable"):
        parse_recovery_public_key(format_recovery_public_key(bytes(32)))


def test_recovery_parse_rejects_garbage() -> None:
    text = format_recovery_key(bytes(32))
    for bad in ["", text[:-1], text + "0", "DOKAZ-RK2-" + text[len(PREFIX) :], text[:-1] + "U"]:
        with pytest.raises(FormatError):
            parse_recovery_key(bad)
