"""Opening (and re-sealing) the content intake and follow-up stored under a case key.

The contexts are intake's (:mod:`api.intake.contexts`); each names its case and row.
Moving a submission to another case (merge, split) re-seals each value under the new case
key (and re-wraps file keys under the new case's context): :func:`move_submission`. File
blobs are not re-encrypted: each has its own file key, and only that key's wrap changes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from api.followup.models import CaseMessage
from api.intake import contexts as ictx
from api.intake.models import Attachment, Submission
from crypto.fields import SealedJSON
from crypto.keys import DataKey

open_payload = ictx.open_payload
open_attachment_metadata = ictx.open_attachment_metadata
open_file_key = ictx.attachment_file_key
wrap_file_key = ictx.wrap_file_key


def submissions_of(session: Session, case_id: uuid.UUID) -> list[Submission]:
    return list(session.exec(select(Submission).where(Submission.case_id == case_id)
                             .order_by(col(Submission.received_on), col(Submission.id))))


def attachments_of(session: Session, case_id: uuid.UUID) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.case_id == case_id)
                             .order_by(col(Attachment.created_at), col(Attachment.id))))


def messages_of(session: Session, case_id: uuid.UUID) -> list[CaseMessage]:
    return list(session.exec(select(CaseMessage).where(CaseMessage.case_id == case_id)
                             .order_by(col(CaseMessage.created_at), col(CaseMessage.seq),
                                       col(CaseMessage.id))))


def seal_attachment_metadata(key: DataKey, case_id: uuid.UUID, attachment_id: uuid.UUID,
                             metadata: dict[str, Any]) -> bytes:
    return SealedJSON.seal(
        key, metadata, ictx.attachment_metadata_context(case_id, attachment_id)).ciphertext


def seal_payload(key: DataKey, case_id: uuid.UUID, submission_id: uuid.UUID,
                 payload: Any) -> bytes:
    return SealedJSON.seal(key, payload, ictx.payload_context(case_id, submission_id)).ciphertext


def open_message(key: DataKey, msg: CaseMessage) -> str:
    return ictx.open_message(key, msg.case_id, msg.id, msg.body)


def seal_message(key: DataKey, case_id: uuid.UUID, message_id: uuid.UUID, body: str) -> bytes:
    return ictx.seal_message(key, case_id, message_id, body)


def move_submission(
    session: Session, sub: Submission, old_key: DataKey, new_case_id: uuid.UUID,
    new_key: DataKey,
) -> int:
    """Re-seal a submission and its attachments under another case; returns files moved.

    Everything is opened before anything is changed, so a value that fails to open
    (tampered) aborts the whole move with the old rows untouched.
    """
    payload = open_payload(old_key, sub)
    atts = list(session.exec(select(Attachment).where(Attachment.submission_id == sub.id)))
    # Derivatives hang off an original, not a submission; they move with it.
    derived = list(session.exec(select(Attachment).where(
        col(Attachment.derived_from_id).in_([a.id for a in atts])))) if atts else []
    seen = {a.id for a in atts}
    opened = [(a, open_attachment_metadata(old_key, a), open_file_key(old_key, a))
              for a in atts + [d for d in derived if d.id not in seen]]
    sub.payload = seal_payload(new_key, new_case_id, sub.id, payload)
    sub.case_id = new_case_id
    session.add(sub)
    for att, meta, file_key in opened:
        att.sealed_metadata = seal_attachment_metadata(new_key, new_case_id, att.id, meta)
        att.wrapped_file_key = wrap_file_key(new_key, new_case_id, att.id, file_key)
        att.case_id = new_case_id
        session.add(att)
    return len(opened)
