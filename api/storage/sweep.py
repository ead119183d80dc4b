"""The orphan sweep: delete blobs that no committed row names.

A request writes its blobs before its transaction commits. If the process dies in
between, neither the error path nor the rollback hook (:mod:`api.storage.pending`)
runs, and the blobs would stay forever. This sweep lists every object (and every
partial write) in storage; any object older than ``older_than`` that is not named by a
committed row is deleted. Which columns name blobs is the features' business, not
storage's: the caller passes one select per column (the list is composed once, in
:mod:`api.blob_references`). The age
threshold keeps it away from requests still in flight, so it must be longer than the
slowest request (``Settings.orphan_blob_min_age_hours`` >
``request_body_timeout_seconds``).

The referenced names are read in one statement (a UNION), so a transaction that moves
a name from ``upload`` to ``attachment`` while the sweep runs cannot make the name look
unreferenced. The ``sweep_orphan_blobs`` job and ``dokaz fsck --repair`` run
:func:`sweep_orphans`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import union
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from api.core.models import utcnow
from api.storage.base import BlobStorage

#: One single-column select of blob names per column that names blobs.
BlobReferences = Sequence[SelectOfScalar[Any]]


def referenced_names(session: Session, references: BlobReferences) -> set[str]:
    if not references:
        # An empty list would make every blob an orphan: refuse rather than delete all.
        raise ValueError("no blob references given")
    stmt: Any = union(*references)
    return {row[0] for row in session.execute(stmt)}


def sweep_orphans(
    session: Session, storage: BlobStorage, older_than: timedelta,
    references: BlobReferences, now: datetime | None = None,
) -> int:
    """Delete unreferenced blobs older than ``older_than``; return how many."""
    cutoff = (now or utcnow()) - older_than
    candidates = [b.name for b in storage.iter_blobs() if b.modified <= cutoff]
    if not candidates:
        return 0
    keep = referenced_names(session, references)
    deleted = 0
    for name in candidates:
        if name not in keep:
            storage.delete(name)
            deleted += 1
    return deleted
