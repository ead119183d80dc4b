"""Queries on uploads (their parts are api.cases.files' rows: see its repository)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Insert, Table, bindparam, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.keys.repository import recovery_key_exists_clause
from api.uploads.models import NewUpload, Upload

_TABLE: Table = Upload.__table__  # type: ignore[attr-defined]
_NEW_COLUMNS = tuple(f.name for f in fields(NewUpload))
# INSERT INTO upload (...) SELECT :id, ... WHERE EXISTS (an active recovery key): the row
# and the check in one statement (one round trip to PostgreSQL, not two). Built once; its
# compiled form is cached by the engine.
_INSERT_WHILE_RECOVERABLE: Insert = _TABLE.insert().from_select(
    _NEW_COLUMNS,
    core_select(*(bindparam(name, type_=_TABLE.c[name].type) for name in _NEW_COLUMNS))
    .where(recovery_key_exists_clause())
).execution_options(preserve_rowcount=True)  # an INSERT's rowcount is not kept otherwise


def insert_while_recoverable(session: Session, new: NewUpload) -> bool:
    """Store a new upload's row, only while an active recovery key exists; False (and
    nothing stored) when none does."""
    result: CursorResult[tuple[()]] = session.connection().execute(
        _INSERT_WHILE_RECOVERABLE, {name: getattr(new, name) for name in _NEW_COLUMNS})
    return result.rowcount == 1


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
