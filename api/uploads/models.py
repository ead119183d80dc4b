"""tus upload state: one row per upload, one row per stored (encrypted) segment.

Nothing here can be decrypted with the database alone: every key and the client's
metadata are sealed under the *upload key*, derived from a secret that exists only in
the upload URL the client holds (see :mod:`api.uploads.capabilities`). No exact size is stored
in plaintext, not even while an upload is open (a seized server could otherwise confirm
that a known file is being uploaded): the declared ``Upload-Length`` and the received
offset are sealed in ``sealed_progress`` and opened on each request that carries the
URL; segments have no plaintext offset or size. What is in plaintext: times, the state,
a count of accepted PATCHes (``patch_seq``, the same as the number of segment rows) and
the ciphertext sizes of the padded blobs (crypto.stream format 2: a Padmé bucket only).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy import UniqueConstraint as SAUniqueConstraint
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDay, new_id, utctoday


class Upload(SQLModel, table=True):
    __tablename__ = "upload"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # SHA-256 of the URL secret (256 random bits): lets any process check the URL; the
    # upload key is derived from the secret with HKDF, so the hash does not yield it.
    secret_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    # SealedJSON under the upload key: {"length", "offset", "patches"} (exact sizes, see
    # keys.seal_progress) while receiving; NULL once complete, when the sealed metadata
    # holds the final size instead.
    sealed_progress: bytes | None = Field(default=None, sa_column=Column(Ciphertext))
    # Plaintext: accepted PATCHes so far. PATCHes are serialised by a compare-and-set on
    # this counter (not on the offset, which is sealed); it reveals only how many pieces
    # arrived, which the segment rows show anyway.
    patch_seq: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    # Plaintext: "receiving" or "complete".
    state: str = Field(default="receiving", sa_column=Column(String(16), nullable=False))
    # SealedJSON under the upload key: filename and claimed type; once complete also
    # detected type, size and SHA-256.
    sealed_metadata: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # The merged file once complete (generated name), and its file key under the upload key.
    final_blob_name: str | None = Field(
        default=None, sa_column=Column(String(128), unique=True)
    )
    final_wrapped_key: bytes | None = Field(default=None, sa_column=Column(Ciphertext))
    # Plaintext: the final blob's size for fsck; padded (crypto.stream format 2), so it
    # shows only the Padmé bucket of the file's size.
    final_ciphertext_size: int | None = Field(default=None, sa_column=Column(BigInteger))
    # Day precision (property 13): an upload is a submitter's; its expiry rounds up to
    # the next 00:00 UTC.
    expires_at: datetime = Field(sa_column=Column(UTCDay, nullable=False, index=True))
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )


class UploadSegment(SQLModel, table=True):
    """The ciphertext of one accepted PATCH: a complete crypto.stream file of its own."""

    __tablename__ = "upload_segment"
    __table_args__ = (SAUniqueConstraint("upload_id", "seq", name="uq_upload_segment_seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    upload_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("upload.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    blob_name: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    # This segment's own stream key, wrapped under the upload key.
    wrapped_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Plaintext: the segment blob's size for fsck; padded like every stream blob, so it
    # shows only the Padmé bucket of the PATCH's size (the exact size is not stored: the
    # upload's sealed progress has the offset, and merging checks the total).
    ciphertext_size: int = Field(sa_column=Column(BigInteger, nullable=False))
