"""Streaming file encryption: round trips, sizes, hashing, suspend/resume."""

from __future__ import annotations

import hashlib
import io
import mmap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecryptionError, FormatError
from crypto.keys import DataKey
from crypto.padding import padded_size
from crypto.stream import (
    HEADER_SIZE,
    TRAILER_SIZE,
    DecryptingReader,
    EncryptingWriter,
    StreamResult,
    ciphertext_size,
    decrypt_stream,
    hash_plaintext,
)
from crypto.stream.writer import RUN_ROOM

FILE_ID = bytes(range(16))
KEY = DataKey(bytes(range(100, 132)))

# Format 2 needs record_size >= 8 (the size trailer spans at most two records).
record_sizes = st.sampled_from([8, 9, 16, 64])


def encrypt(data: bytes, record_size: int = 16, chunks: list[int] | None = None) -> bytes:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, record_size)
    pos = 0
    for size in chunks or []:
        writer.write(data[pos : pos + size])
        pos += size
    writer.write(data[pos:])
    writer.finish()
    return sink.getvalue()


def decrypt(blob: bytes) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), KEY, FILE_ID))


class ShortReads(io.RawIOBase):
    """A source returning at most 7 bytes per read, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 7) if size >= 0 else 7)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 32, 33, 16 * 10, 16 * 10 + 5])
def test_sizes_around_record_boundaries(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, 16)
    writer.write(data)
    result = writer.finish()
    blob = sink.getvalue()
    records = -(-(padded_size(size) + TRAILER_SIZE) // 16)
    assert result == StreamResult(
        plaintext_size=size,
        ciphertext_size=len(blob),
        sha256=hashlib.sha256(data).hexdigest(),
        records=records,
    )
    assert len(blob) == ciphertext_size(size, 16)
    assert len(blob) == HEADER_SIZE + padded_size(size) + TRAILER_SIZE + 16 * records
    assert decrypt(blob) == data
    assert hash_plaintext(io.BytesIO(blob), KEY) == (hashlib.sha256(data).hexdigest(), size)
    assert b"".join(DecryptingReader(ShortReads(blob), KEY)) == data


@settings(deadline=None, database=None)
@given(st.binary(max_size=600), record_sizes, st.lists(st.integers(0, 100), max_size=12))
def test_round_trip_any_chunking(data: bytes, record_size: int, chunks: list[int]) -> None:
    blob = encrypt(data, record_size, chunks)
    # Chunking of writes must not change the output: records are deterministic.
    assert blob == encrypt(data, record_size)
    assert len(blob) == ciphertext_size(len(data), record_size)
    reader = DecryptingReader(io.BytesIO(blob), KEY)
    pieces = list(reader)
    assert b"".join(pieces) == data
    # Streaming: no piece is larger than a record (held-back zeros come in blocks too).
    assert all(0 < len(p) <= record_size for p in pieces)


@settings(deadline=None, database=None)
@given(st.binary(max_size=400), record_sizes, st.lists(st.integers(0, 400), max_size=6))
def test_suspend_resume_at_arbitrary_points(data: bytes, record_size: int, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, record_size)
    pos = 0
    for point in points:
        writer.write(data[pos:point])
        pos = point
        state = writer.suspend()
        assert writer.ciphertext_size == len(sink.getvalue())
        # A new "process": fresh sink object continuing the stored ciphertext.
        stored = sink.getvalue()
        sink = io.BytesIO(stored)
        sink.seek(0, io.SEEK_END)
        writer = EncryptingWriter.resume(sink, FILE_ID, KEY, state, record_size)
        assert writer.ciphertext_size == len(stored)
        assert writer.plaintext_size == pos
    writer.write(data[pos:])
    result = writer.finish()
    blob = sink.getvalue()
    assert result.plaintext_size == len(data) and result.ciphertext_size == len(blob)
    assert result.sha256 is None if points else result.sha256 == hashlib.sha256(data).hexdigest()
    # Identical to an uninterrupted encryption, byte for byte.
    assert blob == encrypt(data, record_size)
    assert hash_plaintext(io.BytesIO(blob), KEY, FILE_ID) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


def test_state_blob_hides_the_tail_and_is_bound_to_the_file() -> None:
    canary = b"CANARY-partial-record"
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, 64)
    writer.write(canary)
    state = writer.suspend()
    assert canary not in state and canary not in sink.getvalue()
    assert state[0] == 2  # state version follows the stream format
    with pytest.raises(DecryptionError):
        EncryptingWriter.resume(io.BytesIO(), bytes(16), KEY, state, 64)
    with pytest.raises(DecryptionError):
        EncryptingWriter.resume(io.BytesIO(), FILE_ID, DataKey.generate(), state, 64)
    with pytest.raises(FormatError):
        EncryptingWriter.resume(io.BytesIO(), FILE_ID, KEY, state, 16)
    tampered = bytearray(state)
    tampered[8] ^= 1  # next_index
    with pytest.raises(DecryptionError):
        EncryptingWriter.resume(io.BytesIO(), FILE_ID, KEY, bytes(tampered), 64)
    with pytest.raises(FormatError):
        EncryptingWriter.resume(io.BytesIO(), FILE_ID, KEY, state[:20], 64)
    with pytest.raises(RuntimeError):
        writer.write(b"more")


def test_no_plaintext_reaches_the_sink() -> None:
    canary = b"CANARY-" * 40
    blob = encrypt(canary, 64)
    assert b"CANARY" not in blob


def test_writer_buffers_at_most_one_record() -> None:
    writer = EncryptingWriter(io.BytesIO(), FILE_ID, KEY, 16)
    for size in [1, 15, 16, 17, 100, 3]:
        writer.write(bytes(size))
        assert writer.buffered <= 16


def test_abort_and_closed_writer() -> None:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, 16)
    writer.write(b"secret bytes")
    writer.abort()
    assert writer.buffered == 0
    assert sink.getvalue() == b""  # construction and buffering do no I/O
    with pytest.raises(RuntimeError):
        writer.write(b"x")
    with pytest.raises(RuntimeError):
        writer.finish()
    writer.abort()  # idempotent
    finished = EncryptingWriter(io.BytesIO(), FILE_ID, KEY, 16)
    finished.finish()
    with pytest.raises(RuntimeError):
        finished.finish()
    assert "secret" not in repr(writer)


def test_invalid_parameters() -> None:
    with pytest.raises(FormatError):
        EncryptingWriter(io.BytesIO(), b"short", KEY)
    with pytest.raises(FormatError):
        EncryptingWriter(io.BytesIO(), FILE_ID, KEY, 0)
    with pytest.raises(FormatError):  # format 2: the size trailer needs 8-byte records
        EncryptingWriter(io.BytesIO(), FILE_ID, KEY, 7)
    with pytest.raises(FormatError):
        EncryptingWriter(io.BytesIO(), FILE_ID, KEY, (1 << 24) + 1)
    with pytest.raises(FormatError):
        DecryptingReader(io.BytesIO(), KEY, b"short")


def test_reader_exposes_header_and_iterates_once() -> None:
    blob = encrypt(b"abc", 16)
    reader = DecryptingReader(io.BytesIO(blob), KEY)
    assert reader.file_id == FILE_ID and reader.record_size == 16
    assert list(reader) == [b"abc"]
    with pytest.raises(RuntimeError):
        iter(reader)


def test_default_record_size() -> None:
    data = bytes(3 * (1 << 20) + 5)
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY)
    writer.write(data)
    result = writer.finish()
    assert result.records == 4
    # 1 MiB records take the helper-thread hashing path.
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.ciphertext_size == ciphertext_size(len(data))
    sink.seek(0)
    assert [len(r) for r in DecryptingReader(sink, KEY)] == [1 << 20] * 3 + [5]


class FailingSink:
    def __init__(self, fail_after: int) -> None:
        self.calls = 0
        self.fail_after = fail_after

    def write(self, data: bytes | memoryview) -> None:
        self.calls += 1
        if self.calls > self.fail_after:
            raise OSError("disk full")


@pytest.mark.parametrize("fail_after", [0, 1, 2])
def test_sink_failure_closes_the_writer(fail_after: int) -> None:
    writer = EncryptingWriter(FailingSink(fail_after), FILE_ID, KEY, 16)
    with pytest.raises(OSError):
        writer.write(bytes(100))
        writer.finish()
    assert writer.buffered == 0
    with pytest.raises(RuntimeError, match="failed"):
        writer.write(b"x")


BIG = 64 * 1024  # records this large take the helper-thread pipeline


@pytest.mark.parametrize("cuts", [[], [1], [BIG], [BIG + 1, 3 * BIG - 1], [5 * BIG]])
def test_pipelined_records_round_trip_and_resume(cuts: list[int]) -> None:
    data = bytes(i % 241 for i in range(5 * BIG + 123))
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, BIG)
    pos = 0
    for cut in cuts:
        for i in range(pos, cut, 10_000):  # uneven chunks, like HTTP bodies
            writer.write(data[i : min(i + 10_000, cut)])
        pos = cut
        state = writer.suspend()
        assert writer.ciphertext_size == len(sink.getvalue())
        writer = EncryptingWriter.resume(sink, FILE_ID, KEY, state, BIG)
    writer.write(data[pos:])
    result = writer.finish()
    assert result.ciphertext_size == len(sink.getvalue()) == ciphertext_size(len(data), BIG)
    if not cuts:
        assert result.sha256 == hashlib.sha256(data).hexdigest()
    one_shot = io.BytesIO()
    reference = EncryptingWriter(one_shot, FILE_ID, KEY, BIG)
    reference.write(data)
    reference.finish()
    assert sink.getvalue() == one_shot.getvalue()
    sink.seek(0)
    assert b"".join(decrypt_stream(sink, KEY, FILE_ID)) == data


@pytest.mark.parametrize("record_size", [16, BIG])
def test_a_writer_told_not_to_hash_writes_the_same_stream(record_size: int) -> None:
    """hashing=False (its caller hashes what it writes): the same bytes, no sha256."""
    data = bytes(i % 251 for i in range(3 * record_size + 7))
    plain, hashed = io.BytesIO(), io.BytesIO()
    quiet = EncryptingWriter(plain, FILE_ID, KEY, record_size, hashing=False)
    loud = EncryptingWriter(hashed, FILE_ID, KEY, record_size)
    for writer in (quiet, loud):
        writer.write(data)
    assert quiet.finish().sha256 is None
    assert loud.finish().sha256 == hashlib.sha256(data).hexdigest()
    assert plain.getvalue() == hashed.getvalue()
    assert decrypt(plain.getvalue()) == data


@pytest.mark.parametrize("fail_after", [0, 1, 2, 3])
def test_pipelined_sink_failure_surfaces_and_closes(fail_after: int) -> None:
    writer = EncryptingWriter(FailingSink(fail_after), FILE_ID, KEY, BIG)
    with pytest.raises(OSError):
        for _ in range(6):
            writer.write(bytes(BIG))
        writer.finish()
    with pytest.raises(RuntimeError, match="failed"):
        writer.write(b"x")


def test_writers_sharing_ciphertext_buffers_stay_apart() -> None:
    """Ciphertext buffers are reused across writers (crypto.stream.writer._Buffers): two
    writers interleaving full and short records each produce exactly their own stream."""
    datas = [bytes((i * 7 + k) % 251 for i in range(7 * BIG + 99)) for k in (1, 2)]
    sinks = [io.BytesIO(), io.BytesIO()]
    keys = [KEY, DataKey.generate()]
    writers = [EncryptingWriter(sink, FILE_ID, key, BIG)
               for sink, key in zip(sinks, keys, strict=True)]
    for start in range(0, 7 * BIG + 99, 50_000):
        for writer, data in zip(writers, datas, strict=True):
            writer.write(data[start:start + 50_000])
    for writer in writers:
        writer.finish()
    for sink, key, data in zip(sinks, keys, datas, strict=True):
        sink.seek(0)
        assert b"".join(decrypt_stream(sink, key, FILE_ID)) == data


class RecordingSink(io.BytesIO):
    """A sink that also keeps the size of every write it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: bytes | memoryview, /) -> int:  # type: ignore[override]
        self.sizes.append(len(data))
        return super().write(data)


def sealed_one_by_one(data: bytes, record_size: int) -> bytes:
    """The stream built by hand from the format, record by record: what the writer's
    runs of records must produce byte for byte."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from crypto.stream._format import TRAILER, make_header, record_aad, record_nonce

    header = make_header(FILE_ID, record_size, 2)
    size = len(data)
    plain = data + bytes(padded_size(size) - size) + TRAILER.pack(size)
    records = [plain[i:i + record_size] for i in range(0, len(plain), record_size)]
    aes = AESGCM(KEY.raw)
    return header + b"".join(
        aes.encrypt(record_nonce(i), record, record_aad(header, i, i == len(records) - 1))
        for i, record in enumerate(records))


class RunSink(RecordingSink):
    """A sink taking runs as they lie in the writer's buffer (as api.storage.local does):
    each must lie at the stream's offset modulo RUN_ROOM."""

    def write_run(self, buf: mmap.mmap, start: int, end: int) -> None:
        assert start == len(self.getvalue()) % RUN_ROOM
        assert len(buf) % mmap.PAGESIZE == 0  # a mapping of its own: page-aligned
        self.write(memoryview(buf)[start:end])


@pytest.mark.parametrize("sink_type", [RecordingSink, RunSink])
@pytest.mark.parametrize("chunk", [None, 100_000, 256 * 1024, 3 * 256 * 1024 + 1])
def test_runs_of_records_are_the_records_sealed_one_by_one(
        chunk: int | None, sink_type: type[RecordingSink]) -> None:
    """Whole records at hand are sealed together and written in one sink write of at
    most 1 MiB of records (api.uploads batches are 1 MiB); the bytes are exactly those
    of sealing each record on its own, whatever the write sizes and whether the sink
    takes runs where they lie."""
    record_size = 256 * 1024
    data = bytes((i * 31) % 253 for i in range(9 * record_size + 777))
    sink = sink_type()
    writer = EncryptingWriter(sink, FILE_ID, KEY, record_size)
    step = chunk or len(data)
    for start in range(0, len(data), step):
        writer.write(data[start:start + step])
    result = writer.finish()
    assert sink.getvalue() == sealed_one_by_one(data, record_size)
    assert result.sha256 == hashlib.sha256(data).hexdigest()  # hashed beside the runs
    assert max(sink.sizes) <= 4 * (record_size + 16)
    if chunk is None:  # one call: runs of four records, not a write per record
        assert len(sink.sizes) < 9


@pytest.mark.parametrize("fail_after", [0, 1, 2])
def test_a_failed_run_write_surfaces_and_closes(fail_after: int) -> None:
    writer = EncryptingWriter(FailingSink(fail_after), FILE_ID, KEY, BIG)
    with pytest.raises(OSError):
        for _ in range(4):
            writer.write(bytes(20 * BIG))  # runs of 16 records (1 MiB)
        writer.finish()
    with pytest.raises(RuntimeError, match="failed"):
        writer.write(b"x")
