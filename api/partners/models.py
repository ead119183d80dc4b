"""Partner organisations and their API keys.

An API key is ``dkp_`` followed by 43 random URL-safe characters (256 bits). Only its
SHA-256 is stored: with that much entropy a fast hash is enough, and lookups stay O(1).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow


class Partner(SQLModel, table=True):
    __tablename__ = "partner"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: the NGO's name; partners see aggregates only, their names are not secret.
    name: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class PartnerApiKey(SQLModel, table=True):
    __tablename__ = "partner_api_key"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    partner_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("partner.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Plaintext: a label chosen by the admin ("reporting server 2026").
    name: str = Field(sa_column=Column(String(64), nullable=False))
    # Plaintext: the first characters of the key, so admins can tell keys apart.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    # Plaintext: space-separated scopes, e.g. "stats:read".
    scopes: str = Field(sa_column=Column(String(256), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_by_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
