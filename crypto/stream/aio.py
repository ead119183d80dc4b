"""Async facade over :class:`~crypto.stream.writer.EncryptingWriter`."""

from __future__ import annotations

import anyio
import anyio.to_thread

from crypto.keys import DataKey
from crypto.stream._format import DEFAULT_RECORD_SIZE, Sink, StreamResult
from crypto.stream.writer import EncryptingWriter


class AsyncEncryptingWriter:
    """Async facade over :class:`EncryptingWriter` for use inside an event loop.

    Writes that only fill the buffer are done inline (a memory copy); as soon as
    a write completes a record, hashing, encryption and ``sink.write`` run in a
    worker thread via :func:`anyio.to_thread.run_sync`, so the loop is never
    blocked by crypto or disk I/O. The sink's ``write`` must be safe to call from
    a thread. Calls are serialised by a lock; cancelling a waiting task lets the
    running thread finish first, so the writer state stays consistent.
    :meth:`abort` is synchronous so it can run in cleanup code of a cancelled
    task; it waits for at most one in-flight ``sink.write`` (one record) so the
    caller can then delete the ciphertext safely.
    """

    def __init__(self, writer: EncryptingWriter) -> None:
        self._writer = writer
        self._lock = anyio.Lock()

    @classmethod
    def create(
        cls,
        sink: Sink,
        file_id: bytes,
        file_key: DataKey,
        record_size: int = DEFAULT_RECORD_SIZE,
        *,
        hashing: bool = True,
    ) -> AsyncEncryptingWriter:
        """Shortcut for ``AsyncEncryptingWriter(EncryptingWriter(...))``."""
        return cls(EncryptingWriter(sink, file_id, file_key, record_size, hashing=hashing))

    @property
    def writer(self) -> EncryptingWriter:
        return self._writer

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        async with self._lock:
            w = self._writer
            if w.buffered + memoryview(data).nbytes <= w.record_size:
                w.write(data)  # buffer copy only: no record is emitted
            else:
                await anyio.to_thread.run_sync(w.write, data)

    async def finish(self) -> StreamResult:
        async with self._lock:
            return await anyio.to_thread.run_sync(self._writer.finish)

    async def suspend(self) -> bytes:
        async with self._lock:
            return await anyio.to_thread.run_sync(self._writer.suspend)

    def abort(self) -> None:
        self._writer.abort()

    def __repr__(self) -> str:
        return f"Async{self._writer!r}"
