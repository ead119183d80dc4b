"""``dokaz backup`` and ``dokaz restore`` (archive format: api/backup/archive.py).

Consistency: every table is read in ONE read-only snapshot transaction (PostgreSQL
REPEATABLE READ; SQLite a deferred read transaction on a WAL database, which does not
block writers). The blobs saved are exactly those the snapshot's rows name (attachments,
uploads, upload segments); blobs are write-once, so a named blob read later is the same
bytes. A blob deleted between the snapshot and its copy (a case shredded meanwhile) is
listed as missing in the manifest and reported, never silently skipped.

Rows are dumped engine-neutrally as JSON lines (bytes base64, times ISO 8601), so a
backup of the embedded SQLite installation restores into PostgreSQL and back.

Restore goes into an EMPTY database migrated to the same schema revision and an empty
blob store, in one transaction: any failure (wrong key, damaged archive, a hash that does
not match the manifest) rolls the rows back and deletes the blobs written so far.
:func:`restore_into` (``dokaz restore``) also migrates a new database first; the archive's
header and the key are checked before anything is touched, and a failure after that puts
the target back as it was found (:class:`_Target`): the tables the migration made are
dropped, a database file or data directory it created is removed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
    Engine,
    LargeBinary,
    Table,
    Uuid,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

import api.models  # noqa: F401  (the whole schema)
from api.backup.archive import (
    BLOB,
    MANIFEST,
    TABLE,
    ArchiveError,
    EntryWriter,
    b64,
    entries,
    key_context,
    read_header,
    write_header,
)
from api.core import migrations
from api.core.models import utcnow
from api.core.progress import SILENT, Progress
from api.core.settings import Settings
from api.keys.repository import active_recovery_key
from api.storage import BlobStorage, get_storage
from crypto.errors import CryptoError
from crypto.keys import DataKey
from crypto.recovery import parse_recovery_key, recovery_public_key
from crypto.sealed import unwrap_data_key, wrap_data_key
from crypto.stream import EncryptingWriter

ROWS_PER_CHUNK = 500
SKIP_TABLES = {"alembic_version"}


class BackupError(Exception):
    """A backup or restore cannot proceed; the message says why and what to do."""


def _tables() -> list[Table]:
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in SKIP_TABLES]


# ---- values <-> JSON ----


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return b64(bytes(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decode(table: Table, name: str, value: Any) -> Any:
    if value is None:
        return None
    col_type = table.c[name].type
    impl = getattr(col_type, "impl", col_type)
    if isinstance(impl, LargeBinary):
        return base64.b64decode(value)
    if isinstance(impl, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(impl, Date):
        return date.fromisoformat(value)
    if isinstance(impl, Uuid):
        return uuid.UUID(value)
    if isinstance(impl, JSON):
        return value
    return value


# ---- backup ----


def _snapshot_engine(settings: Settings, engine: Engine) -> Engine:
    """An engine whose transactions are read-only snapshots that do not block writers."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        snap = create_engine(url, poolclass=NullPool,
                             connect_args={"isolation_level": None, "timeout": 15})

        @event.listens_for(snap, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN DEFERRED")

        return snap
    return create_engine(url, poolclass=NullPool,
                         isolation_level="REPEATABLE READ").execution_options(
        postgresql_readonly=True)


def _table_chunks(conn: Connection, table: Table) -> Iterator[bytes]:
    order = list(table.primary_key.columns)
    rows: list[str] = []
    for row in conn.execute(select(table).order_by(*order)).mappings():
        rows.append(json.dumps({k: _encode(v) for k, v in row.items()}, sort_keys=True))
        if len(rows) == ROWS_PER_CHUNK:
            yield ("\n".join(rows) + "\n").encode()
            rows = []
    if rows:
        yield ("\n".join(rows) + "\n").encode()


def _referenced_blobs(conn: Connection) -> list[str]:
    from api.blob_references import blob_references
    from api.storage.sweep import referenced_names

    with Session(bind=conn) as session:
        return sorted(referenced_names(session, blob_references()))


def create_backup(settings: Settings, engine: Engine, out: Path,
                  progress: Progress = SILENT) -> str:
    if out.exists():
        raise BackupError(f"{out} already exists; choose a new file name.")
    storage = get_storage(settings)
    with Session(engine) as session:
        recovery = active_recovery_key(session)
        if recovery is None:
            raise BackupError("No organisation recovery key: run `dokaz keys init` first.")
        public, fingerprint = recovery.public_key, recovery.fingerprint
    backup_id = secrets.token_bytes(16)
    key = DataKey.generate()
    header = {
        "format": "dokaz-backup", "version": 1, "backup_id": backup_id.hex(),
        "created_at": utcnow().isoformat(), "recovery_fingerprint": fingerprint,
        "schema_revision": migrations.current_revision(engine),
        "wrapped_key": b64(wrap_data_key(public, key, key_context(backup_id))),
    }
    part = out.with_name(out.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            write_header(f, header)
            writer = EncryptingWriter(f, backup_id, key)
            manifest = _write_body(EntryWriter(writer), _snapshot_engine(settings, engine),
                                   storage, progress)
            writer.finish()
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    rows = sum(t["rows"] for t in manifest["tables"].values())
    missing = manifest["missing_blobs"]
    return (f"{len(manifest['tables'])} tables, {rows} rows, {len(manifest['blobs'])} blobs"
            + (f"; {len(missing)} blobs deleted during the backup were left out" if missing
               else ""))


def _write_body(w: EntryWriter, snap: Engine, storage: BlobStorage,
                progress: Progress) -> dict[str, Any]:
    manifest: dict[str, Any] = {"tables": {}, "blobs": {}, "missing_blobs": []}
    tables = _tables()
    try:
        with snap.connect() as conn, conn.begin():
            manifest["revision"] = MigrationContext.configure(conn).get_current_revision()
            progress.step("tables", len(tables))
            for table in tables:
                digest, count = hashlib.sha256(), 0
                for chunk in _table_chunks(conn, table):
                    w.entry(TABLE, table.name, chunk)
                    digest.update(chunk)
                    count += chunk.count(b"\n")
                manifest["tables"][table.name] = {"rows": count, "sha256": digest.hexdigest()}
                progress.advance()
            names = _referenced_blobs(conn)
    finally:
        snap.dispose()
    progress.step("blobs", len(names))
    for name in names:
        progress.advance()
        if not storage.exists(name):
            manifest["missing_blobs"].append(name)
            continue
        size = storage.size(name)
        digest = hashlib.sha256()
        w.begin(BLOB, name, size)
        with storage.open_reader(name) as src:
            left = size
            while left:
                data = src.read(min(1024 * 1024, left))
                if not data:
                    raise BackupError("a blob changed size while it was copied; run again")
                digest.update(data)
                w.write(data)
                left -= len(data)
        manifest["blobs"][name] = {"size": size, "sha256": digest.hexdigest()}
    w.entry(MANIFEST, "manifest", json.dumps(manifest, sort_keys=True).encode())
    return manifest


# ---- restore ----


def _open_key(header: dict[str, Any], key_text: str) -> DataKey:
    try:
        private = parse_recovery_key(key_text)
    except CryptoError as exc:
        raise BackupError("the recovery key is not valid: "
                          f"{str(exc).removeprefix('recovery key: ')}") from None
    from api.keys.service import fingerprint

    if fingerprint(recovery_public_key(private)) != header.get("recovery_fingerprint"):
        raise BackupError("this recovery key is not the one the backup was sealed to "
                          f"(backup expects fingerprint {header.get('recovery_fingerprint')})")
    backup_id = bytes.fromhex(header["backup_id"])
    try:
        return unwrap_data_key(private, base64.b64decode(header["wrapped_key"]),
                               key_context(backup_id))
    except CryptoError:
        raise BackupError("the backup key cannot be opened: the archive is damaged") from None


def _check_revision(revision: object) -> None:
    head = migrations.head_revision()
    if revision != head:
        raise BackupError(f"the backup is of schema revision {revision}, this build is at "
                          f"{head}: restore with the matching Dokaz version.")


def _check_empty(session: Session, storage: BlobStorage) -> None:
    for table in _tables():
        if session.execute(select(func.count()).select_from(table)).scalar_one():
            raise BackupError(
                f"the database is not empty (table {table.name} has rows). Restore only into "
                "a new, empty database: create one, point DOKAZ_DATABASE_URL at it, retry.")
    if next(iter(storage.iter_blobs()), None) is not None:
        raise BackupError("the blob store is not empty. Restore into an empty data directory "
                          "or bucket.")


def _insert_rows(session: Session, table: Table, data: bytes,
                 deferred: list[tuple[Table, dict[str, Any]]]) -> None:
    self_refs = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
    rows = []
    for line in data.splitlines():
        raw = json.loads(line)
        row = {k: _decode(table, k, v) for k, v in raw.items() if k in table.c}
        for col in self_refs:  # set after every row of the table exists
            if col.nullable and row.get(col.name) is not None:
                deferred.append((table, {"id": row["id"], col.name: row[col.name]}))
                row[col.name] = None
        rows.append(row)
    required = [c.name for c in self_refs if not c.nullable]
    if rows:
        session.execute(table.insert(), _referenced_first(rows, required))


def _referenced_first(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """Rows ordered so that a NOT NULL reference to another row of the same table (e.g.
    ``submission.thread_id``) names a row inserted before it; it cannot be deferred."""
    if not columns:
        return rows
    done: set[Any] = set()
    out: list[dict[str, Any]] = []
    pending = rows
    while pending:
        ready = [r for r in pending
                 if all(r[c] == r["id"] or r[c] in done for c in columns)]
        if not ready:  # a cycle or a dangling reference: let the database say which
            return out + pending
        out += ready
        done |= {r["id"] for r in ready}
        pending = [r for r in pending if r["id"] not in done]
    return out


def restore_backup(settings: Settings, engine: Engine, archive: Path, key_text: str,
                   progress: Progress = SILENT) -> str:
    storage = get_storage(settings)
    written: list[str] = []
    try:
        with open(archive, "rb") as src, Session(engine) as session:
            header = read_header(src)
            _check_revision(header.get("schema_revision"))
            key = _open_key(header, key_text)
            _check_empty(session, storage)
            progress.step("archive", os.fstat(src.fileno()).st_size)
            progress.advance(src.tell())
            summary = _restore_body(session, storage, src, key,
                                    bytes.fromhex(header["backup_id"]), written, progress)
            session.commit()
    except (CryptoError, ArchiveError) as exc:
        _delete(storage, written)
        raise BackupError(f"the archive is damaged or incomplete: {exc}") from None
    except BaseException:
        _delete(storage, written)
        raise
    return summary


def _delete(storage: BlobStorage, names: list[str]) -> None:
    for name in names:
        storage.delete(name)


def _restore_body(session: Session, storage: BlobStorage, src: BinaryIO, key: DataKey,
                  backup_id: bytes, written: list[str], progress: Progress) -> str:
    by_name = {t.name: t for t in _tables()}
    seen: dict[str, Any] = {}
    blobs: dict[str, Any] = {}
    deferred: list[tuple[Table, dict[str, Any]]] = []
    manifest: dict[str, Any] | None = None
    at = src.tell()
    for entry in entries(src, key, backup_id):
        progress.advance(src.tell() - at)
        at = src.tell()
        if manifest is not None:
            raise ArchiveError("data after the manifest")
        if entry.kind == TABLE:
            table = by_name.get(entry.name)
            if table is None:
                raise BackupError(f"the backup has a table this version lacks: {entry.name}")
            data = entry.read_all()
            stats = seen.setdefault(entry.name, {"rows": 0, "digest": hashlib.sha256()})
            stats["rows"] += data.count(b"\n")
            stats["digest"].update(data)
            _insert_rows(session, table, data, deferred)
        elif entry.kind == BLOB:
            digest = hashlib.sha256()
            writer = storage.open_writer(entry.name)
            written.append(entry.name)
            try:
                for chunk in entry.chunks():
                    digest.update(chunk)
                    writer.write(chunk)
                writer.commit()
            except BaseException:
                writer.abort()
                raise
            blobs[entry.name] = {"size": entry.size, "sha256": digest.hexdigest()}
        elif entry.kind == MANIFEST:
            manifest = json.loads(entry.read_all())
        else:
            raise ArchiveError("unknown entry kind")
    progress.advance(src.tell() - at)
    if manifest is None:
        raise ArchiveError("the manifest is missing")
    _check_revision(manifest.get("revision"))
    got = {n: {"rows": s["rows"], "sha256": s["digest"].hexdigest()} for n, s in seen.items()}
    want = {n: t for n, t in manifest["tables"].items() if t["rows"]}
    if got != want or blobs != manifest["blobs"]:
        raise ArchiveError("contents do not match the manifest")
    for table, values in deferred:
        key_col = table.c.id
        session.execute(update(table).where(key_col == values.pop("id")).values(**values))
    session.flush()
    rows = sum(t["rows"] for t in manifest["tables"].values())
    return f"{len(want)} tables with rows, {rows} rows, {len(blobs)} blobs; hashes verified"


# ---- restore into a new target, and putting it back on failure ----


def restore_into(settings: Settings, archive: Path, key_text: str,
                 progress: Progress = SILENT) -> str:
    """``dokaz restore``: migrate the (new, empty) target, then restore ``archive`` into it.

    What needs no target is checked first (the archive's header, its schema revision, the
    key), so a wrong key or an archive of another version touches nothing. After that any
    failure, an interrupt included, puts the target back as it was found.
    """
    from api.core.db import make_engine

    try:
        with open(archive, "rb") as src:
            header = read_header(src)
    except OSError as exc:
        raise BackupError(f"cannot read {archive}: {exc.strerror}") from None
    except ArchiveError as exc:
        raise BackupError(f"the archive is damaged or incomplete: {exc}") from None
    _check_revision(header.get("schema_revision"))
    _open_key(header, key_text)
    try:
        target = _Target.capture(settings)
    except OperationalError:
        # Not the driver's text: it can name the server and user of the URL.
        raise BackupError("cannot connect to the target database: check DOKAZ_DATABASE_URL "
                          "and that the (new, empty) database exists") from None
    try:
        target.refuse_foreign_schema()
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        migrations.upgrade(settings, progress=progress)
        engine = make_engine(settings)
        try:
            return restore_backup(settings, engine, archive, key_text, progress)
        finally:
            engine.dispose()
    except BaseException:
        target.put_back()
        raise


class _Target:
    """What the restore target looked like before: its tables, database file, data dir."""

    def __init__(self, settings: Settings, url: str, tables: set[str],
                 db_file: Path | None, db_file_existed: bool,
                 data_dir_existed: bool, data_entries: set[Path]) -> None:
        self.settings, self.url, self.tables = settings, url, tables
        self.db_file, self.db_file_existed = db_file, db_file_existed
        self.data_dir_existed, self.data_entries = data_dir_existed, data_entries

    @classmethod
    def capture(cls, settings: Settings) -> _Target:
        from sqlalchemy import inspect
        from sqlalchemy.engine import make_url

        url = settings.resolved_database_url
        parsed = make_url(url)
        db_file = (Path(parsed.database) if parsed.get_backend_name() == "sqlite"
                   and parsed.database not in (None, "", ":memory:") else None)
        db_file_existed = db_file is not None and db_file.exists()
        tables: set[str] = set()
        if db_file is None or db_file_existed:  # never create the file just to look
            probe = create_engine(url, poolclass=NullPool)
            try:
                tables = set(inspect(probe).get_table_names())
            finally:
                probe.dispose()
        data_dir = settings.data_dir
        existed = data_dir.exists()
        found = set(data_dir.rglob("*")) if existed else set()
        return cls(settings, url, tables, db_file, db_file_existed, existed, found)

    def refuse_foreign_schema(self) -> None:
        """A database that already holds tables is restored into only at this build's
        revision (then it must be empty): migrating someone's older database first would
        change it before the refusal."""
        if not self.tables:
            return
        probe = create_engine(self.url, poolclass=NullPool)
        try:
            revision = migrations.current_revision(probe)
        finally:
            probe.dispose()
        if revision != migrations.head_revision():
            raise BackupError(
                "the database is not empty (it has tables of another schema revision). "
                "Restore only into a new, empty database: create one, point "
                "DOKAZ_DATABASE_URL at it, retry.")

    def put_back(self) -> None:
        """Undo what the restore made; rows and blobs it wrote are already gone (one
        transaction; :func:`restore_backup` deletes its blobs)."""
        if self.db_file is not None and not self.db_file_existed:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.db_file) + suffix).unlink(missing_ok=True)
        else:
            self._drop_new_tables()
        self._remove_new_files()

    def _drop_new_tables(self) -> None:
        from sqlalchemy import inspect

        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                quote = conn.dialect.identifier_preparer.quote
                for name in set(inspect(conn).get_table_names()) - self.tables:
                    cascade = "" if sqlite else " CASCADE"
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}{cascade}")
        finally:
            engine.dispose()

    def _remove_new_files(self) -> None:
        data_dir = self.settings.data_dir
        if not data_dir.exists():
            return
        if not self.data_dir_existed:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
            return
        # Deepest first, so a directory the restore made is empty when its turn comes.
        for path in sorted(set(data_dir.rglob("*")) - self.data_entries,
                           key=lambda p: len(p.parts), reverse=True):
            if path.is_dir() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.rmdir()
            else:
                path.unlink(missing_ok=True)
