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
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Integer,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    tuple_,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases.access.scoping import (
    case_list_clause,
    case_list_filter,
    case_list_params,
    case_read_filter,
)
from api.cases.models import Case, CaseAct
from api.cases.pagination import Cursor
from api.cases.threads.models import CaseMessage, Submission
from api.core.db import fetch_planned_each_time
from api.core.models import UTCDateTime, day_floor

# ---- the list ----
#
# The list is the hottest query of a surge week, and most of its cost used to be in
# Python around a ~1 ms query: building the statement, SQLAlchemy's cache key of a fresh
# statement, the ORM execution layer. So the statement is built once per *shape* (role,
# which filters are set, sort, direction, kind of cursor) with every value a bound
# parameter, kept in a small LRU cache, and run on the session's Core connection. Values
# never become part of a cached statement; the caller's scope is a required parameter.

_CASES = Case.__table__  # type: ignore[attr-defined]
_ACTS_T = CaseAct.__table__  # type: ignore[attr-defined]
_MESSAGES_T = CaseMessage.__table__  # type: ignore[attr-defined]

# Plain table columns (Core), in ListRow order. Act types of each listed case in the same
# round trip: a correlated aggregate (string_agg on PostgreSQL, group_concat on SQLite);
# the separator is a literal so the SQL text does not change between executions.
_ACT_TYPES = (
    # (The stubs accept only a str separator, which becomes a literal-execute parameter.)
    sa_select(func.aggregate_strings(_ACTS_T.c.act_type,
                                     literal_column("','")))  # type: ignore[arg-type]
    .where(_ACTS_T.c.case_id == _CASES.c.id)
    .correlate(_CASES)
    .scalar_subquery()
    .label("act_types")
)
LIST_COLUMNS = (
    _CASES.c.id, _CASES.c.reference, _CASES.c.state, _CASES.c.priority,
    _CASES.c.priority_rank, _CASES.c.urgent, _CASES.c.urgency_reasons, _CASES.c.region,
    _CASES.c.received_on, _CASES.c.state_changed_at, _CASES.c.due_at,
    _CASES.c.assignee_id, _CASES.c.version, _ACT_TYPES,
)
SORT_COLUMNS: dict[str, Any] = {
    "received_on": Case.received_on,
    "priority": Case.priority_rank,
    "urgency": Case.urgent,
    "state_changed_at": Case.state_changed_at,
    "due": Case.due_at,
}
_SORT_CORE = {name: _CASES.c[attr.key] for name, attr in SORT_COLUMNS.items()}
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
    # Only cases with a submitter's message waiting for staff (no reply, not marked answered).
    awaiting_answer: bool = False
    now: datetime | None = field(default=None)


def _filter_params(f: CaseFilters) -> dict[str, Any]:
    """The bound values of the filters that are set; their names are the statement shape."""
    params: dict[str, Any] = {}
    for name, values in (("states", f.states), ("priorities", f.priorities),
                         ("regions", f.regions), ("act_types", f.act_types)):
        if values:
            params[name] = list(values)
    if f.urgent is not None:
        params["urgent"] = f.urgent
    if f.urgency_reason:
        # Reasons are codes from a fixed list joined by commas; match a whole code.
        params["urgency_reason"] = f",{f.urgency_reason},"
    if f.awaiting_answer:
        params["awaiting_answer"] = True
    if f.unassigned:
        params["unassigned"] = True
    elif f.assignee_id is not None:
        params["assignee_id"] = f.assignee_id
    for name in ("received_from", "received_to", "changed_from", "changed_to"):
        if getattr(f, name) is not None:
            params[name] = getattr(f, name)
    if f.overdue is not None:
        assert f.now is not None
        # Overdue = past its due day (api.cases.workflow.states.is_overdue): due dates are days.
        params["overdue"] = f.overdue
        params["today"] = day_floor(f.now)
    return params


def _filter_clauses(shape: frozenset[str], overdue: bool | None) -> list[ColumnElement[bool]]:
    c = _CASES.c
    clauses: list[ColumnElement[bool]] = []
    for name, column in (("states", c.state), ("priorities", c.priority),
                         ("regions", c.region)):
        if name in shape:
            clauses.append(column.in_(bindparam(name, expanding=True)))
    if "urgent" in shape:
        clauses.append(c.urgent == _bound("urgent", c.urgent))
    if "urgency_reason" in shape:
        clauses.append(("," + c.urgency_reasons + ",").contains(bindparam("urgency_reason")))
    if "act_types" in shape:
        clauses.append(exists().where(
            _ACTS_T.c.case_id == c.id, _ACTS_T.c.act_type.in_(
                bindparam("act_types", expanding=True))))
    if "awaiting_answer" in shape:
        clauses.append(exists().where(
            _MESSAGES_T.c.case_id == c.id, _MESSAGES_T.c.direction == "from_submitter",
            _MESSAGES_T.c.answered_at.is_(None)))
    if "unassigned" in shape:
        clauses.append(c.assignee_id.is_(None))
    elif "assignee_id" in shape:
        clauses.append(c.assignee_id == _bound("assignee_id", c.assignee_id))
    for name, column, op in (("received_from", c.received_on, "ge"),
                             ("received_to", c.received_on, "le"),
                             ("changed_from", c.state_changed_at, "ge"),
                             ("changed_to", c.state_changed_at, "le")):
        if name in shape:
            bound = _bound(name, column)
            clauses.append(column >= bound if op == "ge" else column <= bound)
    if overdue is not None:
        due, today = c.due_at, _bound("today", c.due_at)
        clauses.append(due < today if overdue else or_(due.is_(None), due >= today))
    return clauses


def _bound(name: str, column: Any) -> Any:
    # Typed like its column, explicitly: inside tuple_() the type would not be inferred,
    # and SQLite needs the column's own conversion (UUIDs, UTC datetimes).
    return bindparam(name, type_=column.type)


# The cursor's value is the last row's own value, bound as it is: not cut to the day like
# a filter bound against a UTCDay column would be.
_CURSOR_TYPES: dict[str, Any] = {
    "received_on": Date(), "priority_rank": Integer(), "urgent": Boolean(),
    "state_changed_at": UTCDateTime(), "due_at": UTCDateTime(),
}


# What a cursor needs of the statement: none, a NULL last value (nullable sort), a value.
_NO_CURSOR, _NULL_CURSOR, _VALUE_CURSOR = 0, 1, 2


def _keyset(sort_col: Any, cursor_kind: int, descending: bool, nullable: bool
            ) -> ColumnElement[bool]:
    key = tuple_(sort_col, _CASES.c.id)
    after_id = _bound("cursor_id", _CASES.c.id)
    bound = tuple_(bindparam("cursor_value", type_=_CURSOR_TYPES[sort_col.key]), after_id)
    if not nullable:
        return key < bound if descending else key > bound
    # Nullable sort (due): ascending puts NULLs last, descending puts them first.
    if cursor_kind == _NULL_CURSOR:
        if descending:
            return or_(and_(sort_col.is_(None), _CASES.c.id < after_id), sort_col.is_not(None))
        return and_(sort_col.is_(None), _CASES.c.id > after_id)
    if descending:
        return key < bound
    return or_(key > bound, sort_col.is_(None))


@lru_cache(maxsize=512)  # shapes, not values: a few dozen in practice
def _list_statement(role: Role, shape: frozenset[str], overdue: bool | None, sort: str,
                    descending: bool, cursor_kind: int) -> Any:
    sort_col = _SORT_CORE[sort]
    nullable = sort in NULLABLE_SORTS
    stmt = sa_select(*LIST_COLUMNS).where(case_list_clause(role),
                                          *_filter_clauses(shape, overdue))
    if cursor_kind != _NO_CURSOR:
        stmt = stmt.where(_keyset(sort_col, cursor_kind, descending, nullable))
    if nullable:
        first = sort_col.desc().nulls_first() if descending else sort_col.asc().nulls_last()
    else:
        first = sort_col.desc() if descending else sort_col.asc()
    second = _CASES.c.id.desc() if descending else _CASES.c.id.asc()
    return stmt.order_by(first, second).limit(bindparam("row_limit", type_=Integer))


class ListRow(NamedTuple):
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


def list_query(principal: Principal, request: ListRequest, *, extra: int = 0
               ) -> tuple[Any, dict[str, Any]]:
    """The page's statement and its parameters; ``extra`` rows more than the limit (1: is
    there a next page). The statement is shared by every caller of the same role and
    shape: only the parameters carry this caller, these filters and this cursor."""
    params = _filter_params(request.filters)
    params |= case_list_params(principal)
    params["row_limit"] = request.limit + extra
    cursor = request.cursor
    if cursor is None:
        cursor_kind = _NO_CURSOR
    else:
        cursor_kind = _NULL_CURSOR if cursor.value is None else _VALUE_CURSOR
        params["cursor_id"] = cursor.id
        if cursor.value is not None:
            params["cursor_value"] = cursor.value
    stmt = _list_statement(principal.role, frozenset(params), request.filters.overdue,
                           request.sort, request.descending, cursor_kind)
    return stmt, params


def list_cases(session: Session, principal: Principal, request: ListRequest
               ) -> tuple[list[ListRow], Cursor | None]:
    """One page of cases the caller may list (coarse columns), and the next page's cursor."""
    stmt, params = list_query(principal, request, extra=1)
    # Core, not the ORM: plain rows are all a list needs (same connection and transaction).
    result = fetch_planned_each_time(session, stmt, params)
    rows = [ListRow(*r[:-1], _types(r[-1])) for r in result]  # type: ignore[call-arg]
    next_cursor = None
    if len(rows) > request.limit:
        rows = rows[:request.limit]
        last = rows[-1]
        value = getattr(last, _ROW_FIELD[request.sort])
        next_cursor = Cursor(request.sort, request.descending, value, last.id)
    return rows, next_cursor


@lru_cache(maxsize=256)
def _count_statement(role: Role, shape: frozenset[str], overdue: bool | None) -> Any:
    inner = (sa_select(_CASES.c.id)
             .where(case_list_clause(role), *_filter_clauses(shape, overdue))
             .limit(bindparam("count_cap", type_=Integer)))
    return sa_select(func.count()).select_from(inner.subquery())


def count_cases(session: Session, principal: Principal, filters: CaseFilters, cap: int) -> int:
    """How many cases the caller may list match ``filters``, counted up to ``cap``.

    Capped so a queue's tab counts cost a bounded index walk however many cases match:
    a tab shows "1000+" rather than making every page wait for an exact million."""
    params = _filter_params(filters) | case_list_params(principal)
    stmt = _count_statement(principal.role, frozenset(params), filters.overdue)
    params["count_cap"] = cap
    return int(session.connection().execute(stmt, params).scalar_one())


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


def listable_case_id_by_reference(session: Session, principal: Principal, reference: str
                                  ) -> uuid.UUID | None:
    """A case's id from its reference, if the caller may list it (a coordinator naming
    the duplicate to merge); a reference the caller may not see finds nothing."""
    stmt = select(Case.id).where(col(Case.reference) == reference.strip().upper(),
                                 case_list_filter(principal))
    return session.exec(stmt).first()


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


def reference_of(session: Session, case_id: uuid.UUID) -> str | None:
    """A case's reference, unscoped: for intake telling a submitter who sent the same
    report again that it was received (they were shown that reference the first time)."""
    return session.exec(select(Case.reference).where(col(Case.id) == case_id)).first()


def case_of_thread(session: Session, thread: Submission) -> Case | None:
    """The case a thread is in now (it follows merges and splits), unscoped: for the
    submitter's follow-up session, which holds the thread's key through its receipt."""
    return session.get(Case, thread.case_id)
