"""The testimony of a case's threads: submissions and the messages with their submitters.

A submission's whole structured report is sealed with the thread's case key (``payload``);
only the coarse coding below stays in plaintext, each column saying why. Intake and
follow-up are the public doors that write these rows; the case owns them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from api.cases.models import case_column, key_case_column
from api.core.models import Ciphertext, UTCDay, new_id, number_within_case, utctoday


def submission_column() -> Column[uuid.UUID]:
    """A required reference to a submission (a thread's root), deleted with it."""
    return Column(
        Uuid, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, index=True
    )


class Submission(SQLModel, table=True):
    __tablename__ = "submission"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: day precision only (see Case.received_on).
    received_on: date = Field(sa_column=Column(Date, nullable=False))
    # Plaintext: "web", "api" or "lawyer"; the channel, not the person.
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    # Plaintext: victim/relative/witness/lawyer/other, a coarse triage field.
    submitter_role: str = Field(sa_column=Column(String(16), nullable=False))
    # Plaintext: comma-separated categories from a fixed list (detention, torture,
    # disappearance, other) for triage queues.
    categories: str = Field(default="", sa_column=Column(String(128), nullable=False))
    # Plaintext: be/ru/uk/en, so staff answer in the submitter's language.
    language: str = Field(sa_column=Column(String(8), nullable=False))
    # Plaintext: consent scopes granted (fixed vocabulary), needed to enforce them
    # without opening the case (e.g. aggregate statistics).
    consent_scopes: str = Field(default="", sa_column=Column(String(512), nullable=False))
    # Plaintext: a follow-up adds to an existing case rather than opening one.
    is_followup: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # A lawyer's own submissions are visible to them; which lawyer is acceptable to leak.
    lawyer_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"), index=True),
    )
    # The thread this submission belongs to: its own id for the submission a receipt was
    # issued for, that submission's id for a follow-up addition (threat model property 11:
    # each submitter sees only their own thread). Which rows form one thread is
    # acceptable to leak; what they say is not.
    thread_id: uuid.UUID = Field(sa_column=submission_column())
    # Whose case key seals this row: the case the thread was first received in. Merge and
    # split move ``case_id`` but never re-seal, because the submitter's receipt opens only
    # that key (the server never learns receipts, so it cannot re-wrap).
    key_case_id: uuid.UUID = Field(sa_column=key_case_column())
    # The structured report (crypto.fields.SealedJSON ciphertext under the thread's key).
    payload: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    schema_version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class CaseMessage(SQLModel, table=True):
    __tablename__ = "case_message"
    __table_args__ = (Index("ix_case_message_case_seq", "case_id", "seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    # The thread (root submission) the message belongs to: the submitter who wrote it or
    # to whom staff wrote it. Only that thread's receipt sees it.
    submission_id: uuid.UUID = Field(sa_column=submission_column())
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
    # A submitter's message: the day staff answered it, by a reply in its thread or by
    # marking the thread answered (e.g. answered by phone through a lawyer); None while it
    # waits for staff. Day precision like the other times (property 13).
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDay))
    # Order within the case (1, 2, 3, ...).
    seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


number_within_case(CaseMessage)
