"""Local blobs past their first DIRECT_FROM bytes are written with direct I/O
(api/storage/local.py): whatever sizes the writes come in, the file holds exactly the
bytes, and a filesystem that refuses direct I/O, at the switch or at a write, gets them
through the page cache instead, with nothing lost or reordered."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import random
from pathlib import Path

import pytest

from api.storage import generate_name, local
from api.storage.local import DIRECT_BLOCK, DIRECT_FROM, LocalStorage

pytestmark = pytest.mark.skipif(not getattr(os, "O_DIRECT", 0), reason="no O_DIRECT here")

# Writes that straddle blocks, the staging buffer and the switch to direct I/O.
SIZES = [1, 25, DIRECT_BLOCK - 1, DIRECT_BLOCK, DIRECT_BLOCK + 1, 262_160, 1 << 20,
         (1 << 20) + 7, 3_000_001]


def _write(storage: LocalStorage, data: bytes, seed: int) -> tuple[str, bool]:
    rng = random.Random(seed)
    writer = storage.open_writer(generate_name("a"))
    pos = 0
    while pos < len(data):
        n = rng.choice(SIZES)
        writer.write(data[pos:pos + n])
        pos += n
    direct = writer._direct
    assert writer.commit() == len(data)
    return writer.name, direct


def _supports_direct(path: Path) -> bool:
    fd = os.open(path / "probe", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        return local.LocalBlobWriter._set_direct(fd, True)
    finally:
        os.close(fd)
        os.unlink(path / "probe")


def _read(storage: LocalStorage, name: str) -> bytes:
    with storage.open_reader(name) as f:
        return f.read()


@pytest.mark.parametrize("size", [0, 100, DIRECT_FROM, DIRECT_FROM + 1, DIRECT_FROM + 4096,
                                  5 * 1024 * 1024 + 12_345])
def test_any_write_sizes_give_back_exactly_the_bytes(tmp_path: Path, size: int) -> None:
    storage = LocalStorage(tmp_path / "blobs")
    supported = _supports_direct(tmp_path)
    data = os.urandom(size)
    for seed in range(4):
        name, direct = _write(storage, data, seed)
        assert _read(storage, name) == data
        # Small blobs stay in the page cache; large ones switch where the disk allows it.
        assert direct == (supported and size > DIRECT_FROM)


def test_a_large_blob_is_written_directly_where_the_disk_allows_it(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "blobs")
    writer = storage.open_writer(generate_name("a"))
    if not _supports_direct(tmp_path):
        pytest.skip("this filesystem refuses direct I/O")
    writer.write(os.urandom(DIRECT_FROM + 3 * DIRECT_BLOCK + 5))
    assert writer._direct
    assert writer._carry and len(writer._carry) < DIRECT_BLOCK  # the tail waits for commit
    writer.commit()


def test_direct_io_can_be_switched_off(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "blobs", direct_io=False)
    data = os.urandom(3 * DIRECT_FROM)
    name, direct = _write(storage, data, 1)
    assert not direct and _read(storage, name) == data


def test_a_filesystem_refusing_the_switch_keeps_the_page_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fcntl.fcntl

    def refuse(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        result: int = real(fd, cmd, arg)
        return result

    monkeypatch.setattr(fcntl, "fcntl", refuse)
    storage = LocalStorage(tmp_path / "blobs")
    data = os.urandom(4 * DIRECT_FROM + 777)
    name, direct = _write(storage, data, 2)
    assert not direct and _read(storage, name) == data


def test_a_write_refused_part_way_loses_and_reorders_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Direct I/O accepted by fcntl, then a direct write refused: that block and every
    later byte (the carried remainder first) go through the page cache."""
    real_write = os.write
    refused: list[int] = []

    def write(fd: int, data: memoryview) -> int:
        if os.O_DIRECT & fcntl.fcntl(fd, fcntl.F_GETFL) and not refused:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        written: int = real_write(fd, data)
        return written

    monkeypatch.setattr(os, "write", write)
    storage = LocalStorage(tmp_path / "blobs")
    data = os.urandom(4 * DIRECT_FROM + 4321)
    name, direct = _write(storage, data, 3)
    assert refused and not direct
    assert _read(storage, name) == data


def _run_buffer(data: bytes, start: int) -> mmap.mmap:
    buf = mmap.mmap(-1, start + len(data) + 4096)
    buf[start:start + len(data)] = data
    return buf


@pytest.mark.parametrize("direct_io", [True, False])
def test_runs_go_out_from_their_own_buffer_and_give_back_exactly_the_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_io: bool) -> None:
    """The encrypting writer hands runs of records over as (buffer, start, end), lying at
    the stream's offset modulo the block (crypto.stream.writer): direct writes go out
    from that buffer, with the carried bytes put before the run, and no staging copy;
    without direct I/O (or before it is on) they are plain writes."""
    storage = LocalStorage(tmp_path / "blobs", direct_io=direct_io)
    staged: list[int] = []
    real_take = local._STAGING.take

    def take(size: int) -> mmap.mmap:
        staged.append(size)
        return real_take(size)

    monkeypatch.setattr(local._STAGING, "take", take)
    rng = random.Random(5)
    data = os.urandom(9 * 1024 * 1024 + 333)
    writer = storage.open_writer(generate_name("a"))
    writer.write(data[:40])  # a header
    pos, staged_once_direct = 40, 0
    while pos < len(data):
        n = min(len(data) - pos, rng.choice([4 * 262_160, 262_160, 3 * 262_160, 9]))
        was_direct = writer._direct
        writer.write_run(_run_buffer(data[pos:pos + n], pos % DIRECT_BLOCK), pos % DIRECT_BLOCK,
                         pos % DIRECT_BLOCK + n)
        if was_direct:
            staged_once_direct += len(staged)
        staged.clear()
        pos += n
    writer.commit()
    assert _read(storage, writer.name) == data
    if direct_io and _supports_direct(tmp_path):
        assert staged_once_direct == 0  # every run went out from its own buffer


def test_a_run_not_lined_up_with_the_carry_is_still_written_exactly(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "blobs")
    data = os.urandom(3 * DIRECT_FROM + 99)
    writer = storage.open_writer(generate_name("a"))
    writer.write(data[:DIRECT_FROM + 17])  # direct from here on, 17 bytes carried
    rest = data[DIRECT_FROM + 17:]
    writer.write_run(_run_buffer(rest, 100), 100, 100 + len(rest))  # room for 100, not 17
    writer.commit()
    assert _read(storage, writer.name) == data
