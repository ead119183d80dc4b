"""Encrypted field values for the model layer."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import aead
from crypto.errors import DecryptionError, FormatError
from crypto.fields import SealedBytes, SealedJSON, SealedText
from crypto.keys import DataKey

KEY = DataKey(bytes(range(32)))
CANARY = "CANARY Ганна Іванова +375291234567"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@settings(deadline=None, database=None)
@given(st.text())
def test_text_round_trip(text: str) -> None:
    sealed = SealedText.seal(KEY, text, "case.narrative")
    assert sealed.open(KEY, "case.narrative") == text
    assert SealedText(sealed.ciphertext).open(KEY, "case.narrative") == text


@settings(deadline=None, database=None)
@given(json_values)
def test_json_round_trip(value: Any) -> None:
    assert SealedJSON.seal(KEY, value, "case.contacts").open(KEY, "case.contacts") == value


@settings(deadline=None, database=None)
@given(st.binary())
def test_bytes_round_trip(data: bytes) -> None:
    assert SealedBytes.seal(KEY, data, "file.name").open(KEY, "file.name") == data


def test_never_shows_plaintext() -> None:
    values = [
        SealedText.seal(KEY, CANARY, "c"),
        SealedJSON.seal(KEY, {"name": CANARY}, "c"),
        SealedBytes.seal(KEY, CANARY.encode(), "c"),
    ]
    for sealed in values:
        for shown in (repr(sealed), str(sealed), f"{sealed}", format(sealed, "")):
            assert "CANARY" not in shown and "Ганна" not in shown
            assert shown == f"{type(sealed).__name__}(<{len(sealed.ciphertext)} bytes, sealed>)"
        assert CANARY.encode() not in sealed.ciphertext
        assert b"CANARY" not in pickle.dumps(sealed)


def test_context_and_key_are_enforced() -> None:
    sealed = SealedText.seal(KEY, CANARY, "case.narrative")
    with pytest.raises(DecryptionError) as info:
        sealed.open(KEY, "case.summary")
    assert "CANARY" not in str(info.value)
    with pytest.raises(DecryptionError):
        sealed.open(DataKey.generate(), "case.narrative")
    with pytest.raises(FormatError):
        SealedText(b"\x01short").open(KEY, "case.narrative")
    with pytest.raises(ValueError):
        SealedText.seal(KEY, "x", "")
    # Documented context prefix.
    assert aead.decrypt(KEY.raw, sealed.ciphertext, b"dokaz/field/case.narrative")


def test_immutable_and_comparable() -> None:
    sealed = SealedBytes.seal(KEY, b"abc", "c")
    with pytest.raises(AttributeError):
        sealed._ciphertext = b""
    with pytest.raises(AttributeError):
        sealed.extra = 1
    assert sealed == SealedBytes(sealed.ciphertext)
    assert sealed != SealedText(sealed.ciphertext)
    assert len({sealed, SealedBytes(sealed.ciphertext)}) == 1
    assert pickle.loads(pickle.dumps(sealed)) == sealed  # noqa: S301 (our own bytes)
    with pytest.raises(TypeError):
        SealedText("not bytes")  # type: ignore[arg-type]


def test_json_rejects_non_finite_numbers() -> None:
    with pytest.raises(ValueError):
        SealedJSON.seal(KEY, {"x": float("nan")}, "c")
