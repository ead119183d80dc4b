"""The command line, run as an operator would: users, partners, audit verify/export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from api import cli
from api.core.settings import get_settings
from tests.conftest import DbUnderTest

ROOT = Path(__file__).resolve().parents[2]


def _env(database: DbUnderTest, tmp_path: Path) -> dict[str, str]:
    return {"DOKAZ_DATABASE_URL": database.url, "DOKAZ_DATA_DIR": str(tmp_path),
            "DOKAZ_KDF_PROFILE": "fast-insecure-for-tests", "DOKAZ_LOG_FORMAT": "text"}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _dokaz(database: DbUnderTest, tmp_path: Path, *args: str, stdin: str = "") -> Ran:
    """Run a command in-process (starting Python for each would dominate the test time)."""
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, list(args), input=stdin,
                                    env=_env(database, tmp_path))
    finally:
        get_settings.cache_clear()
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_users_partners_and_audit_commands(
    database: DbUnderTest, engine: Engine, tmp_path: Path
) -> None:
    created = _dokaz(database, tmp_path, "users", "create", "--role", "admin", "--username",
                     "first-admin", "--password-stdin", stdin="three unrelated words here\n")
    assert created.returncode == 0, created.stderr
    assert "otpauth://totp/Dokaz:first-admin?secret=" in created.stdout
    assert "three unrelated words" not in created.stdout + created.stderr
    weak = _dokaz(database, tmp_path, "users", "create", "--role", "caseworker", "--username",
                  "case-worker", "--password-stdin", stdin="password1234\n")
    assert weak.returncode == 1 and "most common" in weak.stderr
    bad_role = _dokaz(database, tmp_path, "users", "create", "--role", "partner", "--username",
                      "x", "--password-stdin", stdin="three unrelated words here\n")
    assert bad_role.returncode == 2 and "API keys" in bad_role.stderr
    listed = _dokaz(database, tmp_path, "users", "list")
    assert "first-admin" in listed.stdout and "admin" in listed.stdout
    assert _dokaz(database, tmp_path, "partners", "create", "Viasna").returncode == 0
    key = _dokaz(database, tmp_path, "partners", "create-key", "--partner", "Viasna",
                 "--name", "stats")
    assert key.returncode == 0 and "dkp_" in key.stdout

    ok = _dokaz(database, tmp_path, "audit", "verify")
    assert ok.returncode == 0 and "audit log OK" in ok.stdout
    cp = _dokaz(database, tmp_path, "audit", "checkpoint")
    anchor = cp.stdout.strip()
    exported = _dokaz(database, tmp_path, "audit", "export", "--format", "json")
    actions_seen = [e["action"] for e in json.loads(exported.stdout)]
    assert actions_seen[:3] == ["user.created", "partner.created", "partner.key_created"]

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET target = 'someone-else' WHERE seq = 1"))
    # This one through the real entry point, as cron or an operator would run it.
    broken = subprocess.run([sys.executable, "-m", "api", "audit", "verify"],
                            env=dict(os.environ, **_env(database, tmp_path)), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert "BROKEN at entry #1" in broken.stdout and "edited" in broken.stdout
    anchored = _dokaz(database, tmp_path, "audit", "verify", "--expect", anchor)
    assert anchored.returncode == 1
