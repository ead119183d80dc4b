"""tus upload state: one row per upload; its pieces are FilePart rows (api.cases.files).

Nothing here can be decrypted with the database alone: every key and the client's
metadata are sealed under the *upload key*, derived from a secret that exists only in
the upload URL the client holds (see :mod:`api.uploads.capabilities`). No exact size is stored
in plaintext, not even while an upload is open (a seized server could otherwise confirm
that a known file is being uploaded): the declared ``Upload-Length`` and the received
offset are sealed in ``sealed_progress`` and opened on each request that carries the
URL; parts have no plaintext offset or size. What is in plaintext: times, the state,
a count of accepted PATCHes (``patch_seq``, the same as the number of part rows) and
the ciphertext sizes of the padded blobs (crypto.stream format 2: a Padmé bucket only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDay, new_id, utctoday


class Upload(SQLModel, table=True):
    __tablename__ = "upload"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # SHA-256 of the URL secret (256 random bits): lets any process check the URL; the
    # upload key is derived from the secret with HKDF, so the hash does not yield it.
    secret_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    # SealedJSON under the upload key (capabilities.Progress: exact sizes, the running
    # SHA-256 state, the sniffed type) while receiving; NULL once complete, when the
    # sealed metadata holds the final size, hash and type instead.
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
    # A merged blob, only for uploads finished before revision 0013 (now the parts are
    # the file). The file key (under which every part's key is sealed) is made at
    # creation and kept wrapped under the upload key in final_wrapped_key.
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


@dataclass(frozen=True, slots=True)
class NewUpload:
    """The values of an :class:`Upload` row about to be stored (by
    :func:`api.uploads.repository.insert_while_recoverable`), as plain values: a tus
    creation writes its row once and never reads it back, and building and flushing an
    ORM object for that cost more than the INSERT itself (bench/tus_peers.py, 64 KiB
    files). The fields are the table's columns but the two of finished legacy uploads."""

    id: uuid.UUID
    secret_hash: bytes
    sealed_progress: bytes | None
    patch_seq: int
    state: str
    sealed_metadata: bytes
    final_wrapped_key: bytes
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UploadView:
    """An upload's row as a request that only reads it sees it (a PATCH's plan, HEAD),
    with the number of its parts: read by one Core statement
    (:func:`api.uploads.repository.view`), not as an ORM object and a count: the ORM's
    loading was most of a PATCH's time before its body (bench/tus_peers.py)."""

    id: uuid.UUID
    secret_hash: bytes
    sealed_progress: bytes | None
    patch_seq: int
    state: str
    sealed_metadata: bytes
    final_wrapped_key: bytes | None
    expires_at: datetime
    parts: int  # FilePart rows of the upload: one per accepted PATCH
