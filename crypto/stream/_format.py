"""Constants and helpers shared by the stream writer and reader (internal).

The byte format is documented in :mod:`crypto.stream`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from crypto.errors import FormatError
from crypto.padding import padded_size

MAGIC = b"DKZF"
VERSION = 2
# Format 1 (no padding) is still read, and written only to finish a stream suspended in it.
VERSIONS = (1, 2)
# Format 2 ends the padded plaintext with the true size, u64 BE.
TRAILER = struct.Struct(">Q")
TRAILER_SIZE = TRAILER.size
# Format 2 needs the trailer to span at most two records (see the reader).
MIN_RECORD_SIZE = {1: 1, 2: TRAILER_SIZE}
FILE_ID_SIZE = 16
TAG_SIZE = 16
DEFAULT_RECORD_SIZE = 1 << 20
# Bounds the reader's allocation when the header itself is hostile.
MAX_RECORD_SIZE = 1 << 24

HEADER_STRUCT = struct.Struct(">4sBI16s")
HEADER_SIZE = HEADER_STRUCT.size
_NONCE_PREFIX = bytes(4)


class Sink(Protocol):
    """Anything with ``write(bytes)`` that writes all bytes (e.g. a buffered file).

    The writer hands it views of buffers it reuses: when ``write`` returns, the bytes must
    be written or copied, never kept by reference (files, blob writers and BytesIO do so).
    A sink may also have ``write_run(buf, start, end)``, for runs of records: the same as
    ``write(memoryview(buf)[start:end])``, with ``buf`` a page-aligned buffer and
    ``start`` the stream's offset modulo ``crypto.stream.writer.RUN_ROOM``, free before
    it (api.storage.local writes direct I/O blocks from there).
    """

    def write(self, data: bytes | memoryview, /) -> object: ...


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


def sealed_length(plaintext_size: int, version: int = VERSION) -> int:
    """Bytes of plaintext that go into the records: the padded data and its trailer."""
    if version == 1:
        return plaintext_size
    return padded_size(plaintext_size) + TRAILER_SIZE


def ciphertext_size(
    plaintext_size: int, record_size: int = DEFAULT_RECORD_SIZE, version: int = VERSION
) -> int:
    """Exact size of the encrypted file for a plaintext of ``plaintext_size`` bytes.

    In format 2 this depends only on the Padmé bucket of ``plaintext_size``.
    """
    if plaintext_size < 0 or record_size < 1:
        raise ValueError("sizes must be positive")
    if version not in VERSIONS:
        raise ValueError(f"unknown stream format version {version}")
    sealed = sealed_length(plaintext_size, version)
    records = max(1, -(-sealed // record_size))
    return HEADER_SIZE + sealed + records * TAG_SIZE


def make_header(file_id: bytes, record_size: int, version: int = VERSION) -> bytes:
    if len(file_id) != FILE_ID_SIZE:
        raise FormatError(f"file_id must be {FILE_ID_SIZE} bytes")
    if version not in VERSIONS:
        raise FormatError(f"unsupported encrypted file version {version}")
    low = MIN_RECORD_SIZE[version]
    if not low <= record_size <= MAX_RECORD_SIZE:
        raise FormatError(f"record_size must be between {low} and {MAX_RECORD_SIZE}")
    return HEADER_STRUCT.pack(MAGIC, version, record_size, file_id)


def record_nonce(index: int) -> bytes:
    return _NONCE_PREFIX + index.to_bytes(8, "big")


def record_aad(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
