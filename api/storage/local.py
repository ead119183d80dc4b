"""Blobs as files under ``<data_dir>/blobs``.

Layout: ``blobs/<kind>/<first two hex>/<name hex>``; a write in progress is
``<path>.part`` (created with O_EXCL, mode 0600) and is renamed into place at commit
after ``fsync`` of the file and of its directory, so a visible blob is always whole.
Every path is resolved with ``realpath`` and checked with ``commonpath`` to stay inside
the blob root, even though names are generated and validated (defence in depth, as in
SecureDrop's ``store.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from api.storage.base import BlobInfo, StorageError, check_name
from crypto.redaction import redacting

PART = ".part"


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobWriter:
    def __init__(self, final_path: str, name: str) -> None:
        self.name = name
        self._final = final_path
        self._part = final_path + PART
        os.makedirs(os.path.dirname(final_path), mode=0o700, exist_ok=True)
        fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._file: BinaryIO | None = os.fdopen(fd, "wb", buffering=0)
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        if self._file is None:
            raise StorageError("blob writer is closed")
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            if n is None:  # pragma: no cover - only for non-blocking files
                raise StorageError("short write")
            view = view[n:]
        self._size += len(data)

    def commit(self) -> int:
        if self._file is None:
            raise StorageError("blob writer is closed")
        f, self._file = self._file, None
        try:
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()
        os.replace(self._part, self._final)
        _fsync_dir(os.path.dirname(self._final))
        return self._size

    def abort(self) -> None:
        if self._file is not None:
            f, self._file = self._file, None
            f.close()
        for path in (self._part,):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@redacting(lambda _: "")
class LocalStorage:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root = os.path.realpath(root)

    def _path(self, name: str) -> str:
        check_name(name)
        kind, hexname = name.split("/")
        path = os.path.realpath(os.path.join(self.root, kind, hexname[:2], hexname))
        if os.path.commonpath([self.root, path]) != self.root:
            raise StorageError("blob path escapes the storage root")
        return path

    def open_writer(self, name: str) -> LocalBlobWriter:
        path = self._path(name)
        if os.path.exists(path):
            raise StorageError("blob already exists")
        return LocalBlobWriter(path, name)

    def open_reader(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")  # the caller closes it
        except FileNotFoundError:
            raise StorageError("blob not found") from None

    def delete(self, name: str) -> None:
        path = self._path(name)
        for p in (path, path + PART):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)

    def exists(self, name: str) -> bool:
        return os.path.exists(self._path(name))

    def size(self, name: str) -> int:
        try:
            return os.path.getsize(self._path(name))
        except FileNotFoundError:
            raise StorageError("blob not found") from None

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for dirpath, _dirs, files in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root).split(os.sep)
            if len(rel) != 2:
                continue
            for filename in files:
                complete = not filename.endswith(PART)
                hexname = filename if complete else filename[: -len(PART)]
                name = f"{rel[0]}/{hexname}"
                try:
                    check_name(name)
                    st = os.stat(os.path.join(dirpath, filename))
                except (StorageError, FileNotFoundError):
                    continue
                yield BlobInfo(
                    name=name,
                    size=st.st_size,
                    modified=datetime.fromtimestamp(st.st_mtime, UTC),
                    complete=complete,
                )

    def free_bytes(self) -> int | None:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        return shutil.disk_usage(self.root).free
