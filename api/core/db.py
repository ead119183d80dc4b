"""Database engine and the one-transaction-per-request unit of work.

Services only ``flush``; ``unit_of_work`` commits or rolls back. Requests get it through
the ``DbSession`` dependency (:mod:`api.core.dependencies`), which commits before the
response is sent: a 201 always means the data is durable.

SQLite (the embedded default) runs with WAL, foreign keys and ``secure_delete`` (deleted
rows are overwritten, which matters for crypto-shredding). PostgreSQL goes through psycopg 3.

``in_transaction`` runs one unit of work in a worker thread, for async routes that must not
hold a transaction open while a body streams in.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from api.core.errors import ServiceUnavailable
from api.core.settings import Settings

T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


READ_ONLY = "dokaz_read_only"  # an execution option: see in_read_transaction


def _sqlite_begin(conn: Any) -> None:
    # pysqlite's implicit transactions are disabled below; BEGIN IMMEDIATE takes the write
    # lock up front so two writers queue instead of failing with "database is locked".
    # A transaction that only reads takes no lock (WAL: it reads a snapshot), so it never
    # waits behind a writer's commit.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def fetch_planned_each_time(session: Session, statement: Any, params: dict[str, Any]
                            ) -> list[Any]:
    """Every row of ``statement`` on the session's connection (Core, same transaction),
    planned by PostgreSQL for these values on every call.

    psycopg prepares a statement after its fifth execution, and PostgreSQL then soon
    settles on a generic plan that cannot see the values. For a list whose filters range
    from "one caseworker's cases this year" to "every open case" a generic plan guesses
    the selectivity and can be several times slower (measured on the case list: 2.7 ms ->
    7.4 ms from the eleventh call on); planning afresh costs ~0.2 ms. SQLite is unaffected.
    """
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    if not hasattr(driver, "prepare_threshold"):  # not psycopg: nothing is prepared
        return list(connection.execute(statement, params).all())
    saved = driver.prepare_threshold
    driver.prepare_threshold = None  # this execution only; restored below
    try:
        return list(connection.execute(statement, params).all())
    finally:
        driver.prepare_threshold = saved


def make_engine(settings: Settings, *, url: str | None = None, serving: bool = False,
                **kwargs: Any) -> Engine:
    """The engine for ``settings``' database. ``serving``: for a process that answers
    requests (see the SQLite pool below); workers and commands leave it off."""
    url = url or settings.resolved_database_url
    if url.startswith("sqlite"):
        if ":memory:" not in url:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Serving processes pool their connections; workers and commands open one per
        # transaction (NullPool). A new connection parses the whole schema on its first
        # statement (about 0.7 ms for ours) and runs the pragmas below: on a small tus
        # upload pooling took the request from 12.4 to 9.4 ms (bench/tus_peers.py). But
        # with pooled connections a process that commits and at once begins again retakes
        # SQLite's write lock before another process's busy handler wakes:
        # tests/workers/test_processes.py saw a second worker that never ran a job. A
        # worker loops from one write transaction straight into the next; a serving
        # process's writes are separated by the network reads of the requests they answer,
        # so a worker (or a second server) waiting beside it gets its turn.
        pool: dict[str, Any] = {}  # in memory: SQLAlchemy's own choice for such a database
        if ":memory:" not in url:
            pool = ({"pool_size": settings.database_pool_size,
                     "max_overflow": settings.database_pool_size} if serving
                    else {"poolclass": NullPool})
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15, "isolation_level": None},
            **pool,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        if ":memory:" not in url and engine.url.database:
            _keep_one_open(engine, engine.url.database)
        return engine
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,  # survive a PostgreSQL restart without a burst of errors
        pool_recycle=1800,
        **kwargs,
    )


# Keepers inherited from a parent process: never closed here (see _keep_one_open).
_INHERITED: list[sqlite3.Connection] = []


def _keep_one_open(engine: Engine, database: str) -> None:
    """Hold one idle connection to the SQLite file for the engine's lifetime.

    With a connection per transaction (NullPool, above: workers and commands) the
    transaction's connection was usually the process's only one, and closing the last
    connection to a WAL database checkpoints it, truncates the WAL and syncs both files:
    measured 18.6 ms per small write transaction against 5.0 ms with one more connection
    open (tusperf; bench/tus_peers.py small uploads spent most of their time there). The
    keeper holds no transaction, so it takes no lock and cannot starve another process's
    writer; the WAL is still checkpointed by SQLite's automatic checkpoint (every 1000
    pages) on commit.
    Opened at the engine's first connection, so a process that never touches the
    database opens nothing; closed with ``engine.dispose()``. A keeper a forked child
    inherited is left alone (closing SQLite handles across a fork is unsafe) and the
    child opens its own.
    """
    held: dict[str, Any] = {}
    lock = threading.Lock()

    def first_connect(_dbapi_connection: Any, _record: Any) -> None:
        if held.get("pid") == os.getpid():
            return
        with lock:
            _open_keeper()

    def _open_keeper() -> None:
        keeper = held.get("connection")
        if keeper is not None and held.get("pid") == os.getpid():
            return  # another thread opened it meanwhile
        if keeper is not None:
            _INHERITED.append(keeper)
        keeper = sqlite3.connect(database, check_same_thread=False, timeout=15,
                                 isolation_level=None)
        # A first read opens the WAL and takes the shared lock that tells closers they
        # are not the last connection.
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()
        held.update(connection=keeper, pid=os.getpid())

    def disposed(_engine: Engine) -> None:
        with lock:
            keeper, pid = held.pop("connection", None), held.pop("pid", None)
        if keeper is not None and pid == os.getpid():
            keeper.close()

    event.listen(engine, "connect", first_connect)
    event.listen(engine, "engine_disposed", disposed)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any exception."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except (OperationalError, DBAPIError) as exc:
        session.rollback()
        if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
            raise ServiceUnavailable(
                "The database is not reachable right now. Nothing from this request was "
                "saved; please try again in a minute."
            ) from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def commit_before_rendering(session: Session) -> None:
    """Commit the request's unit of work now, for a route whose answer is costly to render.

    FastAPI renders a route's return value before the ``DbSession`` dependency commits, so
    whatever the transaction holds (row locks, SQLite's write lock, the audit chain head
    taken at commit) would be held through the rendering too. After this, the route renders
    outside any transaction and the dependency's own commit has nothing left to do; the
    answer is still durable before a byte of it is sent.
    """
    session.commit()


def run_in_transaction(engine: Engine, work: Callable[[Session], T]) -> T:
    with unit_of_work(engine) as session:
        return work(session)


async def in_transaction(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction in a worker thread (commit on success)."""
    return await anyio.to_thread.run_sync(functools.partial(run_in_transaction, engine, work))


async def in_read_transaction(engine: Engine, work: Callable[[Session], T]) -> T:
    """:func:`in_transaction` for ``work`` that only reads: on SQLite it does not take
    the write lock (PostgreSQL transactions take none to read anyway). A write in
    ``work`` is an error (SQLite may refuse it with "database is locked")."""
    reader = engine.execution_options(**{READ_ONLY: True})
    return await anyio.to_thread.run_sync(functools.partial(run_in_transaction, reader, work))

