"""Submitter receipts (threat-model property 6)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import _base32
from crypto.errors import FormatError
from crypto.keys import DataKey
from crypto.passwords import Argon2Params
from crypto.receipts import (
    LOOKUP_SYMBOLS,
    SECRET_BITS,
    SECRET_SYMBOLS,
    Receipt,
    ReceiptVerifier,
    parse_receipt,
    receipt_secrets,
    verify_receipt,
)
from crypto.sealed import unwrap_data_key_symmetric, wrap_data_key_symmetric

RECEIPT_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$")


def test_alphabet_and_entropy() -> None:
    alphabet = _base32.ALPHABET
    assert len(alphabet) == len(set(alphabet)) == 32
    assert not set("ILOU") & set(alphabet)
    assert set(alphabet) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    bits = SECRET_SYMBOLS * math.log2(len(alphabet))
    assert bits == SECRET_BITS == 120
    assert bits >= 100
    assert LOOKUP_SYMBOLS * 5 == 40


def test_generate_format_and_uniqueness() -> None:
    receipts = [Receipt.generate() for _ in range(200)]
    assert len({r.text for r in receipts}) == 200
    for r in receipts:
        assert RECEIPT_RE.match(r.text), r.text
        assert r.text.replace("-", "") == r.lookup + r.secret
    # Every symbol shows up somewhere: the generator uses the whole alphabet.
    assert set("".join(r.secret for r in receipts)) == set(_base32.ALPHABET)


def test_secret_never_in_repr() -> None:
    r = Receipt.generate()
    for shown in (repr(r), str(r), f"{r}", f"{r!r}"):
        assert r.secret not in shown
        assert _base32.group(r.secret) not in shown
        assert "<redacted>" in shown


def test_parse_normalisation() -> None:
    r = Receipt(lookup="0123ABCD", secret="1EFGH" + "J" * 19)
    text = r.text
    cyrillic = text.replace("A", "\u0410").replace("C", "\u0421").replace("E", "\u0415")
    variants = [
        text,
        text.lower(),
        text.replace("-", ""),
        text.replace("-", " "),
        text.replace("-", "_"),
        " \t" + text + "\n",
        text.replace("0", "O").replace("1", "I"),
        text.replace("1", "l").lower(),
        cyrillic,
        cyrillic.lower(),
        text.replace("0", "\uff10"),  # full-width digit
    ]
    for variant in variants:
        assert parse_receipt(variant) == r, variant


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ABCD",
        "0123-ABCD-1EFG-HJJJ-JJJJ-JJJJ-JJJJ-JJJ",
        "0123-ABCD-1EFG-HJJJ-JJJJ-JJJJ-JJJJ-JJJJ-0",
    ],
)
def test_parse_rejects_wrong_length(bad: str) -> None:
    with pytest.raises(FormatError):
        parse_receipt(bad)


def test_parse_rejects_bad_symbols_without_echo() -> None:
    secret_part = "SECRETPART"
    text = f"0123-ABCD-{secret_part}U" + "J" * 13
    with pytest.raises(FormatError) as info:
        parse_receipt(text)
    message = str(info.value)
    assert secret_part not in message and text not in message
    with pytest.raises(FormatError):
        parse_receipt("0123-ABCD-" + "J" * 23 + "*")


def test_receipt_validates_fields() -> None:
    with pytest.raises(FormatError):
        Receipt(lookup="0123abcd", secret="J" * 24)
    with pytest.raises(FormatError):
        Receipt(lookup="0123ABCD", secret="J" * 23)


def test_verify(test_params: Argon2Params) -> None:
    r = Receipt.generate()
    verifier, kek = receipt_secrets(r, params=test_params)
    assert len(kek) == 32 and kek != verifier.verifier
    assert verify_receipt(parse_receipt(r.text.lower()), verifier) == kek
    # The KEK unwraps the case key; the verifier alone does not.
    case_key = DataKey.generate()
    wrapped = wrap_data_key_symmetric(kek, case_key, b"dokaz/case-key/receipt/1")
    assert unwrap_data_key_symmetric(kek, wrapped, b"dokaz/case-key/receipt/1") == case_key


def test_wrong_receipt_returns_none(test_params: Argon2Params) -> None:
    r = Receipt.generate()
    verifier, _ = receipt_secrets(r, params=test_params)
    assert verify_receipt(Receipt.generate(), verifier) is None
    # Same secret under another lookup: bound, so rejected.
    other_lookup = Receipt(lookup=Receipt.generate().lookup, secret=r.secret)
    assert verify_receipt(other_lookup, verifier) is None
    last = r.secret[-1]
    flipped = r.secret[:-1] + ("0" if last != "0" else "1")
    assert verify_receipt(Receipt(lookup=r.lookup, secret=flipped), verifier) is None


def test_per_receipt_salt(test_params: Argon2Params) -> None:
    r = Receipt.generate()
    a, kek_a = receipt_secrets(r, params=test_params)
    b, kek_b = receipt_secrets(r, params=test_params)
    assert a.salt != b.salt and a.verifier != b.verifier and kek_a != kek_b
    assert r.secret.encode() not in a.to_bytes()


def test_verifier_serialisation(test_params: Argon2Params) -> None:
    verifier, _ = receipt_secrets(Receipt.generate(), params=test_params)
    blob = verifier.to_bytes()
    assert len(blob) == 62 and blob[0] == 1
    assert ReceiptVerifier.from_bytes(blob) == verifier
    with pytest.raises(FormatError):
        ReceiptVerifier.from_bytes(blob[:-1])
    with pytest.raises(FormatError):
        ReceiptVerifier.from_bytes(b"\x09" + blob[1:])
    with pytest.raises(FormatError):
        ReceiptVerifier(salt=b"x", params=test_params, verifier=bytes(32))


@settings(deadline=None, database=None)
@given(st.binary(min_size=20, max_size=20))
def test_parse_text_round_trip(raw: bytes) -> None:
    symbols = _base32.encode(raw)
    r = Receipt(lookup=symbols[:8], secret=symbols[8:])
    assert parse_receipt(r.text) == r
