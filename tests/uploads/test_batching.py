"""A PATCH body reaches the encrypting writer in batches of whole records
(api.uploads.service.BATCH_BYTES): bytes split anyhow by the network come out exact, a
dropped connection keeps every byte that arrived (also the ones still in a batch), and the
upload's lease is renewed on a clock, not per chunk."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator

import anyio
import pytest
from sqlmodel import Session, select

from api.cases.models import Case
from api.core.db import run_in_transaction
from api.ingress.files import RECORD_SIZE
from api.ingress.guards import ConnectionDropped
from api.ingress.inflight import UNWRITTEN
from api.uploads import service
from api.uploads.capabilities import UploadCapability
from api.uploads.router import renewing
from crypto.buffers import PLAINTEXT
from crypto.sha256_state import Sha256
from tests.intake.conftest import Intake
from tests.intake.helpers import read_back, report
from tests.uploads.test_tus import create, offset, patch

# Two whole batches, one record and a ragged end: every way a batch can fill and flush.
DATA = os.urandom(2 * service.BATCH_BYTES + RECORD_SIZE + 12_345)


async def _pieces(data: bytes, size: int, drop_after: int | None = None
                  ) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        if drop_after is not None and start >= drop_after:
            raise ConnectionDropped()
        yield data[start:start + size]


def _receive_and_commit(intake: Intake, url: str, at: int, chunks: AsyncIterator[bytes]
                        ) -> service.ReceivedSegment:
    cap = UploadCapability.parse(url)
    plan = run_in_transaction(intake.engine,
                              lambda s: service.plan_patch(s, intake.settings, cap, at))
    seg = anyio.run(service.receive_segment, plan, chunks, intake.storage, None)
    assert seg is not None
    run_in_transaction(intake.engine,
                       lambda s: service.commit_segment(s, intake.storage, plan, seg))
    return seg


def _stored_file(intake: Intake, url: str) -> bytes:
    r = intake.client.post("/api/v1/submissions", json=report(uploads=[url]))
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["sha256"] == hashlib.sha256(DATA).hexdigest()
    with Session(intake.engine) as s:
        case = s.exec(select(Case)).one()
        ((_, plain),) = read_back(s, intake.storage, case.id, intake.recovery_text)[1]
    return plain


def test_a_body_in_ragged_chunks_is_stored_exactly(intake: Intake) -> None:
    url = create(intake.client, len(DATA))
    # 100,003-byte chunks never line up with a record or a batch.
    seg = _receive_and_commit(intake, url, 0, _pieces(DATA, 100_003))
    assert (seg.size, seg.interrupted, seg.complete) == (len(DATA), False, True)
    assert _stored_file(intake, url) == DATA


def test_a_dropped_connection_keeps_the_bytes_still_in_a_batch(intake: Intake) -> None:
    url = create(intake.client, len(DATA))
    # Dropped one and a half batches in: half a batch had not reached the writer yet.
    cut = service.BATCH_BYTES + service.BATCH_BYTES // 2
    seg = _receive_and_commit(intake, url, 0, _pieces(DATA, 65_536, drop_after=cut))
    assert (seg.size, seg.interrupted) == (cut, True)
    assert offset(intake.client, url) == cut
    assert patch(intake.client, url, cut, DATA[cut:]).status_code == 204
    assert _stored_file(intake, url) == DATA


def test_the_lease_is_renewed_on_a_clock_not_per_chunk() -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        for i in range(n):
            yield bytes([i])

    async def run(every: float) -> tuple[bytes, int]:
        renewals: list[None] = []
        got = b"".join([c async for c in renewing(chunks(50), lambda: renewals.append(None),
                                                  every)])
        return got, len(renewals)

    # Every chunk still passes through; a long interval means no renewal within it ...
    assert anyio.run(run, 3600.0) == (bytes(range(50)), 0)
    # ... and a zero interval renews as each chunk arrives, as before.
    assert anyio.run(run, 0.0) == (bytes(range(50)), 50)


class _Recorder:
    """Stands in for the encrypting writer (and its async facade, whose ``writer`` the
    batch calls from a thread): keeps a copy of what each write hands over, and how many
    writes ran at once."""

    record_size = RECORD_SIZE
    buffered = 0

    def __init__(self, pause: float = 0.0) -> None:
        self.writes: list[bytes] = []
        self.pause = pause
        self.running = self.most_at_once = 0
        self.lock = threading.Lock()

    @property
    def writer(self) -> _Recorder:
        return self

    def write(self, data: memoryview) -> None:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.pause)
        self.writes.append(bytes(data))
        with self.lock:
            self.running -= 1


def test_a_trickling_body_holds_about_what_it_sent_not_a_whole_batch() -> None:
    recorder = _Recorder()
    batch = service._Batch(recorder, Sha256())  # type: ignore[arg-type]
    held: list[bytearray] = []

    async def feed() -> None:
        for _ in range(10):  # a phone trickling 10 bytes at a time
            await batch.add(b"x" * 10)
        assert len(batch._buf) <= 2 * 100 and recorder.writes == []
        await batch.add(DATA)  # then a burst: whole batches go out, the buffer is capped
        assert len(batch._buf) == service.BATCH_BYTES
        await batch.flush()
        held.extend(b for b in (batch._buf, batch._spare, batch._job_buf) if b is not None)

    anyio.run(feed)
    assert b"".join(recorder.writes) == b"x" * 100 + DATA
    assert all(len(w) == service.BATCH_BYTES for w in recorder.writes[:-1])
    batch.wipe()
    assert held and not any(any(b) for b in held)


def test_the_next_batch_arrives_while_one_is_encrypted_one_at_a_time() -> None:
    """The loop goes on receiving while a batch is written in a thread, and the writer
    (not thread-safe) never has two callers: at most one batch is in flight."""
    recorder = _Recorder(pause=0.05)
    whole = Sha256()
    batch = service._Batch(recorder, whole)  # type: ignore[arg-type]
    received_during_write: list[bool] = []

    async def feed() -> None:
        for start in range(0, len(DATA), 65_536):
            await batch.add(DATA[start:start + 65_536])
            job = batch._job
            received_during_write.append(job is not None and not job.done())
        await batch.flush()

    anyio.run(feed)
    batch.wipe()
    assert b"".join(recorder.writes) == DATA
    assert recorder.most_at_once == 1
    assert any(received_during_write)
    # Hashed beside the writes, batch by batch, in order: the file's SHA-256.
    assert whole.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_failed_write_surfaces_and_nothing_runs_beside_the_abort() -> None:
    class Failing(_Recorder):
        def write(self, data: memoryview) -> None:
            super().write(data)
            raise OSError("disk gone")

    recorder = Failing(pause=0.02)
    batch = service._Batch(recorder, Sha256())  # type: ignore[arg-type]

    async def feed() -> None:
        for start in range(0, len(DATA), 65_536):
            await batch.add(DATA[start:start + 65_536])
        await batch.flush()

    with pytest.raises(OSError, match="disk gone"):
        anyio.run(feed)
    batch.settle_now()
    assert recorder.running == 0
    batch.wipe()


def test_the_disk_guard_allows_for_the_batches_not_yet_written() -> None:
    """Two batches may have arrived and not reached the disk yet (one in flight, one
    filling): the disk reservation keeps that much (api.ingress.inflight.UNWRITTEN)."""
    assert UNWRITTEN >= 2 * service.BATCH_BYTES


def test_plaintext_is_zeroed_once_the_writer_has_it_and_a_small_file_zeroes_little() -> None:
    """A written batch is zeroed in its thread and a small flush at once, so what is left
    to wipe at the end is only what was never handed over; a small file that borrowed a
    pooled MiB zeroes its own bytes, not the whole MiB."""
    recorder = _Recorder()
    batch = service._Batch(recorder, Sha256())  # type: ignore[arg-type]

    async def feed() -> None:
        await batch.add(DATA[: service.BATCH_BYTES + 5])  # one batch goes out, 5 bytes wait
        await batch._settle()
        assert batch._spare is not None and not any(batch._spare)  # written: zeroed
        assert bytes(batch._buf[:5]) == DATA[service.BATCH_BYTES:service.BATCH_BYTES + 5]

    anyio.run(feed)
    batch.wipe()
    assert recorder.writes == [DATA[: service.BATCH_BYTES]]

    small = _Recorder()
    while PLAINTEXT.take_idle(service.BATCH_BYTES) is not None:
        pass  # room in the pool for the one below
    borrowed = PLAINTEXT.take(service.BATCH_BYTES)
    PLAINTEXT.give(borrowed, wipe=0)
    tiny = service._Batch(small, Sha256())  # type: ignore[arg-type]

    async def send_small() -> None:
        await tiny.add(DATA[:100_000])  # grows past _GROW_FROM_POOL: takes the idle MiB
        assert tiny._buf is borrowed
        await tiny.flush()  # fits one record: written inline, then zeroed
        assert not any(borrowed)

    anyio.run(send_small)
    tiny.wipe()
    assert small.writes == [DATA[:100_000]]
