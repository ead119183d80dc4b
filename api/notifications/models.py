"""The staff notification subscriptions (table ``notification_subscription``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow


class NotificationSubscription(SQLModel, table=True):
    """A staff member's email digest. Staff addresses are acceptable to leak (threat model)."""

    __tablename__ = "notification_subscription"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    staff_user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    # Plaintext: where the content-free digest goes.
    email: str = Field(sa_column=Column(String(254), nullable=False))
    digest_interval_minutes: int = Field(default=60, sa_column=Column(Integer, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    # When the last digest was planned (staff-side, exact).
    last_digest_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # Case creation times are days only (threat model property 13), so the digest cannot
    # count "created after last_digest_at". It remembers instead how many cases (and
    # urgent ones) of the last digest's day it already reported, and reports the rest.
    digest_day: date | None = Field(default=None, sa_column=Column(Date))
    digest_day_new: int = Field(default=0, sa_column=Column(Integer, nullable=False,
                                                            server_default="0"))
    digest_day_urgent: int = Field(default=0, sa_column=Column(Integer, nullable=False,
                                                               server_default="0"))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
