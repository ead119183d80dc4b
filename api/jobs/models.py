"""The job queue table.

``job`` is a small transactional queue (see ``api/jobs/__init__.py`` for why it is ours
and not a library's). A row is inserted in the same transaction as the write that causes
it, so a committed write always has its job and a rolled-back write never does.

Nothing protected is ever stored here: ``payload`` holds ids, enums and small integers,
validated per kind by ``api.jobs.kinds`` (no free text is representable), and
``last_error`` holds an exception *type name*, never its message.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
DEAD = "dead"
STATUSES = (QUEUED, RUNNING, DONE, DEAD)


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        # The claim query: the next runnable job by time.
        Index("ix_job_status_run_at", "status", "run_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: a fixed job kind name from api.jobs.kinds.
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    # Ids, enums and integers only (validated per kind); never content.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=QUEUED, sa_column=Column(String(16), nullable=False))
    # Claims so far; with locked_by it fences a claim (a late worker cannot finish a job
    # someone else re-claimed after its lease ran out).
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    max_attempts: int = Field(default=8, sa_column=Column(Integer, nullable=False))
    run_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # "host:pid:thread" of the worker holding the claim; staff-operational, not content.
    locked_by: str | None = Field(default=None, sa_column=Column(String(128)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Exception type name only: messages can carry protected content.
    last_error: str | None = Field(default=None, sa_column=Column(String(128)))
    # Periodic jobs ("retention:2026-11-22") and idempotent enqueues: unique for ever, so
    # N workers enqueue a period's job once, and it is not enqueued again once done.
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(160), unique=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
