"""The blob storage interface shared by the local data directory and S3.

Only ciphertext is ever stored (crypto.stream files). Names are generated here and
never derived from anything a client sent: ``<kind>/<32 hex>`` where ``kind`` is a short
lowercase tag (``a`` attachment, ``s`` tus segment, ``f`` finished tus upload).

Writers are synchronous and meant to be driven from worker threads (the event loop
hands them whole encrypted records via ``crypto.stream.AsyncEncryptingWriter``). A
writer's object becomes visible under its name only at :meth:`BlobWriter.commit`;
:meth:`BlobWriter.abort` removes everything written so far. A crash between the two
leaves a partial object (a ``.part`` file, an unfinished S3 multipart upload) that
:func:`api.storage.sweep.sweep_orphans` deletes later: :meth:`BlobStorage.iter_blobs`
reports partial objects too, under the name they would have had.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

NAME_RE = re.compile(r"^[a-z]{1,8}/[0-9a-f]{32}$")


class StorageError(Exception):
    """A storage operation failed; the message names the operation, never content."""


def generate_name(kind: str) -> str:
    """A fresh random object name: nothing about its content or origin is in it."""
    name = f"{kind}/{secrets.token_hex(16)}"
    check_name(name)
    return name


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise StorageError("invalid blob name")
    return name


@dataclass(frozen=True)
class BlobInfo:
    name: str
    size: int
    modified: datetime
    complete: bool = True


class BlobWriter(Protocol):
    """Write-once object. ``write`` may be called from any one thread at a time."""

    name: str

    def write(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def commit(self) -> int:
        """Make the object durable and visible; return its size in bytes."""
        ...

    def abort(self) -> None:
        """Discard everything written; safe to call more than once or after commit fails."""
        ...


@runtime_checkable
class BlobStorage(Protocol):
    def open_writer(self, name: str) -> BlobWriter: ...

    def open_reader(self, name: str) -> BinaryIO: ...

    def delete(self, name: str) -> None:
        """Remove the object and any partial write of it; no error if absent."""
        ...

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def iter_blobs(self) -> Iterator[BlobInfo]: ...

    def free_bytes(self) -> int | None:
        """Free space where blobs are written, or None if the backend cannot tell."""
        ...
