"""The real service for system tests: API subprocesses, a private PostgreSQL, store checks.

* :class:`Deployment` - one installation (a data directory, a database, settings, the
  environment every ``python -m api serve`` subprocess gets) and the engine the test uses
  to look at it from outside.
* :class:`LiveApi` - one API process on a free port; :meth:`LiveApi.kill` is SIGKILL.
* :class:`PrivatePostgres` - a throw-away PostgreSQL cluster (``initdb`` into a temp
  directory, own port and socket directory), so a test can stop and restart it without
  touching the shared server at 127.0.0.1:5432 that other tests use at the same time.
* :func:`store_snapshot` - row counts of every table and the list of blobs, to prove that
  a refused request left the store unchanged.
* :func:`mint_token` - a staff session made by the real login service in this process (the
  live server accepts it like any other: only its hash and sealed key are in the database),
  so tests need not wait for a fresh TOTP window after every logout.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import Engine, func, inspect, select, update
from sqlmodel import Session, SQLModel

import api.models  # noqa: F401
from api.auth.login import sign_in
from api.auth.models import StaffUser
from api.auth.throttle import SignInThrottle
from api.auth.totp import code_for_step, step_at
from api.core import migrations
from api.core.db import make_engine
from api.core.models import utcnow
from api.core.settings import Settings
from api.storage import get_storage
from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _pg_available
from tests.factories import StaffHandle

ROOT = Path(__file__).resolve().parents[2]

# Limits that would throttle a test's own traffic; everything else keeps its default.
OPEN_LIMITS = {
    "DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR": "1000000",
    "DOKAZ_INTAKE_RATE_GLOBAL_PER_MINUTE": "1000000",
    "DOKAZ_LOGIN_ATTEMPTS_GLOBAL_PER_MINUTE": "1000000",
    "DOKAZ_LOGIN_FREE_FAILURES_PER_ACCOUNT": "1000000",
    "DOKAZ_LOGIN_FREE_FAILURES_PER_CLIENT": "1000000",
    "DOKAZ_STATS_PULLS_PER_KEY_PER_HOUR": "1000000",
    "DOKAZ_MIN_FREE_DISK_BYTES": "0",
    # Every test client is one address: tens of concurrent uploads are the test's own.
    "DOKAZ_MAX_UPLOADS_IN_FLIGHT_PER_CLIENT": "1000",
    "DOKAZ_MAX_CONNECTIONS_PER_CLIENT": "2000",
    "DOKAZ_MAX_UPLOADS_IN_FLIGHT": "1000",
    "DOKAZ_MAX_CONNECTIONS": "2000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def require_pg() -> None:
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")


@contextlib.contextmanager
def shared_pg_database(prefix: str = "dokaz_sys") -> Iterator[str]:
    """A fresh database on the shared PostgreSQL, dropped afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


class LiveApi:
    """``python -m api serve`` on a free port."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api", "serve", "--port", str(self.port)],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 60) -> LiveApi:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"API exited ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"API did not start:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no rollback hook, no finally block runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_bytes(self) -> int:
        """Resident memory of the process (Linux /proc)."""
        return self._status_bytes("VmRSS")

    def peak_rss_bytes(self) -> int:
        """The highest resident memory the process has had so far (VmHWM, Linux /proc)."""
        return self._status_bytes("VmHWM")

    def _status_bytes(self, key: str) -> int:
        """A ``kB`` line of /proc/PID/status in bytes; 0 once the process is gone."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) * 1024
        return 0

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Deployment:
    """One installation: a data directory and a database, seen by API subprocesses and
    by the test (through :attr:`settings` and :attr:`engine`)."""

    root: Path
    database_url: str | None = None  # None: SQLite in the data directory
    env_overrides: dict[str, str] = field(default_factory=dict)
    apis: list[LiveApi] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        values: dict[str, Any] = {"data_dir": self.data_dir,
                                  "kdf_profile": "fast-insecure-for-tests",
                                  "log_format": "text", "database_url": self.database_url}
        self.settings = Settings.model_validate(values)
        migrations.upgrade(self.settings)
        self.engine: Engine = make_engine(self.settings)
        self.storage = get_storage(self.settings)

    @property
    def kind(self) -> str:
        return "sqlite" if self.database_url is None else "postgresql"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOKAZ_")}
        env.update(OPEN_LIMITS)
        env.update(DOKAZ_DATA_DIR=str(self.data_dir), DOKAZ_KDF_PROFILE="fast-insecure-for-tests",
                   DOKAZ_LOG_FORMAT="text", DOKAZ_LOG_LEVEL="WARNING")
        if self.database_url:
            env["DOKAZ_DATABASE_URL"] = self.database_url
        env.update(self.env_overrides)
        env.update(extra)
        return env

    def start_api(self, port: int | None = None, **extra: str) -> LiveApi:
        api = LiveApi(self.env(**extra), self.root / f"api-{len(self.apis)}.log", port)
        self.apis.append(api)
        return api.wait_ready()

    def dokaz(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run the ``dokaz`` command line against this installation."""
        return subprocess.run(
            [sys.executable, "-m", "api", *args], env=self.env(), cwd=ROOT,
            capture_output=True, text=True, timeout=300, check=check)

    def close(self) -> None:
        for live in self.apis:
            live.stop()
        self.engine.dispose()


@contextlib.contextmanager
def deployment(kind: str, root: Path, **env: str) -> Iterator[Deployment]:
    """A fresh installation on SQLite or on a new database of the shared PostgreSQL."""
    if kind == "sqlite":
        dep = Deployment(root, None, env)
        try:
            yield dep
        finally:
            dep.close()
        return
    require_pg()
    with shared_pg_database() as url:
        dep = Deployment(root, url, env)
        try:
            yield dep
        finally:
            dep.close()


# ---- a private PostgreSQL cluster ----------------------------------------------------


class PrivatePostgres:
    """initdb + pg_ctl in a temp directory; trust auth on 127.0.0.1:<port>."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found and shutil.which("pg_ctl") is None:
            pytest.skip("PostgreSQL server binaries (pg_ctl, initdb) are not installed")
        self.bindir = Path(found[-1]).parent if found else Path(shutil.which("pg_ctl") or "").parent
        self.root = Path(tempfile.mkdtemp(prefix="dokaz-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        self.sockdir.mkdir()
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockdir, "postgres")
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str) -> None:
        opts = (f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
                "-c fsync=on -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.datadir), "-o", opts, "-l", str(self.logfile),
                  "-w", "-t", "60", "-m", "fast", action)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._ctl("stop")
        shutil.rmtree(self.root, ignore_errors=True)


# ---- looking at the store ------------------------------------------------------------


def store_snapshot(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Rows per table (audit entries excluded, see below) and every blob name.

    The audit log and the login throttle are left out on purpose: refusals of some kinds
    (a wrong receipt, a failed login) are audited and counted by design, which is not a
    change to stored testimony.
    """
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    counts: dict[str, Any] = {}
    with Session(engine) as s:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in names and not table.name.startswith("audit_") \
                    and table.name != "login_throttle":
                counts[table.name] = s.execute(select(func.count()).select_from(table)).scalar()
    counts["blobs"] = sorted(b.name for b in get_storage(settings).iter_blobs())
    return counts


def mint_token(engine: Engine, settings: Settings, handle: StaffHandle) -> str:
    """A new session for ``handle`` through the real login service (in this process)."""
    now = utcnow()
    with Session(engine) as s:
        s.execute(update(StaffUser).where(StaffUser.id == handle.id)  # type: ignore[arg-type]
                  .values(totp_last_step=step_at(now) - 5))
        s.commit()
    result = anyio.run(functools.partial(
        sign_in, engine, settings, SignInThrottle(settings), client=None,
        username=handle.user.username, password=handle.password,
        code=code_for_step(handle.totp_secret, step_at(now)), now=now))
    return result.token
