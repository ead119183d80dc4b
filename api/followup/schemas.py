"""Request and response bodies of the submitter's follow-up API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.ingress.schemas import FileOut

CoarseStatus = Literal["received", "in_progress", "waiting_for_you", "closed"]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    receipt: Annotated[str, Field(min_length=1, max_length=100)]


class SessionOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'.")
    expires_at: datetime
    reference: str


class StatusOut(BaseModel):
    reference: str
    status: CoarseStatus = Field(
        description="received (not looked at yet), in_progress, waiting_for_you (we "
        "asked you something and wait for your answer), or closed (accepts_input is "
        "false: send a new report for anything new)."
    )
    received_on: date
    accepts_input: bool
    unread_messages: int


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: Annotated[str, Field(min_length=1, max_length=20_000)]


class MessageOut(BaseModel):
    id: uuid.UUID
    direction: Literal["from_you", "to_you"]
    text: str
    # The day only (00:00 UTC): message times are kept at day precision; list order
    # is the order the messages were written.
    created_at: datetime = Field(description="The day the message was written (00:00 UTC).")


class AdditionOut(BaseModel):
    files: list[FileOut]
