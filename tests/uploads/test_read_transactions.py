"""HEAD and a PATCH's planning read in a transaction that takes no write lock (SQLite)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import anyio
from sqlalchemy import text

from api.core.db import in_read_transaction, in_transaction, make_engine
from api.core.settings import Settings


def test_a_read_transaction_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    engine = make_engine(settings)
    anyio.run(in_transaction, engine, lambda s: s.execute(text("CREATE TABLE t (x INTEGER)")))
    writer = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another request holds the write lock
    try:
        got: list[object] = []
        reader = threading.Thread(target=lambda: got.append(anyio.run(
            in_read_transaction, engine,
            lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one())))
        reader.start()
        reader.join(10)  # a write transaction would wait out the 15 s busy timeout
        assert got == [0]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        engine.dispose()


def test_closing_a_transaction_does_not_checkpoint_the_wal(tmp_path: Path) -> None:
    """The engine keeps one idle connection (api.core.db._keep_one_open): a transaction's
    connection is then never the last one, whose close would checkpoint and remove the
    WAL (several fsyncs per small request). The keeper holds no lock: another process's
    writer goes straight in, and dispose closes it."""
    path = tmp_path / "db.sqlite3"
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{path}")
    engine = make_engine(settings)
    wal = Path(str(path) + "-wal")
    try:
        anyio.run(in_transaction, engine, lambda s: s.execute(text("CREATE TABLE t (x INTEGER)")))
        anyio.run(in_transaction, engine, lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
        assert wal.exists() and wal.stat().st_size > 0  # not checkpointed away on close
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if anything held a lock
            other.execute("INSERT INTO t VALUES (2)")
            other.execute("COMMIT")
        finally:
            other.close()
        count = anyio.run(in_read_transaction, engine,
                          lambda s: s.execute(text("SELECT count(*) FROM t")).scalar_one())
        assert count == 2
    finally:
        engine.dispose()
    assert not wal.exists()  # the keeper was the last connection: closed, checkpointed
