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


class ChoiceOut(BaseModel):
    """A state the case can go to next from where it is, and whether the caller may move
    it there now (the refusal the move would get otherwise, by its rule)."""

    state: str
    open: bool
    rule: str | None = Field(default=None, description=(
        "why not, when refused: coordinator_only, role, needs_key, four_eyes or merged"))
    reason: str | None = Field(default=None, description="the refusal's message, in English")


class EventOut(BaseModel):
    id: uuid.UUID
    kind: str
    from_state: str | None
    to_state: str | None
    actor_id: uuid.UUID | None
    detail: str
    comment: str | None
    created_at: datetime
