"""Granting and revoking another staff member's access to a case (audited).

Grant: the coordinator opens the case key with their own session key and wraps it to the
colleague's public key (``key.grant``). :func:`grant` is the one function that wraps a
case key to a further person; it runs only when a second coordinator approves a
``case_grant`` request (``api.approvals.service``, threat model property 12), and that
approver is the ``principal`` whose wrap opens the key. Revoke: delete that colleague's wrap
(``key.revoke``). The recovery wrap is not a staff wrap and cannot be revoked here, and the
last staff wrap is kept so a case never silently becomes readable only offline.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth.dependencies import Principal
from api.auth.models import StaffUser
from api.auth.roles import Role
from api.cases import events, keys
from api.cases.service import open_case
from api.core.errors import Conflict, InvalidInput, NotFound
from api.core.settings import Settings
from api.keys.models import CaseKeyWrap

GRANTABLE = (Role.COORDINATOR, Role.CASEWORKER)


def grantee(session: Session, staff_id: uuid.UUID) -> StaffUser:
    """The account a case may be granted to, or InvalidInput saying why not."""
    user = session.get(StaffUser, staff_id)
    if user is None or user.disabled_at is not None:
        raise InvalidInput("No active staff member has this id.")
    if user.role not in GRANTABLE:
        raise InvalidInput("Case access can be granted to coordinators and caseworkers only "
                           "(admins manage people, not testimony; lawyers see their own "
                           "submissions).")
    return user


def grant(
    session: Session, principal: Principal, case_id: uuid.UUID, staff_id: uuid.UUID,
    settings: Settings,
) -> CaseKeyWrap:
    """Wrap the case key to ``staff_id`` (only on an approved request, see above)."""
    case, key = open_case(session, principal, case_id, for_update=True)
    user = grantee(session, staff_id)
    existing = keys.own_wrap(session, case.id, user.id)
    if existing is not None:
        raise Conflict("This person already has access to the case.")
    wrap = keys.wrap_to_staff(session, case.id, key, user, granted_by=principal.user_id)
    events.changed(session, case, settings, kind=events.GRANT, actor_id=principal.user_id,
                   key=key, detail=f"staff={user.id}", bump=False)
    audit.record(session, action=actions.KEY_GRANT, actor_id=principal.user_id,
                 case_id=case.id, target=str(user.id), details={"kind": keys.STAFF})
    session.flush()
    return wrap


def revoke(
    session: Session, principal: Principal, case_id: uuid.UUID, staff_id: uuid.UUID,
    settings: Settings,
) -> None:
    case, key = open_case(session, principal, case_id, for_update=True)
    wrap = keys.own_wrap(session, case.id, staff_id)
    if wrap is None:
        raise NotFound("This person has no access to the case to revoke.")
    others = [w for w in keys.personal_wraps(session, case.id) if w.id != wrap.id]
    if not others:
        raise Conflict("This is the last staff member who can open the case; grant someone "
                       "else access first.")
    session.delete(wrap)
    unassigned = case.assignee_id == staff_id
    if unassigned:
        case.assignee_id = None  # nobody is left working on what they cannot open
    events.changed(session, case, settings, kind=events.REVOKE, actor_id=principal.user_id,
                   key=key, detail=f"staff={staff_id}", bump=unassigned)
    audit.record(session, action=actions.KEY_REVOKE, actor_id=principal.user_id,
                 case_id=case.id, target=str(staff_id), details={"kind": wrap.recipient_kind})
    session.flush()
