"""AsyncEncryptingWriter: crypto and sink writes happen off the event loop."""

from __future__ import annotations

import hashlib
import io
import threading

import anyio
import pytest

from crypto.keys import DataKey
from crypto.stream import AsyncEncryptingWriter, EncryptingWriter, StreamResult, decrypt_stream

FILE_ID = bytes(16)
KEY = DataKey(bytes(range(32)))


class ThreadRecordingSink:
    """BytesIO that records which thread each write came from."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.threads: list[int] = []

    def write(self, data: bytes | memoryview) -> int:
        self.threads.append(threading.get_ident())
        return self.buffer.write(data)


@pytest.mark.parametrize("chunk", [1, 7, 16, 50, 1000])
def test_async_writer_matches_sync_and_uses_threads(chunk: int) -> None:
    data = bytes(i % 253 for i in range(500))
    sink = ThreadRecordingSink()

    async def main() -> tuple[StreamResult, int]:
        writer = AsyncEncryptingWriter.create(sink, FILE_ID, KEY, 16)
        for i in range(0, len(data), chunk):
            await writer.write(data[i : i + chunk])
            assert writer.writer.buffered <= 16
        return await writer.finish(), threading.get_ident()

    result, loop_thread = anyio.run(main)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert sink.threads and loop_thread not in sink.threads
    reference = io.BytesIO()
    sync = EncryptingWriter(reference, FILE_ID, KEY, 16)
    sync.write(data)
    sync.finish()
    assert sink.buffer.getvalue() == reference.getvalue()
    sink.buffer.seek(0)
    assert b"".join(decrypt_stream(sink.buffer, KEY, FILE_ID)) == data


def test_async_suspend_resume_and_abort() -> None:
    data = bytes(range(200))
    sink = io.BytesIO()

    async def main() -> None:
        first = AsyncEncryptingWriter(EncryptingWriter(sink, FILE_ID, KEY, 16))
        await first.write(data[:77])
        state = await first.suspend()
        second = AsyncEncryptingWriter(EncryptingWriter.resume(sink, FILE_ID, KEY, state, 16))
        await second.write(data[77:])
        result = await second.finish()
        assert result.sha256 is None and result.plaintext_size == len(data)
        doomed = AsyncEncryptingWriter.create(io.BytesIO(), FILE_ID, KEY, 16)
        await doomed.write(b"x" * 40)
        doomed.abort()
        with pytest.raises(RuntimeError):
            await doomed.write(b"y")

    anyio.run(main)
    sink.seek(0)
    assert b"".join(decrypt_stream(sink, KEY, FILE_ID)) == data


def test_async_writer_with_pipelined_records() -> None:
    record = 64 * 1024
    data = bytes(i % 239 for i in range(4 * record + 999))
    sink = io.BytesIO()

    async def main() -> StreamResult:
        writer = AsyncEncryptingWriter.create(sink, FILE_ID, KEY, record)
        for i in range(0, len(data), 16 * 1024):  # Starlette-sized chunks
            await writer.write(data[i : i + 16 * 1024])
        return await writer.finish()

    result = anyio.run(main)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.ciphertext_size == len(sink.getvalue())
    sink.seek(0)
    assert b"".join(decrypt_stream(sink, KEY, FILE_ID)) == data
