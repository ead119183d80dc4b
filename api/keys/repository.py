from __future__ import annotations

from sqlmodel import Session, col, select

from api.keys.models import OrganisationKey

RECOVERY = "recovery"


def active_recovery_key(session: Session) -> OrganisationKey | None:
    stmt = (
        select(OrganisationKey)
        .where(OrganisationKey.purpose == RECOVERY, col(OrganisationKey.retired_at).is_(None))
        .order_by(col(OrganisationKey.created_at).desc())
    )
    return session.exec(stmt).first()
