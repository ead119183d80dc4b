"""Request and response bodies of the notification subscriptions admin API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    digest_interval_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    staff_user_id: uuid.UUID
    email: str
    digest_interval_minutes: int
    active: bool
    last_digest_at: datetime
