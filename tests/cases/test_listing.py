"""Keyset pagination returns exactly the sorted order, page after page, for every sort key
(ties on the sort value and NULL due dates included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import Session

from api.cases import repository, service
from api.cases.models import Case, CaseAct, CasePerson
from api.cases.repository import CaseFilters
from api.core.models import day_floor, utcnow
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case
from tests.conftest import DbUnderTest

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


def test_one_statement_per_shape_serves_every_caller_with_their_own_scope(
        session: Session, settings: Settings, staff: Staff) -> None:
    """The cached list statement is shared by callers of one role; the scope travels in
    its parameters, so each caseworker still sees only the cases wrapped to them."""
    mine = make_case(session, settings, wrap_to=[staff.cw])
    theirs = make_case(session, settings, wrap_to=[staff.cw2])
    session.commit()
    request = repository.ListRequest(CaseFilters(states=["new"]), "received_on", True, None, 10)
    stmt_a, params_a = repository.list_query(staff.p("cw"), request)
    stmt_b, params_b = repository.list_query(staff.p("cw2"), request)
    assert stmt_a is stmt_b  # built once: the shape, not the caller, picks the statement
    assert params_a["scope_user_id"] == staff.cw.user.id
    assert params_b["scope_user_id"] == staff.cw2.user.id
    for who, expected in (("cw", mine.id), ("cw2", theirs.id), ("cw", mine.id)):
        rows, _ = repository.list_cases(session, staff.p(who), request)
        assert [r.id for r in rows] == [expected], who


def test_the_shared_statement_refuses_to_run_without_a_scope(
        session: Session, staff: Staff) -> None:
    request = repository.ListRequest(CaseFilters(), "received_on", True, None, 10)
    stmt, params = repository.list_query(staff.p("cw"), request)
    del params["scope_user_id"]
    with pytest.raises(StatementError, match="scope_user_id"):
        session.connection().execute(stmt, params)


def test_list_items_are_what_the_detail_shows(session: Session, settings: Settings,
                                              staff: Staff) -> None:
    """The page is built from bare rows now: every field equals the item built from the
    ORM case (``service.list_item``), overdue, reasons and act types included."""
    made = [make_case(session, settings, wrap_to=[staff.cw]) for _ in range(3)]
    first = session.get(Case, made[0].id)
    assert first is not None
    first.urgent, first.urgency_reasons = True, "ongoing_detention,torture_risk"
    first.due_at = day_floor(utcnow()) - timedelta(days=2)  # overdue
    second = session.get(Case, made[1].id)
    assert second is not None
    second.due_at = day_floor(utcnow())  # due today: not overdue yet
    person = CasePerson(case_id=first.id, role="victim", sealed=b"\x01")
    session.add_all([first, second, person])
    session.flush()
    session.add_all([CaseAct(case_id=first.id, victim_id=person.id, act_type=t, sealed=b"\x01")
                     for t in ("torture", "detention", "torture")])
    session.commit()
    page = service.list_cases(session, staff.p("cw"), CaseFilters(), sort="received_on",
                              descending=True, cursor_text=None, limit=10,
                              settings=Settings())
    assert len(page.items) == 3
    for item in page.items:
        case = session.get(Case, item.id)
        assert case is not None
        assert item == service.summary(session, case)
    by_id = {i.id: i for i in page.items}
    assert by_id[first.id].overdue and not by_id[second.id].overdue
    assert by_id[first.id].act_types == ["detention", "torture"]
    assert by_id[first.id].urgency_reasons == ["ongoing_detention", "torture_risk"]


def test_the_list_is_planned_for_its_values_on_postgresql(
        session: Session, settings: Settings, staff: Staff, database: DbUnderTest) -> None:
    """Repeated lists are never prepared server-side: a generic plan cannot see the
    filter values and was measured several times slower (see fetch_planned_each_time)."""
    if database.kind != "postgresql":
        pytest.skip("SQLite has no server-side prepared statements")
    make_case(session, settings, wrap_to=[staff.cw])
    session.commit()
    request = repository.ListRequest(CaseFilters(states=["new"]), "received_on", True, None, 5)
    for _ in range(12):  # psycopg prepares from the fifth execution of the same text
        rows, _ = repository.list_cases(session, staff.p("cw"), request)
        assert len(rows) == 1
    prepared = session.execute(text(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%string_agg%'"
    )).scalar()
    assert prepared == 0
    driver: Any = session.connection().connection.driver_connection
    assert driver.prepare_threshold == 5  # restored for every other statement
