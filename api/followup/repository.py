"""Queries for follow-up sessions and messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, func, select

from api.cases.threads.models import CaseMessage
from api.followup.models import FollowupSession


def session_by_token_hash(session: Session, digest: bytes) -> FollowupSession | None:
    stmt = select(FollowupSession).where(col(FollowupSession.token_hash) == digest)
    return session.exec(stmt).first()


def messages(session: Session, thread_id: uuid.UUID) -> Sequence[CaseMessage]:
    """One submitter's thread, never the whole case (it may hold other people's threads).

    Ordered by ``seq``: it only grows within a case, and a thread moved by a merge or a
    split continues above every number already there, so a thread's order holds too.
    """
    stmt = select(CaseMessage).where(col(CaseMessage.submission_id) == thread_id)
    return session.exec(stmt.order_by(col(CaseMessage.created_at), col(CaseMessage.seq),
                                      col(CaseMessage.id))).all()


def unread_count(session: Session, thread_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(CaseMessage).where(
        col(CaseMessage.submission_id) == thread_id,
        col(CaseMessage.direction) == "to_submitter",
        col(CaseMessage.read_at).is_(None),
    )
    return int(session.exec(stmt).one())


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.exec(delete(FollowupSession).where(col(FollowupSession.expires_at) <= now))
