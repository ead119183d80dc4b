"""Keyset pagination returns exactly the sorted order, page after page, for every sort key
(ties on the sort value and NULL due dates included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from api.cases import repository, service
from api.cases.models import Case
from api.cases.repository import CaseFilters
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _walk(session: Session, staff: Staff, sort: str, desc: bool) -> list[Any]:
    out: list[Any] = []
    cursor = None
    while True:
        page = service.list_cases(session, staff.p("cw"), CaseFilters(), sort=sort,
                                  descending=desc, cursor_text=cursor, limit=2,
                                  settings=Settings())
        out += [i.id for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return out


def test_every_sort_pages_in_order(session: Session, settings: Settings, staff: Staff) -> None:
    made = [make_case(session, settings, wrap_to=[staff.cw]) for _ in range(7)]
    for n, m in enumerate(made):
        case = session.get(Case, m.id)
        assert case is not None
        case.received_on = date(2026, 1, 1 + n % 3)  # ties
        case.priority_rank = n % 3
        case.urgent = n % 2 == 0
        # Days: the column keeps day precision (threat model property 13).
        case.state_changed_at = T0 + timedelta(days=n % 4)
        case.due_at = None if n % 3 == 0 else T0 + timedelta(days=n % 2)
        session.add(case)
    session.commit()
    rows = [c for m in made if (c := session.get(Case, m.id)) is not None]
    for sort, column in repository.SORT_COLUMNS.items():
        for desc in (False, True):
            def key(c: Any, attr: str = column.key) -> tuple[Any, ...]:
                value = getattr(c, attr)
                # NULLs last when ascending, first when descending (index order both ways).
                return (value is None, value if value is not None else 0, c.id)
            expected = [c.id for c in sorted(rows, key=key, reverse=desc)]
            assert _walk(session, staff, sort, desc) == expected, (sort, desc)
