"""Migration 0013: files in parts. Open uploads go (their segment keys are the client's),
finished ones and every existing single-blob attachment stay usable."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    create_engine,
    inspect,
)

from api.core import migrations
from api.core.models import Ciphertext, UTCDay
from tests.conftest import DbUnderTest
from tests.foundation.sample_rows import NOW
from tests.foundation.test_migrations import _fresh_db, _seed_every_table


def _before(url: str) -> str:
    down = ScriptDirectory.from_config(migrations.alembic_config(url)).get_revision(
        "0013").down_revision
    assert isinstance(down, str)
    return down


def test_open_uploads_go_finished_ones_and_attachments_stay(database: DbUnderTest,
                                                             tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    before = _before(url)
    migrations.upgrade(database.settings, before, url=url)
    _seed_every_table(url)  # one attachment with its blob, one receiving upload, ...
    meta = MetaData()
    upload = Table("upload", meta, Column("id", Uuid), Column("secret_hash", LargeBinary),
                   Column("sealed_progress", Ciphertext), Column("patch_seq", Integer),
                   Column("state", String), Column("sealed_metadata", Ciphertext),
                   Column("final_blob_name", String), Column("final_wrapped_key", Ciphertext),
                   Column("final_ciphertext_size", BigInteger), Column("expires_at", UTCDay),
                   Column("created_at", UTCDay))
    segment = Table("upload_segment", meta, Column("id", Uuid), Column("upload_id", Uuid),
                    Column("seq", Integer), Column("blob_name", String),
                    Column("wrapped_key", Ciphertext), Column("ciphertext_size", BigInteger))
    eng = create_engine(url)
    complete = uuid.uuid4()
    with eng.begin() as conn:
        receiving = conn.exec_driver_sql(
            "SELECT id FROM upload WHERE state = 'receiving'").scalar_one()
        conn.execute(segment.insert().values(
            id=uuid.uuid4(), upload_id=uuid.UUID(str(receiving)), seq=1, blob_name="s/" + "5" * 32,
            wrapped_key=b"\x02k", ciphertext_size=99))
        conn.execute(upload.insert().values(
            id=complete, secret_hash=b"\x09" * 32, patch_seq=2, state="complete",
            sealed_metadata=b"\x02m", final_blob_name="f/" + "6" * 32,
            final_wrapped_key=b"\x02w", final_ciphertext_size=3100,
            expires_at=NOW + timedelta(days=1), created_at=NOW))
        attachments = conn.exec_driver_sql("SELECT id, blob_name FROM attachment").all()
    assert attachments and all(name for _, name in attachments)

    migrations.upgrade(database.settings, url=url)
    with eng.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert "file_part" in tables and "upload_segment" not in tables
        assert conn.exec_driver_sql("SELECT id FROM upload").scalars().all() in (
            [complete], [str(complete)], [complete.hex])
        assert conn.exec_driver_sql(
            "SELECT final_blob_name FROM upload").scalar_one() == "f/" + "6" * 32
        assert conn.exec_driver_sql("SELECT id, blob_name FROM attachment").all() == attachments
        nullable = {c["name"]: c["nullable"] for c in inspect(conn).get_columns("attachment")}
        assert nullable["blob_name"]

    migrations.downgrade(database.settings, before, url=url)
    with eng.connect() as conn:
        assert "upload_segment" in set(inspect(conn).get_table_names())
        assert conn.exec_driver_sql("SELECT id, blob_name FROM attachment").all() == attachments
    migrations.upgrade(database.settings, url=url)
    eng.dispose()
