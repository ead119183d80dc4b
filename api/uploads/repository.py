"""Queries on uploads (their parts are api.cases.files' rows: see its repository)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Insert, Table, Update, bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.cases.files.repository import part_count_of
from api.keys.repository import recovery_key_exists_clause
from api.uploads.models import NewUpload, Upload, UploadView

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


_VIEW_COLUMNS = tuple(f for f in UploadView.__dataclass_fields__ if f != "parts")
# SELECT the view's columns, (SELECT count(*) FROM file_part ...) WHERE id = :upload_id:
# built once; its compiled form is cached by the engine.
_VIEW = core_select(*(_TABLE.c[name] for name in _VIEW_COLUMNS),
                    part_count_of(_TABLE.c.id).label("parts")
                    ).where(_TABLE.c.id == bindparam("upload_id"))


def view(session: Session, upload_id: uuid.UUID) -> UploadView | None:
    """The upload's row and its part count, for a request that only reads them."""
    row = session.connection().execute(_VIEW, {"upload_id": upload_id}).first()
    return None if row is None else UploadView(**row._mapping)


# The compare-and-set of a PATCH (see advance), built once: an ORM UPDATE is evaluated
# against the session's objects on every call: a sixth of a small PATCH's instructions.
def _advance_statement(completes: bool) -> Update:
    c = _TABLE.c
    values: dict[str, Any] = {"patch_seq": bindparam("next_seq"),
                              "sealed_progress": bindparam("sealed_progress")}
    if completes:
        values.update(state="complete", sealed_metadata=bindparam("sealed_metadata"))
    return (_TABLE.update()
            .where(c.id == bindparam("upload_id"), c.patch_seq == bindparam("seen_seq"),
                   c.state == "receiving")
            .values(values))


_ADVANCE = {completes: _advance_statement(completes) for completes in (False, True)}


def advance(session: Session, upload_id: uuid.UUID, seen_seq: int,
            sealed_progress: bytes | None, sealed_metadata: bytes | None = None) -> bool:
    """Count one more accepted PATCH, only if nobody else did since ``seen_seq`` was read
    (two PATCHes racing: exactly one UPDATE matches). The offset itself is sealed, so the
    compare-and-set is on the plaintext counter; the caller checked the sealed offset
    against the request after reading ``seen_seq``. With ``sealed_metadata`` the upload
    is complete. Core, not ORM: an Upload object this session holds is not updated."""
    params: dict[str, Any] = {"upload_id": upload_id, "seen_seq": seen_seq,
                              "next_seq": seen_seq + 1, "sealed_progress": sealed_progress}
    if sealed_metadata is not None:
        params["sealed_metadata"] = sealed_metadata
    result: CursorResult[tuple[()]] = session.connection().execute(
        _ADVANCE[sealed_metadata is not None], params)
    return result.rowcount == 1


def expired(session: Session, now: datetime, limit: int = 500) -> Sequence[Upload]:
    stmt = select(Upload).where(col(Upload.expires_at) <= now).limit(limit)
    return session.exec(stmt).all()


def blob_names() -> list[SelectOfScalar[Any]]:
    """Every blob an upload row names (merged blobs from before revision 0013), for the
    orphan sweep; parts are named by api.cases.files.repository."""
    final = col(Upload.final_blob_name)
    return [select(final).where(final.is_not(None))]
