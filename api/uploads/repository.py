"""Queries on uploads (their parts are api.cases.files' rows: see its repository)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.uploads.models import Upload


def get(session: Session, upload_id: uuid.UUID) -> Upload | None:
    return session.get(Upload, upload_id)


def advance(session: Session, upload_id: uuid.UUID, seen_seq: int,
            sealed_progress: bytes | None, sealed_metadata: bytes | None = None) -> bool:
    """Count one more accepted PATCH, only if nobody else did since ``seen_seq`` was read
    (two PATCHes racing: exactly one UPDATE matches). The offset itself is sealed, so the
    compare-and-set is on the plaintext counter; the caller checked the sealed offset
    against the request after reading ``seen_seq``."""
    result: CursorResult[tuple[()]] = session.execute(  # type: ignore[assignment]
        update(Upload)
        .where(col(Upload.id) == upload_id, col(Upload.patch_seq) == seen_seq,
               col(Upload.state) == "receiving")
        .values(patch_seq=seen_seq + 1, sealed_progress=sealed_progress,
                **({"state": "complete", "sealed_metadata": sealed_metadata}
                   if sealed_metadata is not None else {}))
    )
    return result.rowcount == 1


def expired(session: Session, now: datetime, limit: int = 500) -> Sequence[Upload]:
    stmt = select(Upload).where(col(Upload.expires_at) <= now).limit(limit)
    return session.exec(stmt).all()


def blob_names() -> list[SelectOfScalar[Any]]:
    """Every blob an upload row names (merged blobs from before revision 0013), for the
    orphan sweep; parts are named by api.cases.files.repository."""
    final = col(Upload.final_blob_name)
    return [select(final).where(final.is_not(None))]
