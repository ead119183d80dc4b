"""The orphan sweep: delete blobs that no committed row names.

A request writes its blobs before its transaction commits. If the process dies in
between, neither the error path nor the rollback hook (:mod:`api.storage.pending`)
runs, and the blobs would stay forever. This sweep lists every object (and every
partial write) in storage; any object older than ``older_than`` that is not named by a
committed ``attachment``, ``upload`` or ``upload_segment`` row is deleted. The age
threshold keeps it away from requests still in flight, so it must be longer than the
slowest request (``Settings.orphan_blob_min_age_hours`` >
``request_body_timeout_seconds``).

The referenced names are read in one statement (a UNION), so a transaction that moves
a name from ``upload`` to ``attachment`` while the sweep runs cannot make the name look
unreferenced. A later workers feature schedules :func:`sweep_orphans`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, union
from sqlmodel import Session, col

from api.cases.files.models import Attachment
from api.core.models import utcnow
from api.storage.base import BlobStorage
from api.uploads.models import Upload, UploadSegment


def referenced_names(session: Session) -> set[str]:
    stmt: Any = union(
        select(col(Attachment.blob_name)),
        select(col(Upload.final_blob_name)).where(col(Upload.final_blob_name).is_not(None)),
        select(col(UploadSegment.blob_name)),
    )
    return {row[0] for row in session.execute(stmt)}


def sweep_orphans(
    session: Session, storage: BlobStorage, older_than: timedelta,
    now: datetime | None = None,
) -> int:
    """Delete unreferenced blobs older than ``older_than``; return how many."""
    cutoff = (now or utcnow()) - older_than
    candidates = [b.name for b in storage.iter_blobs() if b.modified <= cutoff]
    if not candidates:
        return 0
    keep = referenced_names(session)
    deleted = 0
    for name in candidates:
        if name not in keep:
            storage.delete(name)
            deleted += 1
    return deleted
