"""The workflow table, generated: every allowed and every refused transition, four eyes,
reopening, duplicates and service levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select

from api.auth.roles import Role
from api.cases.models import Case, CaseEvent, CaseLink
from api.cases.workflow import states
from api.cases.workflow.schemas import TransitionIn
from api.cases.workflow.states import CaseState
from api.cases.workflow.transitions import transition
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from api.core.models import day_floor
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case

ACTING_ROLES = {Role.COORDINATOR: "coord", Role.CASEWORKER: "cw"}


def _reset(session: Session, case_id: object, state: str) -> Case:
    case = session.get(Case, case_id)
    assert case is not None
    case.state = state
    case.merged_into_id = None
    session.add(case)
    session.commit()
    return case


def _body(dst: str, original: object) -> TransitionIn:
    return TransitionIn(to=dst, comment="checked the documents",
                        duplicate_of=original if dst == CaseState.DUPLICATE else None)


@pytest.mark.parametrize("src", states.STATES)
def test_every_transition_from_state(
    src: str, session: Session, settings: Settings, staff: Staff
) -> None:
    """For each target state and each acting role: allowed edges succeed and write an event;
    edges missing from the table are 409; roles the table does not list get 403."""
    case = make_case(session, settings, wrap_to=[staff.coord, staff.cw])
    original = make_case(session, settings, wrap_to=[staff.coord, staff.cw])
    allowed_seen = refused_seen = 0
    for dst in states.STATES:
        roles = states.TRANSITIONS.get((src, dst))
        for role, name in ACTING_ROLES.items():
            before = _reset(session, case.id, src).version
            me = staff.p(name)
            if roles is None:
                with pytest.raises(Conflict) as exc:
                    transition(session, me, case.id, _body(dst, original.id), settings)
                assert exc.value.details["state"] == src
                refused_seen += 1
            elif role not in roles:
                with pytest.raises(Forbidden):
                    transition(session, me, case.id, _body(dst, original.id), settings)
                refused_seen += 1
            else:
                moved = transition(session, me, case.id, _body(dst, original.id), settings)
                assert moved.state == dst and moved.version == before + 1
                event = session.exec(select(CaseEvent).where(
                    CaseEvent.case_id == case.id).order_by(col(CaseEvent.created_at).desc())
                ).first()
                assert event is not None and (event.from_state, event.to_state) == (src, dst)
                assert event.actor_id == me.user_id and event.sealed_comment is not None
                assert b"checked the documents" not in event.sealed_comment
                allowed_seen += 1
            session.rollback()
            # Forget this attempt's history: the next one must not count it as a review.
            session.execute(delete(CaseEvent).where(col(CaseEvent.case_id) == case.id))
            session.commit()
    expected_allowed = sum(
        1 for (s, _d), roles in states.TRANSITIONS.items() if s == src
        for r in ACTING_ROLES if r in roles
    )
    assert allowed_seen == expected_allowed
    assert allowed_seen + refused_seen == len(states.STATES) * len(ACTING_ROLES)


def test_roles_without_workflow_rights(session: Session, settings: Settings, staff: Staff) -> None:
    """Lawyers (even on their own case) and admins cannot move cases; outsiders see none."""
    case = make_case(session, settings, wrap_to=[staff.cw], lawyer=staff.lawyer)
    with pytest.raises(Forbidden):
        transition(session, staff.p("lawyer"), case.id, TransitionIn(to="triage"), settings)
    session.rollback()
    for name in ("admin", "outsider"):
        with pytest.raises(NotFound):
            transition(session, staff.p(name), case.id, TransitionIn(to="triage"), settings)
        session.rollback()


def _walk(session: Session, settings: Settings, staff: Staff, case_id: object,
          steps: list[tuple[str, str]]) -> None:
    for name, dst in steps:
        transition(session, staff.p(name), case_id, TransitionIn(to=dst), settings)  # type: ignore[arg-type]
        session.commit()


def test_four_eyes(session: Session, settings: Settings, staff: Staff) -> None:
    case = make_case(session, settings, wrap_to=[staff.coord, staff.cw, staff.cw2])
    _walk(session, settings, staff, case.id, [("cw", "triage"), ("cw", "in_review")])
    with pytest.raises(Forbidden) as exc:
        transition(session, staff.p("cw"), case.id, TransitionIn(to="verified"), settings)
    assert exc.value.details["rule"] == "four_eyes"
    session.rollback()
    # Someone who asked for more information during the review also reviewed it.
    _walk(session, settings, staff, case.id, [("cw2", "needs_info"), ("cw", "in_review")])
    with pytest.raises(Forbidden):
        transition(session, staff.p("cw2"), case.id, TransitionIn(to="verified"), settings)
    session.rollback()
    verified = transition(session, staff.p("coord"), case.id, TransitionIn(to="verified"),
                          settings)
    assert verified.state == "verified"


def test_four_eyes_resets_after_reopening(
    session: Session, settings: Settings, staff: Staff
) -> None:
    case = make_case(session, settings, wrap_to=[staff.coord, staff.cw, staff.cw2])
    _walk(session, settings, staff, case.id, [
        ("cw", "triage"), ("cw2", "in_review"), ("cw", "verified"), ("cw", "referred"),
        ("cw", "closed"), ("coord", "triage"), ("cw", "in_review"),
    ])
    # cw2 reviewed before the case was reopened; this round cw reviewed, so cw2 may verify.
    assert transition(session, staff.p("cw2"), case.id, TransitionIn(to="verified"),
                      settings).state == "verified"


def test_verifying_needs_the_key(session: Session, settings: Settings, staff: Staff) -> None:
    case = make_case(session, settings, wrap_to=[staff.cw], state="in_review")
    with pytest.raises(Forbidden):
        transition(session, staff.p("coord"), case.id, TransitionIn(to="verified"), settings)


def test_duplicate_needs_original_and_links(
    session: Session, settings: Settings, staff: Staff
) -> None:
    case = make_case(session, settings, wrap_to=[staff.cw])
    original = make_case(session, settings, wrap_to=[staff.cw])
    with pytest.raises(InvalidInput):
        transition(session, staff.p("cw"), case.id, TransitionIn(to="duplicate"), settings)
    session.rollback()
    hidden = make_case(session, settings, wrap_to=[staff.cw2])
    with pytest.raises(InvalidInput):  # a case the caller cannot see is not confirmed
        transition(session, staff.p("cw"), case.id,
                   TransitionIn(to="duplicate", duplicate_of=hidden.id), settings)
    session.rollback()
    transition(session, staff.p("cw"), case.id,
               TransitionIn(to="duplicate", duplicate_of=original.id), settings)
    session.commit()
    link = session.exec(select(CaseLink).where(CaseLink.source_case_id == case.id)).one()
    assert (link.kind, link.target_case_id) == ("duplicate_of", original.id)


def test_comment_needs_key_and_if_match(session: Session, settings: Settings,
                                        staff: Staff) -> None:
    case = make_case(session, settings, wrap_to=[staff.cw])
    # A coordinator without a wrap may triage from coarse data, but cannot seal a comment.
    with pytest.raises(Forbidden):
        transition(session, staff.p("coord"), case.id,
                   TransitionIn(to="triage", comment="x"), settings)
    session.rollback()
    with pytest.raises(PreconditionFailed):
        transition(session, staff.p("coord"), case.id, TransitionIn(to="triage"), settings,
                   if_match=99)
    session.rollback()
    moved = transition(session, staff.p("coord"), case.id, TransitionIn(to="triage"), settings,
                       if_match=1)
    assert moved.state == "triage"


def test_due_dates_follow_service_levels(session: Session, settings: Settings,
                                         staff: Staff) -> None:
    case = make_case(session, settings, wrap_to=[staff.cw])
    row = session.get(Case, case.id)
    assert row is not None and row.due_at is not None
    # Whole days from the day the state was entered: 24 h -> 1 day, 48 h -> 2 days,
    # urgent 120 h / 4 = 30 h -> 2 days (rounded up, never less than the hours).
    assert row.state_changed_at == day_floor(row.state_changed_at)
    assert row.due_at - row.state_changed_at == timedelta(days=1)
    moved = transition(session, staff.p("cw"), case.id, TransitionIn(to="triage"), settings)
    assert moved.due_at == moved.state_changed_at + timedelta(days=2)
    moved.urgent = True
    moved = transition(session, staff.p("cw"), case.id, TransitionIn(to="in_review"), settings)
    assert moved.due_at == moved.state_changed_at + timedelta(days=2)
    moved = transition(session, staff.p("cw"), case.id, TransitionIn(to="rejected"), settings)
    assert moved.due_at is None


@pytest.mark.parametrize(("hours", "urgent", "days"), [
    (24, False, 1), (25, False, 2), (48, False, 2), (120, True, 2), (24, True, 1), (96, True, 1),
])
def test_due_day_is_whole_days_from_the_state_day(hours: int, urgent: bool, days: int) -> None:
    settings = Settings(case_sla_hours={"triage": hours}, case_sla_urgent_divisor=4)
    for entered in (datetime(2026, 3, 2, 0, 0, tzinfo=UTC),
                    datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC)):
        due = states.due_at("triage", entered, urgent=urgent, settings=settings)
        assert due == datetime(2026, 3, 2, tzinfo=UTC) + timedelta(days=days)
        # Never less time than the configured hours before it counts as overdue.
        assert due is not None and due + timedelta(days=1) - entered >= timedelta(
            hours=hours / (4 if urgent else 1))
    assert states.due_at("closed", datetime(2026, 3, 2, tzinfo=UTC), urgent=False,
                           settings=settings) is None


def test_overdue_only_after_the_due_day() -> None:
    due = datetime(2026, 3, 5, tzinfo=UTC)
    assert not states.is_overdue(due, datetime(2026, 3, 4, 23, 59, tzinfo=UTC))
    assert not states.is_overdue(due, datetime(2026, 3, 5, 0, 0, tzinfo=UTC))
    assert not states.is_overdue(due, datetime(2026, 3, 5, 23, 59, 59, tzinfo=UTC))
    assert states.is_overdue(due, datetime(2026, 3, 6, 0, 0, tzinfo=UTC))
    assert not states.is_overdue(None, datetime(2030, 1, 1, tzinfo=UTC))
