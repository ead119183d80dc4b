"""Messages between the submitter and staff, one thread per submission, sealed with the
thread's case key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDateTime, new_id, utcnow
from api.intake.models import key_case_column


class CaseMessage(SQLModel, table=True):
    __tablename__ = "case_message"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # The thread (root submission) the message belongs to: the submitter who wrote it or
    # to whom staff wrote it. Only that thread's receipt sees it.
    submission_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # The case key that seals the body: the thread's (Submission.key_case_id).
    key_case_id: uuid.UUID = Field(sa_column=key_case_column())
    # Plaintext: "from_submitter" or "to_submitter".
    direction: str = Field(sa_column=Column(String(16), nullable=False))
    # Which staff member wrote it (acceptable to leak); None for the submitter.
    author_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL")),
    )
    body: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class FollowupSession(SQLModel, table=True):
    """A submitter's short-lived follow-up session, opened with the receipt.

    The case key is kept only encrypted under a key derived from the session token
    (which the server stores only as a SHA-256 hash), so any API process can serve the
    session while a seized copy of this table opens nothing.
    """

    __tablename__ = "followup_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    case_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    receipt_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("receipt.id", ondelete="CASCADE"), nullable=False)
    )
    sealed_case_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
