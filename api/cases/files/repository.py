"""Queries of a case's files."""

from __future__ import annotations

import uuid

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
