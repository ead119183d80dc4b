"""Partner queries other features may use (statistics checks a partner exists here)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.partners.models import Partner


def get_partner(session: Session, partner_id: uuid.UUID) -> Partner | None:
    return session.get(Partner, partner_id)
