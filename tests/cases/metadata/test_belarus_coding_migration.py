"""Migration 0015: existing persons, acts and detentions are carried forward, the new Belarus
codes empty; down removes them and keeps the rows."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from api.core import migrations
from tests.cases.sample_rows import ACT, PERSON
from tests.conftest import DbUnderTest
from tests.foundation.test_migrations import _fresh_db, _seed_every_table

NEW_COLUMNS = {
    "case_person": {"residence_country", "political_prisoner_month",
                    "political_prisoner_recognised_by"},
    "case_act": {"facility"},
    "case_detention": {"admin_arrest_days", "fine_band", "special_proceedings",
                       "verdict_month"},
}


def test_existing_rows_are_carried_forward_and_survive_down(database: DbUnderTest,
                                                           tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    # The revision 0015 follows, looked up: the integrator may re-chain revisions.
    before = ScriptDirectory.from_config(migrations.alembic_config(url)).get_revision(
        "0015").down_revision
    assert isinstance(before, str)
    migrations.upgrade(database.settings, before, url=url)
    _seed_every_table(url)
    eng = create_engine(url)
    with eng.connect() as conn:
        seeded = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608
                  for t in NEW_COLUMNS}
    migrations.upgrade(database.settings, "0015", url=url)

    def key(value: object) -> object:
        return value.hex if database.kind == "sqlite" else value  # type: ignore[attr-defined]

    with eng.connect() as conn:
        person = conn.execute(text(
            "SELECT role, citizenship, residence_country, political_prisoner_month, "
            "political_prisoner_recognised_by FROM case_person WHERE id = :id"),
            {"id": key(PERSON)}).one()
        assert tuple(person) == ("victim", "BY", None, None, None)
        act = conn.execute(text("SELECT act_type, region, facility FROM case_act "
                                "WHERE id = :id"), {"id": key(ACT)}).one()
        assert tuple(act) == ("detention", "BY-HM", None)
        det = conn.execute(text(
            "SELECT facility_type, ongoing, admin_arrest_days, fine_band, special_proceedings, "
            "verdict_month FROM case_detention WHERE act_id = :id"), {"id": key(ACT)}).one()
        assert tuple(det) == ("sizo_kgb", True, None, None, None, None)
        assert conn.execute(text("SELECT count(*) FROM case_designation")).scalar() == 0
        # The new table takes rows that name a person of the case.
        conn.execute(text(
            "INSERT INTO case_designation (id, case_id, person_id, list_type, month) "
            "SELECT :id, case_id, id, 'terrorist_list', '2024-02' FROM case_person "
            "WHERE id = :person"), {"id": key(uuid.uuid4()), "person": key(PERSON)})
        conn.commit()
    migrations.downgrade(database.settings, before, url=url)
    inspector = inspect(eng)
    assert not inspector.has_table("case_designation")
    for table, columns in NEW_COLUMNS.items():
        assert not {c["name"] for c in inspector.get_columns(table)} & columns, table
    with eng.connect() as conn:
        for table in NEW_COLUMNS:
            count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608
            assert count == seeded[table] and count, table
    eng.dispose()
