"""Migration 0009 (threads) carries existing rows into threads (both engines).

A database at 0006 with a merge done the old way (the source's submissions re-sealed into
the target, the source's receipt left behind) must come out with every submission, message
and receipt in the right thread, and every row keyed to the case whose key seals it now.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import api.models  # noqa: F401  (every table, for the column types)
from api.core import migrations
from tests.conftest import DbUnderTest
from tests.foundation.sample_rows import NOW
from tests.foundation.test_migrations import _fresh_db

T, S = uuid.UUID(int=0x7001), uuid.UUID(int=0x7002)
T_OWN, T_ADD, S_ROOT, S_ADD = (uuid.UUID(int=0x7100 + i) for i in range(4))
MSG, R_T, R_S = uuid.UUID(int=0x7201), uuid.UUID(int=0x7301), uuid.UUID(int=0x7302)


class _Tables:
    """Lightweight tables holding only the columns a row names (the schema is at 0006)."""

    def __getitem__(self, name: str) -> _Insert:
        return _Insert(name)


class _Insert:
    def __init__(self, name: str) -> None:
        self.name = name

    def insert(self) -> _Insert:
        return self

    def values(self, **row: object) -> sa.Insert:
        full = SQLModel.metadata.tables[self.name]
        lite = sa.table(self.name, *[sa.column(c, full.c[c].type) for c in row])
        return lite.insert().values(**row)


def _seed(conn: sa.Connection) -> None:
    tb = _Tables()
    for case_id, ref, state in ((T, "DKZ-MIGR-0001", "triage"), (S, "DKZ-MIGR-0002",
                                                                  "duplicate")):
        conn.execute(tb["cases"].insert().values(
            id=case_id, reference=ref, state=state, priority="normal", urgent=False,
            urgency_reasons="", region="BY-HM", received_on=NOW.date(), version=1,
            state_changed_at=NOW, created_at=NOW, updated_at=NOW,
            merged_into_id=T if case_id == S else None))
    # The moved submission is older than the target's own: order alone would pick it.
    for sub_id, day, followup in ((T_OWN, 0, False), (T_ADD, 0, True), (S_ROOT, -3, False),
                                  (S_ADD, -2, True)):
        conn.execute(tb["submission"].insert().values(
            id=sub_id, case_id=T, received_on=NOW.date() + timedelta(days=day), channel="web",
            submitter_role="relative", categories="", language="be", consent_scopes="",
            is_followup=followup, payload=b"\x01p", schema_version=1))
    conn.execute(tb["case_link"].insert().values(
        id=uuid.uuid4(), kind="merged_into", source_case_id=S, target_case_id=T,
        submission_ids=f"{S_ROOT},{S_ADD}", created_at=NOW))
    conn.execute(tb["case_message"].insert().values(
        id=MSG, case_id=T, direction="from_submitter", body=b"\x01b", created_at=NOW))
    for receipt_id, case_id, lookup in ((R_T, T, "MIGR0001"), (R_S, S, "MIGR0002")):
        conn.execute(tb["receipt"].insert().values(
            id=receipt_id, case_id=case_id, lookup=lookup, verifier=b"\x01v",
            failed_attempts=0, created_at=NOW))


def test_backfill_puts_rows_in_their_threads(database: DbUnderTest, tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    migrations.upgrade(database.settings, "0006", url=url)
    eng = create_engine(url)
    with eng.begin() as conn:
        _seed(conn)
    migrations.upgrade(database.settings, url=url)
    with eng.connect() as conn:
        threads: dict[object, object] = dict(
            conn.execute(sa.text("SELECT id, thread_id FROM submission")).all())
        keyed = set(conn.execute(sa.text("SELECT key_case_id FROM submission")).scalars())
        msg = conn.execute(sa.text("SELECT submission_id, key_case_id FROM case_message")).one()
        receipts: dict[object, object] = dict(
            conn.execute(sa.text("SELECT id, submission_id FROM receipt")).all())

    def u(v: object) -> uuid.UUID:
        return v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))

    assert {u(k): u(v) for k, v in threads.items()} == {
        T_OWN: T_OWN, T_ADD: T_OWN, S_ROOT: S_ROOT, S_ADD: S_ROOT}
    assert {u(k) for k in keyed} == {T}  # the old merge re-sealed under the target's key
    assert (u(msg[0]), u(msg[1])) == (T_OWN, T)
    assert {u(k): u(v) for k, v in receipts.items()} == {R_T: T_OWN, R_S: S_ROOT}
    # And back down: the columns go, the rows stay.
    migrations.downgrade(database.settings, "0006", url=url)
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM submission")).scalar_one() == 4
        assert "thread_id" not in {c["name"] for c in sa.inspect(conn).get_columns(
            "submission")}
    eng.dispose()
