"""Sealed boxes: encrypt to an X25519 public key; wrap data keys.

Construction (ECIES-style, like libsodium's ``crypto_box_seal`` but built from
X25519 + HKDF-SHA256 + AES-256-GCM as provided by ``cryptography``)::

    eph            = fresh X25519 key pair (one per message)
    shared         = X25519(eph_private, recipient_public)
    key            = HKDF-SHA256(ikm=shared, salt=none, length=32,
                                 info=b"dokaz-seal-v1" || eph_pub || recipient_pub || context)
    aad            = version || eph_pub || recipient_pub || context
    sealed         = version (1 byte, 0x01) || eph_pub (32) || nonce (12) || ciphertext || tag (16)

``eph_pub`` and ``recipient_pub`` are fixed-length, so the variable-length
context at the end of ``info``/``aad`` is unambiguous. Putting both public keys
into the KDF and the AAD binds the box to this recipient (no key-compromise
or re-targeting tricks) and the context binds it to its purpose, e.g.
``b"dokaz/case-key/staff/<user-id>"``. The key is unique per message, so the
random nonce is belt and braces.

Overhead: 61 bytes. A wrapped :class:`~crypto.keys.DataKey` is 93 bytes.

Symmetric wrapping (:func:`wrap_data_key_symmetric`) is :mod:`crypto.aead`
under a key-encryption key (case key, receipt KEK): 61 bytes.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import aead
from crypto.errors import DecryptionError, FormatError
from crypto.keys import DATA_KEY_SIZE, X25519_KEY_SIZE, DataKey

__all__ = [
    "OVERHEAD",
    "VERSION",
    "open_sealed",
    "seal",
    "unwrap_data_key",
    "unwrap_data_key_symmetric",
    "wrap_data_key",
    "wrap_data_key_symmetric",
]

VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + X25519_KEY_SIZE + NONCE_SIZE + TAG_SIZE

_VERSION_BYTE = bytes([VERSION])
_INFO_PREFIX = b"dokaz-seal-v1"


def _box_key(
    private: X25519PrivateKey,
    peer_public: bytes,
    eph_pub: bytes,
    recipient_pub: bytes,
    context: bytes,
) -> bytes:
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        # OpenSSL refuses an all-zero shared secret (small-order public key).
        raise DecryptionError("key agreement failed: invalid public key") from None
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=_INFO_PREFIX + eph_pub + recipient_pub + context,
    ).derive(shared)


def seal(
    recipient_public: bytes,
    plaintext: bytes,
    context: bytes,
    *,
    ephemeral_private: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Encrypt ``plaintext`` so only the holder of the recipient's private key can read it.

    ``ephemeral_private`` and ``nonce`` exist only for reproducible test vectors.
    """
    if len(recipient_public) != X25519_KEY_SIZE:
        raise FormatError(f"recipient public key must be {X25519_KEY_SIZE} bytes")
    eph = (
        X25519PrivateKey.generate()
        if ephemeral_private is None
        else X25519PrivateKey.from_private_bytes(ephemeral_private)
    )
    eph_pub = eph.public_key().public_bytes_raw()
    key = _box_key(eph, recipient_public, eph_pub, recipient_public, context)
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise FormatError(f"nonce must be {NONCE_SIZE} bytes")
    aad = _VERSION_BYTE + eph_pub + recipient_public + context
    return _VERSION_BYTE + eph_pub + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(recipient_private: bytes, sealed: bytes, context: bytes) -> bytes:
    """Decrypt a sealed box with the recipient's 32-byte private key."""
    if len(recipient_private) != X25519_KEY_SIZE:
        raise FormatError(f"recipient private key must be {X25519_KEY_SIZE} bytes")
    if len(sealed) < OVERHEAD:
        raise FormatError(f"sealed box too short ({len(sealed)} bytes)")
    if sealed[0] != VERSION:
        raise FormatError(f"unsupported sealed box version {sealed[0]}")
    eph_pub = sealed[1 : 1 + X25519_KEY_SIZE]
    nonce = sealed[1 + X25519_KEY_SIZE : 1 + X25519_KEY_SIZE + NONCE_SIZE]
    body = sealed[1 + X25519_KEY_SIZE + NONCE_SIZE :]
    private = X25519PrivateKey.from_private_bytes(recipient_private)
    recipient_pub = private.public_key().public_bytes_raw()
    key = _box_key(private, eph_pub, eph_pub, recipient_pub, context)
    aad = _VERSION_BYTE + eph_pub + recipient_pub + context
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise DecryptionError(
            "cannot open sealed box: wrong private key or context, or the data was modified"
        ) from None


def _as_data_key(raw: bytes) -> DataKey:
    if len(raw) != DATA_KEY_SIZE:
        # Authentic but not a data key: the context was reused for something else.
        raise FormatError("wrapped value is not a data key")
    return DataKey(raw)


def wrap_data_key(recipient_public: bytes, key: DataKey, context: bytes) -> bytes:
    """Seal a data key to a staff member's (or the recovery) public key."""
    return seal(recipient_public, key.raw, context)


def unwrap_data_key(recipient_private: bytes, wrapped: bytes, context: bytes) -> DataKey:
    """Inverse of :func:`wrap_data_key`."""
    return _as_data_key(open_sealed(recipient_private, wrapped, context))


def wrap_data_key_symmetric(kek: bytes, key: DataKey, context: bytes) -> bytes:
    """Wrap a data key under a symmetric key-encryption key (receipt KEK, case key)."""
    return aead.encrypt(kek, key.raw, context)


def unwrap_data_key_symmetric(kek: bytes, wrapped: bytes, context: bytes) -> DataKey:
    """Inverse of :func:`wrap_data_key_symmetric`."""
    return _as_data_key(aead.decrypt(kek, wrapped, context))
