"""Service-level queries: read-only case counts (new, urgent, overdue) for notifications.

Only plaintext workflow columns are read (state, urgency, assignee, dates). The
service-level due date comes from ``api.cases.workflow.states.due_at`` so reminders and the
staff case list agree on what "overdue" means.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from api.cases.models import Case
from api.cases.workflow.states import OPEN_STATES, due_at, is_overdue
from api.core.settings import Settings


def _live() -> list[object]:
    return [col(Case.shredded_at).is_(None), col(Case.merged_into_id).is_(None)]


def count_created(session: Session, first_day: date, last_day: date | None = None
                  ) -> tuple[int, int]:
    """(cases, of which urgent) created on ``first_day`` or later (up to ``last_day``).

    Creation times are kept at day precision, so days are what can be counted."""
    urgent = func.coalesce(func.sum(case((col(Case.urgent), 1), else_=0)), 0)
    clauses = [col(Case.created_at) >= day_start(first_day)]
    if last_day is not None:
        clauses.append(col(Case.created_at) < day_start(last_day + timedelta(days=1)))
    stmt = select(func.count(), urgent).where(*clauses, *_live())  # type: ignore[arg-type]
    new_count, urgent_count = session.exec(stmt).one()
    return int(new_count), int(urgent_count)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


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
        if is_overdue(due, now):
            counts[assignee] += 1
    return counts
