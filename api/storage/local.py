"""Blobs as files under ``<data_dir>/blobs``.

Layout: ``blobs/<kind>/<first two hex>/<name hex>``; a write in progress is
``<path>.part`` (created with O_EXCL, mode 0600) and is renamed into place at commit
after ``fsync`` of the file and of its directory, so a visible blob is always whole.
Every blob's folder is resolved with ``realpath`` and checked with ``commonpath`` to stay
inside the blob root, and a blob itself is never opened through a symlink (O_EXCL to
write, O_NOFOLLOW to read), even though names are generated and validated (defence in
depth, as in SecureDrop's ``store.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import mmap
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from api.storage.base import BlobInfo, StorageError, check_name
from crypto.buffers import BufferPool, mapped
from crypto.redaction import redacting

PART = ".part"


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_back() -> Callable[[int, int, int, int], object] | None:
    """Linux's ``sync_file_range`` (not in Python's os module), or None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_SYNC_FILE_RANGE = _write_back()
_SYNC_FILE_RANGE_WRITE = 2
# Buffered writes are handed to the disk (asynchronously) every this much, so the fsync at
# commit waits only for the last of them: on an 8 MiB tus PATCH the commit's fsync took
# 3.8 ms and 0.2 ms with this. It only starts the writing: durability is still the
# fsync's, at commit.
WRITE_BACK_BYTES = 1024 * 1024

# Direct I/O (O_DIRECT) for the bulk of a large blob: the disk reads the bytes from our
# buffer, and the page cache is not involved. A blob is written once and read seldom, so
# caching it helps no one, and copying every byte into page-cache pages was most of a tus
# upload's server CPU (on these virtual machines those pages are often fresh ones the
# host must fault in: 39 % of the server's CPU in one profile; 0.5 instead of 1.2-2.7 s
# of system CPU per 512 MiB with it). Direct writes must start at, and be a multiple of,
# an aligned block, from an aligned buffer: whole blocks go out through a page-aligned
# staging buffer, at most a block's remainder is carried to the next write, and the
# tail goes through the page cache at commit. The first DIRECT_FROM bytes are written
# through the page cache as before: a small file's one direct write and its commit took
# longer than a buffered write and fsync (a small tus upload: 7.6-9.8 against 4.7-7.7
# ms). A filesystem that refuses O_DIRECT (fcntl says so) keeps the buffered path.
_O_DIRECT = getattr(os, "O_DIRECT", 0)
DIRECT_BLOCK = 4096
DIRECT_FROM = 512 * 1024
_STAGING_BYTES = 1024 * 1024


# Page-aligned buffers for direct writes, reused; ciphertext only, so never wiped.
_STAGING = BufferPool(idle_bytes=8 * _STAGING_BYTES, make=mapped)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        n = os.write(fd, view)
        view = view[n:]


class LocalBlobWriter:
    """One blob being written. The file is created at the first write (or at commit), in
    the thread that writes: creating a file waits for the journal when fsyncs are in
    flight (0.3-0.7 ms measured here), which on the event loop would stall every request."""

    def __init__(self, final_path: str, name: str, *, direct: bool = True) -> None:
        self.name = name
        self._final = final_path
        self._part = final_path + PART
        self._fd: int | None = None
        self._may_direct = direct and bool(_O_DIRECT)
        self._direct = False
        self._carry = b""  # direct: bytes short of a whole block, for the next write
        self._done = False
        self._size = 0
        self._unsynced = 0

    def _open(self) -> int:
        if self._done:
            raise StorageError("blob writer is closed")
        if self._fd is None:
            directory = os.path.dirname(self._final)
            if not os.path.isdir(directory):  # a mkdir that finds it waits like a create
                os.makedirs(directory, mode=0o700, exist_ok=True)
            self._fd = os.open(self._part,
                               os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        return self._fd

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        fd = self._open()
        view = memoryview(data).cast("B")
        if not self._direct and self._may_direct and self._size + len(view) > DIRECT_FROM:
            # Through the page cache up to a block boundary, then direct from there.
            head = min(len(view), -self._size % DIRECT_BLOCK)
            self._write_buffered(fd, view[:head])
            view = view[head:]
            self._direct = self._set_direct(fd, True)
            self._may_direct = self._direct
        if self._direct:
            self._size += len(view)
            self._write_direct(fd, view)
            return
        if self._carry:  # direct writes were refused part-way: what they left goes first
            carry, self._carry = self._carry, b""
            _write_all(fd, memoryview(carry))
        self._write_buffered(fd, view)

    def _write_buffered(self, fd: int, view: memoryview) -> None:
        _write_all(fd, view)
        self._size += len(view)
        self._unsynced += len(view)
        if self._unsynced >= WRITE_BACK_BYTES and _SYNC_FILE_RANGE is not None:
            _SYNC_FILE_RANGE(fd, self._size - self._unsynced, self._unsynced,
                             _SYNC_FILE_RANGE_WRITE)
            self._unsynced = 0

    def _write_direct(self, fd: int, view: memoryview) -> None:
        carry = self._carry
        if len(carry) + len(view) < DIRECT_BLOCK:
            self._carry = carry + bytes(view)
            return
        staging = _STAGING.take(_STAGING_BYTES)
        try:
            with memoryview(staging) as out:
                while len(carry) + len(view) >= DIRECT_BLOCK:
                    fill = min(_STAGING_BYTES, len(carry) + len(view))
                    fill -= fill % DIRECT_BLOCK
                    out[:len(carry)] = carry
                    take = fill - len(carry)
                    out[len(carry):fill] = view[:take]
                    view, carry = view[take:], b""
                    self._write_block(fd, out[:fill])
                self._carry = bytes(view)
        finally:
            _STAGING.give(staging, wipe=0)

    def write_run(self, buf: mmap.mmap, start: int, end: int) -> None:
        """``write(buf[start:end])``, from ``buf`` itself when it can: with direct I/O
        on and the bytes carried from the last write fitting the room before ``start``
        (the encrypting writer places a run at the stream's offset modulo the block,
        crypto.stream.writer), the carry goes there and the whole blocks are written
        from the page-aligned ``buf``: no copy of the run into a staging buffer."""
        if not self._direct or len(self._carry) != start:
            with memoryview(buf) as view:
                self.write(view[start:end])
            return
        fd = self._open()
        whole = end - end % DIRECT_BLOCK
        with memoryview(buf) as view:
            view[:start] = self._carry
            if whole:
                self._write_block(fd, view[:whole])
            self._carry = bytes(view[whole:end])
        self._size += end - start

    def _write_block(self, fd: int, block: memoryview) -> None:
        if not self._direct:
            _write_all(fd, block)
            return
        try:
            _write_all(fd, block)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # Switched on, but the filesystem refuses direct writes after all (nothing
            # was written by the refused call): buffered from here on.
            self._direct = self._may_direct = self._set_direct(fd, False)
            _write_all(fd, block)

    @staticmethod
    def _set_direct(fd: int, on: bool) -> bool:
        """Switch direct I/O on or off for ``fd``; False if the filesystem refuses it."""
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, (flags | _O_DIRECT) if on else (flags & ~_O_DIRECT))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            return False
        return on

    def commit(self) -> int:
        fd = self._open()
        self._fd, self._done = None, True
        try:
            if self._carry:
                # Less than a block is left: written through the page cache.
                self._set_direct(fd, False)
                _write_all(fd, memoryview(self._carry))
                self._carry = b""
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._part, self._final)
        _fsync_dir(os.path.dirname(self._final))
        return self._size

    def abort(self) -> None:
        self._done = True
        self._carry = b""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        for path in (self._part,):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@redacting(lambda _: "")
class LocalStorage:
    def __init__(self, root: Path, *, direct_io: bool = True) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root = os.path.realpath(root)
        self.direct_io = direct_io
        self._folders: dict[tuple[str, str], str] = {}

    def _path(self, name: str) -> str:
        check_name(name)  # a kind and 32 hex digits: nothing in it can climb out
        kind, hexname = name.split("/")
        shard = (kind, hexname[:2])
        folder = self._folders.get(shard)
        if folder is None:
            # Resolved once per folder (at most 256 per kind): a symlink planted under
            # the root must not lead outside it. Per blob this was realpath's lstat of
            # every component, on every small upload.
            folder = os.path.realpath(os.path.join(self.root, kind, hexname[:2]))
            if os.path.commonpath([self.root, folder]) != self.root:
                raise StorageError("blob path escapes the storage root")
            self._folders[shard] = folder
        return os.path.join(folder, hexname)

    def open_writer(self, name: str) -> LocalBlobWriter:
        path = self._path(name)
        if os.path.exists(path):
            raise StorageError("blob already exists")
        return LocalBlobWriter(path, name, direct=self.direct_io)

    def open_reader(self, name: str) -> BinaryIO:
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StorageError("blob not found") from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise StorageError("blob path escapes the storage root") from None
        return os.fdopen(fd, "rb")  # the caller closes it

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
        if not os.path.isdir(self.root):  # asked per request: a stat, not a mkdir
            os.makedirs(self.root, mode=0o700, exist_ok=True)
        return shutil.disk_usage(self.root).free
