"""Organisation-level public keys.

Only public keys live here. The recovery *private* key is printed once by
``dokaz keys init`` for offline storage and never touches the server's disk.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary, String
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow


class OrganisationKey(SQLModel, table=True):
    __tablename__ = "organisation_key"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext on purpose: a key's role ("recovery") says nothing about any case.
    purpose: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Plaintext on purpose: lets an admin check the printed key matches this one.
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    retired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
