"""The case: the unit that gathers submissions, key wraps, metadata and workflow.

Plaintext columns here are the coarse, non-identifying coding the threat model allows
("What stays in plaintext, on purpose"); each says why. Everything a person wrote, every
name and every place more precise than an oblast is sealed with the case key elsewhere
(submission payloads, attachments, messages, sensitive metadata).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: a random public code (e.g. "DKZ-4F7K-Q2MX"), shown to the submitter and
    # used by staff to talk about a case without naming anyone.
    reference: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    # Plaintext: workflow state, needed for triage queues and service levels.
    state: str = Field(default="new", sa_column=Column(String(24), nullable=False, index=True))
    # Plaintext: triage priority (low/normal/high) and urgency, needed to order queues.
    priority: str = Field(default="normal", sa_column=Column(String(16), nullable=False))
    urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, index=True))
    # Plaintext: comma-separated reasons from a fixed list (ongoing_detention, torture_risk,
    # wgeid_urgent), never free text.
    urgency_reasons: str = Field(default="", sa_column=Column(String(128), nullable=False))
    # Plaintext: ISO 3166-2:BY oblast code, "abroad" or "unknown" (coarse, for statistics).
    region: str | None = Field(default=None, sa_column=Column(String(16), index=True))
    # Plaintext: month the events began (YYYY-MM) and its precision, for statistics.
    period_start_month: str | None = Field(default=None, sa_column=Column(String(7)))
    date_precision: str | None = Field(default=None, sa_column=Column(String(24)))
    # Plaintext: day precision is enough for workflow and deliberately no finer, so the
    # database cannot be lined up against network logs of when someone connected.
    received_on: date = Field(sa_column=Column(Date, nullable=False, index=True))
    # Plaintext: who handles the case is acceptable to leak (threat model); content is not.
    assignee_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"), index=True),
    )
    # Plaintext: merged duplicates point at the surviving case.
    merged_into_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("cases.id"), index=True)
    )
    # Optimistic concurrency: bumped on every metadata edit, exposed as the ETag.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    state_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # Set when the case was crypto-shredded: every wrap and ciphertext deleted.
    shredded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
