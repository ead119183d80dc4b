"""Both blob backends behave the same: write-once, abort leaves nothing, safe names."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.blob_references import blob_references
from api.core.settings import Settings
from api.storage import BlobStorage, StorageError, generate_name, get_storage
from api.storage.local import LocalStorage
from api.storage.s3 import PART_SIZE
from api.storage.sweep import sweep_orphans
from tests.storage.moto_server import MotoS3


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStorage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "blobs")
        return
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    yield get_storage(Settings(data_dir=tmp_path, **moto.settings_overrides(moto.new_bucket())))


def _write(storage: BlobStorage, data: bytes, pieces: int = 3) -> str:
    name = generate_name("a")
    writer = storage.open_writer(name)
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        writer.write(data[i:i + step])
    assert writer.commit() == len(data)
    return name


def test_write_read_delete(storage: BlobStorage) -> None:
    name = _write(storage, b"ciphertext" * 100)
    assert storage.exists(name) and storage.size(name) == 1000
    with storage.open_reader(name) as f:
        assert f.read() == b"ciphertext" * 100
    assert [b.name for b in storage.iter_blobs()] == [name]
    storage.delete(name)
    storage.delete(name)  # idempotent
    assert not storage.exists(name) and list(storage.iter_blobs()) == []
    with pytest.raises(StorageError):
        storage.open_reader(name)


def test_multipart_sized_object(storage: BlobStorage) -> None:
    data = os.urandom(PART_SIZE + 12345)
    name = _write(storage, data, pieces=7)
    with storage.open_reader(name) as f:
        assert f.read() == data


def test_abort_leaves_nothing(storage: BlobStorage) -> None:
    name = generate_name("a")
    writer = storage.open_writer(name)
    writer.write(os.urandom(PART_SIZE + 10))  # S3: one part already sent
    writer.abort()
    assert not storage.exists(name)
    assert list(storage.iter_blobs()) == []


def test_uncommitted_writes_are_listed_as_partial_and_swept(storage: BlobStorage,
                                                            session: object) -> None:
    name = generate_name("a")
    writer = storage.open_writer(name)
    writer.write(os.urandom(PART_SIZE + 10))  # a crash would leave this behind
    listed = list(storage.iter_blobs())
    assert [(b.name, b.complete) for b in listed] == [(name, False)]
    assert not storage.exists(name)
    future = datetime.now(UTC) + timedelta(days=1)
    assert sweep_orphans(session, storage, timedelta(hours=1),  # type: ignore[arg-type]
                         blob_references(), now=future) == 1
    assert list(storage.iter_blobs()) == []


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/../../x", "a/" + "0" * 31, "A/" + "0" * 32,
                                 "a/" + "g" * 32, "/a/" + "0" * 32])
def test_only_generated_names_are_accepted(storage: BlobStorage, bad: str) -> None:
    with pytest.raises(StorageError):
        storage.open_writer(bad)
    with pytest.raises(StorageError):
        storage.delete(bad)


def test_local_files_are_private_and_inside_the_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "blobs")
    name = _write(storage, b"x" * 10)
    path = Path(storage.root) / "a" / name[2:4] / name[2:]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "blobs").stat().st_mode) == 0o700
    with pytest.raises(StorageError):
        storage.open_writer(name)  # write-once


def test_a_symlink_under_the_root_never_leads_a_blob_outside_it(tmp_path: Path) -> None:
    """Names cannot climb out of the root, but a symlink planted inside it could: a
    symlinked blob is not followed, and a symlinked folder that leads outside refuses."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not a blob")
    storage = LocalStorage(tmp_path / "blobs")
    name = _write(storage, b"x" * 10)
    path = Path(storage.root) / "a" / name[2:4] / name[2:]
    path.unlink()
    path.symlink_to(outside / "secret")
    with pytest.raises(StorageError):
        storage.open_reader(name)
    other = "a/" + "ee" + "0" * 30
    (Path(storage.root) / "a" / "ee").symlink_to(outside)
    for attempt in (storage.open_writer, storage.open_reader, storage.exists):
        with pytest.raises(StorageError, match="escapes"):
            attempt(other)
