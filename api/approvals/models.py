"""Pending changes that widen who can read case content, waiting for a second person.

A change is requested by one staff member and takes effect only when a coordinator who is
neither the requester nor the account concerned approves it. Every column is plaintext
staff metadata (who asked whom for what): the threat model accepts that a seized server
shows which staff member handled which case; no content is here.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Column, Date, ForeignKey, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import new_id

# The kinds of change (api.approvals.service executes each one on approval).
READER = "reader"  # a staff account made through the API may receive case keys
COORDINATOR_ROLE = "coordinator_role"
INTAKE_DUTY = "intake_duty"
CASE_GRANT = "case_grant"
KINDS = (READER, COORDINATOR_ROLE, INTAKE_DUTY, CASE_GRANT)

# A request's life: pending, then one of the three final statuses.
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"


class PendingChange(SQLModel, table=True):
    __tablename__ = "pending_change"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: one of KINDS.
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    # Plaintext: the account that would gain access.
    target_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="CASCADE"),
                         nullable=False, index=True)
    )
    # Plaintext: the case, for a case grant only (the grant itself is audited the same way).
    case_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("cases.id", ondelete="CASCADE"), index=True),
    )
    # Plaintext: for a grant of one submitter's thread only (the thread's first submission).
    thread_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("submission.id", ondelete="CASCADE")),
    )
    requested_by_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL")),
    )
    # Plaintext, day precision: enough to expire requests, no finer staff timeline.
    requested_on: date = Field(sa_column=Column(Date, nullable=False))
    # Plaintext: one of the statuses above (api.approvals.service.AUDITED_AS names the
    # audit action each is entered with).
    status: str = Field(default=PENDING, sa_column=Column(String(16), nullable=False,
                                                          index=True))
    decided_by_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL")),
    )
    decided_on: date | None = Field(default=None, sa_column=Column(Date))
