"""Crypto-shredding of one case, written against the tables (threat model, property 2).

What is removed is derived from the schema, so a sealed table added later by any feature
is covered without touching this file:

* every row of a case-scoped table (one with ``case_id`` -> ``cases.id``) that has a
  NOT NULL ``Ciphertext`` column is deleted: key wraps, submissions, attachments,
  messages, receipts, sealed metadata rows ...; so is every row of a case-scoped table
  that points at such a row by foreign key (it would otherwise block or dangle);
* in the remaining case-scoped tables and in ``cases`` itself, nullable ``Ciphertext``
  columns are set to NULL (a workflow event keeps who/when/from/to, loses its comment);
* plaintext-only rows (coded fields, links) stay, and the case row stays as a tombstone
  with ``shredded_at`` set, so statistics and the audit trail remain consistent;
* attachment blobs (and the parts of files stored in parts, whose rows are deleted
  here) are deleted from the blob store after the commit
  (``api.storage.pending.delete_after_commit``); a crash in between leaves blobs no
  committed row names, which the orphan sweep removes.

Without any wrap the case key is gone, so even a copy of the old ciphertext taken before
shredding (a backup) can be opened only with the offline recovery key; backups are
rotated by the operator.

The plan reads ``SQLModel.metadata``, so every model module must be loaded first: the
caller imports ``api.models`` (the retention job does). This module cannot import it
itself, since the registry imports features that sit above cases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Table, delete, update
from sqlmodel import Session, SQLModel, col, select

from api.cases.files.models import Attachment, FilePart
from api.cases.threads.models import Submission
from api.core.models import Ciphertext, utcnow
from api.storage import BlobStorage
from api.storage.pending import delete_after_commit


@dataclass(frozen=True)
class ShredPlan:
    delete: tuple[Table, ...]  # dependents first
    null_out: tuple[tuple[Table, tuple[str, ...]], ...]


def _case_scoped(table: Table) -> bool:
    return "case_id" in table.c and any(
        fk.column.table.name == "cases" for fk in table.c.case_id.foreign_keys
    )


def _ciphertext(table: Table, *, nullable: bool) -> tuple[str, ...]:
    return tuple(
        c.name for c in table.columns if isinstance(c.type, Ciphertext) and c.nullable == nullable
    )


def plan() -> ShredPlan:
    tables = [t for t in SQLModel.metadata.sorted_tables if _case_scoped(t)]
    doomed = {t.name for t in tables if _ciphertext(t, nullable=False)}
    changed = True
    while changed:  # rows that reference doomed rows go too
        changed = False
        for t in tables:
            if t.name not in doomed and any(
                fk.column.table.name in doomed for fk in t.foreign_keys
            ):
                doomed.add(t.name)
                changed = True
    delete = tuple(t for t in reversed(SQLModel.metadata.sorted_tables) if t.name in doomed)
    null_out = tuple(
        (t, cols) for t in [*tables, SQLModel.metadata.tables["cases"]]
        if t.name not in doomed and (cols := _ciphertext(t, nullable=True))
    )
    return ShredPlan(delete, null_out)


def key_seals_elsewhere(session: Session, case_id: uuid.UUID) -> bool:
    """Whether this case's key still seals a thread that now lives in another case."""
    stmt = select(Submission.id).where(
        col(Submission.key_case_id) == case_id, col(Submission.case_id) != case_id)
    return session.exec(stmt).first() is not None


def shred_case(session: Session, storage: BlobStorage, case_id: uuid.UUID) -> dict[str, int]:
    """Delete the case's wraps and ciphertext in the caller's transaction; return counts
    per table (for the audit entry). Blobs go after the commit."""
    atts = select(Attachment.id).where(Attachment.case_id == case_id)
    blobs = [n for n in session.exec(select(Attachment.blob_name)
                                     .where(Attachment.case_id == case_id)).all() if n]
    # Parts of files stored in parts (finished tus uploads): not case-scoped rows (an
    # open upload's parts have no case yet), so deleted here, not by the plan.
    blobs += session.exec(select(FilePart.blob_name)
                          .where(col(FilePart.attachment_id).in_(atts))).all()
    session.execute(delete(FilePart).where(col(FilePart.attachment_id).in_(atts)))
    counts: dict[str, int] = {}
    p = plan()
    for table in p.delete:
        result = session.execute(table.delete().where(table.c.case_id == case_id))
        if result.rowcount:  # type: ignore[attr-defined]
            counts[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
    for table, cols in p.null_out:
        key = table.c.id if table.name == "cases" else table.c.case_id
        session.execute(update(table).where(key == case_id).values({c: None for c in cols}))
    cases = SQLModel.metadata.tables["cases"]
    session.execute(update(cases).where(cases.c.id == case_id).values(shredded_at=utcnow()))
    session.flush()
    for name in blobs:
        delete_after_commit(session, storage, name)
    counts["blobs"] = len(blobs)
    return counts
