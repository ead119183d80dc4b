"""Decrypting side of the stream format (see :mod:`crypto.stream` for the bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import DecryptionError, FormatError
from crypto.keys import DataKey
from crypto.padding import padded_size
from crypto.redaction import redacting
from crypto.stream._format import (
    FILE_ID_SIZE,
    HEADER_SIZE,
    HEADER_STRUCT,
    MAGIC,
    MAX_RECORD_SIZE,
    MIN_RECORD_SIZE,
    TAG_SIZE,
    TRAILER,
    TRAILER_SIZE,
    VERSIONS,
    Source,
    record_aad,
    record_nonce,
)


@redacting(lambda _: "")
class DecryptingReader:
    """Iterates over the authenticated plaintext of an encrypted file, in pieces.

    Yields exactly the original bytes: in format 2 the padding and the size
    trailer are checked and dropped. Memory use is about two records. Raises
    :class:`FormatError` for a bad header and :class:`DecryptionError` for
    anything that fails authentication, including a missing final record or an
    inconsistent size trailer. See the module docstring about partial output.
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
        self._version = 0
        self._started = False
        # Format 2: bytes yielded, and zero bytes seen but held back (they may be padding).
        self._yielded = 0
        self._zeros = 0
        self._zero_block = b""

    @property
    def file_id(self) -> bytes:
        self._read_header()
        return self._file_id

    @property
    def record_size(self) -> int:
        self._read_header()
        return self._record_size

    @property
    def version(self) -> int:
        self._read_header()
        return self._version

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("a DecryptingReader can only be iterated once")
        self._started = True
        return self._records()

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
        if version not in VERSIONS:
            raise FormatError(f"unsupported encrypted file version {version}")
        if not MIN_RECORD_SIZE[version] <= record_size <= MAX_RECORD_SIZE:
            raise FormatError("encrypted file header has an invalid record size")
        if self._expected is not None and file_id != self._expected:
            raise DecryptionError("encrypted file belongs to a different file id")
        self._header, self._record_size, self._file_id = raw, record_size, file_id
        self._version = version
        return raw

    def _open(self, header: bytes, index: int, sealed: bytes, final: bool) -> bytes:
        if len(sealed) < TAG_SIZE:
            raise DecryptionError(f"encrypted file truncated in record {index}")
        try:
            return self._aesgcm.decrypt(
                record_nonce(index), sealed, record_aad(header, index, final)
            )
        except InvalidTag:
            raise DecryptionError(
                f"record {index} failed authentication: wrong key, or the file was "
                "truncated, reordered or modified"
            ) from None

    def _records(self) -> Iterator[bytes]:
        header = self._read_header()
        if self._version == 1:
            yield from self._records_v1(header)
        else:
            yield from self._records_v2(header)

    def _records_v1(self, header: bytes) -> Iterator[bytes]:
        chunk = self._record_size + TAG_SIZE
        index = 0
        pending = self._read_exact(chunk)
        while True:
            # A full-size chunk is the last one only if nothing follows it.
            lookahead = self._read_exact(1) if len(pending) == chunk else b""
            final = not lookahead
            yield self._open(header, index, pending, final)
            if final:
                return
            index += 1
            pending = lookahead + self._read_exact(chunk - 1)

    def _records_v2(self, header: bytes) -> Iterator[bytes]:
        # The records hold data || zeros || size (u64). The size comes last, so the
        # reader yields every nonzero byte at once (padding is all zeros) and holds
        # back only a *count* of trailing zeros until it knows where the data ends:
        # constant memory, whatever the padding length.
        chunk = self._record_size + TAG_SIZE
        index = 0
        carry = b""  # the start of the trailer when it spans the last two records
        pending = self._read_exact(chunk)
        while True:
            # Look far enough ahead to see whether the next record is the final one
            # and too short to hold the whole trailer (record_size >= the trailer, so
            # the trailer spans at most two records).
            ahead = self._read_exact(TAG_SIZE + TRAILER_SIZE) if len(pending) == chunk else b""
            final = not ahead
            plaintext = self._open(header, index, pending, final)
            if final:
                whole = carry + plaintext
                if len(whole) < TRAILER_SIZE:
                    raise DecryptionError("encrypted file has no size trailer")
                yield from self._data(whole[:-TRAILER_SIZE])
                yield from self._end(TRAILER.unpack(whole[-TRAILER_SIZE:])[0])
                return
            if TAG_SIZE <= len(ahead) < TAG_SIZE + TRAILER_SIZE:
                # The next record is final with fewer bytes than the trailer (or the
                # file is cut short, which opening it will report).
                split = len(plaintext) - (TAG_SIZE + TRAILER_SIZE - len(ahead))
                carry = plaintext[split:]
                yield from self._data(plaintext[:split])
            else:
                yield from self._data(plaintext)
            index += 1
            pending = ahead + self._read_exact(chunk - len(ahead))

    def _data(self, data: bytes) -> Iterator[bytes]:
        """Yield the padded-stream bytes ``data``, holding back its trailing zeros."""
        if not data:
            return
        body = data if data[-1] else data.rstrip(b"\0")
        if not body:
            self._zeros += len(data)
            return
        yield from self._flush_zeros(self._zeros)
        yield body
        self._yielded += len(body)
        self._zeros = len(data) - len(body)

    def _flush_zeros(self, count: int) -> Iterator[bytes]:
        """Yield ``count`` held-back zeros that turned out to be data."""
        self._zeros = 0
        self._yielded += count
        if len(self._zero_block) < min(count, self._record_size):
            self._zero_block = bytes(min(count, self._record_size))
        while count:
            step = min(count, len(self._zero_block))
            yield self._zero_block if step == len(self._zero_block) else self._zero_block[:step]
            count -= step

    def _end(self, size: int) -> Iterator[bytes]:
        """Check the trailer against the padded length, then yield the last zeros."""
        padded = self._yielded + self._zeros
        if not self._yielded <= size <= padded or padded != padded_size(size):
            # Authentic, so only a faulty writer gets here; still refuse to guess.
            raise DecryptionError("encrypted file has an inconsistent size trailer")
        yield from self._flush_zeros(size - self._yielded)


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
