"""Queries the intake flows need (recipients of new case keys, receipts)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, delete, select

from api.auth import repository as auth_repository
from api.auth.repository import intake_duty_recipients
from api.intake.models import IntakeReplay, Receipt
from api.keys.models import OrganisationKey
from api.keys.repository import active_recovery_key

__all__ = [
    "active_recovery_key",
    "intake_duty_recipients",
    "lawyer_public_key",
    "receipt_by_lookup",
]


def lawyer_public_key(session: Session, user_id: uuid.UUID) -> bytes | None:
    user = auth_repository.get_staff(session, user_id)
    if user is None or user.disabled_at is not None or user.role != "lawyer":
        return None
    return user.public_key


def recovery_key(session: Session) -> OrganisationKey | None:
    return active_recovery_key(session)


def receipt_by_lookup(session: Session, lookup: str, *, for_update: bool = False
                      ) -> Receipt | None:
    stmt = select(Receipt).where(col(Receipt.lookup) == lookup)
    return session.exec(stmt.with_for_update() if for_update else stmt).first()


def receipt_by_id(session: Session, receipt_id: uuid.UUID, *, for_update: bool = False
                  ) -> Receipt | None:
    return session.get(Receipt, receipt_id, with_for_update=for_update)


def replay_row(session: Session, lookup: str) -> IntakeReplay | None:
    return session.get(IntakeReplay, lookup)


def delete_expired_replays(session: Session, now: datetime, lookup: str | None = None) -> int:
    """Rows past their expiry (only ``lookup``'s, if given); the number deleted."""
    stmt = delete(IntakeReplay).where(col(IntakeReplay.expires_at) <= now)
    if lookup is not None:
        stmt = stmt.where(col(IntakeReplay.lookup) == lookup)
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)
