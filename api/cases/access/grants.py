"""Granting and revoking another staff member's access to a case (audited).

Grant: the coordinator opens the case key with their own session key and wraps it to the
colleague's public key (``key.grant``). A thread grant wraps one submitter's thread key
instead (:mod:`api.cases.threads.keyrings`), e.g. to a lawyer whose case another submitter's case
was merged into. :func:`grant` is the one function that wraps a case or thread key to a
further person; it runs only when a second coordinator approves a ``case_grant`` request
(``api.approvals.service``, threat model property 12), and that approver is the
``principal`` whose wrap opens the key. Revoke: delete that colleague's wrap
(``key.revoke``). The recovery wrap is not a staff wrap and cannot be revoked here, and the
last staff wrap is kept so a case never silently becomes readable only offline.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth import repository as auth_repository
from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases.access import wraps
from api.cases.models import Case
from api.cases.service import open_case
from api.cases.threads import keyrings
from api.cases.workflow import events
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.core.settings import Settings
from api.keys import repository as keys_repository
from api.keys.models import CaseKeyWrap
from api.keys.repository import HOLDER_KINDS, PERSONAL_KINDS, STAFF, THREAD
from crypto.keys import DataKey

GRANTABLE = (Role.COORDINATOR, Role.CASEWORKER)
THREAD_GRANTABLE = (*GRANTABLE, Role.LAWYER)


def grantee(session: Session, staff_id: uuid.UUID, *, thread: bool = False) -> StaffUser:
    """The account a case (or, with ``thread``, one thread) may be granted to, or
    InvalidInput saying why not."""
    user = auth_repository.get_staff(session, staff_id)
    if user is None or user.disabled_at is not None:
        raise InvalidInput("No active staff member has this id.")
    if thread and user.role not in THREAD_GRANTABLE:
        raise InvalidInput("A thread can be granted to coordinators, caseworkers and lawyers "
                           "only.")
    if not thread and user.role not in GRANTABLE:
        raise InvalidInput("Case access can be granted to coordinators and caseworkers only "
                           "(admins manage people, not testimony; lawyers see their own "
                           "submissions).")
    return user


def grant(
    session: Session, principal: Principal, case_id: uuid.UUID, staff_id: uuid.UUID,
    settings: Settings, *, thread_id: uuid.UUID | None = None,
) -> CaseKeyWrap:
    """Give a colleague the case, or (``thread_id``) one submitter's thread in it (only on
    an approved request, see above).

    A case grant wraps the case key, and the keys of its threads from other cases that the
    granter holds, to a coordinator or caseworker. A thread grant wraps that thread's key
    (kind ``thread``) to someone who can already read the case, a lawyer included: the
    only way another submitter's words reach a lawyer (threat model property 11).
    """
    case, key = open_case(session, principal, case_id, for_update=True)
    user = grantee(session, staff_id, thread=thread_id is not None)
    if thread_id is not None:
        return _grant_thread(session, principal, case, key, user, thread_id, settings)
    existing = keys_repository.held_wrap(session, case.id, user.id)
    if existing is not None:
        raise Conflict("This person already has access to the case.")
    wrap = wraps.wrap_to_staff(session, case.id, key, user, granted_by=principal.user_id)
    events.changed(session, case, settings, kind=events.GRANT, actor_id=principal.user_id,
                   key=key, detail=f"staff={user.id}", bump=False)
    audit.record(session, action=actions.KEY_GRANT, actor_id=principal.user_id,
                 case_id=case.id, target=str(user.id), details={"kind": STAFF})
    # The threads merged in from other cases come along, as far as the granter holds them
    # (each one its own audited entry); the rest stay "not shared" until granted.
    ring = keyrings.keyring(session, principal, case, key)
    keyrings.share_with_readers(session, ring=ring, key_case_ids=set(ring.keys) - {case.id},
                               case=case, actor_id=principal.user_id, reason="case_grant",
                               only=user)
    session.flush()
    return wrap


def _grant_thread(
    session: Session, principal: Principal, case: Case, key: DataKey, user: StaffUser,
    thread_id: uuid.UUID, settings: Settings,
) -> CaseKeyWrap:
    root = keyrings.thread_in(session, case.id, thread_id)
    if keys_repository.held_wrap(session, case.id, user.id) is None:
        raise InvalidInput("This person cannot read the case itself; grant them the case "
                           "first (lawyers see the cases of their own submissions).")
    if keys_repository.held_wrap(session, root.key_case_id, user.id, HOLDER_KINDS) is not None:
        raise Conflict("This person already has access to this thread.")
    thread_key = keyrings.keyring(session, principal, case, key).get(root.key_case_id)
    if thread_key is None:
        raise Forbidden("This thread is not shared with you, so you cannot grant it. A "
                        "coordinator who can open it may.")
    wrap = keyrings.wrap_thread_key(session, case=case, key_case_id=root.key_case_id,
                                   key=thread_key, user=user, actor_id=principal.user_id,
                                   reason="thread_grant", detail={"thread": str(root.id)})
    events.changed(session, case, settings, kind=events.GRANT, actor_id=principal.user_id,
                   key=key, detail=f"staff={user.id};thread={root.id}", bump=False)
    session.flush()
    return wrap


def revoke(
    session: Session, principal: Principal, case_id: uuid.UUID, staff_id: uuid.UUID,
    settings: Settings, *, thread_id: uuid.UUID | None = None,
) -> None:
    """Take a colleague's access to the case (with its threads' keys), or to one thread."""
    case, key = open_case(session, principal, case_id, for_update=True)
    if thread_id is not None:
        _revoke_thread(session, principal, case, key, staff_id, thread_id, settings)
        return
    wrap = keys_repository.held_wrap(session, case.id, staff_id)
    if wrap is None:
        raise NotFound("This person has no access to the case to revoke.")
    others = [w for w in keys_repository.wraps_of_case(session, case.id, PERSONAL_KINDS)
              if w.id != wrap.id]
    if not others:
        raise Conflict("This is the last staff member who can open the case; grant someone "
                       "else access first.")
    keys_repository.delete_wrap(session, wrap)
    # The keys of threads merged into this case went with the case access; they go too.
    dropped = keyrings.drop_thread_keys(session, case.id, staff_id)
    unassigned = case.assignee_id == staff_id
    if unassigned:
        case.assignee_id = None  # nobody is left working on what they cannot open
    events.changed(session, case, settings, kind=events.REVOKE, actor_id=principal.user_id,
                   key=key, detail=f"staff={staff_id}", bump=unassigned)
    audit.record(session, action=actions.KEY_REVOKE, actor_id=principal.user_id,
                 case_id=case.id, target=str(staff_id),
                 details={"kind": wrap.recipient_kind, "thread_keys": dropped})
    session.flush()


def _revoke_thread(
    session: Session, principal: Principal, case: Case, key: DataKey, staff_id: uuid.UUID,
    thread_id: uuid.UUID, settings: Settings,
) -> None:
    root = keyrings.thread_in(session, case.id, thread_id)
    wrap = keys_repository.held_wrap(session, root.key_case_id, staff_id, HOLDER_KINDS)
    if wrap is None or wrap.recipient_kind != THREAD:
        # A staff or lawyer wrap is access to the thread's own case: revoke that instead.
        raise NotFound("This person holds no grant of this thread to revoke.")
    keys_repository.delete_wrap(session, wrap)
    events.changed(session, case, settings, kind=events.REVOKE, actor_id=principal.user_id,
                   key=key, detail=f"staff={staff_id};thread={root.id}", bump=False)
    audit.record(session, action=actions.KEY_REVOKE, actor_id=principal.user_id,
                 case_id=case.id, target=str(staff_id),
                 details={"kind": THREAD, "thread": str(root.id),
                          "key_case": str(root.key_case_id)})
    session.flush()
