"""Request and response bodies of the case itself: the list, the detail, assignment,
merge and split.

The detail gathers the bodies of every sub-package; the metadata document it shows is the
one clients write back (:mod:`api.cases.metadata.document`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from api.cases.access.schemas import AccessOut
from api.cases.files.schemas import AttachmentOut
from api.cases.metadata.document import Long, Metadata, Strict
from api.cases.metadata.schemas import ConsentOut
from api.cases.threads.schemas import MessageOut, SubmissionOut, ThreadOut
from api.cases.workflow.schemas import EventOut


class AssignIn(Strict):
    assignee_id: uuid.UUID | None


class MergeIn(Strict):
    from_case_id: uuid.UUID
    comment: Long | None = None


class SplitIn(Strict):
    submission_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    comment: Long | None = None


class CaseListItem(BaseModel):
    id: uuid.UUID
    reference: str
    state: str
    priority: str
    urgent: bool
    urgency_reasons: list[str]
    region: str | None
    received_on: date
    state_changed_at: datetime
    due_at: datetime | None
    overdue: bool
    assignee_id: uuid.UUID | None
    act_types: list[str]
    version: int


class CaseList(BaseModel):
    items: list[CaseListItem]
    next_cursor: str | None


class LinkOut(BaseModel):
    kind: str
    source_case_id: uuid.UUID
    target_case_id: uuid.UUID
    submission_ids: list[uuid.UUID]
    actor_id: uuid.UUID | None
    created_at: datetime


class CaseDetail(CaseListItem):
    period_start_month: str | None
    period_end_month: str | None
    date_precision: str | None
    merged_into_id: uuid.UUID | None
    metadata: Metadata
    consents: list[ConsentOut]
    # Every thread of the case; the lists below hold only the threads shared with you.
    threads: list[ThreadOut]
    submissions: list[SubmissionOut]
    attachments: list[AttachmentOut]
    messages: list[MessageOut]
    events: list[EventOut]
    links: list[LinkOut]
    access: list[AccessOut]
    next_states: list[str]
