"""Queries of a case's threads: their submissions and messages, and moving a thread whole.

Moving a thread changes only ``case_id``: each row keeps its ``key_case_id`` and its
ciphertext, because the submitter's receipt opens only that key (:mod:`.keyrings`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads.models import CaseMessage, Submission


def roots_of(session: Session, case_id: uuid.UUID) -> list[Submission]:
    """The case's threads (their root submissions), in a stable order for labels."""
    stmt = select(Submission).where(
        col(Submission.case_id) == case_id, col(Submission.thread_id) == col(Submission.id)
    ).order_by(col(Submission.received_on), col(Submission.id))
    return list(session.exec(stmt))


def key_cases_of(session: Session, case_id: uuid.UUID) -> set[uuid.UUID]:
    stmt = select(Submission.key_case_id).where(col(Submission.case_id) == case_id).distinct()
    return set(session.exec(stmt))


def submissions_of(session: Session, case_id: uuid.UUID) -> list[Submission]:
    return list(session.exec(select(Submission).where(Submission.case_id == case_id)
                             .order_by(col(Submission.received_on), col(Submission.id))))


def messages_of(session: Session, case_id: uuid.UUID) -> list[CaseMessage]:
    return list(session.exec(select(CaseMessage).where(CaseMessage.case_id == case_id)
                             .order_by(col(CaseMessage.created_at), col(CaseMessage.seq),
                                       col(CaseMessage.id))))


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


def next_message_seq(session: Session, case_id: uuid.UUID) -> int:
    """The next number in the case's messages (they are ordered by it, not by time).

    The case row is locked first: the submitter and staff may write at the same moment.
    """
    session.exec(select(Case.id).where(col(Case.id) == case_id).with_for_update()).first()
    latest = session.exec(select(func.max(CaseMessage.seq))
                          .where(col(CaseMessage.case_id) == case_id)).one()
    return int(latest or 0) + 1


def submission(session: Session, submission_id: uuid.UUID) -> Submission | None:
    """One submission by id, unscoped: for the submitter's follow-up session, which reached
    it through a receipt rather than a staff principal."""
    return session.get(Submission, submission_id)


def thread_messages(session: Session, thread_id: uuid.UUID) -> Sequence[CaseMessage]:
    """One submitter's thread, never the whole case (it may hold other people's threads).

    Ordered by ``seq``: it only grows within a case, and a thread moved by a merge or a
    split continues above every number already there, so a thread's order holds too.
    """
    stmt = select(CaseMessage).where(col(CaseMessage.submission_id) == thread_id)
    return session.exec(stmt.order_by(col(CaseMessage.created_at), col(CaseMessage.seq),
                                      col(CaseMessage.id))).all()


def unread_to_submitter(session: Session, thread_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(CaseMessage).where(
        col(CaseMessage.submission_id) == thread_id,
        col(CaseMessage.direction) == "to_submitter",
        col(CaseMessage.read_at).is_(None),
    )
    return int(session.exec(stmt).one())
