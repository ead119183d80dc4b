"""Attachment downloads (streamed decryption) and metadata-stripped derivatives.

Download: every key is resolved, the read audited (``attachment.read``) and the first
record decrypted before the response starts, so a wrong key or a damaged header is a clean
error response. After that, records are decrypted one at a time as the client reads; a
record that fails authentication mid-stream raises, which aborts the response (the client
sees a broken transfer, never unauthenticated bytes). The response is always
``application/octet-stream`` with ``Content-Disposition: attachment`` and ``nosniff``: a
file sent by a stranger is never rendered in a staff member's browser.

Derivative: the original is decrypted record by record straight into a capped child
process that cleans it (:mod:`api.cases.files.clean_copy`, bounded by ``derivative_max_bytes``),
its SHA-256 computed on the way and checked against the one recorded at intake; the clean
copy streams back from the child into a new encrypted attachment of kind ``derivative``
with ``derived_from_id`` and the original's hash in its sealed metadata. Any refusal
aborts the new blob before a row exists. The original's row and blob are never written.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth.principals import Principal
from api.cases import content
from api.cases.files import clean_copy, derivatives, stored
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.service import open_case
from api.cases.threads import keyrings
from api.cases.workflow import events
from api.core.errors import (
    Conflict,
    DokazError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from api.core.settings import Settings
from api.storage import BlobStorage, get_storage
from api.storage.base import generate_name
from api.storage.pending import delete_on_rollback
from crypto.errors import CryptoError
from crypto.keys import DataKey
from crypto.stream import EncryptingWriter

DERIVATIVE = "derivative"
ORIGINAL = "original"


class IntegrityFailure(DokazError):
    status_code = 500
    code = "integrity_failure"
    default_message = ("The stored file failed its integrity check (it was damaged or "
                       "tampered with); nothing was sent. Tell an administrator.")


@dataclass
class Download:
    attachment_id: uuid.UUID
    filename: str
    chunks: Iterator[bytes]
    # The original's exact size from the sealed metadata (the blob is padded, see
    # crypto.stream); sent as Content-Length, so a stream cut short by a failed
    # integrity check is visibly incomplete to the client.
    size: int | None = None

    def headers(self) -> dict[str, str]:
        safe = f"dokaz-{self.attachment_id.hex[:12]}.bin"
        disposition = f'attachment; filename="{safe}"'
        if self.filename:
            disposition += f"; filename*=UTF-8''{quote(self.filename, safe='')}"
        out = {"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store", "Content-Security-Policy": "sandbox"}
        if self.size is not None:
            out["Content-Length"] = str(self.size)
        return out


def _attachment(session: Session, case_id: uuid.UUID, attachment_id: uuid.UUID) -> Attachment:
    att = session.get(Attachment, attachment_id)
    if att is None or att.case_id != case_id:
        raise NotFound("No such attachment in this case.")
    return att


def _thread_key(session: Session, principal: Principal, case: Case, case_key: DataKey,
                att: Attachment) -> DataKey:
    """The key of the thread the file belongs to, if the caller holds it."""
    key = keyrings.keyring(session, principal, case, case_key).get(att.key_case_id)
    if key is None:
        raise Forbidden("This file belongs to a thread that is not shared with you. A "
                        "coordinator who can open it may grant it to you.")
    return key


def _open_file(key: DataKey, att: Attachment) -> tuple[dict[str, Any], DataKey]:
    """A file's sealed metadata and its file key; a failure to open either is tampering."""
    try:
        return content.open_attachment_metadata(key, att), content.open_file_key(key, att)
    except CryptoError:
        raise IntegrityFailure() from None


def download(
    session: Session, principal: Principal, case_id: uuid.UUID, attachment_id: uuid.UUID,
    settings: Settings, storage: BlobStorage | None = None,
) -> Download:
    """The file decrypted as it streams; ``storage`` is the app's client (built from
    ``settings`` when not given)."""
    storage = storage or get_storage(settings)
    case, case_key = open_case(session, principal, case_id)
    att = _attachment(session, case.id, attachment_id)
    key = _thread_key(session, principal, case, case_key, att)
    meta, file_key = _open_file(key, att)
    audit.record(session, action=actions.ATTACHMENT_READ, actor_id=principal.user_id,
                 case_id=case.id, target=str(att.id), details={"kind": att.kind})
    size = meta.get("size")
    exact = size if isinstance(size, int) and size >= 0 else None
    try:
        chunks = stored.plaintext(session, storage, att, file_key, exact)
        first = next(chunks, b"")
    except CryptoError:
        raise IntegrityFailure() from None
    return Download(att.id, str(meta.get("filename") or ""), _prepend(first, chunks), exact)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def make_derivative(
    session: Session, principal: Principal, case_id: uuid.UUID, attachment_id: uuid.UUID,
    settings: Settings, storage: BlobStorage | None = None,
) -> tuple[Attachment, dict[str, Any]]:
    storage = storage or get_storage(settings)
    case, case_key = open_case(session, principal, case_id, for_update=True)
    original = _attachment(session, case.id, attachment_id)
    if original.kind != ORIGINAL:
        raise Conflict("Make clean copies from the original file, not from a copy.")
    # The copy belongs to the original's thread and is sealed under its key, so it stays
    # with that thread (and its readers) through merges and splits.
    key = _thread_key(session, principal, case, case_key, original)
    meta, file_key = _open_file(key, original)
    media_type = str(meta.get("detected_type") or "")
    if not derivatives.supported(media_type):
        raise UnsupportedMediaType(derivatives.UNSUPPORTED)
    if int(meta.get("size") or 0) > settings.derivative_max_bytes:
        raise PayloadTooLarge("This file is larger than the size allowed for cleaning "
                              f"({settings.derivative_max_bytes} bytes).")
    digest = hashlib.sha256()
    size = meta.get("size")
    try:
        records = stored.plaintext(session, storage, original, file_key,
                                   size if isinstance(size, int) else None)
    except CryptoError:
        raise IntegrityFailure() from None
    source = _plaintext(records, settings.derivative_max_bytes, digest)

    def _clean(out: Callable[[bytes], None]) -> tuple[list[str], str]:
        removed = clean_copy.make(source, media_type, settings, out)
        # The child read the whole original (it answers only after EOF), so this is the
        # hash of every byte it was given.
        if meta.get("sha256") and meta["sha256"] != digest.hexdigest():
            raise IntegrityFailure()
        return removed, digest.hexdigest()

    att = _store(session, storage, case.id, key, _clean, original, media_type, meta)
    events.changed(session, case, settings, kind=events.DERIVATIVE, actor_id=principal.user_id,
                   key=case_key, detail=f"derivative={att.id};of={original.id}", bump=False)
    audit.record(session, action=actions.ATTACHMENT_READ, actor_id=principal.user_id,
                 case_id=case.id, target=str(original.id),
                 details={"purpose": "derivative", "derivative_id": str(att.id)})
    session.flush()
    return att, content.open_attachment_metadata(key, att)


def _plaintext(records: Iterator[bytes], limit: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """The original's records, one at a time (never all of it in memory), hashed."""
    total = 0
    try:
        for record in records:
            total += len(record)
            if total > limit:
                raise PayloadTooLarge("This file is larger than the size allowed for cleaning.")
            digest.update(record)
            yield record
    except CryptoError:
        raise IntegrityFailure() from None


def _store(
    session: Session, storage: BlobStorage, case_id: uuid.UUID, key: DataKey,
    fill: Callable[[Callable[[bytes], None]], tuple[list[str], str]], original: Attachment,
    media_type: str, original_meta: dict[str, Any],
) -> Attachment:
    """Encrypt what ``fill`` writes into a new blob, then add its row; a failing ``fill``
    aborts the blob, so nothing of a refused copy is left."""
    att_id = uuid.uuid4()
    file_key = DataKey.generate()
    name = generate_name("a")
    writer_sink = storage.open_writer(name)
    writer = EncryptingWriter(writer_sink, att_id.bytes, file_key)
    try:
        removed, original_sha = fill(writer.write)
        result = writer.finish()
        size = writer_sink.commit()
    except BaseException:
        writer.abort()
        writer_sink.abort()
        raise
    delete_on_rollback(session, storage, name)
    stem = str(original_meta.get("filename") or "file").rsplit(".", 1)[0] or "file"
    metadata = {
        "filename": f"{stem}-clean.{derivatives.extension(media_type)}",
        "claimed_type": media_type,
        "detected_type": media_type,
        "size": result.plaintext_size,
        "sha256": result.sha256,
        "derived_from_sha256": original_sha,
        "removed": removed,
    }
    key_case = original.key_case_id
    att = Attachment(
        id=att_id, case_id=case_id, submission_id=original.submission_id,
        key_case_id=key_case, blob_name=name,
        wrapped_file_key=content.wrap_file_key(key, key_case, att_id, file_key),
        sealed_metadata=content.seal_attachment_metadata(key, key_case, att_id, metadata),
        ciphertext_size=size, kind=DERIVATIVE, derived_from_id=original.id,
    )
    session.add(att)
    return att
