"""Attachments: the files sent with a case's submissions, and their clean copies.

Each row names a generated blob and holds the file's key wrapped under the thread's case
key; everything the sender said about the file is sealed (``sealed_metadata``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, String, Uuid
from sqlmodel import Field, SQLModel

from api.cases.models import case_column, key_case_column
from api.core.models import Ciphertext, UTCDay, new_id, utctoday


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
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
