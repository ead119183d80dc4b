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
without the prefix. A key that still does not parse is explained in the words of
the paper copy, never echoing a symbol of it (:func:`_diagnose`): which group is
too short or too long, which symbol is not used (``U``: did you mean ``V``?), that
the last key symbol can only be ``0`` or ``G``, and, when the checksum fails, which
group one mistyped symbol (or two swapped neighbours) would explain.

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
import re
import unicodedata

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


_GROUP = 4
_GROUPS = (_KEY_SYMBOLS + _CHECK_SYMBOLS) // _GROUP


def _typed_groups(text: str, prefix: str) -> list[str] | None:
    """The groups as the person typed them (separated by dashes or spaces), without the
    prefix; None when the text was typed without separators."""
    spaced = unicodedata.normalize("NFKC", text).replace("_", "-")
    groups = [_base32.normalise(g) for g in re.split(r"[\s\-]+", spaced) if g]
    joined = ""
    while groups and _base32.normalise(prefix).startswith(joined + groups[0]):
        joined += groups.pop(0)
    return groups if len(groups) > 1 else None


def _length_error(text: str, body: str, prefix: str, what: str) -> FormatError:
    expected = _KEY_SYMBOLS + _CHECK_SYMBOLS
    off = abs(len(body) - expected)
    amiss = (f"{off} symbol{'s' if off > 1 else ''} "
             + ("missing" if len(body) < expected else "too many"))
    message = (f"{what}: it has {len(body)} symbols after {prefix}, it needs {expected} "
               f"({_GROUPS} groups of {_GROUP}): {amiss}")
    groups = _typed_groups(text, prefix)
    if groups is not None:
        odd = [f"group {i} has {len(g)}" for i, g in enumerate(groups, 1) if len(g) != _GROUP]
        if len(groups) != _GROUPS:
            odd.insert(0, f"{len(groups)} groups were typed, not {_GROUPS}")
        if odd:
            message += "; " + ", ".join(odd)
    return FormatError(message)


def _checksum_ok(body: str, domain: bytes) -> bool:
    try:
        key = _base32.decode(body[:_KEY_SYMBOLS], X25519_KEY_SIZE, "")
    except FormatError:
        return False
    return body[_KEY_SYMBOLS:] == _checksum(key, domain)


def _suspect_groups(body: str, domain: bytes) -> list[int]:
    """The groups (1-based) where one changed symbol, or two swapped neighbours, would make
    the checksum match: the likely place of a single typing mistake. About 1,800
    candidates of SHA-256, well under a second; with a 20-bit checksum a wrong lead
    turns up about once in 600 keys, hence "probably" in the message."""
    found: set[int] = set()
    for i in range(len(body)):
        for symbol in _base32.ALPHABET:
            if symbol != body[i] and _checksum_ok(body[:i] + symbol + body[i + 1 :], domain):
                found.add(i // _GROUP + 1)
    for i in range(len(body) - 1):
        if body[i] != body[i + 1]:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            if _checksum_ok(swapped, domain):
                found |= {i // _GROUP + 1, (i + 1) // _GROUP + 1}
    return sorted(found)


def _checksum_error(body: str, domain: bytes, what: str) -> FormatError:
    groups = _suspect_groups(body, domain)
    if len(groups) == 1:
        return FormatError(f"{what}: group {groups[0]} fails its checksum: one symbol in it "
                           "is probably mistyped; compare that group with the paper copy")
    if groups:
        listed = ", ".join(str(g) for g in groups)
        return FormatError(f"{what}: the checksum does not match; a mistyped symbol is "
                           f"probably in one of groups {listed}; compare them with the paper "
                           "copy")
    return FormatError(f"{what}: the checksum does not match, and no single typing mistake "
                       "explains it: more than one symbol is wrong, or this is not a Dokaz "
                       "key; compare every group with the paper copy")


def _diagnose(text: str, prefix: str, normalised_prefix: str, domain: bytes,
              what: str, wrong: str) -> tuple[str, bytes]:
    """The checked body of a key's text and the 32 bytes it encodes, or a FormatError
    that says where the typing mistake is."""
    body = _strip_prefix(_base32.normalise(text), normalised_prefix, wrong)
    expected = _KEY_SYMBOLS + _CHECK_SYMBOLS
    if len(body) != expected and body.startswith(normalised_prefix):
        body = body[len(normalised_prefix):]  # the prefix and a key of the wrong length
    if len(body) != expected:
        raise _length_error(text, body, prefix, what)
    _base32.check(body, what, group_size=_GROUP)
    last = _KEY_SYMBOLS - 1
    allowed = _base32.padding_symbols(X25519_KEY_SIZE)
    if body[last] not in allowed:
        raise FormatError(f"{what}: {_base32.place(last, _GROUP)} can only be "
                          f"{' or '.join(allowed)} (it ends the key, whose last bits are "
                          "always zero); check it for a typing mistake")
    key = _base32.decode(body[:_KEY_SYMBOLS], X25519_KEY_SIZE, what)
    return body, key


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
    body, private_key = _diagnose(
        text, PREFIX, _NORMALISED_PREFIX, _CHECK_DOMAIN, _WHAT,
        "not a version 1 Dokaz recovery key (expected DOKAZ-RK1-...)")
    if body[_KEY_SYMBOLS:] != _checksum(private_key):
        raise _checksum_error(body, _CHECK_DOMAIN, _WHAT)
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
    body, public_key = _diagnose(
        text, PUBLIC_PREFIX, _NORMALISED_PUBLIC_PREFIX, _PUBLIC_CHECK_DOMAIN, _PUBLIC_WHAT,
        "not a version 1 Dokaz recovery public key (expected DOKAZ-RP1-...)")
    if body[_KEY_SYMBOLS:] != _checksum(public_key, _PUBLIC_CHECK_DOMAIN):
        if body[_KEY_SYMBOLS:] == _checksum(public_key):
            raise FormatError("this is the recovery PRIVATE key without its prefix, not its "
                              "public half (DOKAZ-RP1-...); it was not stored")
        raise _checksum_error(body, _PUBLIC_CHECK_DOMAIN, _PUBLIC_WHAT)
    try:
        seal(public_key, b"", b"dokaz/recovery-public-key-check")
    except DecryptionError:
        raise FormatError(f"{_PUBLIC_WHAT}: not a usable X25519 public key") from None
    return public_key
