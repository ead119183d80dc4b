"""Decrypting side of the stream format (see :mod:`crypto.stream` for the bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import DecryptionError, FormatError
from crypto.keys import DataKey
from crypto.stream._format import (
    FILE_ID_SIZE,
    HEADER_SIZE,
    HEADER_STRUCT,
    MAGIC,
    MAX_RECORD_SIZE,
    TAG_SIZE,
    VERSION,
    Source,
    record_aad,
    record_nonce,
)


class DecryptingReader:
    """Iterates over the authenticated plaintext records of an encrypted file.

    Memory use is one record. Raises :class:`FormatError` for a bad header and
    :class:`DecryptionError` for anything that fails authentication, including
    a missing final record. See the module docstring about partial output.
    A reader can be iterated once.
    """

    def __init__(
        self, source: Source, file_key: DataKey, expected_file_id: bytes | None = None
    ) -> None:
        if expected_file_id is not None and len(expected_file_id) != FILE_ID_SIZE:
            raise FormatError(f"file_id must be {FILE_ID_SIZE} bytes")
        self._source = source
        self._aesgcm = AESGCM(file_key.raw)
        self._expected = expected_file_id
        self._header: bytes | None = None
        self._record_size = 0
        self._file_id = b""
        self._started = False

    @property
    def file_id(self) -> bytes:
        self._read_header()
        return self._file_id

    @property
    def record_size(self) -> int:
        self._read_header()
        return self._record_size

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("a DecryptingReader can only be iterated once")
        self._started = True
        return self._records()

    def __repr__(self) -> str:
        return "DecryptingReader()"

    def _read_exact(self, n: int) -> bytes:
        data = self._source.read(n)
        if len(data) == n or not data:
            return data
        parts = [data]
        got = len(data)
        while got < n:
            more = self._source.read(n - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def _read_header(self) -> bytes:
        if self._header is not None:
            return self._header
        raw = self._read_exact(HEADER_SIZE)
        if len(raw) < HEADER_SIZE:
            raise FormatError("not an encrypted Dokaz file: too short for a header")
        magic, version, record_size, file_id = HEADER_STRUCT.unpack(raw)
        if magic != MAGIC:
            raise FormatError("not an encrypted Dokaz file: wrong magic")
        if version != VERSION:
            raise FormatError(f"unsupported encrypted file version {version}")
        if not 1 <= record_size <= MAX_RECORD_SIZE:
            raise FormatError("encrypted file header has an invalid record size")
        if self._expected is not None and file_id != self._expected:
            raise DecryptionError("encrypted file belongs to a different file id")
        self._header, self._record_size, self._file_id = raw, record_size, file_id
        return raw

    def _records(self) -> Iterator[bytes]:
        header = self._read_header()
        chunk = self._record_size + TAG_SIZE
        index = 0
        pending = self._read_exact(chunk)
        while True:
            # A full-size chunk is the last one only if nothing follows it.
            lookahead = self._read_exact(1) if len(pending) == chunk else b""
            final = not lookahead
            if len(pending) < TAG_SIZE:
                raise DecryptionError(f"encrypted file truncated in record {index}")
            try:
                plaintext = self._aesgcm.decrypt(
                    record_nonce(index), pending, record_aad(header, index, final)
                )
            except InvalidTag:
                raise DecryptionError(
                    f"record {index} failed authentication: wrong key, or the file was "
                    "truncated, reordered or modified"
                ) from None
            yield plaintext
            if final:
                return
            index += 1
            pending = lookahead + self._read_exact(chunk - 1)


def decrypt_stream(
    source: Source, file_key: DataKey, expected_file_id: bytes | None = None
) -> Iterator[bytes]:
    """Yield authenticated plaintext records (see :class:`DecryptingReader`)."""
    yield from DecryptingReader(source, file_key, expected_file_id)


def hash_plaintext(
    source: Source, file_key: DataKey, expected_file_id: bytes | None = None
) -> tuple[str, int]:
    """Decrypt ``source`` fully and return ``(sha256 hex of the plaintext, size)``."""
    digest = hashlib.sha256()
    size = 0
    for record in DecryptingReader(source, file_key, expected_file_id):
        digest.update(record)
        size += len(record)
    return digest.hexdigest(), size
