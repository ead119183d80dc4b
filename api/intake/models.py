"""Submissions, their attachments, and submitter receipts.

A submission's whole structured report is sealed with the case key (``payload``);
only the coarse coding below stays in plaintext, each column saying why.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, ForeignKey, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDay, new_id, utctoday


def key_case_column() -> Column[uuid.UUID]:
    """``key_case_id``: the case whose key seals the row; by default the row's own case."""
    return Column(Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False,
                  index=True, default=_own_case)


def _own_case(context: Any) -> Any:
    # A row written without naming its key case is sealed under its own case's key.
    return context.get_current_parameters()["case_id"]


class Submission(SQLModel, table=True):
    __tablename__ = "submission"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Plaintext: day precision only (see Case.received_on).
    received_on: date = Field(sa_column=Column(Date, nullable=False))
    # Plaintext: "web", "api" or "lawyer"; the channel, not the person.
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    # Plaintext: victim/relative/witness/lawyer/other, a coarse triage field.
    submitter_role: str = Field(sa_column=Column(String(16), nullable=False))
    # Plaintext: comma-separated categories from a fixed list (detention, torture,
    # disappearance, other) for triage queues.
    categories: str = Field(default="", sa_column=Column(String(128), nullable=False))
    # Plaintext: be/ru/uk/en, so staff answer in the submitter's language.
    language: str = Field(sa_column=Column(String(8), nullable=False))
    # Plaintext: consent scopes granted (fixed vocabulary), needed to enforce them
    # without opening the case (e.g. aggregate statistics).
    consent_scopes: str = Field(default="", sa_column=Column(String(512), nullable=False))
    # Plaintext: a follow-up adds to an existing case rather than opening one.
    is_followup: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # A lawyer's own submissions are visible to them; which lawyer is acceptable to leak.
    lawyer_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"), index=True),
    )
    # The thread this submission belongs to: its own id for the submission a receipt was
    # issued for, that submission's id for a follow-up addition (threat model property 11:
    # each submitter sees only their own thread). Which rows form one thread is
    # acceptable to leak; what they say is not.
    thread_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Whose case key seals this row: the case the thread was first received in. Merge and
    # split move ``case_id`` but never re-seal, because the submitter's receipt opens only
    # that key (the server never learns receipts, so it cannot re-wrap).
    key_case_id: uuid.UUID = Field(sa_column=key_case_column())
    # The structured report (crypto.fields.SealedJSON ciphertext under the thread's key).
    payload: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    schema_version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    submission_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("submission.id", ondelete="CASCADE"), index=True),
    )
    # The case key that seals this row (its thread's, see Submission.key_case_id).
    key_case_id: uuid.UUID = Field(sa_column=key_case_column())
    # Generated object name in the blob store; never derived from anything the client sent.
    blob_name: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    # The per-file key (crypto.stream), wrapped under the case key.
    wrapped_file_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Sealed JSON under the case key: filename, claimed and detected type, sha256, size.
    sealed_metadata: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Plaintext: the blob's size, kept for fsck and storage checks (the blob store shows
    # it anyway). Blobs in crypto.stream format 2 are padded to the Padmé bucket of the
    # original size, so this reveals only the bucket; the exact size and SHA-256 are in
    # sealed_metadata (and on the submitter's receipt page). Rows of files stored before
    # format 2 keep their exact size: those blobs cannot be re-encrypted without keys.
    ciphertext_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    # "original" or "derivative" (a metadata-stripped copy of derived_from_id).
    kind: str = Field(default="original", sa_column=Column(String(16), nullable=False))
    derived_from_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("attachment.id", ondelete="CASCADE"))
    )
    # Plaintext, day precision (property 13), like Submission.received_on.
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )


class Receipt(SQLModel, table=True):
    """A submitter's receipt: a public lookup part and an Argon2id verifier of the secret."""

    __tablename__ = "receipt"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # The submission the receipt was issued for: the root of the submitter's thread. The
    # receipt's key wrap stays with ``case_id`` (the case it was issued in) for good.
    submission_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
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
