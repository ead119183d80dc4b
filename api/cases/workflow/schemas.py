"""Request and response bodies of the workflow: a transition asked for, the history shown."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from api.cases.metadata.document import Long, Strict


class TransitionIn(Strict):
    to: str = Field(max_length=24)
    comment: Long | None = None
    duplicate_of: uuid.UUID | None = None


class EventOut(BaseModel):
    id: uuid.UUID
    kind: str
    from_state: str | None
    to_state: str | None
    actor_id: uuid.UUID | None
    detail: str
    comment: str | None
    created_at: datetime
