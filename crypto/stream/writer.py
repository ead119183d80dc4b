"""Encrypting side of the stream format (see :mod:`crypto.stream` for the bytes)."""

from __future__ import annotations

import functools
import hashlib
import mmap
import os
import struct
from concurrent.futures import Future, ThreadPoolExecutor, wait

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import aead
from crypto.buffers import CIPHERTEXT, PLAINTEXT, RUNS, zeros
from crypto.errors import DecryptionError, FormatError
from crypto.keys import DataKey
from crypto.padding import padded_size
from crypto.stream._format import (
    DEFAULT_RECORD_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    TRAILER,
    VERSION,
    Sink,
    StreamResult,
    make_header,
    record_aad,
    record_nonce,
)

_STATE = struct.Struct(">BQQQI")
# State version n belongs to stream format n (the tail's AAD binds the header anyway).
_STATE_VERSIONS = (1, 2)
_TAIL_CONTEXT = b"dokaz/stream-tail"
_TAIL_INFO = b"dokaz-stream-tail-v1"
# Records at least this large go out in runs, written by a helper thread (see _emit_run).
_PIPELINE_MIN = 64 * 1024
# Whole records sealed together and written in one sink write (see _emit_run).
_RUN_BYTES = 1024 * 1024
# The block size a run lines up with in its buffer, for sinks with ``write_run``.
RUN_ROOM = 4096


@functools.cache
def _pool() -> ThreadPoolExecutor:
    # Shared by all writers. Jobs never wait on other jobs, and each writer has
    # at most two in flight, so a busy pool only queues, never deadlocks.
    return ThreadPoolExecutor(
        max_workers=max(4, 2 * (os.cpu_count() or 1)), thread_name_prefix="dokaz-stream"
    )


def _write_run_and_give(sink: Sink, buf: mmap.mmap, start: int, end: int) -> None:
    try:
        write_run = getattr(sink, "write_run", None)
        if write_run is not None:
            write_run(buf, start, end)
        else:
            with memoryview(buf) as view:
                sink.write(view[start:end])
    finally:
        RUNS.give(buf, wipe=0)


def _run_buffer_size(record_size: int) -> int:
    """The room of a run's buffer: RUN_ROOM before it, its records and their tags."""
    size = RUN_ROOM + max(1, _RUN_BYTES // record_size) * (record_size + TAG_SIZE)
    return -(-size // mmap.PAGESIZE) * mmap.PAGESIZE


def _tail_key(file_key: DataKey, header: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TAIL_INFO + header).derive(
        file_key.raw
    )


class EncryptingWriter:
    """Encrypts a plaintext stream into ``sink`` record by record.

    Holds at most one record of plaintext (in one preallocated buffer). At
    :meth:`finish` the plaintext is padded to its Padmé bucket and closed with its
    true size (format 2, see :mod:`crypto.stream`); the reported size and SHA-256
    are those of the original bytes only. The
    header is written together with the first record, at :meth:`suspend` or at
    :meth:`finish`, so constructing a writer does no I/O. Not thread-safe: one
    caller at a time (see :class:`~crypto.stream.AsyncEncryptingWriter`).

    For records of 64 KiB and more, ``sink.write`` is called from a helper
    thread (one call at a time, in order) and may still be running when
    :meth:`write` returns; the sink belongs to the writer until :meth:`finish`,
    :meth:`suspend` or :meth:`abort` returns. A sink error surfaces on the next
    call and closes the writer as failed.
    """

    def __init__(
        self,
        sink: Sink,
        file_id: bytes,
        file_key: DataKey,
        record_size: int = DEFAULT_RECORD_SIZE,
        *,
        hashing: bool = True,
        _version: int = VERSION,
    ) -> None:
        # ``hashing=False``: the caller hashes what it writes itself (in parallel with the
        # encryption, api.uploads.service); the result then has no sha256.
        # ``_version=1`` only continues a stream suspended in format 1 (see resume).
        self._version = _version
        self._header = make_header(file_id, record_size, _version)
        self._sink = sink
        self._key = file_key
        self._aesgcm = AESGCM(file_key.raw)
        self._record_size = record_size
        # The record buffer comes from the shared pool (crypto.buffers) and goes back
        # there, wiped, when the writer closes.
        self._buf = PLAINTEXT.take(record_size)
        # Copies go through a view: assigning a memoryview (or bytes) to a slice of a
        # bytearray first copies it into a temporary bytearray, a second copy of every
        # byte and, for a socket read's size, fresh pages from the allocator each time.
        self._view = memoryview(self._buf)
        self._fill = 0
        # The most of _buf ever filled: only that much is wiped at close (the buffer came
        # zeroed), so a small file's writer does not zero a whole record for a few bytes.
        self._high = 0
        self._index = 0
        self._plaintext_size = 0
        self._ciphertext_size = 0
        self._hash = hashlib.sha256()
        self._hash_complete = hashing
        # Plaintext bytes still to hash once padding starts (None: hash every record).
        self._hash_left: int | None = None
        self._pending: Future[object] | None = None
        self._closed: str | None = None

    # -- public ---------------------------------------------------------------

    @property
    def record_size(self) -> int:
        return self._record_size

    @property
    def buffered(self) -> int:
        """Plaintext bytes held in memory, waiting for their record to fill."""
        return self._fill

    @property
    def plaintext_size(self) -> int:
        return self._plaintext_size

    @property
    def ciphertext_size(self) -> int:
        """Bytes handed to the sink so far.

        Between calls the last record's write may still be in progress in a
        helper thread; after :meth:`finish`/:meth:`suspend` all of it is written.
        """
        return self._ciphertext_size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append plaintext; full records are encrypted and written immediately.

        If the sink raises, the writer is closed as failed: the ciphertext
        written so far is incomplete and must be discarded.
        """
        self._check_open()
        view = memoryview(data).cast("B")
        try:
            self._write(view)
        except BaseException:
            self._close("failed")
            raise
        self._plaintext_size += len(view)

    def finish(self) -> StreamResult:
        """Seal the buffered plaintext as the final record and return the summary."""
        self._check_open()
        try:
            if self._version >= 2:
                self._pad()
            self._emit(self._view[: self._fill], final=True)
            self._drain()
        except BaseException:
            self._close("failed")
            raise
        self._close("finished")
        return StreamResult(
            plaintext_size=self._plaintext_size,
            ciphertext_size=self._ciphertext_size,
            sha256=self._hash.hexdigest() if self._hash_complete else None,
            records=self._index,
        )

    def abort(self) -> None:
        """Drop (and zero) buffered plaintext; the writer cannot be used afterwards.

        The caller deletes whatever was already written to the sink.
        """
        if self._closed is None:
            self._close("aborted")

    def suspend(self, *, nonce: bytes | None = None) -> bytes:
        """Return an opaque state blob for :meth:`resume` and close this writer.

        The pending partial record is in the blob, encrypted; nothing in
        plaintext. Store the blob together with the ciphertext length
        (:attr:`ciphertext_size`): before resuming, the stored ciphertext must
        be cut back to exactly that length if a later attempt appended more.
        ``nonce`` exists only for test vectors.
        """
        self._check_open()
        try:
            self._drain()
            self._ensure_header()
        except BaseException:
            self._close("failed")
            raise
        fields = _STATE.pack(
            self._version,
            self._index,
            self._plaintext_size,
            self._ciphertext_size,
            self._record_size,
        )
        tail = aead.encrypt(
            _tail_key(self._key, self._header),
            bytes(self._view[: self._fill]),
            _TAIL_CONTEXT + self._header + fields,
            nonce=nonce,
        )
        self._close("suspended")
        return fields + tail

    @classmethod
    def resume(
        cls,
        sink: Sink,
        file_id: bytes,
        file_key: DataKey,
        state: bytes,
        record_size: int = DEFAULT_RECORD_SIZE,
    ) -> EncryptingWriter:
        """Continue a suspended stream, appending to ``sink``.

        ``sink`` must append after exactly ``writer.ciphertext_size`` bytes of
        existing ciphertext. ``resume`` does no I/O, so the caller can cut the
        stored object back to that length (and seek there) after it returns.
        The resumed writer reports ``sha256=None``.
        """
        if len(state) < _STATE.size + aead.OVERHEAD:
            raise FormatError("stream state too short")
        version, index, plain, cipher, state_rs = _STATE.unpack(state[: _STATE.size])
        if version not in _STATE_VERSIONS:
            raise FormatError(f"unsupported stream state version {version}")
        if state_rs != record_size:
            raise FormatError("stream state was made with a different record_size")
        # Records already stored bind their format's header: continue in that format.
        writer = cls(sink, file_id, file_key, record_size, _version=version)
        try:
            tail = aead.decrypt(
                _tail_key(file_key, writer._header),
                state[_STATE.size :],
                _TAIL_CONTEXT + writer._header + state[: _STATE.size],
            )
        except DecryptionError:
            raise DecryptionError(
                "stream state does not belong to this file or key, or was modified"
            ) from None
        # Authentic, so these hold unless the writer itself was buggy; check anyway.
        if (
            len(tail) > record_size
            or plain != index * record_size + len(tail)
            or cipher != HEADER_SIZE + index * (record_size + TAG_SIZE)
        ):
            raise FormatError("inconsistent stream state")
        writer._view[: len(tail)] = tail
        writer._fill = writer._high = len(tail)
        writer._index = index
        writer._plaintext_size = plain
        writer._ciphertext_size = cipher
        writer._hash_complete = False
        return writer

    def __repr__(self) -> str:
        state = self._closed or "open"
        return f"EncryptingWriter({state}, records={self._index}, size={self._plaintext_size})"

    # -- internals ------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed is not None:
            raise RuntimeError(f"writer already {self._closed}")

    def _write(self, view: memoryview) -> None:
        total = len(view)
        pos = 0
        rs = self._record_size
        runs = rs >= _PIPELINE_MIN
        while pos < total:
            if runs and (self._fill == rs or (self._fill == 0 and total - pos > rs)):
                pos = self._emit_run(view, pos)
                continue
            if self._fill == rs:
                # More data follows, so the buffered record is not the last one.
                self._emit(self._view, final=False)
                self._fill = 0
            if self._fill == 0 and total - pos > rs:
                # Whole record straight from the caller's buffer: no copy.
                self._emit(view[pos : pos + rs], final=False)
                pos += rs
                continue
            take = min(rs - self._fill, total - pos)
            self._view[self._fill : self._fill + take] = view[pos : pos + take]
            self._fill += take
            self._high = max(self._high, self._fill)
            pos += take

    def _pad(self) -> None:
        """Append zeros up to the Padmé bucket, then the true size (format 2)."""
        # Only the data still buffered is unhashed: earlier records were hashed whole.
        self._hash_left = self._fill
        size = self._plaintext_size
        left = padded_size(size) - size
        while left:
            step = min(left, self._record_size)
            self._write(zeros(step))
            left -= step
        # Nothing follows the trailer, so it always ends in the buffer: the final record.
        self._write(memoryview(TRAILER.pack(size)))

    def _hash_update(self, record: memoryview) -> None:
        """Hash the original bytes of ``record``, never its padding or trailer."""
        if not self._hash_complete:
            return
        left = self._hash_left
        if left is None:
            self._hash.update(record)
        elif left > 0:
            take = min(left, len(record))
            self._hash.update(record[:take])
            self._hash_left = left - take

    def _ensure_header(self) -> None:
        if self._ciphertext_size == 0:
            self._sink.write(self._header)
            self._ciphertext_size = HEADER_SIZE

    def _emit(self, record: memoryview, final: bool) -> None:
        index = self._index
        nonce, aad = record_nonce(index), record_aad(self._header, index, final)
        size = len(record) + TAG_SIZE
        out = CIPHERTEXT.take(self._record_size + TAG_SIZE)
        sealed = memoryview(out)[:size]
        # Only the last record and small ones come here (whole records of 64 KiB and
        # more go out in runs, _emit_run), done in this thread: a hand-over to a helper
        # and back costs more than it saves there (on a small tus upload, two of its
        # four thread hops).
        try:
            self._hash_update(record)
            self._aesgcm.encrypt_into(nonce, record, aad, sealed)
            self._drain()
            self._ensure_header()
            self._sink.write(sealed)
        finally:
            CIPHERTEXT.give(out, wipe=0)
        self._index = index + 1
        self._ciphertext_size += size

    def _emit_run(self, view: memoryview, pos: int) -> int:
        """Seal the whole records at hand (the buffered one, if full, then those straight
        from ``view`` at ``pos``), each followed by more data so none is the last, up to
        _RUN_BYTES of them, into one ciphertext buffer handed to the sink in one write;
        return the new ``pos``.

        Why runs: record by record, each record cost a hand-over to the helper that
        encrypts it and a sink write of its own, one after the other; a direct write of
        1 MiB goes at 1.4x the rate of four of 256 KiB on these disks. Here the records
        are encrypted in this thread (AES-GCM is several times faster than SHA-256), the
        hash, if this writer hashes, runs in a helper meanwhile, and the run's one write
        overlaps the caller's next run."""
        rs = self._record_size
        total = len(view)
        records: list[memoryview] = []
        if self._fill == rs:
            records.append(self._view)  # pos < total: more data follows it
        limit = max(1, _RUN_BYTES // rs)
        while len(records) < limit and total - pos > rs:
            records.append(view[pos : pos + rs])
            pos += rs
        step = rs + TAG_SIZE
        size = len(records) * step
        # The run lies in its buffer at the stream's offset modulo RUN_ROOM, so that a
        # sink writing whole aligned blocks (direct I/O, api.storage.local) puts the
        # bytes it carries before it and writes the run from here, without a copy.
        start = (self._ciphertext_size or HEADER_SIZE) % RUN_ROOM  # the header goes first
        out = RUNS.take(_run_buffer_size(rs))
        hashing = _pool().submit(self._hash_all, records) if self._hash_complete else None
        index = self._index
        try:
            with memoryview(out) as sealed:
                for i, record in enumerate(records):
                    at = start + i * step
                    self._aesgcm.encrypt_into(
                        record_nonce(index + i), record,
                        record_aad(self._header, index + i, False), sealed[at : at + step])
        except BaseException:
            if hashing is not None:
                wait([hashing])  # it reads the records: done before the caller goes on
            RUNS.give(out, wipe=0)
            raise
        try:
            if hashing is not None:
                hashing.result()  # the record buffer is free after this
            self._drain()  # keep writes in order and surface the previous error
            self._ensure_header()
        except BaseException:
            RUNS.give(out, wipe=0)
            raise
        if records[0] is self._view:
            self._fill = 0
        self._pending = _pool().submit(_write_run_and_give, self._sink, out, start,
                                       start + size)
        self._index = index + len(records)
        self._ciphertext_size += size
        return pos

    def _hash_all(self, records: list[memoryview]) -> None:
        for record in records:
            self._hash_update(record)

    def _drain(self) -> None:
        """Wait for the previous record's sink write; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _close(self, how: str) -> None:
        # Never return while a helper thread may still write to the sink: the
        # caller is about to delete or hand over the ciphertext.
        if self._pending is not None:
            wait([self._pending])
            self._pending = None
        # Best effort: Python may hold other copies, but don't leave ours behind.
        self._view.release()
        PLAINTEXT.give(self._buf, wipe=self._high)
        self._buf = bytearray()
        self._fill = self._high = 0
        self._closed = how
