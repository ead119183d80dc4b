"""Two-person approvals: the routes that file a request, and ``/api/v1/approvals``.

``requests`` holds the routes that would widen access and so answer with a pending
change (202) where a second person must decide: an admin creating an account, changing a
role or intake duty, asking for reader approval; a coordinator asking for a case or
thread grant. They keep their URLs under ``/api/v1/admin/users`` and ``/api/v1/cases``
(and those tags); they live here because approvals sit above auth and cases and carry
out approved changes through them. The TOTP reset is here too: its reply is the
account-with-TOTP body that account creation, with its pending approvals, defines.

``router`` (``/api/v1/approvals``) is where coordinators list, approve and reject.
Rules live in :mod:`api.approvals.service`.
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.approvals import service
from api.approvals.models import PendingChange
from api.approvals.schemas import ApprovalOut, UserWithTotp
from api.auth import accounts
from api.auth.accounts import Actor
from api.auth.dependencies import AdminOnly, require_roles
from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.auth.roles import Role
from api.auth.schemas import CreateUser, DutyChange, RoleChange, UserOut
from api.cases.access.schemas import GrantIn
from api.core.dependencies import Config, DbSession, Now
from api.core.errors import (
    DENIED,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    error_responses,
)

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])
Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
_DECIDE = (*DENIED, NotFound, Conflict)

requests = APIRouter(prefix="/api/v1")
ADMIN: list[str | Enum] = ["admin: users"]
CASES: list[str | Enum] = ["cases"]
_CASE = (Unauthorized, Forbidden, NotFound)


def _actor(me: AdminOnly) -> Actor:
    return Actor("staff", me.user_id)


@requests.post("/admin/users", tags=ADMIN, response_model=UserWithTotp, status_code=201,
               responses=error_responses(*DENIED, InvalidInput, Conflict))
def create_user(body: CreateUser, me: AdminOnly, session: DbSession, settings: Config,
                now: Now) -> UserWithTotp:
    """Create an account. The TOTP URI is returned once: give it to the person.

    The account receives no case key until a coordinator approves it as a reader; a
    coordinator role or intake duty asked for here waits for a coordinator's approval
    too (two-person rule), listed in ``pending_approvals``.
    """
    made = service.create_account(session, settings, username=body.username, role=body.role,
                                  password=body.password, on_intake_duty=body.on_intake_duty,
                                  actor=_actor(me), now=now)
    return UserWithTotp(user=UserOut.of(made.new.user),
                        totp_provisioning_uri=made.new.provisioning_uri,
                        pending_approvals=[service.out(p, settings) for p in made.pending])


def _changed(result: StaffUser | PendingChange, response: Response,
             settings: Config) -> UserOut | ApprovalOut:
    if isinstance(result, PendingChange):
        response.status_code = status.HTTP_202_ACCEPTED
        return service.out(result, settings)
    return UserOut.of(result)


@requests.put("/admin/users/{user_id}/role", tags=ADMIN, response_model=UserOut | ApprovalOut,
              responses={202: {"model": ApprovalOut, "description": "waits for a coordinator"},
                         **error_responses(*DENIED, NotFound, InvalidInput, Conflict)})
def change_role(user_id: uuid.UUID, body: RoleChange, me: AdminOnly, session: DbSession,
                settings: Config, now: Now, response: Response) -> UserOut | ApprovalOut:
    """Change a role (audited). It takes effect on the person's next request.

    To coordinator: 202 and an approval request; a coordinator other than you decides.
    """
    user = accounts.require_user(session, user_id)
    return _changed(service.change_role(session, settings, user, body.role, actor=_actor(me),
                                        today=now.date()), response, settings)


@requests.post("/admin/users/{user_id}/reset-totp", tags=ADMIN, response_model=UserWithTotp,
               responses=error_responses(*DENIED, NotFound))
def reset_totp(user_id: uuid.UUID, me: AdminOnly, session: DbSession, settings: Config,
               now: Now) -> UserWithTotp:
    """New TOTP secret (lost phone). Signs the person out; the URI is shown once."""
    user = accounts.require_user(session, user_id)
    new = accounts.reset_totp(session, settings, user, actor=_actor(me), now=now)
    return UserWithTotp(user=UserOut.of(new.user), totp_provisioning_uri=new.provisioning_uri)


@requests.put("/admin/users/{user_id}/intake-duty", tags=ADMIN,
              response_model=UserOut | ApprovalOut,
              responses={202: {"model": ApprovalOut, "description": "waits for a coordinator"},
                         **error_responses(*DENIED, NotFound, InvalidInput)})
def set_intake_duty(user_id: uuid.UUID, body: DutyChange, me: AdminOnly, session: DbSession,
                    settings: Config, now: Now,
                    response: Response) -> UserOut | ApprovalOut:
    """Put a coordinator or caseworker on (or off) intake duty: new submissions are
    wrapped to everyone on duty. On: 202 and an approval request for a coordinator;
    off: at once."""
    user = accounts.require_user(session, user_id)
    return _changed(service.change_intake_duty(session, settings, user, body.on_intake_duty,
                                               actor=_actor(me), today=now.date()),
                    response, settings)


@requests.post("/admin/users/{user_id}/reader-approval", tags=ADMIN, response_model=ApprovalOut,
               status_code=202,
               responses=error_responses(*DENIED, NotFound, InvalidInput, Conflict))
def request_reader_approval(user_id: uuid.UUID, me: AdminOnly, session: DbSession,
                            settings: Config, now: Now) -> ApprovalOut:
    """Ask a coordinator to approve this account as a reader (again, e.g. after expiry)."""
    user = accounts.require_user(session, user_id)
    return service.out(service.request_reader(session, settings, user, actor=_actor(me),
                                              today=now.date()), settings)


# ---- case access: a coordinator asks, another coordinator who holds the key approves ----

@requests.post("/cases/{case_id}/access", tags=CASES, status_code=202,
               response_model=ApprovalOut,
               responses=error_responses(*_CASE, Conflict, InvalidInput))
def grant_access(case_id: uuid.UUID, body: GrantIn, me: Coordinator, session: DbSession,
                 settings: Config, now: Now) -> ApprovalOut:
    """Ask for the case key to be wrapped to a staff member. Another coordinator who holds
    the key approves it (POST /api/v1/approvals/{id}/approve); then key.grant is audited."""
    row = service.request_grant(session, settings, me, case_id, body.staff_id,
                                today=now.date())
    return service.out(row, settings, me.user_id)


@requests.post("/cases/{case_id}/threads/{thread_id}/access", tags=CASES, status_code=202,
               response_model=ApprovalOut,
               responses=error_responses(*_CASE, Conflict, InvalidInput))
def grant_thread_access(case_id: uuid.UUID, thread_id: uuid.UUID, body: GrantIn,
                        me: Coordinator, session: DbSession, settings: Config,
                        now: Now) -> ApprovalOut:
    """Ask for one submitter's thread key to be wrapped to someone who can read the case,
    a lawyer included. Another coordinator who holds that thread's key approves it; then
    key.grant (kind thread) is audited."""
    row = service.request_grant(session, settings, me, case_id, body.staff_id,
                                today=now.date(), thread_id=thread_id)
    return service.out(row, settings, me.user_id)


# ---- deciding ----

@router.get("", response_model=list[ApprovalOut],
            responses=error_responses(*DENIED))
def list_pending(me: Coordinator, session: DbSession, settings: Config,
                 now: Now) -> list[ApprovalOut]:
    """Requests waiting for a coordinator, oldest first (expired ones are not listed)."""
    return service.list_pending(session, settings, me, now.date())


@router.post("/{approval_id}/approve", response_model=ApprovalOut,
             responses=error_responses(*_DECIDE, InvalidInput))
def approve(approval_id: uuid.UUID, me: Coordinator, session: DbSession, settings: Config,
            now: Now) -> ApprovalOut:
    """Approve someone else's request; the change takes effect now (audited).

    A case grant needs you to hold the case key: it is wrapped from yours.
    """
    row = service.approve(session, settings, me, approval_id, now.date())
    return service.out(row, settings, me.user_id)


@router.post("/{approval_id}/reject", response_model=ApprovalOut,
             responses=error_responses(*_DECIDE))
def reject(approval_id: uuid.UUID, me: Coordinator, session: DbSession, settings: Config,
           now: Now) -> ApprovalOut:
    """Turn a request down (or withdraw your own); nothing changes (audited)."""
    row = service.reject(session, settings, me, approval_id, now.date())
    return service.out(row, settings, me.user_id)
