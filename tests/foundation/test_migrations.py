"""Migrations are the only schema source: up, down and up again with data, and no drift."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import api.models  # noqa: F401
from api.core import migrations
from tests.conftest import DbUnderTest


def _fresh_db(database: DbUnderTest, tmp_path: Path) -> str:
    if database.kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    name = f"dokaz_mig_{secrets.token_hex(4)}"
    database._admin(f'CREATE DATABASE "{name}"')
    return database.url.rsplit("/", 1)[0] + "/" + name


def _seed_every_table(url: str) -> int:
    """Put one row in every table the schema has, via each table's own sample row.

    The sample rows follow the models (head); at an older revision only the columns that
    revision has are written, and a NOT NULL column a later migration dropped gets a
    filler of its type, so a data migration can be tested from the revision before it.
    """
    import sqlalchemy as sa

    from tests.foundation.sample_rows import NOW, sample_rows

    eng = create_engine(url)
    rows = 0
    inspector = inspect(eng)
    with eng.begin() as conn:
        for table, row in sample_rows():
            if not inspector.has_table(table.name):
                continue  # added by a later revision than the one under test
            present = {c["name"]: c for c in inspector.get_columns(table.name)}
            columns = [c._copy() for c in table.c if c.name in present]
            values = {k: v for k, v in row.items() if k in present}
            for name, info in present.items():
                if name not in values and not info["nullable"] and info.get("default") is None \
                        and name not in table.c:
                    filler: object = (0 if isinstance(info["type"], sa.Integer)
                                      else NOW if isinstance(info["type"], sa.DateTime)
                                      else "")
                    columns.append(sa.Column(name, info["type"]))
                    values[name] = filler
            conn.execute(sa.Table(table.name, sa.MetaData(), *columns).insert().values(**values))
            rows += 1
    eng.dispose()
    return rows


def test_upgrade_downgrade_upgrade_with_rows(database: DbUnderTest, tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    settings = database.settings
    migrations.upgrade(settings, url=url)
    assert _seed_every_table(url) >= 1
    migrations.downgrade(settings, "base", url=url)
    eng = create_engine(url)
    assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
    eng.dispose()
    migrations.upgrade(settings, url=url)
    _seed_every_table(url)
    eng = create_engine(url)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM organisation_key")).scalar_one() == 1
    eng.dispose()


def test_no_drift_between_models_and_migrations(database: DbUnderTest) -> None:
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_table_has_a_sample_row() -> None:
    from tests.foundation.sample_rows import sample_rows

    covered = {t.name for t, _ in sample_rows()}
    assert covered == set(SQLModel.metadata.tables), "add a row to tests/foundation/sample_rows.py"


def test_alembic_check_command_reports_no_drift(database: DbUnderTest, tmp_path: Path) -> None:
    """The same `alembic check` CI runs, against a database built by `dokaz db upgrade`."""
    url = _fresh_db(database, tmp_path)
    env = dict(os.environ, DOKAZ_DATABASE_URL=url, DOKAZ_DATA_DIR=str(tmp_path / "d"))
    root = Path(__file__).resolve().parents[2]
    up = subprocess.run([sys.executable, "-m", "api", "db", "upgrade"], env=env, cwd=root,
                        capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    check = subprocess.run([sys.executable, "-m", "alembic", "check"], env=env, cwd=root,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


@pytest.mark.parametrize("kind", ["sqlite"])
def test_sqlite_pragmas(kind: str, tmp_path: Path) -> None:
    from api.core.db import make_engine
    from api.core.settings import Settings

    eng = make_engine(Settings(data_dir=tmp_path))
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    eng.dispose()


def test_migrations_dir_is_the_projects_not_the_alembic_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = migrations.migrations_dir()
    assert (found / "env.py").is_file()
    assert (found / "versions").is_dir()
    # Installed non-editably, the package sits in site-packages next to the Alembic library;
    # the image then finds the migrations in its working directory.
    fake_site = tmp_path / "site-packages"
    (fake_site / "api" / "core").mkdir(parents=True)
    (fake_site / "alembic").mkdir()  # the library: no env.py
    monkeypatch.setattr(migrations, "__file__", str(fake_site / "api" / "core" / "migrations.py"))
    app_dir = tmp_path / "app"
    (app_dir / "alembic").mkdir(parents=True)
    (app_dir / "alembic" / "env.py").write_text("")
    monkeypatch.chdir(app_dir)
    assert migrations.migrations_dir() == app_dir / "alembic"


def test_day_precision_migration_cuts_times_and_keeps_order(database: DbUnderTest,
                                                            tmp_path: Path) -> None:
    """0010 (day precision) on existing data (both engines): submitter-linked times are cut
    to 00:00 UTC (expiries and locks rounded up), staff-side times stay exact, and the events and
    messages of a case are numbered in their old time order before the times are cut."""
    import uuid
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from api.core.models import UTCDateTime
    from tests.foundation.sample_rows import IDS

    url = _fresh_db(database, tmp_path)
    migrations.upgrade(database.settings, "0009", url=url)  # the revision before 0010
    _seed_every_table(url)
    t0 = datetime(2026, 5, 4, 13, 37, 42, 123456, tzinfo=UTC)

    def tbl(name: str, *cols: str) -> sa.TableClause:
        return sa.table(name, *(sa.column(c, UTCDateTime()) for c in cols))

    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(tbl("cases", "created_at", "state_changed_at", "due_at").update()
                     .values(created_at=t0, state_changed_at=t0, due_at=t0 + timedelta(days=2)))
        conn.execute(tbl("receipt", "locked_until", "created_at").update()
                     .values(locked_until=t0 + timedelta(hours=1), created_at=t0))
        conn.execute(tbl("upload", "expires_at").update().values(expires_at=t0))
        conn.execute(tbl("case_link", "created_at").update().values(created_at=t0))
        events = sa.table("case_event", sa.column("id", sa.Uuid()),
                          sa.column("case_id", sa.Uuid()), sa.column("kind", sa.String()),
                          sa.column("detail", sa.String()),
                          sa.column("created_at", UTCDateTime()))
        conn.execute(events.delete())
        # Ids in the reverse of time order: only the old times can give the order.
        ordered = sorted((uuid.uuid4() for _ in range(3)), reverse=True)
        for n, event_id in enumerate(ordered):
            conn.execute(events.insert().values(
                id=event_id, case_id=IDS["case"], kind="edit", detail=str(n),
                created_at=t0 + timedelta(minutes=n)))
    eng.dispose()

    migrations.upgrade(database.settings, "0010", url=url)  # the migration under test
    day = datetime(2026, 5, 4, tzinfo=UTC)
    eng = create_engine(url)
    with eng.connect() as conn:
        cases = conn.execute(sa.select(tbl("cases", "created_at", "state_changed_at",
                                           "due_at"))).all()
        assert cases and {tuple(c) for c in cases} == {(day, day, day + timedelta(days=2))}
        receipts = conn.execute(sa.select(tbl("receipt", "created_at", "locked_until"))).all()
        assert receipts and {tuple(r) for r in receipts} == {(day, day + timedelta(days=1))}
        uploads = conn.execute(sa.select(tbl("upload", "expires_at"))).scalars().all()
        assert uploads and set(uploads) == {day + timedelta(days=1)}
        # Staff-side: a merge or split keeps its exact time.
        links = conn.execute(sa.select(tbl("case_link", "created_at"))).scalars().all()
        assert links and set(links) == {t0}
        rows = conn.execute(sa.text(
            "SELECT detail, seq FROM case_event ORDER BY seq")).all()
        assert [(r[0], r[1]) for r in rows] == [("0", 1), ("1", 2), ("2", 3)]
        assert set(conn.execute(sa.text("SELECT seq FROM case_message")).scalars()) == {1}
    eng.dispose()
