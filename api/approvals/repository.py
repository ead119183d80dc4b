"""Queries on pending two-person changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from api.approvals.models import PENDING, PendingChange


def get(session: Session, change_id: uuid.UUID, *, for_update: bool = False
        ) -> PendingChange | None:
    stmt = select(PendingChange).where(col(PendingChange.id) == change_id)
    if for_update:
        # Two coordinators approving at once: the second waits and then sees "approved".
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def open_request(
    session: Session, kind: str, target_id: uuid.UUID, case_id: uuid.UUID | None,
    not_before: date, thread_id: uuid.UUID | None = None,
) -> PendingChange | None:
    """A pending, unexpired request for the same change (asking twice files nothing new)."""
    stmt = select(PendingChange).where(
        col(PendingChange.kind) == kind,
        col(PendingChange.target_id) == target_id,
        col(PendingChange.status) == PENDING,
        col(PendingChange.requested_on) > not_before,
    )
    stmt = stmt.where(col(PendingChange.case_id).is_(None) if case_id is None
                      else col(PendingChange.case_id) == case_id)
    stmt = stmt.where(col(PendingChange.thread_id).is_(None) if thread_id is None
                      else col(PendingChange.thread_id) == thread_id)
    return session.exec(stmt).first()


def pending(session: Session, not_before: date) -> Sequence[PendingChange]:
    """Pending requests that have not expired, oldest first."""
    stmt = (
        select(PendingChange)
        .where(col(PendingChange.status) == PENDING,
               col(PendingChange.requested_on) > not_before)
        .order_by(col(PendingChange.requested_on), col(PendingChange.id))
    )
    return session.exec(stmt).all()


def due_to_expire(session: Session, on_or_before: date) -> Sequence[PendingChange]:
    stmt = (
        select(PendingChange)
        .where(col(PendingChange.status) == PENDING,
               col(PendingChange.requested_on) <= on_or_before)
        .order_by(col(PendingChange.requested_on), col(PendingChange.id))
        .with_for_update()
    )
    return session.exec(stmt).all()
