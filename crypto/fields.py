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
from typing import Any, Generic, Self, TypeVar

from crypto import aead
from crypto.keys import DataKey
from crypto.redaction import redacting

__all__ = ["SealedBytes", "SealedJSON", "SealedText"]

_PREFIX = "dokaz/field/"
_T = TypeVar("_T")


def _context(context: str) -> bytes:
    if not context:
        raise ValueError("a field context is required")
    return (_PREFIX + context).encode("utf-8")


@redacting(lambda v: f"<{len(v.ciphertext)} bytes, sealed>")
class _Sealed(Generic[_T]):
    """Immutable ciphertext holder of a ``_T``; subclasses define the payload encoding."""

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
    def seal(cls, key: DataKey, value: _T, context: str, *, nonce: bytes | None = None) -> Self:
        """Encrypt ``value``. ``nonce`` only for test vectors."""
        payload = cls._encode(value)
        return cls(aead.encrypt(key.raw, payload, _context(context), nonce=nonce, pad=True))

    def open(self, key: DataKey, context: str) -> _T:
        return self._decode(aead.decrypt(key.raw, self._ciphertext, _context(context)))

    @classmethod
    def _encode(cls, value: _T) -> bytes:
        raise NotImplementedError

    @classmethod
    def _decode(cls, payload: bytes) -> _T:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, _Sealed):
            return NotImplemented
        return self._ciphertext == other._ciphertext

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._ciphertext))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self._ciphertext,))


class SealedText(_Sealed[str]):
    """An encrypted ``str``."""

    __slots__ = ()

    @classmethod
    def _encode(cls, value: str) -> bytes:
        return value.encode("utf-8")

    @classmethod
    def _decode(cls, payload: bytes) -> str:
        return payload.decode("utf-8")


class SealedJSON(_Sealed[Any]):
    """An encrypted JSON-serialisable value (dict, list, str, number, bool, None)."""

    __slots__ = ()

    @classmethod
    def _encode(cls, value: Any) -> bytes:
        return json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")

    @classmethod
    def _decode(cls, payload: bytes) -> Any:
        return json.loads(payload.decode("utf-8"))


class SealedBytes(_Sealed[bytes]):
    """Encrypted raw bytes (small values; use :mod:`crypto.stream` for files)."""

    __slots__ = ()

    @classmethod
    def _encode(cls, value: bytes) -> bytes:
        return bytes(value)

    @classmethod
    def _decode(cls, payload: bytes) -> bytes:
        return payload
