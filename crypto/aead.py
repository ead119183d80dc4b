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

Version 2 (padded; ``encrypt(..., pad=True)``, used for every sealed field) is the
same layout with version byte 0x02, over a padded plaintext (threat-model
property 13: a stored length reveals only a bucket)::

    blob   = 0x02 || nonce (12) || AES-256-GCM(key, padded, 0x02 || context) || tag (16)
    padded = plaintext || 0x80 || 0x00 * (padded_size(len(plaintext) + 1) - len(plaintext) - 1)

``padded_size`` is Padmé with a floor (:mod:`crypto.padding`), so every value
under the floor has the same blob length (29 + 512 bytes) and longer ones leak
only their bucket. The 0x80 marker (ISO/IEC 7816-4 padding) makes the padding
unambiguous; :func:`decrypt` also checks that the padded length is the canonical
one. :func:`decrypt` reads both versions, so version-1 values stay readable.

Minimum blob length is 29 bytes (empty plaintext, version 1). Large files use
:mod:`crypto.stream` instead; this module holds whole values in memory.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import DecryptionError, FormatError
from crypto.padding import padded_size

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "OVERHEAD",
    "PADDED_VERSION",
    "TAG_SIZE",
    "VERSION",
    "decrypt",
    "encrypt",
]

VERSION = 1
PADDED_VERSION = 2
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE

_VERSION_BYTE = bytes([VERSION])
_MARKER = b"\x80"


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise FormatError(f"AES-256-GCM key must be {KEY_SIZE} bytes, got {len(key)}")


def _pad(plaintext: bytes) -> bytes:
    """``plaintext || 0x80 || zeros`` up to its bucket (version-2 payload)."""
    size = padded_size(len(plaintext) + 1)
    return plaintext + _MARKER + bytes(size - len(plaintext) - 1)


def _unpad(padded: bytes) -> bytes:
    """Inverse of :func:`_pad`; raises :class:`DecryptionError` if not canonical."""
    body = padded.rstrip(b"\0")
    if not body.endswith(_MARKER) or len(padded) != padded_size(len(body)):
        # Authentic (checked by GCM first), so only a faulty writer gets here.
        raise DecryptionError("decrypted value has malformed padding")
    return body[:-1]


def encrypt(
    key: bytes,
    plaintext: bytes,
    context: bytes,
    *,
    nonce: bytes | None = None,
    pad: bool = False,
) -> bytes:
    """Encrypt ``plaintext`` under ``key``, bound to ``context``.

    ``pad=True`` writes version 2: the plaintext is padded to its Padmé bucket,
    so the blob's length reveals only the bucket. Keys and other fixed-size
    values stay version 1 (their length is public anyway).

    ``nonce`` exists only so test vectors are reproducible; production callers
    must leave it ``None`` (reusing a nonce with the same key breaks GCM).
    """
    _check_key(key)
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise FormatError(f"nonce must be {NONCE_SIZE} bytes")
    version = bytes([PADDED_VERSION]) if pad else _VERSION_BYTE
    payload = _pad(plaintext) if pad else plaintext
    ciphertext = AESGCM(key).encrypt(nonce, payload, version + context)
    return version + nonce + ciphertext


def decrypt(key: bytes, blob: bytes, context: bytes) -> bytes:
    """Return the plaintext of ``blob``.

    Raises :class:`FormatError` for a malformed blob and
    :class:`DecryptionError` for a wrong key, wrong context or tampering.
    """
    _check_key(key)
    if len(blob) < OVERHEAD:
        raise FormatError(f"encrypted value too short ({len(blob)} bytes)")
    version = blob[0]
    if version not in (VERSION, PADDED_VERSION):
        raise FormatError(f"unsupported encrypted value version {version}")
    nonce = blob[1 : 1 + NONCE_SIZE]
    try:
        plaintext = AESGCM(key).decrypt(nonce, blob[1 + NONCE_SIZE :], blob[:1] + context)
    except InvalidTag:
        raise DecryptionError(
            "decryption failed: wrong key or context, or the data was modified"
        ) from None
    return _unpad(plaintext) if version == PADDED_VERSION else plaintext
