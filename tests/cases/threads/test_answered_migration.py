"""Migration 0021 (thread answered) on existing messages, both engines: a submitter's
message already followed by a staff reply in its thread is answered on the reply's day;
one with no reply after it still waits; staff messages are untouched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine

from api.core import migrations
from api.core.models import UTCDateTime
from tests.conftest import DbUnderTest
from tests.foundation.sample_rows import IDS
from tests.foundation.test_migrations import _fresh_db, _seed_every_table

DAY = datetime(2026, 6, 1, tzinfo=UTC)


def test_existing_replies_answer_what_came_before_them(database: DbUnderTest,
                                                       tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    migrations.upgrade(database.settings, "0020", url=url)
    _seed_every_table(url)
    msgs = sa.table("case_message", sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()),
                    sa.column("submission_id", sa.Uuid()), sa.column("key_case_id", sa.Uuid()),
                    sa.column("direction", sa.String()), sa.column("body", sa.LargeBinary()),
                    sa.column("created_at", UTCDateTime()), sa.column("seq", sa.Integer()))
    asked, replied, again = (uuid.UUID(int=0x2100 + n) for n in range(3))
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(msgs.delete())
        for seq, (mid, direction) in enumerate(
                [(asked, "from_submitter"), (replied, "to_submitter"),
                 (again, "from_submitter")], start=1):
            conn.execute(msgs.insert().values(
                id=mid, case_id=IDS["case"], submission_id=IDS["submission"],
                key_case_id=IDS["case"], direction=direction, body=b"\x01",
                created_at=DAY + timedelta(days=seq), seq=seq))
    eng.dispose()

    migrations.upgrade(database.settings, "0021", url=url)
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = dict(conn.execute(sa.select(
            sa.column("id", sa.Uuid()), sa.column("answered_at", UTCDateTime())
        ).select_from(sa.table("case_message"))).all())
    eng.dispose()
    assert rows == {asked: DAY + timedelta(days=2), replied: None, again: None}
