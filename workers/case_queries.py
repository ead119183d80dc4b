"""Read-only case counts for notifications, written against the ``cases`` table.

Only plaintext workflow columns are read (state, urgency, assignee, dates). The
service-level due date comes from ``api.cases.workflow.due_at`` so reminders and the
staff case list agree on what "overdue" means.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from api.cases.models import Case
from api.cases.workflow import OPEN_STATES, due_at
from api.core.settings import Settings


def _live() -> list[object]:
    return [col(Case.shredded_at).is_(None), col(Case.merged_into_id).is_(None)]


def count_new_since(session: Session, since: datetime) -> tuple[int, int]:
    """(new cases, of which urgent) created after ``since``."""
    urgent = func.coalesce(func.sum(case((col(Case.urgent), 1), else_=0)), 0)
    stmt = select(func.count(), urgent).where(
        col(Case.created_at) > since, *_live()  # type: ignore[arg-type]
    )
    new_count, urgent_count = session.exec(stmt).one()
    return int(new_count), int(urgent_count)


def overdue_by_assignee(
    session: Session, settings: Settings, now: datetime
) -> Counter[uuid.UUID | None]:
    """Open cases past their state's due date, counted per assignee (None: unassigned)."""
    stmt = select(Case.assignee_id, Case.state, Case.state_changed_at, Case.urgent).where(
        col(Case.state).in_(OPEN_STATES), *_live()  # type: ignore[arg-type]
    )
    counts: Counter[uuid.UUID | None] = Counter()
    for assignee, state, entered, urgent in session.exec(stmt).all():
        due = due_at(state, entered, urgent=urgent, settings=settings)
        if due is not None and due < now:
            counts[assignee] += 1
    return counts
