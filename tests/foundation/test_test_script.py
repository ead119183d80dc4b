"""scripts/test.sh brings up what the suite needs on a machine that may have only Python
(issue 18, item 7). Its service logic lives in scripts/services.sh; these tests run that
logic for real without touching the services already running: the private, throwaway
PostgreSQL cluster and Redis on ports of their own, and the path that finds the running
ones and starts nothing."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [ROOT / "scripts" / "test.sh", ROOT / "scripts" / "services.sh"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _services(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), *command],
                          env=dict(os.environ, SERVICES_PYTHON=sys.executable, **env),
                          cwd=ROOT, capture_output=True, text=True, timeout=180)


def test_the_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is missing (scripts/test.sh installs it)")
        pytest.skip("shellcheck is not installed (scripts/test.sh installs it)")
    done = subprocess.run([shellcheck, "-x", *map(str, SCRIPTS)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_a_private_postgresql_and_redis_start_on_their_ports_and_go_away(
        tmp_path: Path) -> None:
    pg_port, redis_port = _free_port(), _free_port()
    assert not _answers(pg_port) and not _answers(redis_port)
    probe = (
        "import psycopg, redis, sys\n"
        f"url = 'postgresql://postgres@127.0.0.1:{pg_port}/postgres'\n"
        "with psycopg.connect(url, autocommit=True) as c:\n"
        "    c.execute('CREATE DATABASE dokaz_private_probe')\n"
        f"print('redis', redis.Redis(port={redis_port}).ping())\n"
    )
    done = _services({"DOKAZ_TEST_PG_URL":
                      f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/postgres",
                      "DOKAZ_TEST_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                      "TMPDIR": str(tmp_path)},
                     sys.executable, "-c", probe)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "redis True" in done.stdout
    started = re.search(rf"starting a private PostgreSQL on 127.0.0.1:{pg_port} in (\S+)",
                        done.stderr)
    assert started, done.stderr
    assert f"starting a private Redis on 127.0.0.1:{redis_port}" in done.stderr
    # Stopped and deleted when the script exits (the cluster's directory is under TMPDIR,
    # or /tmp where the "postgres" user cannot reach TMPDIR).
    assert not _answers(pg_port) and not _answers(redis_port)
    assert not Path(started.group(1)).exists()
    assert list(tmp_path.iterdir()) == []


def test_services_already_running_are_used_as_they_are() -> None:
    """The suite's own PostgreSQL and Redis answer: nothing is started, installed or
    stopped, and the command runs."""
    done = _services({"DOKAZ_TEST_PG_URL": PG_ADMIN_URL, "DOKAZ_TEST_REDIS_URL": REDIS_URL})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines() == [f"postgresql: {PG_ADMIN_URL}", f"redis: {REDIS_URL}"]


def test_a_failing_service_is_named_and_fails_the_script(tmp_path: Path) -> None:
    """Redis on a port where something else (not Redis) listens cannot start: the script
    says so and exits non-zero instead of running the tests against nothing."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = _services({"DOKAZ_TEST_PG_URL": PG_ADMIN_URL,
                          "DOKAZ_TEST_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                          "TMPDIR": str(tmp_path)}, "true")
    assert done.returncode != 0
    assert f"Redis on 127.0.0.1:{port} did not start" in done.stderr
    assert list(tmp_path.iterdir()) == []
