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

The public half has its own text, version 1, so it can travel from an offline
machine (``dokaz keys generate``) to the server (``dokaz keys import-public``)
and the private half never has to::

    DOKAZ-RP1-XXXX-...-XXXX-CCCC

laid out like the private text (52 symbols, 4 checksum symbols, 14 groups) with
the checksum domain ``b"dokaz-rp1"``. The different prefix and checksum domain
mean neither text is ever accepted as the other, so a private key pasted by
mistake is refused instead of installed.
"""

from __future__ import annotations

import hashlib

from crypto import _base32
from crypto.errors import DecryptionError, FormatError
from crypto.keys import X25519_KEY_SIZE, StaffKeyPair
from crypto.sealed import seal

__all__ = [
    "PREFIX",
    "PUBLIC_PREFIX",
    "format_recovery_key",
    "format_recovery_public_key",
    "generate_recovery_key",
    "parse_recovery_key",
    "parse_recovery_public_key",
    "recovery_public_key",
]

PREFIX = "DOKAZ-RK1-"
_KEY_SYMBOLS = 52
_CHECK_SYMBOLS = 4
_CHECK_DOMAIN = b"dokaz-rk1"
_NORMALISED_PREFIX = _base32.normalise(PREFIX)  # "D0KAZRK1"
_WHAT = "recovery key"

PUBLIC_PREFIX = "DOKAZ-RP1-"
_PUBLIC_CHECK_DOMAIN = b"dokaz-rp1"
_NORMALISED_PUBLIC_PREFIX = _base32.normalise(PUBLIC_PREFIX)  # "D0KAZRP1"
_PUBLIC_WHAT = "recovery public key"


def _checksum(private_key: bytes, domain: bytes = _CHECK_DOMAIN) -> str:
    digest = hashlib.sha256(domain + private_key).digest()
    # 20 bits = 4 symbols: take 3 bytes, drop the low 4 bits.
    return _base32.encode(digest[:3])[:_CHECK_SYMBOLS]


def _strip_prefix(body: str, prefix: str, wrong: str) -> str:
    expected = _KEY_SYMBOLS + _CHECK_SYMBOLS
    if len(body) == expected + len(prefix):
        if not body.startswith(prefix):
            raise FormatError(wrong)
        body = body[len(prefix) :]
    return body


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
    body = _strip_prefix(_base32.normalise(text), _NORMALISED_PREFIX,
                         "not a version 1 Dokaz recovery key (expected DOKAZ-RK1-...)")
    expected = _KEY_SYMBOLS + _CHECK_SYMBOLS
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


def format_recovery_public_key(public_key: bytes) -> str:
    """Render a 32-byte X25519 public key as checksummed ``DOKAZ-RP1-...`` text."""
    if len(public_key) != X25519_KEY_SIZE:
        raise FormatError(f"recovery public key must be {X25519_KEY_SIZE} bytes")
    body = _base32.encode(public_key) + _checksum(public_key, _PUBLIC_CHECK_DOMAIN)
    return PUBLIC_PREFIX + _base32.group(body)


def parse_recovery_public_key(text: str) -> bytes:
    """Return the 32-byte public key from ``DOKAZ-RP1-...`` text, checked for use.

    Raises :class:`FormatError` for the wrong length or prefix, an invalid symbol, a
    bad checksum, the private key's text, or a public key nothing can be sealed to
    (a small-order point, which would make every wrap readable without the private key).
    """
    body = _base32.normalise(text)
    if body.startswith(_NORMALISED_PREFIX):
        # Said plainly: the operator is about to hand the server the one secret it must
        # never hold. The text is not echoed.
        raise FormatError("this is the recovery PRIVATE key (DOKAZ-RK1-...), not its public "
                          "half (DOKAZ-RP1-...); it was not stored")
    body = _strip_prefix(body, _NORMALISED_PUBLIC_PREFIX,
                         "not a version 1 Dokaz recovery public key (expected DOKAZ-RP1-...)")
    expected = _KEY_SYMBOLS + _CHECK_SYMBOLS
    if len(body) != expected:
        raise FormatError(
            f"{_PUBLIC_WHAT}: expected {expected} symbols after the prefix, got {len(body)}"
        )
    _base32.check(body, _PUBLIC_WHAT)
    public_key = _base32.decode(body[:_KEY_SYMBOLS], X25519_KEY_SIZE, _PUBLIC_WHAT)
    if body[_KEY_SYMBOLS:] != _checksum(public_key, _PUBLIC_CHECK_DOMAIN):
        if body[_KEY_SYMBOLS:] == _checksum(public_key):
            raise FormatError("this is the recovery PRIVATE key without its prefix, not its "
                              "public half (DOKAZ-RP1-...); it was not stored")
        raise FormatError(f"{_PUBLIC_WHAT}: checksum does not match, check for a typing mistake")
    try:
        seal(public_key, b"", b"dokaz/recovery-public-key-check")
    except DecryptionError:
        raise FormatError(f"{_PUBLIC_WHAT}: not a usable X25519 public key") from None
    return public_key
