"""Case queries, with access scoping built into every one of them.

No function here returns a case, a row of a case or a count without applying
:mod:`api.cases.access.scoping`: ``case_list_filter`` for coarse listing (coordinators see
every case's coarse coding; caseworkers only cases wrapped to them; lawyers their own;
admins none) and ``case_read_filter`` for content. Routes cannot forget the scoping because
they never build a query. Two exceptions serve doors without a staff principal:
:func:`case_id_by_reference` (the operator's command line; an id only) and
:func:`case_of_thread` (the submitter's follow-up session, opened by a receipt).

The list is keyset-paginated over ``(sort column, id)``; see :mod:`api.cases.pagination`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from api.auth.principals import Principal
from api.cases.access.scoping import case_list_filter, case_read_filter
from api.cases.models import Case, CaseAct
from api.cases.pagination import Cursor
from api.cases.threads.models import Submission
from api.core.models import day_floor

SORT_COLUMNS: dict[str, Any] = {
    "received_on": Case.received_on,
    "priority": Case.priority_rank,
    "urgency": Case.urgent,
    "state_changed_at": Case.state_changed_at,
    "due": Case.due_at,
}
NULLABLE_SORTS = frozenset({"due"})


@dataclass
class CaseFilters:
    states: Sequence[str] = ()
    priorities: Sequence[str] = ()
    urgent: bool | None = None
    urgency_reason: str | None = None
    regions: Sequence[str] = ()
    act_types: Sequence[str] = ()
    assignee_id: uuid.UUID | None = None
    unassigned: bool = False
    received_from: date | None = None
    received_to: date | None = None
    changed_from: datetime | None = None
    changed_to: datetime | None = None
    overdue: bool | None = None
    now: datetime | None = field(default=None)


def _filter_clauses(f: CaseFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if f.states:
        clauses.append(col(Case.state).in_(list(f.states)))
    if f.priorities:
        clauses.append(col(Case.priority).in_(list(f.priorities)))
    if f.urgent is not None:
        clauses.append(col(Case.urgent).is_(f.urgent))
    if f.urgency_reason:
        # Reasons are codes from a fixed list joined by commas; match a whole code.
        clauses.append(("," + col(Case.urgency_reasons) + ",").contains(f",{f.urgency_reason},"))
    if f.regions:
        clauses.append(col(Case.region).in_(list(f.regions)))
    if f.act_types:
        clauses.append(exists().where(
            col(CaseAct.case_id) == col(Case.id), col(CaseAct.act_type).in_(list(f.act_types))
        ))
    if f.unassigned:
        clauses.append(col(Case.assignee_id).is_(None))
    elif f.assignee_id is not None:
        clauses.append(col(Case.assignee_id) == f.assignee_id)
    if f.received_from is not None:
        clauses.append(col(Case.received_on) >= f.received_from)
    if f.received_to is not None:
        clauses.append(col(Case.received_on) <= f.received_to)
    if f.changed_from is not None:
        clauses.append(col(Case.state_changed_at) >= f.changed_from)
    if f.changed_to is not None:
        clauses.append(col(Case.state_changed_at) <= f.changed_to)
    if f.overdue is not None:
        assert f.now is not None
        # Overdue = past its due day (api.cases.workflow.states.is_overdue): due dates are days.
        today, due = day_floor(f.now), col(Case.due_at)
        clauses.append(due < today if f.overdue else or_(due.is_(None), due >= today))
    return clauses


def _keyset(sort_col: Any, cursor: Cursor, nullable: bool) -> ColumnElement[bool]:
    key = tuple_(sort_col, col(Case.id))
    if not nullable:
        bound = tuple_(cursor.value, cursor.id)
        return key < bound if cursor.descending else key > bound
    # Nullable sort (due): ascending puts NULLs last, descending puts them first.
    if cursor.value is None:
        if cursor.descending:
            return or_(and_(sort_col.is_(None), col(Case.id) < cursor.id), sort_col.is_not(None))
        return and_(sort_col.is_(None), col(Case.id) > cursor.id)
    bound = tuple_(cursor.value, cursor.id)
    if cursor.descending:
        return key < bound
    return or_(key > bound, sort_col.is_(None))


# The page's act types in the same round trip: a correlated aggregate per listed case
# (string_agg on PostgreSQL, group_concat on SQLite). Built once; expressions are immutable.
_ACT_TYPES = (
    sa_select(func.aggregate_strings(col(CaseAct.act_type), ","))
    .where(col(CaseAct.case_id) == col(Case.id))
    .correlate(Case.__table__)  # type: ignore[attr-defined]
    .scalar_subquery()
    .label("act_types")
)
# Only the coarse columns a list shows: no ORM objects, no sealed columns fetched.
LIST_COLUMNS = (
    col(Case.id), col(Case.reference), col(Case.state), col(Case.priority),
    col(Case.priority_rank), col(Case.urgent), col(Case.urgency_reasons), col(Case.region),
    col(Case.received_on), col(Case.state_changed_at), col(Case.due_at),
    col(Case.assignee_id), col(Case.version), _ACT_TYPES,
)


@dataclass(frozen=True, slots=True)
class ListRow:
    id: uuid.UUID
    reference: str
    state: str
    priority: str
    priority_rank: int
    urgent: bool
    urgency_reasons: str
    region: str | None
    received_on: date
    state_changed_at: datetime
    due_at: datetime | None
    assignee_id: uuid.UUID | None
    version: int
    act_types: list[str]


@dataclass(frozen=True)
class ListRequest:
    """One page of the case list: which cases, in which order, from where, how many."""

    filters: CaseFilters
    sort: str
    descending: bool
    cursor: Cursor | None
    limit: int


def list_query(principal: Principal, request: ListRequest, *, extra: int = 0) -> Any:
    """The page's statement; ``extra`` rows more than the limit (1: is there a next page)."""
    sort, descending, cursor = request.sort, request.descending, request.cursor
    sort_col = SORT_COLUMNS[sort]
    stmt = sa_select(*LIST_COLUMNS).where(case_list_filter(principal),
                                          *_filter_clauses(request.filters))
    if cursor is not None:
        stmt = stmt.where(_keyset(sort_col, cursor, sort in NULLABLE_SORTS))
    if sort in NULLABLE_SORTS:
        first = sort_col.desc().nulls_first() if descending else sort_col.asc().nulls_last()
    else:
        first = sort_col.desc() if descending else sort_col.asc()
    second = col(Case.id).desc() if descending else col(Case.id).asc()
    return stmt.order_by(first, second).limit(request.limit + extra)


def list_cases(session: Session, principal: Principal, request: ListRequest
               ) -> tuple[list[ListRow], Cursor | None]:
    """One page of cases the caller may list (coarse columns), and the next page's cursor."""
    result = session.execute(list_query(principal, request, extra=1))
    rows = [ListRow(*r[:-1], _types(r[-1])) for r in result]  # type: ignore[call-arg]
    next_cursor = None
    if len(rows) > request.limit:
        rows = rows[:request.limit]
        last = rows[-1]
        value = getattr(last, _ROW_FIELD[request.sort])
        next_cursor = Cursor(request.sort, request.descending, value, last.id)
    return rows, next_cursor


def _types(joined: str | None) -> list[str]:
    return sorted(set(joined.split(","))) if joined else []


_ROW_FIELD = {"received_on": "received_on", "priority": "priority_rank", "urgency": "urgent",
              "state_changed_at": "state_changed_at", "due": "due_at"}


def act_types_of(session: Session, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Act types per case, for cases the caller was already allowed to list."""
    out: dict[uuid.UUID, list[str]] = {cid: [] for cid in case_ids}
    if not case_ids:
        return out
    stmt = select(CaseAct.case_id, CaseAct.act_type).where(
        col(CaseAct.case_id).in_(list(case_ids))).distinct()
    for case_id, act_type in session.exec(stmt):
        out[case_id].append(act_type)
    for types in out.values():
        types.sort()
    return out


def listable_case(
    session: Session, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False
) -> Case | None:
    """The case if the caller may at least list it (coarse coding), else None."""
    return _scoped_case(session, case_id, case_list_filter(principal), for_update)


def readable_case(
    session: Session, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False
) -> Case | None:
    """The case if the caller may read its content, else None."""
    return _scoped_case(session, case_id, case_read_filter(principal), for_update)


def _scoped_case(
    session: Session, case_id: uuid.UUID, scope: ColumnElement[bool], for_update: bool
) -> Case | None:
    stmt = select(Case).where(col(Case.id) == case_id, scope)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()



def case_id_by_reference(session: Session, reference: str) -> uuid.UUID | None:
    """Unscoped, for the operator's command line only (``dokaz keys grant --case DKZ-...``):
    whoever runs it holds the server and the recovery key, and gets an id, no content."""
    stmt = select(Case.id).where(col(Case.reference) == reference.strip().upper())
    return session.exec(stmt).first()


def case_of_thread(session: Session, thread: Submission) -> Case | None:
    """The case a thread is in now (it follows merges and splits), unscoped: for the
    submitter's follow-up session, which holds the thread's key through its receipt."""
    return session.get(Case, thread.case_id)
