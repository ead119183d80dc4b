"""Which cases a caller may see: the one place case access is decided.

Every case query in :mod:`api.cases.repository` puts these filters into its statement
(``select(Case).where(case_read_filter(me))``) so no route can forget them. Which wraps a
person holds is asked of :mod:`api.keys.repository`, the owner of the wrap rows.

Policy:

* Reading a case's content (narrative, names, attachments, messages) needs a key wrap:
  a ``CaseKeyWrap`` with ``recipient_kind`` "staff" or "lawyer" and ``recipient_id`` equal
  to the caller's user id. Without a wrap the server could not decrypt anyway; the
  filter makes the refusal explicit, and a 404 rather than a 403 so case ids are not
  confirmed to outsiders.
* Coordinators may additionally LIST the coarse plaintext metadata of every case
  (``case_list_filter``) to assign and balance work; opening content still needs a wrap.
* Caseworkers see the cases wrapped to them (intake duty, assignment, grants).
* Lawyers see only cases wrapped to them, i.e. their own submissions.
* Admins see no cases by default: they manage people, not testimony. An admin who must
  read a case is granted it like anyone else, which is audited.
* Partners never see cases; they get aggregates through the statistics endpoints.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, true
from sqlmodel import Session, col, select

from api.auth.principals import Principal
from api.auth.roles import READER_ROLES, Role
from api.cases.models import Case
from api.keys.models import CaseKeyWrap
from api.keys.repository import held_wrap, wrapped_case_ids


def readable_case_ids(principal: Principal) -> ColumnElement[bool]:
    """``Case.id IN (cases wrapped to this person)``."""
    return col(Case.id).in_(wrapped_case_ids(principal.user_id))


def case_read_filter(principal: Principal) -> ColumnElement[bool]:
    """Cases whose content this caller may read (see the module docstring)."""
    if principal.role not in READER_ROLES:
        return false()
    return readable_case_ids(principal)


def case_list_filter(principal: Principal) -> ColumnElement[bool]:
    """Cases whose coarse metadata this caller may list."""
    if principal_role_lists_all(principal.role):
        return true()
    return case_read_filter(principal)


# The bound parameter that carries the caller's id into ``case_list_clause``.
SCOPE_USER_PARAM = "scope_user_id"


def case_list_clause(role: Role) -> ColumnElement[bool]:
    """``case_list_filter`` for any caller of ``role``, with the caller's id left as the
    required bound parameter ``scope_user_id`` (see ``case_list_params``).

    A statement built on it depends on the role only, so the case list can build it once
    and reuse it for every caller; the parameter is required, so executing it without the
    caller's id fails instead of listing anything."""
    if principal_role_lists_all(role):
        return true()
    if role not in READER_ROLES:
        return false()
    # Untyped: the comparison with ``recipient_id`` gives it that column's type.
    return col(Case.id).in_(wrapped_case_ids(bindparam(SCOPE_USER_PARAM, required=True)))


def case_list_params(principal: Principal) -> dict[str, Any]:
    """The parameters that bind ``case_list_clause(principal.role)`` to this caller."""
    return {SCOPE_USER_PARAM: principal.user_id}


def principal_role_lists_all(role: Role) -> bool:
    """Coordinators list the coarse coding of every case (module docstring)."""
    return role == Role.COORDINATOR


def can_read_case(session: Session, principal: Principal, case_id: uuid.UUID) -> bool:
    stmt = select(Case.id).where(col(Case.id) == case_id, case_read_filter(principal))
    return session.exec(stmt).first() is not None


def wrap_for(session: Session, principal: Principal, case_id: uuid.UUID) -> CaseKeyWrap | None:
    """The caller's own wrap of a case key, if they may read the case."""
    if principal.role not in READER_ROLES:
        return None
    return held_wrap(session, case_id, principal.user_id)
