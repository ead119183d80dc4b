"""Organisation-level public keys.

Only public keys live here. The recovery *private* key is printed once by
``dokaz keys init`` for offline storage and never touches the server's disk.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDateTime, UTCDay, new_id, utcnow, utctoday


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


class CaseKeyWrap(SQLModel, table=True):
    """One wrapped copy of a case's data key (threat model property 2).

    Granting access adds a row; revoking deletes it; deleting every row (and the
    ciphertext) is crypto-shredding.
    """

    __tablename__ = "case_key_wrap"
    __table_args__ = (
        UniqueConstraint(
            "case_id", "recipient_kind", "recipient_id", name="uq_case_key_wrap_recipient"
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Plaintext: "staff", "recovery", "receipt", "lawyer" or "thread" (this case's key,
    # held only for its threads that now live in other cases, see api.cases.threads.keyrings);
    # who may open a case is acceptable to leak, what it says is not.
    recipient_kind: str = Field(sa_column=Column(String(16), nullable=False))
    # staff_user.id, organisation_key.id or receipt.id, by kind.
    recipient_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    wrapped_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    granted_by_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    # Day precision (property 13): intake writes the first wraps of every case.
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
