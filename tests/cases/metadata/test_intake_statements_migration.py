"""Migration 0014: existing persons, acts and consents are carried forward as staff rows."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from api.core import migrations
from tests.cases.sample_rows import PERSON
from tests.conftest import DbUnderTest
from tests.foundation.test_migrations import _fresh_db, _seed_every_table


def test_existing_rows_become_staff_rows_and_survive_down(database: DbUnderTest,
                                                         tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    # The revision 0014 follows, looked up: the integrator may re-chain revisions.
    before = ScriptDirectory.from_config(migrations.alembic_config(url)).get_revision(
        "0014").down_revision
    assert isinstance(before, str)
    migrations.upgrade(database.settings, before, url=url)
    _seed_every_table(url)
    migrations.upgrade(database.settings, "0014", url=url)
    eng = create_engine(url)
    with eng.connect() as conn:
        for table in ("case_person", "case_act", "case_consent"):
            got = conn.execute(text(
                f"SELECT source, source_submission_id FROM {table}")).all()  # noqa: S608
            assert got and all(row == ("staff", None) for row in got), table
        assert conn.execute(text("SELECT on_behalf FROM case_consent")).scalars().all() == [
            False]
        person = conn.execute(text("SELECT role FROM case_person WHERE id = :id"),
                              {"id": PERSON if database.kind != "sqlite" else PERSON.hex}
                              ).scalar()
        assert person == "victim"
    migrations.downgrade(database.settings, before, url=url)
    columns = {c["name"] for c in inspect(eng).get_columns("case_consent")}
    assert not columns & {"source", "source_submission_id", "on_behalf"}
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_consent")).scalar() == 1
    eng.dispose()
