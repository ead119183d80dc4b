"""Dokaz cryptography: small, typed compositions of audited primitives.

Only ``cryptography`` (X25519, HKDF-SHA256, AES-256-GCM) and ``argon2-cffi``
(Argon2id) are used; nothing here invents a primitive. Every stored format
starts with a version byte (files also with the magic ``DKZF``), and every
ciphertext is bound to a context naming its purpose. See each module's
docstring for its exact byte layout, and ``tests/crypto/vectors`` for
test vectors.

Modules: :mod:`~crypto.aead` (small values), :mod:`~crypto.sealed` (public-key
wrapping of data keys), :mod:`~crypto.passwords` (Argon2id),
:mod:`~crypto.staff_keys` (staff private keys at rest and in sessions),
:mod:`~crypto.recovery` (offline organisation key), :mod:`~crypto.receipts`
(submitter receipts), :mod:`~crypto.stream` (files), :mod:`~crypto.fields`
(encrypted model fields), :mod:`~crypto.padding` (Padmé: files and fields are
padded so stored sizes reveal only a bucket).

This namespace re-exports the names the application uses everywhere (errors, keys,
field values, receipts, file streams); the rest is imported from its own module.
"""

from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.fields import SealedBytes, SealedJSON, SealedText
from crypto.keys import DataKey, StaffKeyPair, random_token
from crypto.passwords import Argon2Params, derive_key
from crypto.receipts import (
    Receipt,
    ReceiptVerifier,
    parse_receipt,
    receipt_secrets,
    verify_receipt,
)
from crypto.stream import AsyncEncryptingWriter, EncryptingWriter, decrypt_stream

__all__ = [
    "Argon2Params",
    "AsyncEncryptingWriter",
    "CryptoError",
    "DataKey",
    "DecryptionError",
    "EncryptingWriter",
    "FormatError",
    "Receipt",
    "ReceiptVerifier",
    "SealedBytes",
    "SealedJSON",
    "SealedText",
    "StaffKeyPair",
    "decrypt_stream",
    "derive_key",
    "parse_receipt",
    "random_token",
    "receipt_secrets",
    "verify_receipt",
]
