"""Key objects: symmetric data keys, staff X25519 key pairs and random tokens.

No byte format of its own: a :class:`DataKey` is 32 raw bytes, an X25519 key is
32 raw bytes (RFC 7748), and both are only ever stored wrapped (see
:mod:`crypto.sealed`, :mod:`crypto.staff_keys`).

Objects holding secrets never show them in ``repr``/``str`` so that a stray
log line or traceback with locals cannot leak a key.
"""

from __future__ import annotations

import hmac
import secrets

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.errors import FormatError
from crypto.redaction import REDACTED, redacting

__all__ = ["DATA_KEY_SIZE", "X25519_KEY_SIZE", "DataKey", "StaffKeyPair", "random_token"]

DATA_KEY_SIZE = 32
X25519_KEY_SIZE = 32


@redacting(lambda _: REDACTED)
class DataKey:
    """A 256-bit symmetric key (AES-256-GCM), e.g. a per-case or per-file key."""

    # Defining __eq__ without __hash__ leaves instances unhashable, on purpose:
    # keys are compared, never used as dict keys or cached.
    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray):
            raise TypeError("DataKey needs bytes")
        if len(raw) != DATA_KEY_SIZE:
            raise FormatError(f"a data key is {DATA_KEY_SIZE} bytes, got {len(raw)}")
        self._raw = bytes(raw)

    @classmethod
    def generate(cls) -> DataKey:
        """Return a fresh key from the OS CSPRNG."""
        return cls(secrets.token_bytes(DATA_KEY_SIZE))

    @property
    def raw(self) -> bytes:
        """The 32 key bytes. Handle with care: never log or persist unwrapped."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataKey):
            return NotImplemented
        return hmac.compare_digest(self._raw, other._raw)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy the raw key into job payloads or caches.
        raise TypeError("DataKey cannot be pickled")


@redacting(lambda p: f"public={p.public_bytes.hex()}, private={REDACTED}")
class StaffKeyPair:
    """An X25519 key pair (staff member or organisation recovery key)."""

    __slots__ = ("_private",)

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key

    @classmethod
    def generate(cls) -> StaffKeyPair:
        """Return a fresh key pair."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, data: bytes) -> StaffKeyPair:
        """Load a key pair from the 32 raw private-key bytes."""
        if len(data) != X25519_KEY_SIZE:
            raise FormatError(f"an X25519 private key is {X25519_KEY_SIZE} bytes, got {len(data)}")
        return cls(X25519PrivateKey.from_private_bytes(bytes(data)))

    @property
    def public_bytes(self) -> bytes:
        """The 32-byte public key (safe to store and show)."""
        return self._private.public_key().public_bytes_raw()

    @property
    def private_bytes(self) -> bytes:
        """The 32-byte private key. Never store this unsealed."""
        return self._private.private_bytes_raw()

    @property
    def private_key(self) -> X25519PrivateKey:
        """The underlying ``cryptography`` object."""
        return self._private

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("StaffKeyPair cannot be pickled")


def random_token(nbytes: int = 32) -> str:
    """Return a URL-safe random token with ``nbytes`` bytes of entropy.

    Used for session tokens and API keys; 32 bytes gives 43 characters.
    """
    if nbytes < 16:
        raise ValueError("tokens need at least 16 bytes of entropy")
    return secrets.token_urlsafe(nbytes)
