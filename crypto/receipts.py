"""Submitter receipts (threat-model property 6).

Text: 32 Crockford base32 symbols (alphabet ``0-9 A-Z`` without I, L, O, U;
5 bits each) in 8 dash-separated groups of 4::

    LLLL-LLLL-SSSS-SSSS-SSSS-SSSS-SSSS-SSSS
    \\ lookup /\\____________ secret ___________/

* lookup: 8 symbols = 40 bits, public; the server stores it in plaintext to
  find the case. It is not part of the guessing entropy.
* secret: 24 symbols = 24 * log2(32) = 120 bits, from the OS CSPRNG. Never
  stored; an attacker with the database must guess 2^120 secrets, each costing
  one Argon2id evaluation, per receipt.

Verification (no site-wide salt, no shortcut)::

    out      = Argon2id(b"dokaz-receipt-v1|" || lookup || b"|" || secret,
                        salt = 16 random bytes per receipt, params) -> 64 bytes
    verifier = out[:32]   stored (ReceiptVerifier)
    kek      = out[32:]   never stored; wraps the case key
                          (crypto.sealed.wrap_data_key_symmetric)

One Argon2 call yields both, so checking a receipt and unlocking the case cost
the same as either. Including the lookup binds a verifier row to its receipt.

:meth:`ReceiptVerifier.to_bytes`, version 1, 62 bytes::

    version (0x01) || params (13 bytes) || salt (16) || verifier (32)

Online guessing is throttled by the caller (the API), not here.
"""

from __future__ import annotations

import hmac
import math
import secrets
from dataclasses import dataclass

from crypto import _base32
from crypto.errors import FormatError
from crypto.passwords import Argon2Params, derive_key
from crypto.redaction import REDACTED, redacting

__all__ = [
    "LOOKUP_SYMBOLS",
    "SECRET_BITS",
    "SECRET_SYMBOLS",
    "Receipt",
    "ReceiptVerifier",
    "parse_receipt",
    "receipt_secrets",
    "verify_receipt",
]

LOOKUP_SYMBOLS = 8
SECRET_SYMBOLS = 24
SECRET_BITS = SECRET_SYMBOLS * int(math.log2(len(_base32.ALPHABET)))  # 120
SALT_SIZE = 16
VERIFIER_VERSION = 1
_VERIFIER_SIZE = 32
_DOMAIN = b"dokaz-receipt-v1|"
_WHAT = "receipt"


def _canonical(value: str, length: int, name: str) -> None:
    if len(value) != length or any(c not in _base32.ALPHABET for c in value):
        raise FormatError(f"receipt {name} must be {length} canonical base32 symbols")


@redacting(lambda r: f"lookup={_base32.group(r.lookup)!r}, secret={REDACTED}")
@dataclass(frozen=True, eq=False)
class Receipt:
    """A parsed receipt. ``lookup`` and ``secret`` are canonical, without dashes."""

    lookup: str
    secret: str

    def __post_init__(self) -> None:
        _canonical(self.lookup, LOOKUP_SYMBOLS, "lookup part")
        _canonical(self.secret, SECRET_SYMBOLS, "secret part")

    @classmethod
    def generate(cls) -> Receipt:
        """Return a fresh receipt (40-bit lookup, 120-bit secret)."""
        # 5 and 15 bytes are exactly 8 and 24 symbols: no padding bits to waste.
        return cls(
            lookup=_base32.encode(secrets.token_bytes(5)),
            secret=_base32.encode(secrets.token_bytes(15)),
        )

    @property
    def text(self) -> str:
        """The full receipt as shown to the submitter: ``XXXX-XXXX-...`` (8 groups)."""
        return _base32.group(self.lookup + self.secret)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Receipt):
            return NotImplemented
        return hmac.compare_digest(
            (self.lookup + self.secret).encode(), (other.lookup + other.secret).encode()
        )

    def __hash__(self) -> int:
        return hash(self.lookup)



def parse_receipt(text: str) -> Receipt:
    """Parse what a submitter typed.

    Tolerates lower case, spaces, dashes, underscores, O/I/L and look-alike
    Cyrillic letters; raises :class:`FormatError` (without echoing the input)
    for the wrong length or a symbol outside the alphabet.
    """
    body = _base32.normalise(text)
    total = LOOKUP_SYMBOLS + SECRET_SYMBOLS
    if len(body) != total:
        raise FormatError(f"a receipt has {total} letters and digits, got {len(body)}")
    _base32.check(body, _WHAT)
    return Receipt(lookup=body[:LOOKUP_SYMBOLS], secret=body[LOOKUP_SYMBOLS:])


@dataclass(frozen=True)
class ReceiptVerifier:
    """What the server stores per receipt: salt, Argon2 parameters and the verifier."""

    salt: bytes
    params: Argon2Params
    verifier: bytes

    def __post_init__(self) -> None:
        if len(self.salt) != SALT_SIZE:
            raise FormatError(f"receipt salt must be {SALT_SIZE} bytes")
        if len(self.verifier) != _VERIFIER_SIZE:
            raise FormatError(f"receipt verifier must be {_VERIFIER_SIZE} bytes")

    def to_bytes(self) -> bytes:
        """Serialise (62 bytes, see module docstring)."""
        return bytes([VERIFIER_VERSION]) + self.params.encode() + self.salt + self.verifier

    @classmethod
    def from_bytes(cls, data: bytes) -> ReceiptVerifier:
        """Parse :meth:`to_bytes` output; :class:`FormatError` if malformed."""
        p = Argon2Params.ENCODED_SIZE
        if len(data) != 1 + p + SALT_SIZE + _VERIFIER_SIZE:
            raise FormatError("receipt verifier blob has the wrong length")
        if data[0] != VERIFIER_VERSION:
            raise FormatError(f"unsupported receipt verifier version {data[0]}")
        return cls(
            params=Argon2Params.decode(data[1 : 1 + p]),
            salt=data[1 + p : 1 + p + SALT_SIZE],
            verifier=data[1 + p + SALT_SIZE :],
        )


def _derive(receipt: Receipt, salt: bytes, params: Argon2Params) -> tuple[bytes, bytes]:
    secret = _DOMAIN + receipt.lookup.encode("ascii") + b"|" + receipt.secret.encode("ascii")
    out = derive_key(secret, salt, params, length=64)
    return out[:32], out[32:]


def receipt_secrets(
    receipt: Receipt, salt: bytes | None = None, params: Argon2Params | None = None
) -> tuple[ReceiptVerifier, bytes]:
    """Return ``(verifier to store, receipt KEK)`` for a new receipt.

    ``salt`` is fresh and random unless given (test vectors only).
    """
    salt = secrets.token_bytes(SALT_SIZE) if salt is None else salt
    params = params or Argon2Params.default()
    verifier, kek = _derive(receipt, salt, params)
    return ReceiptVerifier(salt=salt, params=params, verifier=verifier), kek


def verify_receipt(receipt: Receipt, verifier: ReceiptVerifier) -> bytes | None:
    """Return the receipt KEK if ``receipt`` matches ``verifier``, else ``None``."""
    candidate, kek = _derive(receipt, verifier.salt, verifier.params)
    if hmac.compare_digest(candidate, verifier.verifier):
        return kek
    return None
