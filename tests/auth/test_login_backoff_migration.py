"""Migration 0012: a counter's window start becomes its last failure, and back."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from api.core import migrations
from api.core.models import UTCDateTime
from tests.conftest import DbUnderTest
from tests.foundation.sample_rows import NOW
from tests.foundation.test_migrations import _fresh_db


def _table(time_column: str) -> Table:
    return Table("login_throttle", MetaData(), Column("key", String),
                 Column(time_column, UTCDateTime), Column("failures", Integer))


def test_counts_and_times_survive_up_and_down(database: DbUnderTest, tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    # The revision 0012 follows, looked up: the integrator may re-chain revisions.
    before = ScriptDirectory.from_config(migrations.alembic_config(url)).get_revision(
        "0012").down_revision
    assert isinstance(before, str)
    migrations.upgrade(database.settings, before, url=url)
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(_table("window_started_at").insert().values(
            key="k" * 64, window_started_at=NOW, failures=7))
    migrations.upgrade(database.settings, "0012", url=url)
    new = _table("last_failure_at")
    with eng.connect() as conn:
        assert conn.execute(select(new.c.last_failure_at, new.c.failures)).one() == (NOW, 7)
    migrations.downgrade(database.settings, before, url=url)
    old = _table("window_started_at")
    with eng.connect() as conn:
        assert conn.execute(select(old.c.window_started_at, old.c.failures)).one() == (NOW, 7)
    eng.dispose()
