"""The shared buffer pools (crypto.buffers): plaintext comes back zeroed, idle memory is
bounded, and the writers that share them keep their streams apart."""

from __future__ import annotations

import io

import pytest

from crypto import DataKey, EncryptingWriter, decrypt_stream
from crypto.buffers import BufferPool, zero, zeros

KIB = 1024


def test_a_plaintext_buffer_is_wiped_before_anyone_gets_it_again() -> None:
    pool = BufferPool(idle_bytes=64 * KIB, make=bytearray)
    buf = pool.take(16 * KIB)
    buf[:5] = b"words"
    buf[9000:9004] = b"more"
    pool.give(buf, wipe=9004)
    again = pool.take_idle(16 * KIB)
    assert again is buf and not any(again)


def test_idle_buffers_are_bounded() -> None:
    pool = BufferPool(idle_bytes=32 * KIB, make=bytearray)
    bufs = [pool.take(16 * KIB) for _ in range(4)]
    for buf in bufs:
        pool.give(buf, wipe=0)
    assert pool.idle_bytes == 32 * KIB
    assert pool.take_idle(16 * KIB) is not None
    assert pool.take_idle(8 * KIB) is None  # nothing idle of that size


def test_a_closed_writer_gives_its_record_back_clean_and_keeps_no_view() -> None:
    key, file_id = DataKey.generate(), bytes(16)
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, file_id, key, 64 * KIB)
    record = writer._buf
    writer.write(b"testimony " * 1000)
    writer.finish()
    assert not any(record)
    sink.seek(0)
    assert b"".join(decrypt_stream(sink, key, file_id)) == b"testimony " * 1000
    # The next writer may get the same buffer; what it writes is its own.
    second = EncryptingWriter(io.BytesIO(), file_id, key, 64 * KIB)
    second.write(b"x")
    second.abort()
    assert not any(record)


def test_zero_clears_only_the_prefix_asked_for_across_its_one_mib_steps() -> None:
    buf = bytearray(b"\xff") * (2 * 1024 * KIB + 300)
    zero(buf, 2 * 1024 * KIB + 100)  # past two steps of the shared zeros
    assert not any(buf[: 2 * 1024 * KIB + 100]) and set(buf[2 * 1024 * KIB + 100:]) == {255}
    view = memoryview(buf)[-50:]
    zero(view)  # a view is zeroed in place too
    assert not any(buf[-50:])


def test_zeros_are_shared_read_only_and_at_most_one_mib() -> None:
    pad = zeros(300)
    assert pad.readonly and bytes(pad) == bytes(300)
    with pytest.raises(ValueError):
        zeros(1024 * KIB + 1)
