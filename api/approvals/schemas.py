"""Response bodies of the approval endpoints and of the requests that file approvals."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from api.approvals.models import PendingChange
from api.auth.schemas import UserOut

Kind = Literal["reader", "coordinator_role", "intake_duty", "case_grant"]
Status = Literal["pending", "approved", "rejected", "expired"]


class ApprovalOut(BaseModel):
    id: uuid.UUID
    kind: Kind = Field(description="reader: the account may receive case keys at all; "
                       "coordinator_role, intake_duty, case_grant: that change")
    target_id: uuid.UUID = Field(description="the account that would gain access")
    case_id: uuid.UUID | None = Field(default=None, description="case grants only")
    thread_id: uuid.UUID | None = Field(
        default=None, description="a grant of one submitter's thread in the case, not all of it")
    requested_by_id: uuid.UUID | None
    requested_on: date
    expires_on: date = Field(description="the request does nothing from this day on")
    status: Status
    decided_by_id: uuid.UUID | None
    decided_on: date | None
    you_may_decide: bool = Field(
        default=False,
        description="false when you asked for it or it is about you: a second person must",
    )
    reader_first: bool = Field(
        default=False,
        description="true when the account is not an approved reader yet: its reader "
        "request must be approved before this one can be (approving it is refused until then)",
    )

    @classmethod
    def of(cls, row: PendingChange, expires_on: date, *, me: uuid.UUID | None = None,
           reader_first: bool = False) -> ApprovalOut:
        return cls(id=row.id, kind=row.kind, target_id=row.target_id,
                   case_id=row.case_id, thread_id=row.thread_id,
                   requested_by_id=row.requested_by_id,
                   requested_on=row.requested_on, expires_on=expires_on,
                   status=row.status, decided_by_id=row.decided_by_id,
                   decided_on=row.decided_on,
                   you_may_decide=me is not None and me not in (row.requested_by_id,
                                                                row.target_id),
                   reader_first=reader_first)


class UserWithTotp(BaseModel):
    user: UserOut
    totp_provisioning_uri: str = Field(
        description="otpauth:// URI for the authenticator app. Shown once, never again."
    )
    pending_approvals: list[ApprovalOut] = Field(
        default_factory=list,
        description="what a coordinator must still approve: the account as a reader, and a "
        "requested coordinator role or intake duty (until then it is a caseworker, off duty)",
    )
