"""Encrypted field values for the model layer.

Each value class wraps the ciphertext only; the plaintext exists just for the
duration of :meth:`seal` / :meth:`open`. Byte format = :mod:`crypto.aead`
version 2, padded (threat-model property 13: a narrative's or message's stored
length reveals only its Padmé bucket, and every value under 512 bytes looks the
same)::

    ciphertext = 0x02 || nonce (12) || AES-256-GCM(key, padded payload, aad) || tag (16)
    aad        = 0x02 || b"dokaz/field/" || context (UTF-8)
    padded     = payload || 0x80 || zeros, to padded_size(len(payload) + 1)

Values sealed before padding existed are version 1 (``0x01``, the payload as
is, ``aad = 0x01 || ...``) and still open.

Payloads: :class:`SealedText` = UTF-8 text; :class:`SealedJSON` = compact UTF-8
JSON (sorted keys, no NaN/Infinity); :class:`SealedBytes` = raw bytes.

``context`` names the column, e.g. ``"case.narrative"``; including the row id
(``"case/<id>/narrative"``) also stops values being swapped between rows of the
same case. Keys are per case (:class:`~crypto.keys.DataKey`).

``repr``/``str`` never reveal anything but the ciphertext length, so an
accidental f-string, log line or template render cannot leak content.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from crypto import aead
from crypto.keys import DataKey

__all__ = ["SealedBytes", "SealedJSON", "SealedText"]

_PREFIX = "dokaz/field/"
_S = TypeVar("_S", bound="_Sealed")


def _context(context: str) -> bytes:
    if not context:
        raise ValueError("a field context is required")
    return (_PREFIX + context).encode("utf-8")


class _Sealed:
    """Immutable ciphertext holder; subclasses define the payload encoding."""

    __slots__ = ("_ciphertext",)
    _ciphertext: bytes

    def __init__(self, ciphertext: bytes) -> None:
        if not isinstance(ciphertext, bytes | bytearray | memoryview):
            raise TypeError(f"{type(self).__name__} wraps ciphertext bytes")
        object.__setattr__(self, "_ciphertext", bytes(ciphertext))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def ciphertext(self) -> bytes:
        return self._ciphertext

    @classmethod
    def _seal(cls: type[_S], key: DataKey, payload: bytes, context: str, nonce: bytes | None) -> _S:
        return cls(aead.encrypt(key.raw, payload, _context(context), nonce=nonce, pad=True))

    def _open(self, key: DataKey, context: str) -> bytes:
        return aead.decrypt(key.raw, self._ciphertext, _context(context))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, _Sealed):
            return NotImplemented
        return self._ciphertext == other._ciphertext

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._ciphertext))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self._ciphertext)} bytes, sealed>)"

    # str() must never produce plaintext, not even by accident in a template.
    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self._ciphertext,))


class SealedText(_Sealed):
    """An encrypted ``str``."""

    __slots__ = ()

    @classmethod
    def seal(
        cls, key: DataKey, text: str, context: str, *, nonce: bytes | None = None
    ) -> SealedText:
        """Encrypt ``text``. ``nonce`` only for test vectors."""
        return cls._seal(key, text.encode("utf-8"), context, nonce)

    def open(self, key: DataKey, context: str) -> str:
        return self._open(key, context).decode("utf-8")


class SealedJSON(_Sealed):
    """An encrypted JSON-serialisable value (dict, list, str, number, bool, None)."""

    __slots__ = ()

    @classmethod
    def seal(
        cls, key: DataKey, value: Any, context: str, *, nonce: bytes | None = None
    ) -> SealedJSON:
        """Encrypt ``value`` as JSON. ``nonce`` only for test vectors."""
        payload = json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
        return cls._seal(key, payload.encode("utf-8"), context, nonce)

    def open(self, key: DataKey, context: str) -> Any:
        return json.loads(self._open(key, context).decode("utf-8"))


class SealedBytes(_Sealed):
    """Encrypted raw bytes (small values; use :mod:`crypto.stream` for files)."""

    __slots__ = ()

    @classmethod
    def seal(
        cls, key: DataKey, data: bytes, context: str, *, nonce: bytes | None = None
    ) -> SealedBytes:
        """Encrypt ``data``. ``nonce`` only for test vectors."""
        return cls._seal(key, bytes(data), context, nonce)

    def open(self, key: DataKey, context: str) -> bytes:
        return self._open(key, context)
