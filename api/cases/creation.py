"""Creating a case: its public reference, its row and its fresh key.

The one place a :class:`~api.cases.models.Case` row is constructed (a test holds every
other module of ``api/`` to it): intake creates a case for each new submission, a split
creates one for the threads it moves (a merge creates none: the source's threads move into
the target). :func:`create_case` also wraps the new key, in the same flush, to the
organisation recovery key (always: a case nobody could recover is never made) and to the
readers its caller names, so no path can leave a case without its wraps. Only the
submitter's receipt wrap is intake's own (the receipt row is written after the case).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from api.cases.access import wraps
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


@dataclass(frozen=True)
class Reader:
    """Someone the new case key is wrapped to: kind (``staff``, ``coordinator``,
    ``lawyer``...), account id and X25519 public key."""

    kind: str
    recipient_id: uuid.UUID
    public_key: bytes


def create_case(
    session: Session, *, state: CaseState, received_on: date, at: datetime,
    region: str | None, readers: Iterable[Reader], urgency_reasons: Sequence[str] = (),
    priority: str = "normal", priority_rank: int = 1, period_start_month: str | None = None,
    date_precision: str | None = None, granted_by: uuid.UUID | None = None,
) -> tuple[Case, DataKey]:
    """Insert a case (flushed, so it has its id) with a new reference, make its key and
    wrap it to the recovery key and to ``readers`` (NoRecoveryKey, 503, when there is none).

    ``at`` stamps creation, update and the state change (the columns keep the day only).
    The key is returned, never stored: the caller may wrap it further (a receipt).
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
    key = DataKey.generate()
    wraps.wrap_to_recovery(session, case.id, key)
    for reader in readers:
        wraps.wrap_to(session, case.id, key, kind=reader.kind, recipient_id=reader.recipient_id,
                      public_key=reader.public_key, granted_by=granted_by)
    return case, key
