"""No list, filter, page, detail, file or draft reveals a case to someone who may not see it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from api.cases import repository, service
from api.cases.access import grants
from api.cases.files import attachments
from api.cases.models import Case, CaseAct, CasePerson
from api.cases.referrals import drafts
from api.cases.repository import CaseFilters
from api.core.errors import Forbidden, NotFound
from api.core.models import utcnow
from api.core.settings import Settings
from tests.cases.factory import MadeCase, Staff, make_case

ALL_SORTS = list(itertools.product(repository.SORT_COLUMNS, (True, False)))


def _ids(session: Session, staff: Staff, who: str, sorts: list[tuple[str, bool]] | None = None,
         **filters: Any) -> set[object]:
    """Every id on every page, for each sort order (pages of one, to cross every cursor)."""
    seen: set[object] = set()
    for sort, desc in sorts or ALL_SORTS:
        page = service.list_cases(session, staff.p(who), CaseFilters(**filters), sort=sort,
                                  descending=desc, cursor_text=None, limit=1,
                                  settings=Settings())
        cursor = page.next_cursor
        seen |= {i.id for i in page.items}
        while cursor:  # walk every page: later pages must not leak either
            page = service.list_cases(session, staff.p(who), CaseFilters(**filters), sort=sort,
                                      descending=desc, cursor_text=cursor, limit=1,
                                      settings=Settings())
            seen |= {i.id for i in page.items}
            cursor = page.next_cursor
    return seen


@pytest.fixture
def cases(session: Session, settings: Settings, staff: Staff) -> dict[str, MadeCase]:
    out = {
        "a": make_case(session, settings, wrap_to=[staff.cw], region="BY-HM",
                       files=[("a.txt", "text/plain", b"case a file")]),
        "b": make_case(session, settings, wrap_to=[staff.cw2], region="BY-BR", priority="high",
                       files=[("b.txt", "text/plain", b"case b file")]),
        "c": make_case(session, settings, wrap_to=[staff.cw2], lawyer=staff.lawyer,
                       region="BY-VI", state="triage"),
    }
    # Give B every coarse feature a filter can select, so each filter would match it.
    b = session.get(Case, out["b"].id)
    assert b is not None
    b.assignee_id = staff.cw.user.id  # even assigned to cw, without a wrap cw cannot list it
    b.urgent, b.urgency_reasons = True, "torture_risk"
    b.due_at = utcnow() - timedelta(days=1)
    person = CasePerson(case_id=b.id, role="victim", sealed=b"\x01")
    session.add(person)
    session.flush()
    session.add(CaseAct(case_id=b.id, victim_id=person.id, act_type="torture", sealed=b"\x01"))
    session.add(b)
    session.commit()
    return out


def test_lists_are_scoped(session: Session, staff: Staff, cases: dict[str, MadeCase]) -> None:
    a, b, c = cases["a"].id, cases["b"].id, cases["c"].id
    assert _ids(session, staff, "cw") == {a}
    assert _ids(session, staff, "cw2") == {b, c}
    assert _ids(session, staff, "lawyer") == {c}
    assert _ids(session, staff, "coord") == {a, b, c}  # coarse listing of every case
    assert _ids(session, staff, "admin") == set()
    assert _ids(session, staff, "outsider") == set()


FILTERS_MATCHING_B: list[dict[str, Any]] = [
    {"states": ["new"]}, {"regions": ["BY-BR"]}, {"priorities": ["high"]}, {"urgent": True},
    {"urgency_reason": "torture_risk"}, {"act_types": ["torture"]}, {"overdue": True},
    {"received_from": utcnow().date() - timedelta(days=1)},
    {"changed_from": utcnow() - timedelta(days=1)},
]


def test_filters_never_widen_scope(session: Session, staff: Staff,
                                   cases: dict[str, MadeCase]) -> None:
    b = cases["b"].id
    sorts = [("received_on", True), ("due", False)]
    for filters in FILTERS_MATCHING_B:
        assert b in _ids(session, staff, "coord", sorts, **filters), filters  # matches B
        assert b not in _ids(session, staff, "cw", sorts, **filters), filters
        assert b not in _ids(session, staff, "lawyer", sorts, **filters), filters
        assert _ids(session, staff, "admin", sorts, **filters) == set()
    # Assigned to cw, yet cw holds no key: "assigned to me" must not reveal it.
    cw = staff.p("cw")
    assert b not in _ids(session, staff, "cw", assignee_id=cw.user_id)


def test_content_needs_a_key(session: Session, settings: Settings, staff: Staff,
                             cases: dict[str, MadeCase]) -> None:
    a, b = cases["a"], cases["b"]
    calls: list[Callable[[str, MadeCase], object]] = [
        lambda who, c: service.detail(session, staff.p(who), c.id),
        lambda who, c: service.list_messages(session, staff.p(who), c.id),
        lambda who, c: service.send_message(session, staff.p(who), c.id, "hi", settings),
        lambda who, c: attachments.download(session, staff.p(who), c.id, c.attachments[0],
                                            settings),
        lambda who, c: attachments.make_derivative(session, staff.p(who), c.id,
                                                   c.attachments[0], settings),
        lambda who, c: drafts.draft(session, staff.p(who), c.id, "wgad", "en"),
        lambda who, c: grants.grant(session, staff.p(who), c.id, staff.outsider.user.id,
                                    settings),
    ]
    for call in calls:
        for who in ("cw", "lawyer", "admin", "outsider"):
            with pytest.raises(NotFound):
                call(who, b)
            session.rollback()
        # A coordinator can list B but holds no key: told so, and shown nothing.
        with pytest.raises(Forbidden):
            call("coord", b)
        session.rollback()
    # Another case's attachment id through a case one may read is not found either.
    with pytest.raises(NotFound):
        attachments.download(session, staff.p("cw"), a.id, b.attachments[0], settings)
    session.rollback()
    # The lawyer reads their own case.
    assert service.detail(session, staff.p("lawyer"), cases["c"].id).id == cases["c"].id
