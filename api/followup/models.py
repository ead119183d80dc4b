"""Submitters' short-lived follow-up sessions, opened with a receipt.

The messages of a thread are the case's own content (:mod:`api.cases.threads.models`);
follow-up is one of the doors that writes them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, Uuid
from sqlmodel import Field, SQLModel

from api.cases.models import case_column
from api.core.models import Ciphertext, UTCDay, new_id, utctoday


class FollowupSession(SQLModel, table=True):
    """A submitter's short-lived follow-up session, opened with the receipt.

    The case key is kept only encrypted under a key derived from the session token
    (which the server stores only as a SHA-256 hash), so any API process can serve the
    session while a seized copy of this table opens nothing.
    """

    __tablename__ = "followup_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    case_id: uuid.UUID = Field(sa_column=case_column())
    receipt_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("receipt.id", ondelete="CASCADE"), nullable=False)
    )
    # The case key and the session's exact expiry, sealed under the token
    # (api.followup.tokens): only the token's holder learns when the session ends.
    sealed_case_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Day precision (property 13): the first 00:00 UTC after the exact expiry, only so
    # expired rows can be purged; the exact expiry is checked from the sealed blob.
    expires_at: datetime = Field(sa_column=Column(UTCDay, nullable=False, index=True))
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
