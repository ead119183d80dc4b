"""Messages between the submitter and staff, one thread per submission, sealed with the
thread's case key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDay, new_id, number_within_case, utctoday
from api.intake.models import key_case_column


class CaseMessage(SQLModel, table=True):
    __tablename__ = "case_message"
    __table_args__ = (Index("ix_case_message_case_seq", "case_id", "seq"),)

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
    # Plaintext, day precision: together with the direction an exact time would date
    # the submitter's visits (property 13). Messages are ordered by ``seq`` instead.
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDay))
    # Order within the case (1, 2, 3, ...).
    seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


number_within_case(CaseMessage)


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
    # The case key and the session's exact expiry, sealed under the token
    # (api.followup.tokens): only the token's holder learns when the session ends.
    sealed_case_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Day precision (property 13): the first 00:00 UTC after the exact expiry, only so
    # expired rows can be purged; the exact expiry is checked from the sealed blob.
    expires_at: datetime = Field(sa_column=Column(UTCDay, nullable=False, index=True))
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
