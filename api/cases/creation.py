"""Creating a case: its public reference, its row and its fresh key.

The one place a :class:`~api.cases.models.Case` row is constructed (a test holds every
other module of ``api/`` to it): intake creates a case for each new submission, a split
creates one for the threads it moves. Whoever creates the case wraps its key next, with
:func:`api.cases.access.wraps.wrap_to`; a case nobody holds a wrap of is lost.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from api.cases.models import Case
from api.cases.workflow.states import CaseState
from crypto.keys import DataKey

REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def new_reference() -> str:
    """``DKZ-XXXX-XXXX``: 40 random bits, unambiguous to read aloud or type."""
    symbols = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"DKZ-{symbols[:4]}-{symbols[4:]}"


def unused_reference(session: Session) -> str:
    """A new reference no case has yet (collisions are rare: 40 bits)."""
    while True:
        reference = new_reference()
        if session.exec(select(Case.id).where(col(Case.reference) == reference)).first() is None:
            return reference


def create_case(
    session: Session, *, state: CaseState, received_on: date, at: datetime,
    region: str | None, urgency_reasons: Sequence[str] = (), priority: str = "normal",
    priority_rank: int = 1, period_start_month: str | None = None,
    date_precision: str | None = None,
) -> tuple[Case, DataKey]:
    """Insert a case (flushed, so it has its id) with a new reference, and make its key.

    ``at`` stamps creation, update and the state change (the columns keep the day only).
    The key is returned, never stored: the caller wraps it before the transaction ends.
    """
    case = Case(
        reference=unused_reference(session), state=state.value, region=region,
        priority=priority, priority_rank=priority_rank,
        period_start_month=period_start_month, date_precision=date_precision,
        received_on=received_on, urgent=bool(urgency_reasons),
        urgency_reasons=",".join(urgency_reasons),
        created_at=at, updated_at=at, state_changed_at=at,
    )
    session.add(case)
    session.flush()
    return case, DataKey.generate()
