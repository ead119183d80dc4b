"""Streaming export of the audit log as CSV or JSON.

Entries are read in keyset pages, each page in its own short transaction: on SQLite every
transaction holds the write lock, and one long read would stall every other request for
the length of the download.

:func:`download` is what the API's export route and the console's export form both call:
the export is recorded in the log it exports, whichever surface asked for it.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlmodel import Session

from api.audit import actions
from api.audit.chain import format_time
from api.audit.models import AuditEntry
from api.audit.service import record
from api.core.db import unit_of_work

ExportFormat = Literal["csv", "json"]
COLUMNS = [
    "seq", "id", "created_at", "action", "actor_kind", "actor_id", "case_id", "target",
    "details", "prev_hash", "entry_hash",
]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def iter_entries(engine: Engine, page: int = 500) -> Iterator[dict[str, Any]]:
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    after = 0
    while True:
        with unit_of_work(engine) as session:
            rows = session.execute(
                select(table).where(table.c.seq > after).order_by(table.c.seq).limit(page)
            ).all()
        if not rows:
            return
        for row in rows:
            yield {
                "seq": row.seq, "id": str(row.id), "created_at": format_time(row.created_at),
                "action": row.action, "actor_kind": row.actor_kind,
                "actor_id": str(row.actor_id) if row.actor_id else None,
                "case_id": str(row.case_id) if row.case_id else None,
                "target": row.target, "details": row.details,
                "prev_hash": row.prev_hash, "entry_hash": row.entry_hash,
            }
        after = rows[-1].seq


def _csv_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with these as a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def stream_csv(engine: Engine) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for entry in iter_entries(engine):
        writer.writerow([_csv_safe(entry[c]) for c in COLUMNS])
        if buf.tell() > 64 * 1024:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def stream_json(engine: Engine) -> Iterator[str]:
    yield "["
    first = True
    for entry in iter_entries(engine):
        entry = dict(entry, details=json.loads(entry["details"]))
        yield ("\n" if first else ",\n") + json.dumps(entry, ensure_ascii=False)
        first = False
    yield "\n]\n"


def stream(engine: Engine, fmt: ExportFormat) -> Iterator[str]:
    return stream_csv(engine) if fmt == "csv" else stream_json(engine)


@dataclass(frozen=True)
class Download:
    """An audited export: the file's name and type, and its text, read as it is sent."""

    filename: str
    media_type: str
    body: Iterator[str]


def download(session: Session, engine: Engine, fmt: ExportFormat, *, actor_id: uuid.UUID,
             now: datetime) -> Download:
    """Record the export (in ``session``: commit it before streaming), then stream it."""
    record(session, action=actions.AUDIT_EXPORTED, actor_id=actor_id,
           details={"format": fmt}, now=now)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return Download(filename=f"dokaz-audit-{stamp}.{fmt}", media_type=MEDIA_TYPES[fmt],
                    body=stream(engine, fmt))
