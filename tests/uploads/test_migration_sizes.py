"""Migration 0011: open uploads cannot be sealed by the server, finished ones stay usable."""

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
    select,
)
from sqlmodel import Session

from api.core import migrations
from api.core.models import Ciphertext, UTCDateTime
from api.uploads import capabilities, service
from api.uploads.models import Upload
from tests.conftest import DbUnderTest
from tests.foundation.sample_rows import NOW
from tests.foundation.test_migrations import _fresh_db


def _old_tables() -> tuple[Table, Table]:
    """The two tables before 0011 (SQLite reflection would lose the column types)."""
    meta = MetaData()
    upload = Table(
        "upload", meta, Column("id", Uuid), Column("secret_hash", LargeBinary),
        Column("length", BigInteger), Column("offset", BigInteger), Column("state", String),
        Column("sealed_metadata", Ciphertext), Column("final_blob_name", String),
        Column("final_wrapped_key", Ciphertext), Column("final_ciphertext_size", BigInteger),
        Column("expires_at", UTCDateTime), Column("created_at", UTCDateTime))
    segment = Table(
        "upload_segment", meta, Column("id", Uuid), Column("upload_id", Uuid),
        Column("seq", Integer), Column("offset", BigInteger), Column("size", BigInteger),
        Column("blob_name", String), Column("wrapped_key", Ciphertext),
        Column("ciphertext_size", BigInteger))
    return upload, segment


def _before_0011(url: str) -> str:
    """The revision 0011 follows (looked up: the integrator re-chains revisions)."""
    down = ScriptDirectory.from_config(migrations.alembic_config(url)).get_revision(
        "0011").down_revision
    assert isinstance(down, str)
    return down


def test_receiving_uploads_go_complete_ones_stay(database: DbUnderTest, tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    before = _before_0011(url)
    migrations.upgrade(database.settings, before, url=url)
    eng = create_engine(url)
    receiving, complete = uuid.uuid4(), capabilities.UploadCapability.generate()
    sealed = capabilities.seal_metadata(complete.key(), complete.upload_id, {
        "filename": "a.png", "filetype": "image/png", "size": 3000, "sha256": "0" * 64,
        "detected_type": "image/png"})
    with eng.begin() as conn:
        upload, segment = _old_tables()
        common = {"expires_at": NOW + timedelta(days=1), "created_at": NOW}
        conn.execute(upload.insert().values(
            id=receiving, secret_hash=b"\x01" * 32, length=5000, offset=1000,
            state="receiving", sealed_metadata=b"\x02m", **common))
        conn.execute(segment.insert().values(
            id=uuid.uuid4(), upload_id=receiving, seq=0, offset=0, size=1000,
            blob_name="s/" + "2" * 32, wrapped_key=b"\x02k", ciphertext_size=1100))
        conn.execute(upload.insert().values(
            id=complete.upload_id, secret_hash=complete.secret_hash, length=3000,
            offset=3000, state="complete", sealed_metadata=sealed,
            final_blob_name="f/" + "3" * 32, final_wrapped_key=b"\x02w",
            final_ciphertext_size=3100, **common))

    migrations.upgrade(database.settings, "0011", url=url)
    columns = {t: {c["name"] for c in inspect(eng).get_columns(t)}
               for t in ("upload", "upload_segment")}
    assert not {"length", "offset"} & columns["upload"]
    assert not {"offset", "size"} & columns["upload_segment"]
    with Session(eng) as s:
        rows = s.exec(select(Upload)).scalars().all()  # type: ignore[call-overload]
        assert [r.id for r in rows] == [complete.upload_id]
        row = rows[0]
        assert (row.patch_seq, row.sealed_progress, row.final_blob_name) == (
            0, None, "f/" + "3" * 32)
        # HEAD of the kept upload still reports its exact size, from the sealed metadata.
        assert service.progress(row, complete) == (3000, 3000)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM upload_segment").scalar_one() == 0

    migrations.downgrade(database.settings, before, url=url)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM upload").scalar_one() == 0
        assert {"length", "offset"} <= {c["name"] for c in inspect(conn).get_columns("upload")}
    migrations.upgrade(database.settings, url=url)
    eng.dispose()
