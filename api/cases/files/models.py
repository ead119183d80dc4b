"""Attachments: the files sent with a case's submissions, and their clean copies.

Each row names a generated blob and holds the file's key wrapped under the thread's case
key; everything the sender said about the file is sealed (``sealed_metadata``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Uuid
from sqlalchemy import UniqueConstraint as SAUniqueConstraint
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
    # NULL for a file stored in parts (a finished tus upload): its FilePart rows name them.
    blob_name: str | None = Field(default=None, sa_column=Column(String(128), unique=True))
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


class FilePart(SQLModel, table=True):
    """One piece of a stored file that is kept as several ``crypto.stream`` files.

    A tus upload is stored as the PATCHes it arrived in (see :mod:`api.uploads.service`):
    each part is a complete stream file under its own key, so finishing an upload never
    re-encrypts it. While the upload is open the parts belong to it (``upload_id``); a
    submission that claims it moves them to the attachment (``attachment_id``, the same
    id) in one UPDATE. Each part's key, stream file id and exact plaintext size are sealed
    under the *file key* (wrapped under the upload key, then the case key), bound to the
    file id and ``seq``: a part row moved to another place or another file does not open,
    and a missing part shows as sizes that do not add up (:mod:`api.cases.files.stored`).
    Plaintext: the order, the padded ciphertext size (a Padmé bucket) for fsck.
    """

    __tablename__ = "file_part"
    __table_args__ = (
        SAUniqueConstraint("upload_id", "seq", name="uq_file_part_upload_seq"),
        SAUniqueConstraint("attachment_id", "seq", name="uq_file_part_attachment_seq"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    upload_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("upload.id", ondelete="CASCADE"), index=True),
    )
    attachment_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("attachment.id", ondelete="CASCADE"), index=True),
    )
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    blob_name: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    # SealedJSON under the file key: {"id": stream file id, "key": part key, "size": n}.
    sealed_part: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    ciphertext_size: int = Field(sa_column=Column(BigInteger, nullable=False))
