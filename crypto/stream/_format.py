"""Constants and helpers shared by the stream writer and reader (internal).

The byte format is documented in :mod:`crypto.stream`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from crypto.errors import FormatError

MAGIC = b"DKZF"
VERSION = 1
FILE_ID_SIZE = 16
TAG_SIZE = 16
DEFAULT_RECORD_SIZE = 1 << 20
# Bounds the reader's allocation when the header itself is hostile.
MAX_RECORD_SIZE = 1 << 24

HEADER_STRUCT = struct.Struct(">4sBI16s")
HEADER_SIZE = HEADER_STRUCT.size
_NONCE_PREFIX = bytes(4)


class Sink(Protocol):
    """Anything with ``write(bytes)`` that writes all bytes (e.g. a buffered file)."""

    def write(self, data: bytes, /) -> object: ...


class Source(Protocol):
    """Anything with ``read(n) -> bytes`` returning b"" at end of input."""

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True)
class StreamResult:
    """Summary of a finished encryption. ``sha256`` is ``None`` after a resume."""

    plaintext_size: int
    ciphertext_size: int
    sha256: str | None
    records: int


def ciphertext_size(plaintext_size: int, record_size: int = DEFAULT_RECORD_SIZE) -> int:
    """Exact size of the encrypted file for a plaintext of ``plaintext_size`` bytes."""
    if plaintext_size < 0 or record_size < 1:
        raise ValueError("sizes must be positive")
    records = max(1, -(-plaintext_size // record_size))
    return HEADER_SIZE + plaintext_size + records * TAG_SIZE


def make_header(file_id: bytes, record_size: int) -> bytes:
    if len(file_id) != FILE_ID_SIZE:
        raise FormatError(f"file_id must be {FILE_ID_SIZE} bytes")
    if not 1 <= record_size <= MAX_RECORD_SIZE:
        raise FormatError(f"record_size must be between 1 and {MAX_RECORD_SIZE}")
    return HEADER_STRUCT.pack(MAGIC, VERSION, record_size, file_id)


def record_nonce(index: int) -> bytes:
    return _NONCE_PREFIX + index.to_bytes(8, "big")


def record_aad(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
