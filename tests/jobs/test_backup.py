"""``dokaz backup`` then ``dokaz restore`` into an empty database and data directory gives
identical rows, blobs and a verifying audit chain; refusals leave the target untouched."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session, SQLModel

from api.app import create_app
from api.audit.service import verify_chain
from api.auth.roles import Role
from api.core import migrations
from api.core.db import make_engine
from api.core.settings import Settings
from api.storage import get_storage
from tests.conftest import PG_ADMIN_URL, DbUnderTest
from tests.factories import create_recovery_key_text, create_staff
from tests.jobs.conftest import submit_with_file

ROOT = Path(__file__).resolve().parents[2]
CANARY = "CANARYbk7Q"


def _dokaz(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], env=env, cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def _env(url: str, data: Path) -> dict[str, str]:
    return dict(os.environ, DOKAZ_DATABASE_URL=url, DOKAZ_DATA_DIR=str(data),
                DOKAZ_KDF_PROFILE="fast-insecure-for-tests", DOKAZ_LOG_FORMAT="text")


def _new_database(kind: str, tmp_path: Path, database: DbUnderTest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    name = f"dokaz_restore_{secrets.token_hex(4)}"
    database._admin(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            out[table.name] = [dict(r) for r in rows]
    return out


def _blobs(settings: Settings) -> dict[str, bytes]:
    storage = get_storage(settings)
    out = {}
    for info in storage.iter_blobs():
        with storage.open_reader(info.name) as f:
            out[info.name] = f.read()
    return out


@pytest.fixture
def populated(database: DbUnderTest, settings: Settings, engine: Engine) -> str:
    """Three real submissions with files, staff, audit entries; returns the recovery key."""
    with Session(engine, expire_on_commit=False) as s:
        key_text = create_recovery_key_text(s)
        create_staff(s, Role.ADMIN, settings=settings)
    with TestClient(create_app(settings, engine)) as client:
        for i in range(3):
            submit_with_file(client, f"{CANARY}{i}")
    return key_text


@pytest.mark.slow
@pytest.mark.parametrize("target", ["same", "postgresql"])
def test_backup_restore_gives_identical_rows_blobs_and_audit_chain(
    database: DbUnderTest, settings: Settings, engine: Engine, populated: str,
    tmp_path: Path, target: str,
) -> None:
    if target == "postgresql" and database.kind == "postgresql":
        pytest.skip("same as 'same' on PostgreSQL")
    archive = tmp_path / "dokaz.backup"
    done = _dokaz(_env(database.url, settings.data_dir), "backup", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    assert "3 blobs" in done.stdout
    raw = archive.read_bytes()
    assert CANARY.encode() not in raw and b"organisation_key" not in raw  # sealed as a whole

    kind = database.kind if target == "same" else "postgresql"
    url = _new_database(kind, tmp_path, database)
    data = tmp_path / "restored-data"
    restored = _dokaz(_env(url, data), "restore", "--in", str(archive),
                      "--recovery-key-stdin", stdin=populated + "\n")
    assert restored.returncode == 0, restored.stderr
    assert "hashes verified" in restored.stdout

    target_settings = database.make_settings(data, database_url=url)
    target_engine = make_engine(target_settings)
    try:
        assert _dump(target_engine) == _dump(engine)
        assert _blobs(target_settings) == _blobs(settings) and len(_blobs(settings)) == 3
        with Session(target_engine) as s:
            result = verify_chain(s)
        with Session(engine) as s:
            original = verify_chain(s)
        assert result.ok and (result.head_seq, result.head_hash) == (
            original.head_seq, original.head_hash) and result.head_seq > 0

        # A second restore into the now non-empty target is refused, and changes nothing.
        from api.backup.service import BackupError, restore_backup

        with pytest.raises(BackupError, match="not empty"):
            restore_backup(target_settings, target_engine, archive, populated)
        assert _dump(target_engine) == _dump(engine)
    finally:
        target_engine.dispose()


def test_restore_refuses_a_wrong_key_and_a_damaged_archive(
    database: DbUnderTest, settings: Settings, engine: Engine, populated: str, tmp_path: Path,
) -> None:
    from api.backup.service import BackupError, create_backup, restore_backup
    from crypto.recovery import generate_recovery_key

    archive = tmp_path / "b.backup"
    create_backup(settings, engine, archive)
    with pytest.raises(BackupError, match="already exists"):
        create_backup(settings, engine, archive)

    url = _new_database(database.kind, tmp_path, database)
    target_settings = database.make_settings(tmp_path / "t", database_url=url)
    migrations.upgrade(target_settings, url=url)
    target = make_engine(target_settings)
    try:
        with pytest.raises(BackupError, match="not the one the backup was sealed to"):
            restore_backup(target_settings, target, archive, generate_recovery_key()[1])
        with pytest.raises(BackupError, match="not valid"):
            restore_backup(target_settings, target, archive, "DOKAZ-RK1-0000")
        damaged = tmp_path / "damaged.backup"
        raw = bytearray(archive.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        damaged.write_bytes(bytes(raw))
        with pytest.raises(BackupError, match="damaged"):
            restore_backup(target_settings, target, damaged, populated)
        truncated = tmp_path / "truncated.backup"
        truncated.write_bytes(archive.read_bytes()[: len(raw) - 100])
        with pytest.raises(BackupError, match="damaged"):
            restore_backup(target_settings, target, truncated, populated)
        assert all(not rows for rows in _dump(target).values())
        assert _blobs(target_settings) == {}
    finally:
        target.dispose()


def test_restore_orders_rows_that_name_another_row_of_their_table() -> None:
    # A follow-up addition names its thread's root (NOT NULL, so it cannot be deferred).
    from api.backup.service import _referenced_first

    root, add1, add2 = ({"id": i, "thread_id": t} for i, t in ((1, 1), (2, 1), (3, 1)))
    ordered = _referenced_first([add1, add2, root], ["thread_id"])
    assert [r["id"] for r in ordered] == [1, 2, 3]


def _tables_of(url: str) -> set[str]:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import NullPool

    probe = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(probe).get_table_names())
    finally:
        probe.dispose()


@pytest.mark.slow
def test_a_failed_restore_leaves_the_target_as_it_found_it(
    database: DbUnderTest, settings: Settings, engine: Engine, populated: str, tmp_path: Path,
) -> None:
    """`dokaz restore` migrates a new database, then fails midway (an archive cut short,
    after every row and blob was read, or flipped in the middle): the database has no
    table left, a database file and data directory it made are gone, what the operator
    had in an existing data directory stays; the same target then takes the good archive."""
    archive = tmp_path / "good.dkzb"
    done = _dokaz(_env(database.url, settings.data_dir), "backup", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    raw = archive.read_bytes()
    cut = tmp_path / "cut.dkzb"
    cut.write_bytes(raw[:-100])
    flipped = tmp_path / "flipped.dkzb"
    middle = bytearray(raw)
    middle[len(middle) * 2 // 3] ^= 0x40
    flipped.write_bytes(bytes(middle))

    url = _new_database(database.kind, tmp_path, database)
    sqlite_file = Path(url.removeprefix("sqlite:///")) if database.kind == "sqlite" else None
    new_data = tmp_path / "new-data"  # does not exist yet
    kept_data = tmp_path / "kept-data"  # exists, with a file of the operator's
    kept_data.mkdir(mode=0o700)
    (kept_data / "README.operator").write_text("restore drill, 2 December")

    for bad in (cut, flipped):
        for data in (new_data, kept_data):
            failed = _dokaz(_env(url, data), "restore", "--in", str(bad),
                            "--recovery-key-stdin", stdin=populated + "\n")
            assert failed.returncode == 1, failed.stdout + failed.stderr
            assert "restore failed: the archive is damaged or incomplete" in failed.stderr
            assert "Traceback" not in failed.stderr
            if sqlite_file is not None:
                assert not sqlite_file.exists()
            else:
                assert _tables_of(url) == set()
            assert not new_data.exists()
            assert sorted(p.name for p in kept_data.rglob("*")) == ["README.operator"]

    # Refused before anything is touched: the wrong key, and a key with a typing mistake.
    from crypto.recovery import generate_recovery_key

    for key, reason in ((generate_recovery_key()[1], "not the one the backup was sealed to"),
                        (populated[:-1] + ("0" if populated[-1] != "0" else "1"),
                         "fails its checksum")):
        refused = _dokaz(_env(url, new_data), "restore", "--in", str(archive),
                         "--recovery-key-stdin", stdin=key + "\n")
        assert refused.returncode == 1 and reason in refused.stderr, refused.stderr
        assert not new_data.exists()
        if sqlite_file is not None:
            assert not sqlite_file.exists()
        else:
            assert _tables_of(url) == set()

    restored = _dokaz(_env(url, new_data), "restore", "--in", str(archive),
                      "--recovery-key-stdin", stdin=populated + "\n")
    assert restored.returncode == 0, restored.stderr
    target_settings = database.make_settings(new_data, database_url=url)
    target_engine = make_engine(target_settings)
    try:
        assert _dump(target_engine) == _dump(engine)
    finally:
        target_engine.dispose()


def test_restore_never_migrates_a_database_that_has_other_tables(
    database: DbUnderTest, populated: str, settings: Settings, engine: Engine, tmp_path: Path,
) -> None:
    """A database of an older schema revision (someone's, not a new one) is refused as it
    is: migrating it first would change it before the refusal."""
    from api.backup.service import BackupError, create_backup, restore_into

    archive = tmp_path / "b.dkzb"
    create_backup(settings, engine, archive)
    url = _new_database(database.kind, tmp_path, database)
    target = database.make_settings(tmp_path / "old", database_url=url)
    migrations.upgrade(target, "0017", url=url)
    before = _tables_of(url)
    with pytest.raises(BackupError, match="another schema revision"):
        restore_into(target, archive, populated)
    assert _tables_of(url) == before
    probe = make_engine(target)
    try:
        assert migrations.current_revision(probe) == "0017"
    finally:
        probe.dispose()
    if database.kind == "postgresql":  # a database that does not exist: said plainly
        missing = PG_ADMIN_URL.rsplit("/", 1)[0] + "/dokaz_no_such_database"
        nowhere = database.make_settings(tmp_path / "nowhere", database_url=missing)
        with pytest.raises(BackupError, match="cannot connect to the target database") as info:
            restore_into(nowhere, archive, populated)
        assert "dokaz_no_such_database" not in str(info.value)
