"""Request and response bodies of the jobs admin API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    payload: dict[str, Any] = Field(description="ids, enums and integers only")
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    locked_by: str | None
    lease_until: datetime | None
    last_error: str | None = Field(description="exception type name; never a message")
    dedupe_key: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobSummary(BaseModel):
    counts: dict[str, int]
