"""Queries the intake flows need (recipients of new case keys, references, receipts)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.auth.models import StaffUser
from api.auth.repository import intake_duty_recipients
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.intake.models import Receipt
from api.keys.models import OrganisationKey
from api.keys.repository import active_recovery_key

__all__ = [
    "active_recovery_key",
    "case_by_id",
    "intake_duty_recipients",
    "lawyer_public_key",
    "receipt_by_lookup",
]


def lawyer_public_key(session: Session, user_id: uuid.UUID) -> bytes | None:
    user = session.get(StaffUser, user_id)
    if user is None or user.disabled_at is not None or user.role != "lawyer":
        return None
    return user.public_key


def recovery_key(session: Session) -> OrganisationKey | None:
    return active_recovery_key(session)


def receipt_by_lookup(session: Session, lookup: str) -> Receipt | None:
    return session.exec(select(Receipt).where(col(Receipt.lookup) == lookup)).first()


def case_by_id(session: Session, case_id: uuid.UUID) -> Case | None:
    return session.get(Case, case_id)


def attachment_blob_names() -> SelectOfScalar[str]:
    """Every blob an attachment row names, for the orphan sweep."""
    return select(col(Attachment.blob_name))
