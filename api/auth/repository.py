"""Queries on staff accounts and sessions; other features read staff accounts through here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, or_, select, update

from api.auth.models import StaffSession, StaffUser
from api.auth.roles import INTAKE_ROLES, Role


def get_staff(session: Session, user_id: uuid.UUID, *, for_update: bool = False
              ) -> StaffUser | None:
    """The account; ``for_update`` locks its row for the rest of the transaction (and
    reads it afresh), so concurrent sign-ins and password changes go one at a time."""
    if for_update:
        return session.get(StaffUser, user_id, with_for_update=True, populate_existing=True)
    return session.get(StaffUser, user_id)


def get_by_username(session: Session, username: str) -> StaffUser | None:
    stmt = select(StaffUser).where(col(StaffUser.username) == username.strip().lower())
    return session.exec(stmt).first()


def list_staff(session: Session) -> Sequence[StaffUser]:
    return session.exec(select(StaffUser).order_by(col(StaffUser.username))).all()


def intake_duty_recipients(session: Session) -> list[tuple[uuid.UUID, bytes]]:
    """(user id, public key) of every active, approved coordinator/caseworker on intake duty.

    An account that is not an approved reader gets no wrap even if its duty flag is set
    (two-person rule, api.approvals).
    """
    stmt = (
        select(StaffUser.id, StaffUser.public_key)
        .where(
            col(StaffUser.on_intake_duty).is_(True),
            col(StaffUser.disabled_at).is_(None),
            col(StaffUser.reader_approved_on).is_not(None),
            col(StaffUser.role).in_([r.value for r in INTAKE_ROLES]),
        )
        .order_by(col(StaffUser.id))
    )
    return [(user_id, public_key) for user_id, public_key in session.exec(stmt)]


def count_active_admins(session: Session) -> int:
    stmt = select(StaffUser.id).where(
        col(StaffUser.role) == Role.ADMIN.value, col(StaffUser.disabled_at).is_(None)
    )
    return len(session.exec(stmt).all())


def session_by_token_hash(session: Session, token_hash: bytes) -> StaffSession | None:
    return session.exec(
        select(StaffSession).where(col(StaffSession.token_hash) == token_hash)
    ).first()


def get_session(session: Session, session_id: uuid.UUID) -> StaffSession | None:
    """A session row by id (from the identity map when this transaction loaded it)."""
    return session.get(StaffSession, session_id)


def active_sessions(session: Session, user_id: uuid.UUID, now: datetime) -> Sequence[StaffSession]:
    stmt = (
        select(StaffSession)
        .where(
            col(StaffSession.user_id) == user_id,
            col(StaffSession.revoked_at).is_(None),
            col(StaffSession.expires_at) > now,
        )
        .order_by(col(StaffSession.created_at).desc())
    )
    return session.exec(stmt).all()


def revoke_sessions(
    session: Session, user_id: uuid.UUID, now: datetime, reason: str,
    *, only: uuid.UUID | None = None,
) -> int:
    """End sessions and wipe their key blobs: a revoked token decrypts nothing anymore."""
    stmt = (
        update(StaffSession)
        .where(col(StaffSession.user_id) == user_id, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now, revoke_reason=reason, session_key=None)
    )
    if only is not None:
        stmt = stmt.where(col(StaffSession.id) == only)
    result = session.exec(stmt)
    return int(result.rowcount or 0)


def wipe_session(session: Session, session_id: uuid.UUID, now: datetime, reason: str) -> None:
    session.exec(
        update(StaffSession)
        .where(col(StaffSession.id) == session_id, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now, revoke_reason=reason, session_key=None)
    )


def purge_sessions(session: Session, before: datetime) -> int:
    """Delete sessions that ended before ``before`` (a periodic job may call this)."""
    stmt = delete(StaffSession).where(
        or_(col(StaffSession.expires_at) < before, col(StaffSession.revoked_at) < before)
    )
    return int(session.exec(stmt).rowcount or 0)
