"""Two-person approvals under ``/api/v1/approvals``: coordinators list, approve, reject.

Requests are filed by the routes that would widen access (admin user routes, case access
grants); this router only decides them. Rules live in api.approvals.service.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.approvals import service
from api.approvals.schemas import ApprovalOut
from api.auth.dependencies import require_roles
from api.auth.principals import Principal
from api.auth.roles import Role
from api.core.dependencies import Config, DbSession, Now
from api.core.errors import (
    DENIED,
    Conflict,
    InvalidInput,
    NotFound,
    error_responses,
)

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])
Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
_DECIDE = (*DENIED, NotFound, Conflict)




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
