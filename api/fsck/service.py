"""``dokaz fsck``: check the database, the blob store and the key wraps against each other.

Checks (each finding lists row ids or generated blob names, never content):

* attachments: every ``attachment`` row's blob exists and has the recorded ciphertext size
  (for a file stored in parts: parts ``0 .. n-1`` exist, each blob with its recorded size),
  and its wrapped file key and sealed metadata are not empty;
* orphans: every blob (and every partial write) in storage is named by a committed
  ``attachment``, ``upload`` or ``file_part`` row (:mod:`api.blob_references`). An
  unnamed blob younger than the grace period is a request still in flight (a note);
  older, it is left by a crash (a problem). ``--repair`` deletes those through
  :func:`api.storage.sweep.sweep_orphans`, the same sweep the workers run;
* cases: every case that is not shredded has at least one key wrap and a wrap to the
  organisation recovery key (without it nobody could ever recover the case), and its
  submissions have a sealed payload; a shredded case has no wrap and no ciphertext left in
  any case-scoped table (derived from the schema, so new sealed tables are covered);
* tus uploads: part blobs exist with their (padded) ciphertext sizes, an upload has one
  part per accepted PATCH (numbered ``0 .. patch_seq - 1``), a receiving one has sealed
  progress and a complete one has none left; expired
  uploads the workers have not deleted yet are a note. fsck has no upload URL, so it can
  no longer check that a receiving upload's offset is the sum of its segments' sizes:
  neither is stored in plaintext (see :mod:`api.uploads.models`). Readers get that check
  (the sealed part sizes must add up to the file's sealed size, see
  :mod:`api.cases.files.stored`), and every PATCH checks the sealed progress against the
  counter;
* stray files: readiness probes (``.ready-*``) left in the data directory by a killed
  process, and files in the local blob directory that fit no blob name;
* the audit hash chain (:func:`api.audit.service.verify_chain`).

On a live system a request may commit between listing the store and reading the rows; a
row whose blob was not listed is therefore checked once more by name before it is
reported, and a blob being deleted by a shredding at that moment can show up once as an
orphan. Run it again to confirm a finding.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, exists, func, not_, or_, select
from sqlmodel import Session, SQLModel

import api.models  # noqa: F401  (every table: shredded cases are checked across the schema)
from api.audit.service import verify_chain
from api.blob_references import blob_references
from api.cases.files.models import Attachment, FilePart
from api.cases.models import Case
from api.cases.threads.models import Submission
from api.core.models import Ciphertext, utcnow
from api.core.progress import SILENT, Progress
from api.core.settings import Settings
from api.fsck.report import Report
from api.keys.models import CaseKeyWrap
from api.storage.base import NAME_RE, BlobInfo, BlobStorage, StorageError
from api.storage.local import PART, LocalStorage
from api.storage.sweep import referenced_names, sweep_orphans
from api.uploads.models import Upload

PROBE_RE = re.compile(r"^\.ready-[0-9a-f]{16}$")


@dataclass(frozen=True)
class Options:
    grace: timedelta
    repair: bool = False


def default_options(settings: Settings, *, repair: bool = False,
                    grace_seconds: float | None = None) -> Options:
    grace = (timedelta(seconds=grace_seconds) if grace_seconds is not None
             else timedelta(hours=settings.orphan_blob_min_age_hours))
    return Options(grace=grace, repair=repair)


def run(session: Session, settings: Settings, storage: BlobStorage, options: Options,
        now: datetime | None = None, progress: Progress = SILENT) -> Report:
    """Check everything (after repairing, if asked) and return the report."""
    now = now or utcnow()
    report = Report()
    if options.repair:
        progress.step("repair", 2)
        report.repaired["orphan_blobs"] = sweep_orphans(session, storage, options.grace,
                                                         blob_references(), now)
        progress.advance()
        report.repaired["stray_temp_files"] = _delete_stray_probes(settings, options.grace, now)
        progress.advance()
    progress.step("blob listing")
    blobs = {}
    for blob in storage.iter_blobs():
        blobs[blob.name] = blob
        progress.advance()
    listed = _Listing(storage, blobs)
    checks: list[Callable[[], None]] = [
        lambda: _check_attachments(session, listed, report),
        lambda: _check_uploads(session, listed, report, now),
        lambda: _check_orphans(session, blobs, report, now - options.grace),
        lambda: _check_cases(session, report),
        lambda: _check_stray_files(settings, storage, report, now - options.grace),
        lambda: _check_audit(session, report, settings.audit_chain_max_age_seconds),
    ]
    progress.step("checks", len(checks))
    for check in checks:
        check()
        progress.advance()
    report.counts["blobs"] = sum(1 for b in blobs.values() if b.complete)
    return report


class _Listing:
    """The storage listing, with a second look by name for rows committed after it."""

    def __init__(self, storage: BlobStorage, blobs: dict[str, BlobInfo]) -> None:
        self.storage = storage
        self.blobs = blobs

    def size(self, name: str) -> int | None:
        info = self.blobs.get(name)
        if info is not None and info.complete:
            return info.size
        try:
            return self.storage.size(name)
        except StorageError:
            return None


def _check_attachments(session: Session, listed: _Listing, report: Report) -> None:
    missing: list[str] = []
    wrong_size: list[str] = []
    empty: list[str] = []
    total = 0
    parts = _parts_by_owner(session, FilePart.attachment_id)
    rows = session.execute(select(
        Attachment.id, Attachment.blob_name, Attachment.ciphertext_size,  # type: ignore[call-overload]
        func.length(Attachment.wrapped_file_key), func.length(Attachment.sealed_metadata)))
    for att_id, blob_name, size, key_len, meta_len in rows:
        total += 1
        if blob_name is None:  # stored in parts: 0..n-1, each present with its size
            own = parts.pop(att_id, [])
            seqs = sorted(seq for seq, _, _ in own)
            sizes = [(listed.size(name), ct) for _, name, ct in own]
            if not own or seqs != list(range(len(own))) or any(a is None for a, _ in sizes):
                missing.append(str(att_id))
            elif any(a != ct for a, ct in sizes):
                wrong_size.append(str(att_id))
        else:
            actual = listed.size(blob_name)
            if actual is None:
                missing.append(str(att_id))
            elif actual != size:
                wrong_size.append(str(att_id))
        if not key_len or not meta_len:
            empty.append(str(att_id))
    report.counts["attachments"] = total
    report.add("attachment_blob_missing", "attachment rows whose blob (or one of whose "
               "parts) is missing", missing)
    report.add("attachment_blob_size", "attachment blobs (or parts) whose size differs from "
               "the row", wrong_size)
    report.add("attachment_without_ciphertext",
               "attachments with an empty wrapped key or sealed metadata", empty)


def _parts_by_owner(session: Session, owner: Any) -> dict[Any, list[tuple[int, str, int]]]:
    out: dict[Any, list[tuple[int, str, int]]] = defaultdict(list)
    for owner_id, seq, name, ct_size in session.execute(select(
            owner, FilePart.seq, FilePart.blob_name, FilePart.ciphertext_size  # type: ignore[call-overload]
    ).where(owner.is_not(None))):
        out[owner_id].append((seq, name, ct_size))
    return out


def _check_uploads(session: Session, listed: _Listing, report: Report, now: datetime) -> None:
    parts = _parts_by_owner(session, FilePart.upload_id)
    seg_missing = [str(up) for up, own in parts.items()
                   if any(listed.size(name) != ct for _, name, ct in own)]
    bad_offset: list[str] = []
    final_missing: list[str] = []
    leftover_segments: list[str] = []
    expired: list[str] = []
    total = 0
    for up_id, patches, has_progress, state, final_name, final_size, expires_at in \
            session.execute(select(
                Upload.id, Upload.patch_seq,  # type: ignore[call-overload]
                Upload.sealed_progress.is_not(None),  # type: ignore[union-attr]
                Upload.state, Upload.final_blob_name, Upload.final_ciphertext_size,
                Upload.expires_at)):
        total += 1
        segs = sorted(seq for seq, _, _ in parts.get(up_id, []))
        if state == "complete":
            if final_name is not None:  # merged before revision 0013
                if listed.size(final_name) != final_size:
                    final_missing.append(str(up_id))
                if segs:
                    leftover_segments.append(str(up_id))
            elif not segs or segs != list(range(patches)):
                final_missing.append(str(up_id))
            if has_progress:
                leftover_segments.append(str(up_id))
        elif final_name is not None or not has_progress or segs != list(range(patches)):
            bad_offset.append(str(up_id))
        if _aware(expires_at) <= now:
            expired.append(str(up_id))
    report.counts["uploads"] = total
    report.counts["upload_segments"] = sum(len(v) for v in parts.values())
    report.add("upload_segment_blob", "tus uploads with a part whose blob is missing or of "
               "the wrong size", seg_missing)
    report.add("upload_offset", "receiving tus uploads without one part per accepted "
               "PATCH or without sealed progress (or that name a merged blob)", bad_offset)
    report.add("upload_final_blob", "complete tus uploads whose parts (or merged blob) are "
               "missing or of the wrong size", final_missing)
    report.add("upload_leftover_segments", "complete tus uploads that still have sealed "
               "progress (or parts beside a merged blob)", leftover_segments)
    report.add("upload_expired", "expired tus uploads not deleted yet (the expire_uploads "
               "job deletes them)", expired, problem=False)


def _check_orphans(session: Session, blobs: dict[str, BlobInfo], report: Report,
                   cutoff: datetime) -> None:
    keep = referenced_names(session, blob_references())
    old: list[str] = []
    young: list[str] = []
    partial_old: list[str] = []
    for name, info in blobs.items():
        if not info.complete:
            (partial_old if info.modified <= cutoff else young).append(name)
        elif name not in keep:
            (old if info.modified <= cutoff else young).append(name)
    report.add("orphan_blob", "blobs that no committed row names (left by a crash; "
               "`dokaz fsck --repair` deletes them)", old)
    report.add("partial_write", "unfinished blob writes (left by a crash; `dokaz fsck "
               "--repair` deletes them)", partial_old)
    report.add("blob_in_flight", "unnamed blobs younger than the grace period (requests "
               "in progress)", young, problem=False)


def _case_scoped_sealed_tables() -> list[tuple[Table, list[str]]]:
    out: list[tuple[Table, list[str]]] = []
    for table in SQLModel.metadata.sorted_tables:
        if "case_id" not in table.c or not any(
                fk.column.table.name == "cases" for fk in table.c.case_id.foreign_keys):
            continue
        cols = [c.name for c in table.columns if isinstance(c.type, Ciphertext)]
        if cols:
            out.append((table, cols))
    return out


def _ids(session: Session, stmt: Any) -> list[str]:
    return [str(row[0]) for row in session.execute(stmt)]


def _check_cases(session: Session, report: Report) -> None:
    cases = Case.__table__  # type: ignore[attr-defined]
    wraps = CaseKeyWrap.__table__  # type: ignore[attr-defined]
    live = cases.c.shredded_at.is_(None)
    any_wrap = exists().where(wraps.c.case_id == cases.c.id)
    recovery = exists().where(and_(wraps.c.case_id == cases.c.id,
                                   wraps.c.recipient_kind == "recovery"))
    report.counts["cases"] = int(session.execute(select(func.count()).select_from(cases))
                                 .scalar_one())
    report.counts["shredded_cases"] = int(session.execute(
        select(func.count()).select_from(cases).where(not_(live))).scalar_one())
    report.add("case_without_wraps", "cases (not shredded) without any key wrap: nobody can "
               "open them", _ids(session, select(cases.c.id).where(live, not_(any_wrap))))
    report.add("case_without_recovery_wrap", "cases (not shredded) without a wrap to the "
               "organisation recovery key",
               _ids(session, select(cases.c.id).where(live, any_wrap, not_(recovery))))
    subs = Submission.__table__  # type: ignore[attr-defined]
    report.add("submission_without_ciphertext", "submissions with an empty sealed payload",
               _ids(session, select(subs.c.id).where(or_(subs.c.payload.is_(None),
                                                         func.length(subs.c.payload) == 0))))
    leftovers: set[str] = set(_ids(session, select(cases.c.id).where(
        not_(live), cases.c.sealed_summary.is_not(None))))
    with_wraps: list[str] = []
    for table, cols in _case_scoped_sealed_tables():
        sealed = or_(*(table.c[c].is_not(None) for c in cols))
        found = _ids(session, select(table.c.case_id).distinct()
                     .join(cases, cases.c.id == table.c.case_id).where(not_(live), sealed))
        if table.name == wraps.name:
            with_wraps = found
        else:
            leftovers.update(found)
    report.add("shredded_case_has_wraps", "shredded cases that still have key wraps",
               with_wraps)
    report.add("shredded_case_has_ciphertext", "shredded cases with ciphertext left in some "
               "table", sorted(leftovers))


def _probe_files(settings: Settings) -> list[Path]:
    try:
        return [p for p in settings.data_dir.iterdir() if PROBE_RE.fullmatch(p.name)]
    except FileNotFoundError:
        return []


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    except FileNotFoundError:
        return None


def _delete_stray_probes(settings: Settings, grace: timedelta, now: datetime) -> int:
    deleted = 0
    for path in _probe_files(settings):
        modified = _mtime(path)
        if modified is not None and modified <= now - grace:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def _check_stray_files(settings: Settings, storage: BlobStorage, report: Report,
                       cutoff: datetime) -> None:
    probes = [p.name for p in _probe_files(settings)
              if (m := _mtime(p)) is not None and m <= cutoff]
    report.add("stray_temp_file", "readiness probe files left in the data directory "
               "(`dokaz fsck --repair` deletes them)", probes)
    if not isinstance(storage, LocalStorage):
        return
    unknown: list[str] = []
    for dirpath, _dirs, files in os.walk(storage.root):
        rel = os.path.relpath(dirpath, storage.root)
        parts = rel.split(os.sep)
        for filename in files:
            base = filename[: -len(PART)] if filename.endswith(PART) else filename
            name = f"{parts[0]}/{base}" if len(parts) == 2 else ""
            if not NAME_RE.fullmatch(name) or parts[1] != base[:2]:
                unknown.append(os.path.join(rel, filename))
    report.add("unknown_file_in_blob_store", "files in the blob directory that fit no blob "
               "name (look at them; fsck never deletes them)", unknown)


def _check_audit(session: Session, report: Report, max_unchained_age: float) -> None:
    result = verify_chain(session, max_unchained_age=max_unchained_age)
    report.counts["audit_entries"] = result.checked
    if not result.ok:
        ident = str(result.first_bad_id or f"#{result.first_bad_seq}")
        report.add("audit_chain", result.describe(), [ident])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.astimezone()
