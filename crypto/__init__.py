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
from crypto.recovery import (
    format_recovery_key,
    generate_recovery_key,
    parse_recovery_key,
    recovery_public_key,
)
from crypto.sealed import (
    open_sealed,
    seal,
    unwrap_data_key,
    unwrap_data_key_symmetric,
    wrap_data_key,
    wrap_data_key_symmetric,
)
from crypto.staff_keys import (
    decrypt_for_session,
    encrypt_for_session,
    reseal_private_key,
    seal_private_key,
    session_token_hash,
    unseal_private_key,
)
from crypto.stream import (
    AsyncEncryptingWriter,
    DecryptingReader,
    EncryptingWriter,
    StreamResult,
    ciphertext_size,
    decrypt_stream,
    hash_plaintext,
)

__all__ = [
    "Argon2Params",
    "AsyncEncryptingWriter",
    "CryptoError",
    "DataKey",
    "DecryptingReader",
    "DecryptionError",
    "EncryptingWriter",
    "FormatError",
    "Receipt",
    "ReceiptVerifier",
    "SealedBytes",
    "SealedJSON",
    "SealedText",
    "StaffKeyPair",
    "StreamResult",
    "ciphertext_size",
    "decrypt_for_session",
    "decrypt_stream",
    "derive_key",
    "encrypt_for_session",
    "format_recovery_key",
    "generate_recovery_key",
    "hash_plaintext",
    "open_sealed",
    "parse_receipt",
    "parse_recovery_key",
    "random_token",
    "receipt_secrets",
    "recovery_public_key",
    "reseal_private_key",
    "seal",
    "seal_private_key",
    "session_token_hash",
    "unseal_private_key",
    "unwrap_data_key",
    "unwrap_data_key_symmetric",
    "verify_receipt",
    "wrap_data_key",
    "wrap_data_key_symmetric",
]
