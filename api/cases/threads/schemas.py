"""Request and response bodies of a case's threads: submissions and messages."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints

from api.cases.metadata.document import Strict


class MessageIn(Strict):
    body: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    # Which submitter's thread the reply is for; may be left out when the case has one.
    thread_id: uuid.UUID | None = None


class MessageOut(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    thread: str
    direction: str
    author_id: uuid.UUID | None
    body: str
    created_at: datetime
    read_at: datetime | None


class ThreadOut(BaseModel):
    """One submitter's thread in a case: shown in full, or marked as not shared with you."""

    id: uuid.UUID
    label: str
    shared: bool
    note: str | None
    submissions: int
    messages: int
    # A message of the submitter's is waiting for staff (no reply, not marked answered).
    awaiting_answer: bool = False


class AnsweredOut(BaseModel):
    """A thread marked answered: how many of the submitter's messages stopped waiting."""

    thread_id: uuid.UUID
    messages_answered: int


class SubmissionOut(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    thread: str
    received_on: date
    channel: str
    submitter_role: str
    categories: list[str]
    language: str
    consent_scopes: list[str]
    is_followup: bool
    payload: Any
