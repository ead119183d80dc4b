"""The organisation's offline recovery key (an X25519 key pair).

Every case key is also wrapped to the recovery public key, so a staff member
who loses their password (or leaves) does not make cases unreadable. The
private half is shown once, printed, and kept offline; :mod:`crypto` never
writes it anywhere.

Text encoding, version 1::

    DOKAZ-RK1-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-CCCC

* 52 Crockford base32 symbols encode the 32-byte private key (256 bits plus 4
  zero padding bits in the last symbol);
* 4 checksum symbols (``CCCC``) = the first 20 bits of
  ``SHA-256(b"dokaz-rk1" || private_key)``, so a typo is caught with
  probability 1 - 2^-20 before the key is used;
* 14 groups of 4 symbols after the ``DOKAZ-RK1-`` prefix.

Parsing ignores case, spaces, dashes and underscores, applies Crockford's
O->0, I/L->1, maps look-alike Cyrillic letters, and accepts the text with or
without the prefix.
"""

from __future__ import annotations

import hashlib

from crypto import _base32
from crypto.errors import FormatError
from crypto.keys import X25519_KEY_SIZE, StaffKeyPair

__all__ = [
    "PREFIX",
    "format_recovery_key",
    "generate_recovery_key",
    "parse_recovery_key",
    "recovery_public_key",
]

PREFIX = "DOKAZ-RK1-"
_KEY_SYMBOLS = 52
_CHECK_SYMBOLS = 4
_CHECK_DOMAIN = b"dokaz-rk1"
_NORMALISED_PREFIX = _base32.normalise(PREFIX)  # "D0KAZRK1"
_WHAT = "recovery key"


def _checksum(private_key: bytes) -> str:
    digest = hashlib.sha256(_CHECK_DOMAIN + private_key).digest()
    # 20 bits = 4 symbols: take 3 bytes, drop the low 4 bits.
    return _base32.encode(digest[:3])[:_CHECK_SYMBOLS]


def format_recovery_key(private_key: bytes) -> str:
    """Render a 32-byte X25519 private key as checksummed recovery-key text."""
    if len(private_key) != X25519_KEY_SIZE:
        raise FormatError(f"recovery private key must be {X25519_KEY_SIZE} bytes")
    body = _base32.encode(private_key) + _checksum(private_key)
    return PREFIX + _base32.group(body)


def generate_recovery_key() -> tuple[bytes, str]:
    """Return ``(public_key_bytes, private_key_text)`` for a fresh recovery key pair.

    Store the public key; print the text once for offline storage, then drop it.
    """
    pair = StaffKeyPair.generate()
    return pair.public_bytes, format_recovery_key(pair.private_bytes)


def parse_recovery_key(text: str) -> bytes:
    """Return the 32-byte private key from recovery-key text.

    Raises :class:`FormatError` for the wrong length, an invalid symbol or a bad
    checksum. Messages never echo the text.
    """
    body = _base32.normalise(text)
    expected = _KEY_SYMBOLS + _CHECK_SYMBOLS
    if len(body) == expected + len(_NORMALISED_PREFIX):
        if not body.startswith(_NORMALISED_PREFIX):
            raise FormatError("not a version 1 Dokaz recovery key (expected DOKAZ-RK1-...)")
        body = body[len(_NORMALISED_PREFIX) :]
    if len(body) != expected:
        raise FormatError(f"{_WHAT}: expected {expected} symbols after the prefix, got {len(body)}")
    _base32.check(body, _WHAT)
    private_key = _base32.decode(body[:_KEY_SYMBOLS], X25519_KEY_SIZE, _WHAT)
    if body[_KEY_SYMBOLS:] != _checksum(private_key):
        raise FormatError(f"{_WHAT}: checksum does not match, check for a typing mistake")
    return private_key


def recovery_public_key(private_key: bytes) -> bytes:
    """Return the public key for a recovery private key (to check it matches the stored one)."""
    return StaffKeyPair.from_private_bytes(private_key).public_bytes
