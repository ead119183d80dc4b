"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

The schema is always built by the Alembic migrations (never ``create_all``). Each engine
gets one migrated database per test session; tables are emptied after every test.
PostgreSQL is required when DOKAZ_TEST_REQUIRE_PG=1 (CI and scripts/test.sh) and
skipped with a clear reason otherwise.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, SQLModel

import api.models  # noqa: F401
from api.app import create_app
from api.core import migrations
from api.core.db import make_engine
from api.core.settings import Settings

# aiosmtpd's per-connection chatter ("EOF received") comes from its own thread, often after
# pytest has closed the stream the app's log handler writes to; it says nothing a test needs.
logging.getLogger("mail.log").setLevel(logging.WARNING)

PG_ADMIN_URL = os.environ.get(
    "DOKAZ_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("DOKAZ_TEST_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"
ENGINES = ["sqlite", "postgresql"]


def _pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


class DbUnderTest:
    """One migrated database for the whole session, on one engine."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        # DOKAZ_TEST_DB_PREFIX: helpers sharing one PostgreSQL keep their databases apart.
        prefix = os.environ.get("DOKAZ_TEST_DB_PREFIX", "dokaz_test")
        self.name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
        if kind == "sqlite":
            self.url = f"sqlite:///{root / 'dokaz-test.sqlite3'}"
        else:
            self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
            self._admin(f'CREATE DATABASE "{self.name}"')
        self.settings = self.make_settings(root / "data")
        migrations.upgrade(self.settings, url=self.url)
        self.engine = make_engine(self.settings, url=self.url)

    def make_settings(self, data_dir: Path, **overrides: Any) -> Settings:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": self.url,
            "kdf_profile": "fast-insecure-for-tests",
            "log_format": "text",
        }
        values.update(overrides)
        return Settings.model_validate(values)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(sql.encode())

    def empty_tables(self) -> None:
        # Only tables the migrations made (models may run ahead of them while a feature grows).
        existing = set(inspect(self.engine).get_table_names()) - {"alembic_version"}
        names = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name in existing]
        if not names:
            return
        with self.engine.begin() as conn:
            if self.kind == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
            else:
                for name in names:
                    conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 (table names)

    def close(self) -> None:
        self.engine.dispose()
        if self.kind == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DbUnderTest]]:
    dbs: dict[str, DbUnderTest] = {}
    yield dbs
    for db in dbs.values():
        db.close()


@pytest.fixture(params=ENGINES)
def database(
    request: pytest.FixtureRequest,
    _databases: dict[str, DbUnderTest],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DbUnderTest]:
    kind: str = request.param
    if kind == "postgresql" and kind not in _databases and not _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable (set DOKAZ_TEST_REQUIRE_PG=1 to make this fail)")
    if kind not in _databases:
        _databases[kind] = DbUnderTest(kind, tmp_path_factory.mktemp(f"db-{kind}"))
    db = _databases[kind]
    try:
        yield db
    finally:
        db.empty_tables()


@pytest.fixture
def engine(database: DbUnderTest) -> Engine:
    return database.engine


@pytest.fixture
def settings(database: DbUnderTest, tmp_path: Path) -> Settings:
    return database.make_settings(tmp_path / "data")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def app_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine)
    with TestClient(app) as client:
        yield client


REDIS_URL = os.environ.get(  # scripts/test.sh (scripts/services.sh) starts one if none answers
    "DOKAZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class SharedRedis:
    """The test Redis and a key prefix of this test's own, so parallel workers never see
    each other's counters or leases; ``overrides`` points an app's settings at both."""

    client: Redis
    prefix: str

    @property
    def overrides(self) -> dict[str, Any]:
        return {"redis_url": REDIS_URL, "redis_key_prefix": self.prefix}


@pytest.fixture
def shared_redis() -> Iterator[SharedRedis]:
    client = Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"these tests need the Redis at {REDIS_URL}: {exc}")
    shared = SharedRedis(client, f"dokaz-test-{secrets.token_hex(6)}:")
    yield shared
    for key in client.scan_iter(match=shared.prefix + "*"):
        client.delete(key)
    client.close()
