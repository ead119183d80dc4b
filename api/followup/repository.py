"""Queries on follow-up sessions (a thread's messages are asked of api.cases.threads)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, select

from api.followup.models import FollowupSession


def session_by_token_hash(session: Session, digest: bytes) -> FollowupSession | None:
    stmt = select(FollowupSession).where(col(FollowupSession.token_hash) == digest)
    return session.exec(stmt).first()


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.exec(delete(FollowupSession).where(col(FollowupSession.expires_at) <= now))
