"""Opening (and re-sealing) the content intake and follow-up stored under a case key.

Submission payloads, attachment metadata, attachment file keys and messages are sealed
with contexts that name their case (:mod:`api.cases.contexts`). Moving one to another
case (merge, split) therefore means opening it under the old key and context and sealing
it again under the new ones: :func:`move_submission` does that for a submission and
everything that belongs to it. File blobs are not re-encrypted: each has its own file key,
and only that key's wrap changes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from api.cases import contexts as ctx
from api.followup.models import CaseMessage
from api.intake.models import Attachment, Submission
from crypto.fields import SealedJSON, SealedText
from crypto.keys import DataKey
from crypto.sealed import unwrap_data_key_symmetric, wrap_data_key_symmetric


def submissions_of(session: Session, case_id: uuid.UUID) -> list[Submission]:
    return list(session.exec(select(Submission).where(Submission.case_id == case_id)
                             .order_by(col(Submission.received_on), col(Submission.id))))


def attachments_of(session: Session, case_id: uuid.UUID) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.case_id == case_id)
                             .order_by(col(Attachment.created_at), col(Attachment.id))))


def messages_of(session: Session, case_id: uuid.UUID) -> list[CaseMessage]:
    return list(session.exec(select(CaseMessage).where(CaseMessage.case_id == case_id)
                             .order_by(col(CaseMessage.created_at), col(CaseMessage.id))))


def open_payload(key: DataKey, sub: Submission) -> Any:
    return SealedJSON(sub.payload).open(key, ctx.submission_payload_context(sub.case_id, sub.id))


def open_attachment_metadata(key: DataKey, att: Attachment) -> dict[str, Any]:
    data: dict[str, Any] = SealedJSON(att.sealed_metadata).open(
        key, ctx.attachment_metadata_context(att.case_id, att.id))
    return data


def open_file_key(key: DataKey, att: Attachment) -> DataKey:
    return unwrap_data_key_symmetric(
        key.raw, att.wrapped_file_key, ctx.attachment_file_key_context(att.case_id, att.id))


def wrap_file_key(key: DataKey, case_id: uuid.UUID, attachment_id: uuid.UUID,
                  file_key: DataKey) -> bytes:
    return wrap_data_key_symmetric(
        key.raw, file_key, ctx.attachment_file_key_context(case_id, attachment_id))


def seal_attachment_metadata(key: DataKey, case_id: uuid.UUID, attachment_id: uuid.UUID,
                             metadata: dict[str, Any]) -> bytes:
    return SealedJSON.seal(
        key, metadata, ctx.attachment_metadata_context(case_id, attachment_id)).ciphertext


def open_message(key: DataKey, msg: CaseMessage) -> str:
    return SealedText(msg.body).open(key, ctx.message_body_context(msg.case_id, msg.id))


def seal_message(key: DataKey, case_id: uuid.UUID, message_id: uuid.UUID, body: str) -> bytes:
    return SealedText.seal(key, body, ctx.message_body_context(case_id, message_id)).ciphertext


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
    opened = [(a, open_attachment_metadata(old_key, a), open_file_key(old_key, a))
              for a in atts + derived]
    sub.payload = SealedJSON.seal(
        new_key, payload, ctx.submission_payload_context(new_case_id, sub.id)).ciphertext
    sub.case_id = new_case_id
    session.add(sub)
    for att, meta, file_key in opened:
        att.sealed_metadata = seal_attachment_metadata(new_key, new_case_id, att.id, meta)
        att.wrapped_file_key = wrap_file_key(new_key, new_case_id, att.id, file_key)
        att.case_id = new_case_id
        session.add(att)
    return len(opened)
