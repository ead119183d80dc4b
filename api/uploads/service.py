"""Resumable uploads following tus 1.0 (core, creation, creation-with-upload,
termination, expiration, checksum).

Storage model: a finished upload IS its ordered parts. Every accepted PATCH is stored as
one *part* (:class:`api.cases.files.models.FilePart`), a complete ``crypto.stream`` file of
that PATCH's bytes under a fresh part key. The part key, the part's stream id and its exact
size are sealed under the upload's *file key* (made at creation, wrapped under the upload
key) for (upload id, seq). Finishing costs what any PATCH costs: nothing is decrypted,
re-encrypted or copied; a submission claims the upload by re-wrapping the one file key
under the case key and moving the part rows to the attachment in one UPDATE
(:func:`claim_upload`, :func:`hand_over`). Readers go through :mod:`api.cases.files.stored`.

Why parts and not one merged file: merging was a second encryption pass over the whole
file while the disk held it twice, and it made the last PATCH take as long as all the
others together. Why a fresh key per PATCH: a PATCH that fails (bad checksum, dropped
connection, a lost race) is deleted and its retry is encrypted under a new key, so a record
nonce is never reused with other plaintext and no partial record is carried between
requests. Nothing bounds the number of parts: each costs one row and one blob, and a
retry that failed leaves neither.

What finishing still needs, carried between PATCHes in the sealed progress (under the
upload key, :class:`api.uploads.capabilities.Progress`) instead of re-read at the end:
the SHA-256 of the whole file (chain of custody) as an exported hash state
(:mod:`crypto.sha256_state`; the state holds up to 63 plaintext bytes, hence sealed), and
the file type, sniffed as soon as the first bytes are in (the head is kept sealed until
there are enough). Size consistency: each part's exact size is sealed with it and the
reader refuses parts that do not add up to the file's sealed size, so a missing or
substituted part is never handed out as a short file.

Sizes at rest: the declared length and the received offset are sealed; parts carry no
plaintext offset or size, only the padded (Padmé bucket) ciphertext size for fsck. The
last part carries zeros after its data (its sealed size excludes them, see
:func:`filler_size`) so that, finished, the parts take at least the Padmé bucket of the
whole file. What the parts still show is their number and each one's bucket (for equal
chunks: the chunk count, so the size to within one chunk). Every
request that can act on an upload has its URL, so it can open them; nothing without the
URL (fsck, the expiry sweep, backups) needs them.

Concurrency and crashes: a PATCH reads the upload in one short transaction (opening the
sealed progress and checking it against ``Upload-Offset``), streams without holding any
database transaction (so a slow phone never blocks other writers), and commits with a
compare-and-set on the plaintext PATCH counter ``upload.patch_seq`` it read (the sealed
offset cannot be compared in SQL); if two PATCHes race, exactly one UPDATE matches, the
other gets 409 and its part is deleted. Blobs of a transaction that does not commit
are deleted at once (:mod:`api.storage.pending`), and the orphan sweep catches what a
crash leaves.

Interrupted PATCH: if the connection drops and the client sent no checksum, the bytes
received so far are kept as a part (tus: the server SHOULD keep what it received) and
``HEAD`` reports the new offset; with a checksum nothing is kept, as it cannot be
verified. Expired uploads are deleted by :func:`expire_uploads` (run by the workers).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import os
import uuid
from collections.abc import AsyncIterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from sqlmodel import Session

from api.cases.files import repository as files_repository
from api.cases.files import stored
from api.core.errors import BadRequest, Conflict, Gone, NotFound, PayloadTooLarge
from api.core.models import day_ceil, day_floor, utcnow
from api.core.settings import Settings
from api.ingress import filetypes, guards
from api.ingress.files import RECORD_SIZE, TypeMismatch, check_filename
from api.ingress.guards import ConnectionDropped
from api.keys.service import NoRecoveryKey
from api.storage.base import BlobStorage, BlobWriter, generate_name
from api.storage.pending import delete_after_commit, delete_on_rollback
from api.uploads import capabilities, repository
from api.uploads.checksum import Checksum
from api.uploads.models import NewUpload, Upload, UploadView
from crypto import AsyncEncryptingWriter, DataKey, EncryptingWriter
from crypto.buffers import PLAINTEXT, zero, zeros
from crypto.errors import CryptoError
from crypto.padding import padded_size
from crypto.sha256_state import Sha256
from crypto.stream import StreamResult

SEGMENT_KIND = "s"
RECEIVING = "receiving"
COMPLETE = "complete"


class UploadNotFound(NotFound):
    default_message = "No such upload (the link may be mistyped, finished or deleted)."


class UploadExpired(Gone):
    default_message = "This upload has expired and will be deleted; please start again."


class UploadInconsistent(Conflict):
    default_message = (
        "The stored pieces of this upload do not add up; delete it and start the upload "
        "again."
    )


class OffsetMismatch(Conflict):
    default_message = (
        "Upload-Offset does not match what the server has: ask with HEAD and continue "
        "from the offset it reports."
    )


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata: key base64,key base64``; only filename and type are kept."""
    out: dict[str, str] = {}
    if not header:
        return out
    if len(header) > 8192:
        raise BadRequest("Upload-Metadata is too long.")
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        if key not in ("filename", "filetype", "name", "type"):
            continue  # other metadata is dropped unread: we keep nothing we do not need
        try:
            text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise BadRequest("Upload-Metadata values must be base64 of UTF-8 text.") from None
        out["filename" if key in ("filename", "name") else "filetype"] = text
    if "filename" in out:
        out["filename"] = check_filename(out["filename"])
    out["filetype"] = filetypes.normalise_claim(out.get("filetype"))
    return out


def expiry(settings: Settings, now: datetime) -> datetime:
    # Rounded up to whole days: the row must not date the submitter's upload (property 13).
    return day_ceil(now + timedelta(hours=settings.upload_expiry_hours))


def new_upload(settings: Settings, length: int, metadata: dict[str, str],
               now: datetime | None = None) -> tuple[NewUpload, capabilities.UploadCapability]:
    """An upload's row and capability, not yet stored (:func:`add_upload` stores it)."""
    upload, cap, _ = _new(settings, length, metadata, now)
    return upload, cap


def new_upload_with_bytes(settings: Settings, length: int, metadata: dict[str, str],
                          now: datetime | None = None,
                          ) -> tuple[NewUpload, capabilities.UploadCapability, PatchPlan]:
    """:func:`new_upload` for a creation that carries the first bytes (tus creation-with-
    upload), with the plan of those bytes. Nobody else has its URL, so nothing is read
    back from the database, and the plan holds the values just sealed (the file key, the
    metadata, the starting progress) instead of opening them again;
    :func:`commit_segment` then stores the row and the part in one transaction."""
    upload, cap, (file_key, start) = _new(settings, length, metadata, now)
    plan = PatchPlan(
        cap=cap, key=cap.key(), file_key=file_key, state=start, seq=0,
        claimed_type=metadata.get("filetype") or "", metadata=dict(metadata),
        expires_at=upload.expires_at)
    return upload, cap, plan


def _new(settings: Settings, length: int, metadata: dict[str, str], now: datetime | None,
         ) -> tuple[NewUpload, capabilities.UploadCapability,
                    tuple[DataKey, capabilities.Progress]]:
    guards.check_file_size(settings, length)  # also checked at the door, before the disk
    now = now or utcnow()
    cap = capabilities.UploadCapability.generate()
    key = cap.key()
    start = capabilities.Progress(length, 0, 0, Sha256().export())
    file_key = DataKey.generate()
    upload = NewUpload(
        id=cap.upload_id, secret_hash=cap.secret_hash, patch_seq=0,
        sealed_progress=capabilities.seal_progress(key, cap.upload_id, start),
        state=RECEIVING, expires_at=expiry(settings, now), created_at=day_floor(now),
        sealed_metadata=capabilities.seal_metadata(key, cap.upload_id, dict(metadata)),
        final_wrapped_key=capabilities.wrap_final_key(key, cap.upload_id, file_key),
    )
    return upload, cap, (file_key, start)


def add_upload(session: Session, upload: NewUpload) -> None:
    """Store a new upload's row."""
    # An upload only ever becomes part of a case, and no case may exist without a
    # recovery wrap: refuse (503) before the client sends a byte (with creation-with-
    # upload, before anything of it is kept). The check is part of the INSERT.
    if not repository.insert_while_recoverable(session, upload):
        raise NoRecoveryKey()


def load_upload(session: Session, cap: capabilities.UploadCapability | None,
                now: datetime | None = None) -> Upload:
    """The upload ``cap`` opens, as an ORM object (to change or delete it)."""
    return _found(repository.get(session, cap.upload_id) if cap is not None else None,
                  cap, now)


def look_up(session: Session, cap: capabilities.UploadCapability | None,
            now: datetime | None = None) -> UploadView:
    """The upload ``cap`` opens and its part count, for a request that only reads them."""
    return _found(repository.view(session, cap.upload_id) if cap is not None else None,
                  cap, now)


_Row = TypeVar("_Row", Upload, UploadView)


def _found(upload: _Row | None, cap: capabilities.UploadCapability | None,
           now: datetime | None) -> _Row:
    if upload is None or cap is None or not cap.matches(upload.secret_hash):
        raise UploadNotFound()
    if upload.expires_at <= (now or utcnow()):
        raise UploadExpired()
    return upload


def open_progress(upload: Upload | UploadView, key: DataKey) -> capabilities.Progress:
    """A receiving upload's sealed progress. It must have been sealed for the current
    ``patch_seq``: an older value written back (a rollback by someone who can write to
    the database) is refused, not resumed."""
    if upload.sealed_progress is None:
        raise UploadInconsistent()
    try:
        state = capabilities.open_progress(key, upload.id, upload.sealed_progress)
    except CryptoError:
        # The URL matched, so the key is right: the stored value was altered.
        raise UploadInconsistent() from None
    if state.patches != upload.patch_seq or state.offset > state.length:
        raise UploadInconsistent()
    return state


def progress(upload: Upload | UploadView, cap: capabilities.UploadCapability
             ) -> tuple[int, int]:
    """``(length, offset)`` of an upload opened with its capability (for HEAD and PATCH).
    A complete upload's size is in its sealed metadata."""
    key = cap.key()
    if upload.state == COMPLETE:
        size = capabilities.open_metadata(key, upload.id, upload.sealed_metadata).get("size")
        if type(size) is not int:
            raise UploadInconsistent()
        return size, size
    state = open_progress(upload, key)
    return state.length, state.offset


@dataclass
class PatchPlan:
    cap: capabilities.UploadCapability
    key: DataKey  # the upload key (derived once per request)
    file_key: DataKey
    state: capabilities.Progress
    seq: int  # the upload's patch_seq when planned: the compare-and-set value and the
    # new part's number (parts are numbered by accepted PATCH)
    claimed_type: str
    metadata: dict[str, object]  # the sealed metadata, opened (resealed on completion)
    expires_at: datetime  # tus expiration: told to the client with every PATCH

    @property
    def offset(self) -> int:
        return self.state.offset

    @property
    def length(self) -> int:
        return self.state.length

    def __repr__(self) -> str:
        return f"PatchPlan({self.cap.upload_id}, seq={self.seq})"


def plan_patch(session: Session, settings: Settings, cap: capabilities.UploadCapability | None,
               offset: int) -> PatchPlan:
    upload = look_up(session, cap)
    assert cap is not None
    if upload.state != RECEIVING:
        raise Conflict("This upload is already complete.")
    if upload.final_wrapped_key is None:
        raise UploadInconsistent()
    key = cap.key()
    state = open_progress(upload, key)
    if offset != state.offset:
        raise OffsetMismatch()
    if upload.parts != upload.patch_seq:
        raise UploadInconsistent()  # every accepted PATCH left exactly one part
    try:
        file_key = capabilities.unwrap_final_key(key, upload.id, upload.final_wrapped_key)
        meta = capabilities.open_metadata(key, upload.id, upload.sealed_metadata)
    except CryptoError:
        raise UploadInconsistent() from None
    return PatchPlan(cap=cap, key=key, file_key=file_key, state=state, seq=upload.patch_seq,
                     claimed_type=str(meta.get("filetype") or ""), metadata=meta,
                     expires_at=upload.expires_at)


@dataclass
class SealedSegment:
    """A PATCH's part, whole and durable in storage: what :func:`commit_segment` records."""

    id: uuid.UUID
    blob_name: str
    key: DataKey
    size: int
    ciphertext_size: int
    state: capabilities.Progress  # the progress after this PATCH

    @property
    def complete(self) -> bool:
        return self.state.offset == self.state.length

    def __repr__(self) -> str:
        return f"SealedSegment({self.blob_name}, {self.size})"


@dataclass
class ReceivedSegment:
    """A PATCH's bytes, all in and encrypted but for the last record, not yet durable.

    Finishing it runs in a helper, begun by :func:`receive_segment` as it returns
    (:meth:`start_sealing`): the last record, then the blob's commit (the fsyncs and the
    rename; with S3, the upload's completion), while the request goes on to the
    transaction that records the part. :meth:`seal` waits for the records (their size
    and hash go into the statements), :meth:`durable` for the commit, before the
    transaction commits. The statements and the fsyncs took turns before: 0.9 and 0.7
    ms of an 8 MiB PATCH's 6 ms after its last byte, on a busy host
    (bench/tus_peers.py). Begun from the transaction's thread instead, the commit's
    helper waited up to a millisecond for the GIL, which that thread held through the
    statements. SQLite's write lock, taken at the first statement, is held at most for
    what the fsyncs take beyond the statements.
    """

    id: uuid.UUID
    blob_name: str
    key: DataKey
    size: int
    interrupted: bool
    offset: int  # the upload's offset after this PATCH
    _plan: PatchPlan
    _writer: EncryptingWriter
    _blob: BlobWriter
    _whole: Sha256
    _head: bytes
    _detected: str | None
    _sealed: SealedSegment | None = None
    _sealing: Future[StreamResult] | None = None  # the last record written
    _storing: Future[int] | None = None  # then the blob's commit

    @property
    def complete(self) -> bool:
        return self.offset == self._plan.length

    def start_sealing(self) -> None:
        """Begin finishing the part in a helper (see the class); once only."""
        if self._sealing is not None:
            return
        self._sealing, self._storing = Future(), Future()
        _batch_pool().submit(self._seal_and_store)

    def _seal_and_store(self) -> None:
        assert self._sealing is not None and self._storing is not None
        try:
            result = self._writer.finish()
        except BaseException as exc:
            self.discard_unsealed()  # nothing of it is left in storage
            self._sealing.set_exception(exc)
            self._storing.set_exception(exc)
            return
        self._sealing.set_result(result)
        try:
            self._storing.set_result(self._blob.commit())
        except BaseException as exc:
            self._storing.set_exception(exc)

    def seal(self) -> SealedSegment:
        """The part with its records finished (waits for them; idempotent). Raises if
        they could not be written: nothing of the part is left in storage then."""
        if self._sealed is not None:
            return self._sealed
        self.start_sealing()
        assert self._sealing is not None
        result = self._sealing.result()
        plan = self._plan
        state = capabilities.Progress(
            plan.length, self.offset, plan.seq + 1, self._whole.export(), self._head,
            self._detected, plan.state.stored + padded_size(result.plaintext_size))
        self._sealed = SealedSegment(self.id, self.blob_name, self.key, self.size,
                                     result.ciphertext_size, state)
        return self._sealed

    def durable(self) -> None:
        """Return once the sealed part is whole and durable in storage, under its name;
        raise if it cannot be (nothing of it is left in storage then). Before the
        transaction that records the part commits."""
        if self._storing is None:
            raise RuntimeError("durable() before seal()")
        try:
            self._storing.result()
        except BaseException:
            self._blob.abort()  # what a failed fsync left under the writing name
            raise

    def settle(self) -> None:
        """Wait for the finishing, if it was begun, ignoring its errors: before the part
        is deleted, which must not race its writes or its rename into place."""
        if self._storing is not None:
            wait([self._storing])

    def discard_unsealed(self) -> None:
        self._writer.abort()
        self._blob.abort()

    def discard(self, storage: BlobStorage) -> None:
        """Remove the part from storage, finished or not (its transaction did not
        commit)."""
        if self._sealing is None:
            self.discard_unsealed()
            return
        self.settle()  # then delete takes what it left, under either name
        storage.delete(self.blob_name)

    def __repr__(self) -> str:
        return f"ReceivedSegment({self.blob_name}, {self.size})"


async def receive_segment(
    plan: PatchPlan, chunks: AsyncIterable[bytes], storage: BlobStorage,
    checksum: Checksum | None,
) -> ReceivedSegment | None:
    """Encrypt one PATCH body into a new part blob, and begin finishing it (see
    :class:`ReceivedSegment`); None if nothing arrived (unless the upload is empty: its
    one part, all filler, completes it).

    ``chunks`` reports a client that went away as :class:`ConnectionDropped`, as
    :func:`api.ingress.guards.timed_stream` does. Raises TypeMismatch (after deleting the
    blob) once the first bytes show a type other than the one claimed.
    """
    seg_id = uuid.uuid4()
    seg_key = DataKey.generate()
    try:
        whole = Sha256.restore(plan.state.sha256)
    except CryptoError:
        raise UploadInconsistent() from None
    blob = storage.open_writer(generate_name(SEGMENT_KIND))
    # The file's SHA-256 is taken by the batches, beside the encryption (see _Batch), so
    # the writer hashes nothing.
    writer = AsyncEncryptingWriter.create(blob, seg_id.bytes, seg_key, RECORD_SIZE,
                                          hashing=False)
    extra = checksum.hasher() if checksum is not None else None
    room = plan.length - plan.offset
    head = bytearray(plan.state.head)
    detected = plan.state.detected
    received = 0
    interrupted = False
    batch = _Batch(writer, whole)
    try:
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > room:
                    raise PayloadTooLarge(
                        "More bytes were sent than the Upload-Length declared at creation."
                    )
                if extra is not None:
                    extra.update(chunk)
                if detected is None and len(head) < filetypes.SNIFF_BYTES:
                    head += chunk[: filetypes.SNIFF_BYTES - len(head)]
                    if len(head) >= filetypes.SNIFF_BYTES:
                        # Judged as soon as the first bytes are in, before any is kept:
                        # a refusal comes now, not after the rest of the file was sent.
                        detected = _check_type(plan.claimed_type, bytes(head))
                await batch.add(chunk)
        except ConnectionDropped:
            if checksum is not None or received == 0:
                raise
            interrupted = True
        await batch.flush()  # what arrived before the end (or the drop) is kept
        if received == 0 and plan.offset < plan.length:
            writer.abort()
            blob.abort()
            return None
        offset = plan.offset + received
        if detected is None and (len(head) >= filetypes.SNIFF_BYTES or offset == plan.length):
            detected = _check_type(plan.claimed_type, bytes(head))
        if offset == plan.length:
            # The filler goes to the writer, never through a batch: not hashed.
            await _write_filler(writer, filler_size(plan.length, plan.state.stored, received))
        if checksum is not None:
            checksum.verify(extra)
    except BaseException:
        batch.settle_now()
        writer.abort()
        blob.abort()
        raise
    finally:
        batch.wipe()
    segment = ReceivedSegment(
        seg_id, blob.name, seg_key, received, interrupted, offset, plan, writer.writer, blob,
        whole, b"" if detected is not None else bytes(head), detected)
    segment.start_sealing()
    return segment


# Bytes gathered before one hand-over to the writer. The server's reads bring 64-256 KiB
# at a time; handing each to the writer cost a thread hop (and a lock, a pool hand-off and
# a copy into the record buffer) per record. A batch of whole records goes in one hop and
# is encrypted straight from this buffer. The price: up to two batches of plaintext of one
# upload in memory (never on disk), the one being encrypted and the one filling.
BATCH_BYTES = 4 * RECORD_SIZE
# A batch growing to this size or more takes an idle full-size one from the pool instead.
_GROW_FROM_POOL = 64 * 1024


@functools.cache
def _batch_pool() -> ThreadPoolExecutor:
    """The threads batches are encrypted in, and parts finished in (see
    :class:`ReceivedSegment`): their own, not the writer's stream pool, whose jobs (a
    sink write) both wait on; a job waiting on its own pool could starve it. No job
    here waits on another job here."""
    return ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1)),
                              thread_name_prefix="dokaz-batch")


class _Batch:
    """Chunks of one PATCH body gathered into whole-record batches for the writer.

    One batch is encrypted (sealed and written; hashed into the file's SHA-256 in a
    second thread meanwhile) in a thread while the loop goes on receiving into the next:
    the loop's share of the work (socket reads, HTTP parsing, the copy into the batch)
    and the crypto's overlap on two cores instead of taking turns. At most one batch is
    in flight, so the writer (not thread-safe) has one caller at a time and the records
    stay in order. A second buffer is taken only while the first is still being
    encrypted: a slow client, whose batch is done long before its next bytes come, keeps
    one.

    Full-size buffers come from, and go back to, the shared plaintext pool
    (:mod:`crypto.buffers`): a PATCH after PATCH reuses resident pages instead of
    faulting in two fresh MiB each time. Plaintext is zeroed as soon as the writer has
    it (a written batch in its thread, a small flush at once), so a buffer holds only
    bytes not yet handed over: :meth:`wipe` zeroes just those, and a small file does not
    pay for zeroing the MiB it borrowed.
    """

    def __init__(self, writer: AsyncEncryptingWriter, hasher: Sha256) -> None:
        self._writer = writer
        self._hasher = hasher  # the whole file's SHA-256: each batch goes into it
        # Grown as bytes arrive (doubling, up to BATCH_BYTES), then reused: an idle or
        # trickling PATCH holds about what it sent, not a whole batch, so a flood of
        # silent uploads cannot make each cost a MiB.
        self._buf = bytearray()
        self._fill = 0
        self._spare: bytearray | None = None  # a buffer whose batch is written
        self._job: Future[None] | None = None  # the batch in flight
        self._job_buf = bytearray()

    async def add(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk).cast("B")
        while view:
            if self._fill == 0 and self._job is not None and self._job.done():
                self._reap()
                self._swap()
            take = min(len(view), BATCH_BYTES - self._fill)
            end = self._fill + take
            if end > len(self._buf):
                self._grow(end)
            # Through a view: a slice of a bytearray assigned a memoryview copies it into
            # a temporary bytearray first (see crypto.stream.writer).
            with memoryview(self._buf) as target:
                target[self._fill:end] = view[:take]
            self._fill = end
            view = view[take:]
            if self._fill == BATCH_BYTES:
                await self._hand_over()

    def _grow(self, end: int) -> None:
        size = min(BATCH_BYTES, max(end, 2 * len(self._buf)))
        # Past the first reads, a resident full-size buffer if one is idle: growing step
        # by step faults in fresh pages at every step.
        full = PLAINTEXT.take_idle(BATCH_BYTES) if size >= _GROW_FROM_POOL else None
        if full is None:
            self._buf.extend(bytes(size - len(self._buf)))
            return
        with memoryview(full) as target:
            target[:self._fill] = memoryview(self._buf)[:self._fill]
        zero(self._buf, self._fill)
        self._buf = full

    async def flush(self) -> None:
        """Return once every byte added is written (or raise the writer's error)."""
        w = self._writer.writer
        if self._fill and self._job is None and w.buffered + self._fill <= w.record_size:
            # Fits the writer's record buffer: a copy, not worth a thread (a small file).
            with memoryview(self._buf) as view:
                self._hasher.update(view[:self._fill])
                w.write(view[:self._fill])
            zero(self._buf, self._fill)
            self._fill = 0
        elif self._fill:
            await self._hand_over()
        await self._settle()

    async def _hand_over(self) -> None:
        await self._settle()  # one batch in flight: order, and plaintext held bounded
        view = memoryview(self._buf)[:self._fill]
        # The writer is done with the plaintext when write returns (only ciphertext
        # outlives the call, see crypto.stream.writer), so the buffer can be refilled then.
        self._job = _batch_pool().submit(_write_batch, self._writer.writer, self._hasher, view)
        self._job_buf, self._fill = self._buf, 0
        # A body that filled a batch goes on fast: a full-size buffer at once.
        self._buf = self._spare if self._spare is not None else PLAINTEXT.take(BATCH_BYTES)
        self._spare = None

    async def _settle(self) -> None:
        if self._job is not None:
            # Cancelled meanwhile, the job still runs to its end: wipe() waits for it.
            await asyncio.wrap_future(self._job)
            self._reap()

    def _reap(self) -> None:
        job, self._job = self._job, None
        assert job is not None
        self._spare = self._job_buf
        self._job_buf = bytearray()
        job.result()  # the writer's error, if it failed

    def _swap(self) -> None:
        # The written buffer is the one filled before: reuse it and let the newer go,
        # so a client that turned slow holds one buffer again.
        if self._spare is not None and len(self._spare) >= len(self._buf):
            self._release(self._buf)  # empty: _swap runs only before the first byte
            self._buf, self._spare = self._spare, None

    def settle_now(self) -> None:
        """Wait (blocking) for the batch in flight, ignoring its error: before the writer
        is aborted, which must not run beside its write."""
        if self._job is not None:
            wait([self._job])

    def wipe(self) -> None:
        """Zero what was not handed over (best effort, as the writer does with its own)
        and give the full-size buffers back to the pool. The others hold nothing: a
        written batch was zeroed in its thread."""
        self.settle_now()
        zero(self._buf, self._fill)
        for buf in (self._buf, self._spare, self._job_buf):
            if buf is not None:
                self._release(buf)
        self._buf, self._spare, self._job_buf, self._fill = bytearray(), None, bytearray(), 0

    @staticmethod
    def _release(buf: bytearray) -> None:
        """Give a zeroed full-size buffer back to the pool (others are just dropped)."""
        if len(buf) == BATCH_BYTES:
            PLAINTEXT.give(buf, wipe=0)


@functools.cache
def _hash_pool() -> ThreadPoolExecutor:
    """Where a batch is hashed while its thread encrypts and writes it. SHA-256 was the
    slowest link of that chain (each record hashed, then written after the one before):
    in parallel, a batch costs the longer of the two, not their sum. Its jobs wait on
    nothing, so a batch waiting on one cannot starve it."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1),
                              thread_name_prefix="dokaz-hash")


def _write_batch(writer: EncryptingWriter, hasher: Sha256, view: memoryview) -> None:
    # One batch in flight per upload (see _Batch), so the whole-file hash takes the
    # batches in order.
    hashing = _hash_pool().submit(hasher.update, view)
    try:
        writer.write(view)
    finally:
        wait([hashing])  # the plaintext is read by both until here
        zero(view)  # the writer is done with the plaintext (or failed): none is kept
        view.release()  # the buffer may be grown again once its batch is written
    hashing.result()


def filler_size(length: int, stored: int, received: int) -> int:
    """Zeros after the last part's data, so the parts together take at least the Padmé
    bucket of the whole file (what one merged file took). Without it the sum of the parts'
    buckets would give the file's size far more exactly than one bucket does (a full
    8 MiB part is its own bucket; only the last, short part would be rounded)."""
    return max(0, padded_size(length) - stored - received)


async def _write_filler(writer: AsyncEncryptingWriter, size: int) -> None:
    while size:
        step = min(size, RECORD_SIZE)
        await writer.write(zeros(step))
        size -= step


def _check_type(claimed: str, head: bytes) -> str:
    detected = filetypes.detect(head)
    if not filetypes.matches(claimed or filetypes.OCTET, detected):
        raise TypeMismatch(
            f"The uploaded file does not contain what its type says (its content looks "
            f"like {detected}). The upload was deleted; send it again without a type, "
            "or with the right one."
        )
    return detected


def commit_segment(
    session: Session, storage: BlobStorage, plan: PatchPlan, received: ReceivedSegment,
    new: NewUpload | None = None,
) -> int:
    """Record an accepted PATCH as the upload's next part (and completion, with the
    hash and type carried in the progress); return the new offset.

    ``new``: the upload this request creates (creation-with-upload,
    :func:`new_upload_with_bytes`), not stored yet. It is stored already advanced, with no
    compare-and-set: nobody else has its URL, and one INSERT costs less than an INSERT
    and an UPDATE.

    The part is sealed first, before the session's first statement (it begins its
    transaction then); its blob is made durable meanwhile, and this returns (and the
    transaction commits) only once it is (see :class:`ReceivedSegment`)."""
    seg = received.seal()
    try:
        offset = _record_segment(session, storage, plan, seg, new)
    except BaseException:
        received.settle()  # the rollback deletes the blob: not before it is in place
        raise
    received.durable()
    return offset


def _record_segment(session: Session, storage: BlobStorage, plan: PatchPlan,
                    seg: SealedSegment, new: NewUpload | None) -> int:
    delete_on_rollback(session, storage, seg.blob_name)
    upload_id = plan.cap.upload_id
    done = seg.complete
    # Once complete the sealed metadata holds the size, hash and type; the progress is no
    # longer kept. Either way one compare-and-set UPDATE.
    sealed = None if done else capabilities.seal_progress(plan.key, upload_id, seg.state)
    meta = None
    if done:
        final = {**plan.metadata, "detected_type": seg.state.detected or filetypes.OCTET,
                 "size": plan.length, "sha256": Sha256.restore(seg.state.sha256).hexdigest()}
        meta = capabilities.seal_metadata(plan.key, upload_id, final)
    if new is not None:
        add_upload(session, replace(
            new, patch_seq=plan.seq + 1, sealed_progress=sealed,
            state=RECEIVING if meta is None else COMPLETE,
            sealed_metadata=new.sealed_metadata if meta is None else meta))
    elif not repository.advance(session, upload_id, plan.seq, sealed, meta):
        raise OffsetMismatch()
    files_repository.add_part(
        session, id=seg.id, upload_id=upload_id, seq=plan.seq, blob_name=seg.blob_name,
        ciphertext_size=seg.ciphertext_size,
        sealed_part=stored.seal_part(plan.file_key, upload_id, plan.seq, seg.id, seg.key,
                                     seg.size))
    return seg.state.offset


def delete_upload(session: Session, storage: BlobStorage, upload: Upload) -> None:
    """Delete an upload; its blobs go once the deletion has committed."""
    for part in files_repository.upload_parts(session, upload.id):
        delete_after_commit(session, storage, part.blob_name)
        session.delete(part)
    session.flush()  # parts first: no ORM relationship orders these deletes for us
    if upload.final_blob_name:
        delete_after_commit(session, storage, upload.final_blob_name)
    session.delete(upload)
    session.flush()


def expire_uploads(session: Session, storage: BlobStorage, now: datetime | None = None) -> int:
    """Delete uploads past their expiry (finished or not). For the workers' schedule."""
    count = 0
    for upload in repository.expired(session, now or utcnow()):
        delete_upload(session, storage, upload)
        count += 1
    return count


@dataclass
class ClaimedUpload:
    """A finished upload taken over by a submission (see api.intake.service)."""

    attachment_id: uuid.UUID
    blob_name: str | None  # None: the file is the upload's parts (see hand_over)
    file_key: DataKey
    metadata: dict[str, object]
    ciphertext_size: int

    def __repr__(self) -> str:
        return f"ClaimedUpload({self.attachment_id})"


class UploadNotReady(Conflict):
    default_message = "An upload named in the submission is not finished yet."


def claim_upload(session: Session, reference: str, now: datetime | None = None) -> ClaimedUpload:
    """Open a finished upload for an attachment with its capability. The caller adds
    the attachment row (same id) and then calls :func:`hand_over`."""
    cap = capabilities.UploadCapability.parse(reference)
    upload = load_upload(session, cap, now)
    assert cap is not None
    if upload.state != COMPLETE or upload.final_wrapped_key is None:
        raise UploadNotReady()
    key = cap.key()
    if upload.final_blob_name is not None:
        # Finished before revision 0013: one merged blob.
        if upload.final_ciphertext_size is None:
            raise UploadNotReady()
        size = upload.final_ciphertext_size
    else:
        if files_repository.part_count(session, upload.id) != upload.patch_seq:
            raise UploadInconsistent()
        size = files_repository.parts_ciphertext_size(session, upload.id)
    return ClaimedUpload(
        attachment_id=upload.id,
        blob_name=upload.final_blob_name,
        file_key=capabilities.unwrap_final_key(key, upload.id, upload.final_wrapped_key),
        metadata=capabilities.open_metadata(key, upload.id, upload.sealed_metadata),
        ciphertext_size=size,
    )


def hand_over(session: Session, claimed: ClaimedUpload) -> None:
    """After the attachment row is flushed: its parts move to it, the upload row (with
    its upload-key material) goes. The blobs stay where they are."""
    files_repository.move_parts(session, claimed.attachment_id)
    upload = repository.get(session, claimed.attachment_id)
    if upload is not None:
        session.delete(upload)
    session.flush()
