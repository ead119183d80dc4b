"""Versioned AES-256-GCM for small values (fields, wrapped keys, sealed private keys).

Byte format (version 1)::

    blob = version (1 byte, 0x01) || nonce (12 bytes) || ciphertext || tag (16 bytes)

* key: 32 bytes (AES-256).
* nonce: 12 random bytes per message. Random 96-bit nonces are safe for far
  more messages than any one key here encrypts (NIST SP 800-38D bound 2^32).
* associated data: ``version || context``. The context names what the value is
  and where it belongs (e.g. ``b"dokaz/field/case.narrative"``), so a blob moved
  to another column, role or purpose fails to decrypt instead of being
  misinterpreted. Binding the version stops downgrade to a future format.

Minimum blob length is 29 bytes (empty plaintext). Large files use
:mod:`crypto.stream` instead; this module holds whole values in memory.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import DecryptionError, FormatError

__all__ = ["KEY_SIZE", "NONCE_SIZE", "OVERHEAD", "TAG_SIZE", "VERSION", "decrypt", "encrypt"]

VERSION = 1
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE

_VERSION_BYTE = bytes([VERSION])


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise FormatError(f"AES-256-GCM key must be {KEY_SIZE} bytes, got {len(key)}")


def encrypt(key: bytes, plaintext: bytes, context: bytes, *, nonce: bytes | None = None) -> bytes:
    """Encrypt ``plaintext`` under ``key``, bound to ``context``.

    ``nonce`` exists only so test vectors are reproducible; production callers
    must leave it ``None`` (reusing a nonce with the same key breaks GCM).
    """
    _check_key(key)
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise FormatError(f"nonce must be {NONCE_SIZE} bytes")
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _VERSION_BYTE + context)
    return _VERSION_BYTE + nonce + ciphertext


def decrypt(key: bytes, blob: bytes, context: bytes) -> bytes:
    """Return the plaintext of ``blob``.

    Raises :class:`FormatError` for a malformed blob and
    :class:`DecryptionError` for a wrong key, wrong context or tampering.
    """
    _check_key(key)
    if len(blob) < OVERHEAD:
        raise FormatError(f"encrypted value too short ({len(blob)} bytes)")
    if blob[0] != VERSION:
        raise FormatError(f"unsupported encrypted value version {blob[0]}")
    nonce = blob[1 : 1 + NONCE_SIZE]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_SIZE :], _VERSION_BYTE + context)
    except InvalidTag:
        raise DecryptionError(
            "decryption failed: wrong key or context, or the data was modified"
        ) from None
