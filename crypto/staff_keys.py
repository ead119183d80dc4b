"""Staff private keys at rest (password-sealed) and in sessions (token-bound).

Threat-model property 3. A staff member's X25519 private key exists in two
stored forms, neither readable from a seized server:

Password-sealed (``staff.sealed_private_key``), version 1, 91 bytes::

    sealed = version (0x01) || params (13 bytes, Argon2Params.encode())
             || salt (16 bytes) || aead blob (61 bytes)
    kek    = Argon2id(NFC(password) as UTF-8, salt, params) -> 32 bytes
    aead blob = crypto.aead.encrypt(kek, private_key, b"dokaz/staff-private-key")

The salt and parameters are this blob's own: independent of the login hash, so
the login hash (which the server must check) never equals or reveals the KEK.
Tampering with params or salt changes the KEK and fails authentication.
Passwords are NFC-normalised so the same password typed on two devices with
different Unicode composition (e.g. Belarusian ``ў``) derives the same key.

Session-bound (memory or the session table), version 1, 62 bytes::

    blob = version (0x01) || crypto.aead.encrypt(kek, private_key,
                                                  b"dokaz/session-private-key/" || session_id)
    kek  = HKDF-SHA256(ikm=token as UTF-8, salt=none,
                       info=b"dokaz-session-v1" || session_id as UTF-8)

The token is a 256-bit random value (:func:`crypto.keys.random_token`), so a
fast KDF suffices. The server stores only :func:`session_token_hash` (SHA-256);
because SHA-256 and HKDF are independent functions of the token, the stored
hash does not yield the KEK.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import aead
from crypto.errors import DecryptionError, FormatError
from crypto.keys import X25519_KEY_SIZE
from crypto.passwords import Argon2Params, derive_key

__all__ = [
    "decrypt_for_session",
    "encrypt_for_session",
    "reseal_private_key",
    "seal_private_key",
    "session_token_hash",
    "unseal_private_key",
]

VERSION = 1
SALT_SIZE = 16
SESSION_VERSION = 1
MIN_TOKEN_LENGTH = 32

_VERSION_BYTE = bytes([VERSION])
_SESSION_VERSION_BYTE = bytes([SESSION_VERSION])
_PRIVATE_KEY_CONTEXT = b"dokaz/staff-private-key"
_SESSION_CONTEXT = b"dokaz/session-private-key/"
_SESSION_INFO = b"dokaz-session-v1"
_HEADER_SIZE = 1 + Argon2Params.ENCODED_SIZE + SALT_SIZE
SEALED_SIZE = _HEADER_SIZE + aead.OVERHEAD + X25519_KEY_SIZE


def _password_bytes(password: str) -> bytes:
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _check_private_key(private_key: bytes) -> None:
    if len(private_key) != X25519_KEY_SIZE:
        raise FormatError(f"private key must be {X25519_KEY_SIZE} bytes")


def seal_private_key(
    private_key: bytes,
    password: str,
    params: Argon2Params | None = None,
    *,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Seal a private key under a password. ``salt``/``nonce`` only for test vectors."""
    _check_private_key(private_key)
    params = params or Argon2Params.default()
    if salt is None:
        salt = secrets.token_bytes(SALT_SIZE)
    elif len(salt) != SALT_SIZE:
        raise FormatError(f"salt must be {SALT_SIZE} bytes")
    kek = derive_key(_password_bytes(password), salt, params)
    blob = aead.encrypt(kek, private_key, _PRIVATE_KEY_CONTEXT, nonce=nonce)
    return _VERSION_BYTE + params.encode() + salt + blob


def unseal_private_key(sealed: bytes, password: str) -> bytes:
    """Return the private key; :class:`DecryptionError` if the password is wrong."""
    if len(sealed) != SEALED_SIZE:
        raise FormatError(f"sealed private key must be {SEALED_SIZE} bytes")
    if sealed[0] != VERSION:
        raise FormatError(f"unsupported sealed private key version {sealed[0]}")
    params = Argon2Params.decode(sealed[1 : 1 + Argon2Params.ENCODED_SIZE])
    salt = sealed[1 + Argon2Params.ENCODED_SIZE : _HEADER_SIZE]
    kek = derive_key(_password_bytes(password), salt, params)
    try:
        return aead.decrypt(kek, sealed[_HEADER_SIZE:], _PRIVATE_KEY_CONTEXT)
    except DecryptionError:
        raise DecryptionError("wrong password, or the sealed private key was modified") from None


def reseal_private_key(
    sealed: bytes, old_password: str, new_password: str, params: Argon2Params | None = None
) -> bytes:
    """Re-seal under a new password, with a fresh salt and ``params`` (default: current).

    Also the way to upgrade Argon2 parameters on the next password change.
    """
    return seal_private_key(unseal_private_key(sealed, old_password), new_password, params)


def session_token_hash(token: str) -> bytes:
    """SHA-256 of the session token: the only form of the token the server stores."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def _session_kek(token: str, session_id: str) -> bytes:
    if len(token) < MIN_TOKEN_LENGTH:
        # A short token would make the seized blob brute-forceable: there is no
        # Argon2 here on purpose, so the token itself must carry the entropy.
        raise ValueError(f"session tokens must be at least {MIN_TOKEN_LENGTH} characters")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=_SESSION_INFO + session_id.encode("utf-8"),
    ).derive(token.encode("utf-8"))


def encrypt_for_session(
    private_key: bytes, token: str, session_id: str, *, nonce: bytes | None = None
) -> bytes:
    """Encrypt the private key for one session. ``nonce`` only for test vectors."""
    _check_private_key(private_key)
    kek = _session_kek(token, session_id)
    context = _SESSION_CONTEXT + session_id.encode("utf-8")
    return _SESSION_VERSION_BYTE + aead.encrypt(kek, private_key, context, nonce=nonce)


def decrypt_for_session(blob: bytes, token: str, session_id: str) -> bytes:
    """Inverse of :func:`encrypt_for_session`; :class:`DecryptionError` on a wrong token."""
    if len(blob) != 1 + aead.OVERHEAD + X25519_KEY_SIZE:
        raise FormatError("session key blob has the wrong length")
    if blob[0] != SESSION_VERSION:
        raise FormatError(f"unsupported session key blob version {blob[0]}")
    kek = _session_kek(token, session_id)
    context = _SESSION_CONTEXT + session_id.encode("utf-8")
    try:
        return aead.decrypt(kek, blob[1:], context)
    except DecryptionError:
        raise DecryptionError(
            "wrong session token or session id, or the data was modified"
        ) from None
