"""Queries of a case's files."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, ScalarSelect, Table, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.cases.files.models import Attachment, FilePart


def attachments_of(session: Session, case_id: uuid.UUID) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.case_id == case_id)
                             .order_by(col(Attachment.created_at), col(Attachment.id))))


def attachment_blob_names() -> list[SelectOfScalar[str | None]]:
    """Every blob an attachment or a file part (of an attachment or an open upload) names,
    for the orphan sweep and backups."""
    return [select(col(Attachment.blob_name)).where(col(Attachment.blob_name).is_not(None)),
            select(col(FilePart.blob_name))]


# Parts of open uploads (FilePart.upload_id); the uploads feature asks these.


def upload_parts(session: Session, upload_id: uuid.UUID) -> Sequence[FilePart]:
    stmt = select(FilePart).where(col(FilePart.upload_id) == upload_id)
    return session.exec(stmt.order_by(col(FilePart.seq))).all()


def part_count_of(upload_id: ColumnElement[uuid.UUID]) -> ScalarSelect[int]:
    """The number of parts of the upload ``upload_id`` names, as a scalar subquery: for a
    statement of the uploads feature that reads an upload and its count in one go."""
    parts: Table = FilePart.__table__  # type: ignore[attr-defined]
    return (select(func.count()).select_from(parts)
            .where(parts.c.upload_id == upload_id).scalar_subquery())


def part_count(session: Session, upload_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(FilePart).where(col(FilePart.upload_id) == upload_id)
    return int(session.exec(stmt).one())


def parts_ciphertext_size(session: Session, upload_id: uuid.UUID) -> int:
    stmt = select(func.coalesce(func.sum(col(FilePart.ciphertext_size)), 0)).where(
        col(FilePart.upload_id) == upload_id)
    return int(session.exec(stmt).one())


def move_parts(session: Session, file_id: uuid.UUID) -> None:
    """A claimed upload's parts become its attachment's (same id), in one statement."""
    session.execute(update(FilePart).where(col(FilePart.upload_id) == file_id)
                    .values(upload_id=None, attachment_id=file_id))


_PART_TABLE: Table = FilePart.__table__  # type: ignore[attr-defined]


def add_part(session: Session, *, id: uuid.UUID, upload_id: uuid.UUID, seq: int,
             blob_name: str, ciphertext_size: int, sealed_part: bytes) -> None:
    """Store an upload's next part: one Core INSERT (its parts are written once and read
    back only by their own queries, so no ORM object is built and flushed for it)."""
    session.connection().execute(_PART_TABLE.insert(), {
        "id": id, "upload_id": upload_id, "attachment_id": None, "seq": seq,
        "blob_name": blob_name, "ciphertext_size": ciphertext_size,
        "sealed_part": sealed_part})
