"""The backup archive format, version 1.

::

    archive = b"DKZB" || version (0x01) || header_len (u32 BE) || header || body
    header  = JSON (UTF-8): {"format": "dokaz-backup", "version": 1, "backup_id": hex16,
              "created_at": ISO 8601, "recovery_fingerprint": str,
              "wrapped_key": base64(crypto.sealed.wrap_data_key(recovery public key,
                                    backup key, b"dokaz/backup/v1/" || backup_id))}
    body    = crypto.stream file (file id = backup_id) under the backup key, whose
              plaintext is a sequence of entries:
    entry   = kind (1 byte) || name_len (u16 BE) || name (UTF-8) || size (u64 BE) || data

Entry kinds: ``T`` a chunk of table rows as JSON lines (name = table), ``B`` one blob
(name = blob name; its bytes are the blob's ciphertext as stored), ``M`` the manifest,
always last: JSON with the schema revision, row counts and SHA-256 per table, size and
SHA-256 per blob. The header holds nothing about any case; everything else is sealed under
a fresh key that only the offline recovery key can unwrap, so a stolen backup is useless
without it. The stream format authenticates every record and the end of the file, so
truncation or tampering fails the restore; the manifest hashes are checked on top.
Since crypto.stream format 2 the body is padded to its Padmé bucket like every stored
file, and the blobs inside are their stored (padded) ciphertext, so an archive's size
reveals only a bucket of the total; archives written in format 1 still restore.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from crypto.keys import DataKey
from crypto.stream import DecryptingReader, EncryptingWriter

MAGIC = b"DKZB"
VERSION = 1
_ENTRY = struct.Struct(">BH")
_SIZE = struct.Struct(">Q")
TABLE, BLOB, MANIFEST = b"T", b"B", b"M"


class ArchiveError(Exception):
    """The archive is not a Dokaz backup, or it is damaged; messages name no content."""


def key_context(backup_id: bytes) -> bytes:
    return b"dokaz/backup/v1/" + backup_id


def write_header(out: BinaryIO, header: dict[str, Any]) -> None:
    raw = json.dumps(header, sort_keys=True).encode()
    out.write(MAGIC + bytes([VERSION]) + struct.pack(">I", len(raw)) + raw)


def read_header(src: BinaryIO) -> dict[str, Any]:
    head = src.read(9)
    if len(head) < 9 or head[:4] != MAGIC:
        raise ArchiveError("this file is not a Dokaz backup")
    if head[4] != VERSION:
        raise ArchiveError(f"unsupported backup version {head[4]}")
    (length,) = struct.unpack(">I", head[5:9])
    if length > 64 * 1024:
        raise ArchiveError("backup header is too large")
    try:
        header: dict[str, Any] = json.loads(src.read(length))
    except ValueError:
        raise ArchiveError("backup header is damaged") from None
    if header.get("format") != "dokaz-backup":
        raise ArchiveError("this file is not a Dokaz backup")
    return header


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class EntryWriter:
    """Writes entries into the encrypting stream."""

    def __init__(self, writer: EncryptingWriter) -> None:
        self._w = writer

    def begin(self, kind: bytes, name: str, size: int) -> None:
        raw = name.encode()
        self._w.write(_ENTRY.pack(kind[0], len(raw)) + raw + _SIZE.pack(size))

    def write(self, data: bytes) -> None:
        self._w.write(data)

    def entry(self, kind: bytes, name: str, data: bytes) -> None:
        self.begin(kind, name, len(data))
        self.write(data)


class _Plaintext:
    """A ``read(n)`` view over the authenticated records of a DecryptingReader."""

    def __init__(self, source: BinaryIO, key: DataKey, file_id: bytes) -> None:
        self._records = iter(DecryptingReader(source, key, file_id))
        self._buf = b""

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            try:
                self._buf += next(self._records)
            except StopIteration:
                break
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def read_exact(self, n: int) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise ArchiveError("backup is truncated")
        return data


@dataclass
class Entry:
    kind: bytes
    name: str
    size: int
    reader: _Plaintext

    def chunks(self, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        left = self.size
        while left:
            data = self.reader.read_exact(min(chunk, left))
            left -= len(data)
            yield data

    def read_all(self) -> bytes:
        return b"".join(self.chunks())


def entries(source: BinaryIO, key: DataKey, file_id: bytes) -> Iterator[Entry]:
    """Yield entries in order; each must be consumed fully before the next."""
    plain = _Plaintext(source, key, file_id)
    while True:
        head = plain.read(_ENTRY.size)
        if not head:
            return
        if len(head) != _ENTRY.size:
            raise ArchiveError("backup is truncated")
        kind, name_len = _ENTRY.unpack(head)
        name = plain.read_exact(name_len).decode()
        (size,) = _SIZE.unpack(plain.read_exact(_SIZE.size))
        yield Entry(bytes([kind]), name, size, plain)
