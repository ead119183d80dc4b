"""Opening the content intake and follow-up stored under a thread's case key.

The contexts are intake's (:mod:`api.intake.contexts`); each names the row's key case
(``key_case_id``) and the row. Moving a thread to another case (merge, split) changes only
``case_id``: nothing is re-sealed, because the submitter's receipt opens only the key the
thread was sealed under (:mod:`api.cases.threads.keyrings`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from api.cases.files.models import Attachment
from api.cases.threads.models import CaseMessage, Submission
from api.intake import contexts as ictx
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


def seal_attachment_metadata(key: DataKey, key_case_id: uuid.UUID, attachment_id: uuid.UUID,
                             metadata: dict[str, Any]) -> bytes:
    return SealedJSON.seal(
        key, metadata, ictx.attachment_metadata_context(key_case_id, attachment_id)).ciphertext


def open_message(key: DataKey, msg: CaseMessage) -> str:
    return ictx.open_message(key, msg.key_case_id, msg.id, msg.body)


def seal_message(key: DataKey, key_case_id: uuid.UUID, message_id: uuid.UUID,
                 body: str) -> bytes:
    return ictx.seal_message(key, key_case_id, message_id, body)


def thread_rows(session: Session, root: Submission
                ) -> tuple[list[Submission], list[Attachment], list[CaseMessage]]:
    """Everything of one thread: its submissions, their files (and derivatives), messages."""
    subs = list(session.exec(select(Submission).where(Submission.thread_id == root.id)))
    atts = list(session.exec(select(Attachment).where(
        col(Attachment.submission_id).in_([s.id for s in subs]))))
    # Derivatives made before threads existed hang off an original, not a submission.
    derived = list(session.exec(select(Attachment).where(
        col(Attachment.derived_from_id).in_([a.id for a in atts])))) if atts else []
    seen = {a.id for a in atts}
    msgs = list(session.exec(select(CaseMessage).where(CaseMessage.submission_id == root.id)))
    return subs, atts + [d for d in derived if d.id not in seen], msgs


def move_thread(session: Session, root: Submission, new_case_id: uuid.UUID) -> int:
    """Move one thread to another case without re-sealing anything; returns files moved.

    Each row keeps its ``key_case_id`` and ciphertext, so the submitter's receipt (which
    opens only that key) still reads exactly this thread afterwards.
    """
    subs, atts, msgs = thread_rows(session, root)
    for row in [*subs, *atts, *msgs]:
        row.case_id = new_case_id
        session.add(row)
    return len(atts)
