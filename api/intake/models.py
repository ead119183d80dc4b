"""Submitter receipts: the public lookup of a thread and the verifier of its secret.

The submissions and attachments intake writes are the case's own content and live with
the case (:mod:`api.cases.threads.models`, :mod:`api.cases.files.models`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from api.cases.models import case_column
from api.cases.threads.models import submission_column
from api.core.models import Ciphertext, UTCDay, new_id, utctoday


class Receipt(SQLModel, table=True):
    """A submitter's receipt: a public lookup part and an Argon2id verifier of the secret."""

    __tablename__ = "receipt"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    # The submission the receipt was issued for: the root of the submitter's thread. The
    # receipt's key wrap stays with ``case_id`` (the case it was issued in) for good.
    submission_id: uuid.UUID = Field(sa_column=submission_column())
    # Plaintext: random 40-bit lookup part; finds the row, proves nothing by itself.
    lookup: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    # crypto.receipts.ReceiptVerifier bytes (per-receipt salt, parameters, verifier).
    verifier: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Per-receipt throttling survives restarts and applies across API processes.
    failed_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Day precision (property 13): a lock runs to a 00:00 UTC at least an hour away, so
    # the row does not date the (mis)typing of a receipt.
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDay))
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )


class IntakeReplay(SQLModel, table=True):
    """A report already filed under a form token or an ``Idempotency-Key``, for a while.

    Holds no plaintext that names the case: the lookup is a keyed hash of the key, and the
    case it led to is sealed under a second key derived from the same key (see
    :mod:`api.intake.replays` for why, and what a seized server can learn from a row).
    """

    __tablename__ = "intake_replay"

    # HMAC-SHA256 (hex) of the scope and the key under the server secret. The primary key
    # is the unique constraint two concurrent replays meet: only one insert can win.
    lookup: str = Field(sa_column=Column(String(64), primary_key=True))
    # {"case": id, "body": fingerprint or null}, sealed under a key derived from the key.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Day precision (property 13): the row outlives its retention by less than a day.
    expires_at: datetime = Field(sa_column=Column(UTCDay, nullable=False, index=True))
