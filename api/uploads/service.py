"""Resumable uploads following tus 1.0 (core, creation, termination, expiration, checksum).

Storage model: every accepted PATCH is stored as one *segment*, a complete
``crypto.stream`` file of that PATCH's bytes under a fresh segment key (wrapped under
the upload key, see :mod:`api.uploads.capabilities`). Because each segment has its own key, a
PATCH that fails (bad checksum, dropped connection) is simply deleted and the retry is
encrypted under a new key: a record nonce is never reused with different plaintext, and
no partial record has to be carried between requests. When the last byte arrives, the
segments are decrypted in order, hashed (SHA-256 for the chain of custody), sniffed for
the file type and re-encrypted into one final file with a fresh file key; then the
segments are deleted. A submission attaches that final file by re-wrapping its key
under the case key (:func:`claim_upload`).

Sizes at rest: the declared length and the received offset are sealed under the upload
key (``upload.sealed_progress``, :func:`api.uploads.capabilities.seal_progress`); segments carry
no plaintext offset or size. Every request that can act on an upload has its URL, so it
can open them; nothing without the URL (fsck, the expiry sweep, backups) needs them.

Concurrency and crashes: a PATCH reads the upload in one short transaction (opening the
sealed offset and checking it against ``Upload-Offset``), streams without holding any
database transaction (so a slow phone never blocks other writers), and commits with a
compare-and-set on the plaintext PATCH counter ``upload.patch_seq`` it read (the sealed
offset cannot be compared in SQL); if two PATCHes race, exactly one UPDATE matches, the
other gets 409 and its segment is deleted. Blobs of a transaction that does not commit
are deleted at once (:mod:`api.storage.pending`), and the orphan sweep catches what a
crash leaves.

Interrupted PATCH: if the connection drops and the client sent no checksum, the bytes
received so far are kept as a segment (tus: the server SHOULD keep what it received) and
``HEAD`` reports the new offset; with a checksum nothing is kept, as it cannot be
verified. Expired uploads are deleted by :func:`expire_uploads` (run by the workers).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread
from sqlmodel import Session

from api.core.errors import BadRequest, Conflict, Gone, NotFound, PayloadTooLarge
from api.core.models import day_ceil, day_floor, utcnow
from api.core.settings import Settings
from api.ingress import filetypes, guards
from api.ingress.files import RECORD_SIZE, TypeMismatch, check_filename
from api.ingress.guards import ConnectionDropped
from api.keys.service import require_recovery_key
from api.storage.base import BlobStorage, generate_name
from api.storage.pending import delete_after_commit, delete_on_rollback
from api.uploads import capabilities, repository
from api.uploads.checksum import Checksum
from api.uploads.models import Upload, UploadSegment
from crypto import AsyncEncryptingWriter, DataKey, EncryptingWriter, decrypt_stream
from crypto.errors import CryptoError

SEGMENT_KIND = "s"
FINAL_KIND = "f"
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


def create_upload(
    session: Session, settings: Settings, length: int, metadata: dict[str, str],
    now: datetime | None = None,
) -> tuple[Upload, capabilities.UploadCapability]:
    guards.check_file_size(settings, length)  # also checked at the door, before the disk
    # An upload only ever becomes part of a case, and no case may exist without a
    # recovery wrap: refuse (503) before the client sends a byte.
    require_recovery_key(session)
    now = now or utcnow()
    cap = capabilities.UploadCapability.generate()
    key = cap.key()
    upload = Upload(
        id=cap.upload_id, secret_hash=cap.secret_hash, patch_seq=0,
        sealed_progress=capabilities.seal_progress(key, cap.upload_id, length, 0, 0),
        state=RECEIVING, expires_at=expiry(settings, now), created_at=day_floor(now),
        sealed_metadata=capabilities.seal_metadata(key, cap.upload_id, dict(metadata)),
    )
    session.add(upload)
    session.flush()
    return upload, cap


def load_upload(session: Session, cap: capabilities.UploadCapability | None,
                now: datetime | None = None) -> Upload:
    upload = repository.get(session, cap.upload_id) if cap is not None else None
    if upload is None or cap is None or not cap.matches(upload.secret_hash):
        raise UploadNotFound()
    if upload.expires_at <= (now or utcnow()):
        raise UploadExpired()
    return upload


def progress(upload: Upload, cap: capabilities.UploadCapability) -> tuple[int, int]:
    """``(length, offset)`` of an upload opened with its capability (for HEAD and PATCH).

    A complete upload's size is in its sealed metadata. A receiving upload's sealed
    progress must have been sealed for the current ``patch_seq``: an older value written
    back (a rollback by someone who can write to the database) is refused, not resumed.
    """
    key = cap.key()
    if upload.state == COMPLETE:
        size = capabilities.open_metadata(key, upload.id, upload.sealed_metadata).get("size")
        if type(size) is not int:
            raise UploadInconsistent()
        return size, size
    if upload.sealed_progress is None:
        raise UploadInconsistent()
    try:
        length, offset, patches = capabilities.open_progress(key, upload.id, upload.sealed_progress)
    except CryptoError:
        # The URL matched, so the key is right: the stored value was altered.
        raise UploadInconsistent() from None
    if patches != upload.patch_seq or offset > length:
        raise UploadInconsistent()
    return length, offset


@dataclass
class PatchPlan:
    cap: capabilities.UploadCapability
    offset: int
    length: int
    seq: int  # the upload's patch_seq when planned: the compare-and-set value and the
    # new segment's number (segments are numbered by accepted PATCH)
    claimed_type: str
    segments: list[tuple[int, str, bytes, uuid.UUID]]  # seq, blob name, wrapped key, id


def plan_patch(session: Session, settings: Settings, cap: capabilities.UploadCapability | None,
               offset: int) -> PatchPlan:
    upload = load_upload(session, cap)
    assert cap is not None
    if upload.state != RECEIVING:
        raise Conflict("This upload is already complete.")
    length, current = progress(upload, cap)
    if offset != current:
        raise OffsetMismatch()
    segs = repository.segments(session, upload.id)
    if [s.seq for s in segs] != list(range(upload.patch_seq)):
        raise UploadInconsistent()  # every accepted PATCH left exactly one segment
    if len(segs) >= settings.max_upload_segments:
        raise PayloadTooLarge(
            f"This upload has been sent in more than {settings.max_upload_segments} pieces; "
            "send larger pieces or start again."
        )
    meta = capabilities.open_metadata(cap.key(), upload.id, upload.sealed_metadata)
    return PatchPlan(
        cap=cap, offset=current, length=length,
        seq=upload.patch_seq, claimed_type=str(meta.get("filetype") or ""),
        segments=[(s.seq, s.blob_name, s.wrapped_key, s.id) for s in segs],
    )


@dataclass
class ReceivedSegment:
    id: uuid.UUID
    blob_name: str
    key: DataKey
    size: int
    ciphertext_size: int
    interrupted: bool


async def receive_segment(
    plan: PatchPlan, chunks: AsyncIterable[bytes], storage: BlobStorage,
    checksum: Checksum | None,
) -> ReceivedSegment | None:
    """Encrypt one PATCH body into a new segment blob; None if nothing arrived.

    ``chunks`` reports a client that went away as :class:`ConnectionDropped`, as
    :func:`api.ingress.guards.timed_stream` does.
    """
    seg_id = uuid.uuid4()
    seg_key = DataKey.generate()
    blob = storage.open_writer(generate_name(SEGMENT_KIND))
    writer = AsyncEncryptingWriter.create(blob, seg_id.bytes, seg_key, RECORD_SIZE)
    extra = checksum.hasher() if checksum is not None else None
    room = plan.length - plan.offset
    received = 0
    interrupted = False
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
                await writer.write(chunk)
        except ConnectionDropped:
            if checksum is not None or received == 0:
                raise
            interrupted = True
        if received == 0:
            writer.abort()
            blob.abort()
            return None
        result = await writer.finish()
        if checksum is not None:
            checksum.verify(result.sha256, extra)
        await anyio.to_thread.run_sync(blob.commit)
    except BaseException:
        writer.abort()
        blob.abort()
        raise
    return ReceivedSegment(seg_id, blob.name, seg_key, result.plaintext_size,
                           result.ciphertext_size, interrupted)


@dataclass
class MergedFile:
    blob_name: str
    file_key: DataKey
    size: int
    sha256: str
    detected_type: str
    ciphertext_size: int


def merge_segments(storage: BlobStorage, plan: PatchPlan, last: ReceivedSegment) -> MergedFile:
    """Decrypt every segment in order into one final file (blocking: run in a thread)."""
    upload_key = plan.cap.key()
    upload_id = plan.cap.upload_id
    parts = [
        (name, capabilities.unwrap_segment_key(upload_key, upload_id, seq, wrapped), seg_id)
        for seq, name, wrapped, seg_id in plan.segments
    ]
    parts.append((last.blob_name, last.key, last.id))
    file_key = DataKey.generate()
    blob = storage.open_writer(generate_name(FINAL_KIND))
    writer = EncryptingWriter(blob, upload_id.bytes, file_key, RECORD_SIZE)
    head = bytearray()
    try:
        for name, key, seg_id in parts:
            with storage.open_reader(name) as source:
                for record in decrypt_stream(source, key, seg_id.bytes):
                    if len(head) < filetypes.SNIFF_BYTES:
                        head += record[: filetypes.SNIFF_BYTES - len(head)]
                    writer.write(record)
        detected = filetypes.detect(bytes(head))
        if not filetypes.matches(plan.claimed_type or filetypes.OCTET, detected):
            raise TypeMismatch(
                f"The uploaded file does not contain what its type says (its content looks "
                f"like {detected}). The upload was deleted; send it again without a type, "
                "or with the right one."
            )
        result = writer.finish()
        if result.plaintext_size != plan.length:
            # No plaintext size per segment is stored, so this is where a missing or
            # substituted segment row would show: never hand out a short file.
            raise UploadInconsistent()
        blob.commit()
    except BaseException:
        writer.abort()
        blob.abort()
        raise
    assert result.sha256 is not None
    return MergedFile(blob.name, file_key, result.plaintext_size, result.sha256, detected,
                      result.ciphertext_size)


def commit_segment(
    session: Session, storage: BlobStorage, plan: PatchPlan, seg: ReceivedSegment,
    merged: MergedFile | None,
) -> int:
    """Record an accepted PATCH (and completion); return the new offset."""
    delete_on_rollback(session, storage, seg.blob_name)
    if merged is not None:
        delete_on_rollback(session, storage, merged.blob_name)
    new_offset = plan.offset + seg.size
    key = plan.cap.key()
    upload_id = plan.cap.upload_id
    # Once complete the sealed metadata holds the size; the progress is no longer kept.
    sealed = None if merged is not None else capabilities.seal_progress(
        key, upload_id, plan.length, new_offset, plan.seq + 1)
    if not repository.advance(session, upload_id, plan.seq, sealed):
        raise OffsetMismatch()
    upload = repository.get(session, upload_id)
    assert upload is not None
    if merged is None:
        session.add(UploadSegment(
            id=seg.id, upload_id=upload.id, seq=plan.seq,
            blob_name=seg.blob_name, ciphertext_size=seg.ciphertext_size,
            wrapped_key=capabilities.wrap_segment_key(key, upload.id, plan.seq, seg.key),
        ))
        session.flush()
        return new_offset
    meta = capabilities.open_metadata(key, upload.id, upload.sealed_metadata)
    meta.update(detected_type=merged.detected_type, size=merged.size, sha256=merged.sha256)
    upload.sealed_metadata = capabilities.seal_metadata(key, upload.id, meta)
    upload.state = COMPLETE
    upload.final_blob_name = merged.blob_name
    upload.final_wrapped_key = capabilities.wrap_final_key(key, upload.id, merged.file_key)
    upload.final_ciphertext_size = merged.ciphertext_size
    session.add(upload)
    for old in repository.segments(session, upload.id):
        delete_after_commit(session, storage, old.blob_name)
        session.delete(old)
    delete_after_commit(session, storage, seg.blob_name)
    session.flush()
    return new_offset


def delete_upload(session: Session, storage: BlobStorage, upload: Upload) -> None:
    """Delete an upload; its blobs go once the deletion has committed."""
    for seg in repository.segments(session, upload.id):
        delete_after_commit(session, storage, seg.blob_name)
        session.delete(seg)
    session.flush()  # segments first: no ORM relationship orders these deletes for us
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
    blob_name: str
    file_key: DataKey
    metadata: dict[str, object]
    ciphertext_size: int

    def __repr__(self) -> str:
        return f"ClaimedUpload({self.attachment_id})"


class UploadNotReady(Conflict):
    default_message = "An upload named in the submission is not finished yet."


def claim_upload(session: Session, reference: str, now: datetime | None = None) -> ClaimedUpload:
    """Take a finished upload for an attachment: open it with its capability and delete
    the upload row. The blob is kept; its name moves to the attachment row."""
    cap = capabilities.UploadCapability.parse(reference)
    upload = load_upload(session, cap, now)
    assert cap is not None
    if upload.state != COMPLETE or upload.final_blob_name is None \
            or upload.final_wrapped_key is None or upload.final_ciphertext_size is None:
        raise UploadNotReady()
    key = cap.key()
    claimed = ClaimedUpload(
        attachment_id=upload.id,
        blob_name=upload.final_blob_name,
        file_key=capabilities.unwrap_final_key(key, upload.id, upload.final_wrapped_key),
        metadata=capabilities.open_metadata(key, upload.id, upload.sealed_metadata),
        ciphertext_size=upload.final_ciphertext_size,
    )
    session.delete(upload)
    session.flush()
    return claimed
