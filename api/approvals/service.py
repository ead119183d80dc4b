"""The two-person rule (threat model property 12): no one person makes a reader.

A phished or coerced admin must not be able to bring any account to read testimony. So
every change that lets an account receive case keys is a request that a second person,
a coordinator, must approve before it happens:

* ``reader``: an account made through the API (by an admin) may receive no case key at
  all, by intake, assignment or grant, until a coordinator approves it. Accounts made on
  the server's shell (``dokaz users create``, host access) are approved as they are made;
  that is how the first coordinator comes to exist.
* ``coordinator_role``: creating a coordinator or changing a role to coordinator.
* ``intake_duty``: putting an account on intake duty (every new case is wrapped to it).
* ``case_grant``: wrapping a case key to another person. The approver opens the key with
  their own wrap, so they must hold it (``api.cases.access.grants.grant`` does the wrapping).

Who decides: an active, approved coordinator who is neither the requester (not even a
coordinator approves their own request) nor the account concerned. Admins may request
but never decide (the routes only let coordinators in, and this module checks again).
Narrowing changes (duty off, a role away from coordinator, a revoke) stay one step.

Assigning a case stays one step: the assigning coordinator already reads the case and is
a second person next to the admin who made the account, which must be an approved reader
(``api.cases.access.wraps.wrap_to_staff`` refuses any other).

Requests expire after ``approval_expiry_days`` and then do nothing; expiring them is a
periodic job (``workers/jobs/approvals.py``). Each request, approval, rejection and expiry
is audited and counted in coordinators' digests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

from api.approvals import repository
from api.approvals.models import (
    APPROVED,
    CASE_GRANT,
    COORDINATOR_ROLE,
    EXPIRED,
    INTAKE_DUTY,
    PENDING,
    READER,
    REJECTED,
    PendingChange,
)
from api.approvals.schemas import ApprovalOut
from api.audit import actions
from api.audit import repository as audit_repository
from api.audit.service import record
from api.auth import accounts
from api.auth import repository as auth_repository
from api.auth.accounts import Actor, NewTotp
from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.auth.roles import INTAKE_ROLES, Role
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.core.settings import Settings


def expires_on(row: PendingChange, settings: Settings) -> date:
    return row.requested_on + timedelta(days=settings.approval_expiry_days)


def _oldest_alive(today: date, settings: Settings) -> date:
    """Requests made on or before this day have expired."""
    return today - timedelta(days=settings.approval_expiry_days)


def out(row: PendingChange, settings: Settings, me: uuid.UUID | None = None,
        target: StaffUser | None = None) -> ApprovalOut:
    """``target``: the account concerned, when known, to say whether its reader request
    must be approved first (:func:`approve` refuses until then)."""
    return ApprovalOut.of(row, expires_on(row, settings), me=me,
                          reader_first=_waits_for_reader(row, target))


def _waits_for_reader(row: PendingChange, target: StaffUser | None) -> bool:
    return (row.kind != READER and target is not None
            and target.reader_approved_on is None)


# The audit action each status is entered with: one entry per step of a request's life.
AUDITED_AS = {
    PENDING: actions.APPROVAL_REQUESTED,
    APPROVED: actions.APPROVAL_APPROVED,
    REJECTED: actions.APPROVAL_REJECTED,
    EXPIRED: actions.APPROVAL_EXPIRED,
}


def _audit(session: Session, row: PendingChange, target: StaffUser | None,
           *, actor_id: uuid.UUID | None, actor_kind: str) -> None:
    """Record the step that put ``row`` in its current status."""
    record(session, action=AUDITED_AS[row.status], actor_id=actor_id, actor_kind=actor_kind,
           case_id=row.case_id, target=target.username if target else str(row.target_id),
           details={"approval_id": str(row.id), "kind": row.kind,
                    "user_id": str(row.target_id),
                    **({"thread": str(row.thread_id)} if row.thread_id else {})})


# ---------------------------------------------------------------- requests

def request(
    session: Session, settings: Settings, *, kind: str, target: StaffUser, actor: Actor,
    today: date, case_id: uuid.UUID | None = None, thread_id: uuid.UUID | None = None,
) -> PendingChange:
    """File a request (or return the same one already waiting); audited."""
    if actor.kind != "staff" or actor.id is None:
        raise InvalidInput("Only a signed-in staff member files approval requests.")
    existing = repository.open_request(session, kind, target.id, case_id,
                                       _oldest_alive(today, settings), thread_id)
    if existing is not None:
        return existing
    row = PendingChange(kind=kind, target_id=target.id, case_id=case_id, thread_id=thread_id,
                        requested_by_id=actor.id, requested_on=today)
    session.add(row)
    session.flush()
    _audit(session, row, target, actor_id=actor.id, actor_kind=actor.kind)
    return row


@dataclass(frozen=True)
class CreatedAccount:
    new: NewTotp
    pending: list[PendingChange]


def create_account(
    session: Session, settings: Settings, *, username: str, role: Role, password: str,
    on_intake_duty: bool, actor: Actor, now: datetime,
) -> CreatedAccount:
    """An admin's new account: made without reading power, with requests for the rest.

    A requested coordinator starts as a caseworker (which holds no key and cannot decide
    approvals) until a coordinator approves the role; a requested intake duty starts off.
    """
    if on_intake_duty and role not in INTAKE_ROLES:
        raise InvalidInput("Only coordinators and caseworkers can be on intake duty.")
    start_role = Role.CASEWORKER if role == Role.COORDINATOR else role
    new = accounts.create_user(session, settings, username=username, role=start_role,
                               password=password, actor=actor, now=now)
    today = now.date()
    pending: list[PendingChange] = []
    if role != Role.ADMIN:
        pending.append(request(session, settings, kind=READER, target=new.user, actor=actor,
                               today=today))
    if role == Role.COORDINATOR:
        pending.append(request(session, settings, kind=COORDINATOR_ROLE, target=new.user,
                               actor=actor, today=today))
    if on_intake_duty:
        pending.append(request(session, settings, kind=INTAKE_DUTY, target=new.user,
                               actor=actor, today=today))
    return CreatedAccount(new, pending)


def change_role(
    session: Session, settings: Settings, user: StaffUser, role: Role, *, actor: Actor,
    today: date,
) -> StaffUser | PendingChange:
    """A role change from the API: to coordinator is a request, anything else is direct."""
    if role == Role.COORDINATOR and user.role != Role.COORDINATOR.value:
        if user.disabled_at is not None:
            raise InvalidInput("This account is disabled; enable it first.")
        return request(session, settings, kind=COORDINATOR_ROLE, target=user, actor=actor,
                       today=today)
    accounts.set_role(session, user, role, actor=actor)
    if role != Role.ADMIN and user.reader_approved_on is None:
        # An admin account turned into a reader role still needs a second person.
        request(session, settings, kind=READER, target=user, actor=actor, today=today)
    return user


def change_intake_duty(
    session: Session, settings: Settings, user: StaffUser, on_duty: bool, *, actor: Actor,
    today: date,
) -> StaffUser | PendingChange:
    """Duty from the API: on is a request, off (narrowing) is direct."""
    if on_duty and not user.on_intake_duty:
        if Role(user.role) not in INTAKE_ROLES:
            raise InvalidInput("Only coordinators and caseworkers can be on intake duty.")
        if user.disabled_at is not None:
            raise InvalidInput("This account is disabled; enable it first.")
        return request(session, settings, kind=INTAKE_DUTY, target=user, actor=actor,
                       today=today)
    return accounts.set_intake_duty(session, user, on_duty, actor=actor)


def request_reader(
    session: Session, settings: Settings, user: StaffUser, *, actor: Actor, today: date,
) -> PendingChange:
    """Ask again for an account's reader approval (for example after one expired)."""
    if user.reader_approved_on is not None:
        raise Conflict("This account is already an approved reader.")
    if user.role == Role.ADMIN.value:
        raise InvalidInput("Admins read no cases; there is nothing to approve.")
    return request(session, settings, kind=READER, target=user, actor=actor, today=today)


def request_grant(
    session: Session, settings: Settings, principal: Principal, case_id: uuid.UUID,
    staff_id: uuid.UUID, *, today: date, thread_id: uuid.UUID | None = None,
) -> PendingChange:
    """A coordinator asks for a colleague (or themselves) to get a case key, or, with
    ``thread_id``, one submitter's thread key (e.g. a lawyer after a merge, property 11).

    The requester needs no key: a coordinator who holds one must approve, so a
    coordinator left alone with a case can still bring in a colleague via a second one.
    """
    from api.cases.access import grants
    from api.cases.repository import listable_case
    from api.cases.threads import keyrings
    from api.keys.repository import HOLDER_KINDS, held_wrap

    case = listable_case(session, principal, case_id)
    if case is None:
        raise NotFound("No such case.")
    user = grants.grantee(session, staff_id, thread=thread_id is not None)
    if thread_id is None:
        if held_wrap(session, case.id, user.id) is not None:
            raise Conflict("This person already has access to the case.")
    else:
        root = keyrings.thread_in(session, case.id, thread_id)
        if held_wrap(session, case.id, user.id) is None:
            raise InvalidInput("This person cannot read the case itself; grant them the case "
                               "first (lawyers see the cases of their own submissions).")
        if held_wrap(session, root.key_case_id, user.id, HOLDER_KINDS) is not None:
            raise Conflict("This person already has access to this thread.")
    return request(session, settings, kind=CASE_GRANT, target=user,
                   actor=Actor("staff", principal.user_id), today=today, case_id=case.id,
                   thread_id=thread_id)


# ---------------------------------------------------------------- decisions

def list_pending(session: Session, settings: Settings, principal: Principal, today: date
                 ) -> list[ApprovalOut]:
    rows = repository.pending(session, _oldest_alive(today, settings))
    # Reader requests first: the account's other requests cannot be approved before it.
    rows = sorted(rows, key=lambda r: r.kind != READER)
    return [out(r, settings, principal.user_id, auth_repository.get_staff(session, r.target_id))
            for r in rows]


def _decidable(session: Session, settings: Settings, principal: Principal,
               change_id: uuid.UUID, today: date) -> tuple[PendingChange, StaffUser]:
    row = repository.get(session, change_id, for_update=True)
    if row is None:
        raise NotFound("No approval request has this id.")
    if row.status != PENDING:
        raise Conflict(f"This request is already {row.status}.")
    if expires_on(row, settings) <= today:
        raise Conflict("This request has expired and does nothing; ask for it again.")
    me = auth_repository.get_staff(session, principal.user_id)
    if (me is None or me.disabled_at is not None or me.role != Role.COORDINATOR.value
            or me.reader_approved_on is None):
        raise Forbidden("Only an approved coordinator decides approval requests.")
    target = auth_repository.get_staff(session, row.target_id)
    assert target is not None  # the foreign key cascades deletes
    return row, target


def _decide(session: Session, row: PendingChange, target: StaffUser | None, status: str,
            decided_by: uuid.UUID | None, today: date) -> PendingChange:
    """Close a request with its final status; audited by the coordinator, or by "system"
    when nobody decided (expiry)."""
    row.status, row.decided_by_id, row.decided_on = status, decided_by, today
    session.add(row)
    session.flush()
    _audit(session, row, target, actor_id=decided_by,
           actor_kind="system" if decided_by is None else "staff")
    return row


def approve(
    session: Session, settings: Settings, principal: Principal, change_id: uuid.UUID,
    today: date,
) -> PendingChange:
    """Approve and carry out the change in the same transaction."""
    row, target = _decidable(session, settings, principal, change_id, today)
    if principal.user_id == row.requested_by_id:
        raise Forbidden("You asked for this change; another coordinator must approve it.")
    if principal.user_id == row.target_id:
        raise Forbidden("This change is about your own account; another coordinator must "
                        "approve it.")
    if target.disabled_at is not None:
        raise Conflict("This account is disabled; reject the request or enable it first.")
    if _waits_for_reader(row, target):
        raise Conflict("This account is not an approved reader yet: approve its reader "
                       "request first.")
    actor = Actor("staff", principal.user_id)
    if row.kind == READER:
        target.reader_approved_on = today
        session.add(target)
    elif row.kind == COORDINATOR_ROLE:
        accounts.set_role(session, target, Role.COORDINATOR, actor=actor)
    elif row.kind == INTAKE_DUTY:
        accounts.set_intake_duty(session, target, True, actor=actor)
    elif row.kind == CASE_GRANT:
        from api.cases.access import grants

        assert row.case_id is not None
        grants.grant(session, principal, row.case_id, target.id, settings,
                     thread_id=row.thread_id)
    return _decide(session, row, target, APPROVED, principal.user_id, today)


def reject(
    session: Session, settings: Settings, principal: Principal, change_id: uuid.UUID,
    today: date,
) -> PendingChange:
    """Turn a request down (the requester may withdraw their own): nothing changes."""
    row, target = _decidable(session, settings, principal, change_id, today)
    return _decide(session, row, target, REJECTED, principal.user_id, today)


def expire_due(session: Session, settings: Settings, today: date) -> int:
    """Mark requests past their time as expired (audited by "system"); returns how many."""
    rows = repository.due_to_expire(session, _oldest_alive(today, settings))
    for row in rows:
        target = auth_repository.get_staff(session, row.target_id)
        _decide(session, row, target, EXPIRED, None, today)
    return len(rows)


@dataclass(frozen=True)
class DigestCounts:
    requested: int
    approved: int
    rejected: int
    expired: int
    pending: int

    def any(self) -> bool:
        return bool(self.requested or self.approved or self.rejected or self.expired)


def digest_counts(session: Session, settings: Settings, since: datetime, today: date
                  ) -> DigestCounts:
    """Counts for a coordinator's digest: what happened since ``since``, what waits now."""
    seen = audit_repository.audited_since(session, tuple(AUDITED_AS.values()), since)
    return DigestCounts(
        requested=seen.get(actions.APPROVAL_REQUESTED, 0),
        approved=seen.get(actions.APPROVAL_APPROVED, 0),
        rejected=seen.get(actions.APPROVAL_REJECTED, 0),
        expired=seen.get(actions.APPROVAL_EXPIRED, 0),
        pending=len(repository.pending(session, _oldest_alive(today, settings))),
    )
