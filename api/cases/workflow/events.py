"""Case events (the history) and the bookkeeping every change of a case does.

Every change goes through :func:`changed`: it writes one ``case_event`` (who, when, what;
a comment sealed under the case key), bumps the version (the ETag) and recomputes the due
date of the current state.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, func, select

from api.cases.metadata.contexts import event_comment_context
from api.cases.models import Case, CaseEvent
from api.cases.workflow import states
from api.cases.workflow.schemas import EventOut
from api.cases.workflow.states import CaseState
from api.core.errors import Forbidden
from api.core.models import day_floor, utcnow
from api.core.settings import Settings
from crypto.errors import CryptoError
from crypto.fields import SealedText
from crypto.keys import DataKey

TRANSITION = "transition"
EDIT = "edit"
ASSIGN = "assign"
MERGE = "merge"
SPLIT = "split"
GRANT = "grant"
REVOKE = "revoke"
CONSENT = "consent"
DERIVATIVE = "derivative"
MESSAGE = "message"
ANSWERED = "answered"


def changed(
    session: Session,
    case: Case,
    settings: Settings,
    *,
    kind: str,
    actor_id: uuid.UUID | None,
    key: DataKey | None,
    comment: str | None = None,
    detail: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
    now: datetime | None = None,
    bump: bool = True,
) -> CaseEvent:
    """Record an event; with ``bump`` (any change of what the ETag covers) bump the version."""
    # Day precision (property 13): an exact time of an event or of the case's last change
    # can date a submitter's addition. The order of events is kept by ``seq``.
    now = day_floor(now or utcnow())
    if comment and key is None:
        raise Forbidden("You hold no key to this case, so you cannot add a comment to it "
                        "(comments are encrypted with the case key). Leave the comment out "
                        "or ask for access.")
    event = CaseEvent(case_id=case.id, kind=kind, actor_id=actor_id, detail=detail,
                      from_state=from_state, to_state=to_state, created_at=now,
                      seq=next_seq(session, case.id))
    if comment and key is not None:
        event.sealed_comment = SealedText.seal(
            key, comment, event_comment_context(case.id, event.id)).ciphertext
    session.add(event)
    if bump:
        case.version += 1
        case.updated_at = now
        refresh_due(case, settings)
        session.add(case)
    return event


def next_seq(session: Session, case_id: uuid.UUID) -> int:
    """The next number in the case's history. Writers of one case are serialised by the
    case row lock (load_for_change) or SQLite's single writer; a tie (e.g. events moved
    by a merge) is broken by id, which only reorders events of one day."""
    latest = session.exec(select(func.max(CaseEvent.seq))
                          .where(CaseEvent.case_id == case_id)).one()
    return int(latest or 0) + 1


def refresh_due(case: Case, settings: Settings) -> None:
    case.due_at = states.due_at(case.state, case.state_changed_at, urgent=case.urgent,
                                  settings=settings)


def history(session: Session, case_id: uuid.UUID, key: DataKey | None) -> list[EventOut]:
    rows = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)
                        .order_by(col(CaseEvent.created_at), col(CaseEvent.seq), col(CaseEvent.id)))
    out = []
    for e in rows:
        comment = None
        if e.sealed_comment is not None and key is not None:
            try:
                comment = SealedText(e.sealed_comment).open(
                    key, event_comment_context(case_id, e.id))
            except CryptoError:
                comment = None  # sealed under the key of a case this one was merged from
        out.append(EventOut(id=e.id, kind=e.kind, from_state=e.from_state, to_state=e.to_state,
                            actor_id=e.actor_id, detail=e.detail, comment=comment,
                            created_at=e.created_at))
    return out


def reviewers(session: Session, case_id: uuid.UUID) -> set[uuid.UUID]:
    """Who reviewed the case since it last entered triage (four-eyes rule)."""
    rows = session.exec(
        select(CaseEvent.to_state, CaseEvent.actor_id)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == TRANSITION)
        .order_by(col(CaseEvent.created_at), col(CaseEvent.seq), col(CaseEvent.id))
    )
    people: set[uuid.UUID] = set()
    for to_state, actor in rows:
        if to_state == CaseState.TRIAGE:
            people.clear()
        elif to_state in states.REVIEW_STATES and actor is not None:
            people.add(actor)
    return people
