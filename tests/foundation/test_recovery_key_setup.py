"""The recovery private key reaches a terminal or a named 0600 file, never a log.

Threat-model property 10: `dokaz serve` under Docker or systemd writes to a log on the
server the threat model assumes seized, so without a terminal it creates no key, says
(without secrets) what to run, and refuses intake until the public half is installed.
The commands run as real processes, with pipes or a pseudo-terminal as their output.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from api.auth.roles import Role
from api.core.settings import Settings
from api.keys.models import CaseKeyWrap, OrganisationKey
from api.keys.service import case_key_context
from crypto.recovery import parse_recovery_key, recovery_public_key
from crypto.sealed import unwrap_data_key
from tests.factories import create_staff, sample_report
from tests.foundation.serve import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_TEXT = re.compile(r"DOKAZ-RK1-[0-9A-Z]{4}(?:-[0-9A-Z]{4}){13}")
PUBLIC_TEXT = re.compile(r"DOKAZ-RP1-[0-9A-Z]{4}(?:-[0-9A-Z]{4}){13}")
TUS = {"Tus-Resumable": "1.0.0"}


def free_port() -> int:
    """A free port in the range this test suite's servers may use (18100-18199)."""
    for port in range(18100, 18200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18100-18199")


def fresh_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A fresh installation: SQLite in ``data_dir``, fast Argon2, nothing else inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOKAZ_")}
    env.update(DOKAZ_DATA_DIR=str(data_dir), DOKAZ_KDF_PROFILE="fast-insecure-for-tests",
               DOKAZ_LOG_FORMAT="json", DOKAZ_LOG_LEVEL="DEBUG", **extra)
    return env


def env_for(settings: Settings) -> dict[str, str]:
    """The test database of ``settings`` (SQLite or PostgreSQL), for a CLI process."""
    return fresh_env(settings.data_dir, DOKAZ_DATABASE_URL=settings.resolved_database_url)


def dokaz(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI with pipes for stdin, stdout and stderr (no terminal anywhere)."""
    return subprocess.run([sys.executable, "-m", "api", *args], env=env, cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)


def key_body(text: str) -> str:
    """The key symbols without prefix and dashes, to find the key in any formatting."""
    return text.split("-", 2)[2].replace("-", "")


def assert_no_private_key(output: str, private_text: str | None = None) -> None:
    assert not PRIVATE_TEXT.search(output), "recovery private key text in the output"
    assert "ORGANISATION RECOVERY KEY" not in output
    if private_text is not None:
        flat = re.sub(r"[\s\-]", "", output.upper())
        assert key_body(private_text) not in flat


@contextlib.contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, base, timeout=90)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)


def tus_upload(base: str) -> tuple[httpx.Response, str]:
    """Create a one-byte upload and send it; returns the creation answer and the secret URL."""
    created = httpx.post(base + "/api/v1/uploads", timeout=30, headers={
        **TUS, "Upload-Length": "5", "Upload-Metadata": "filename bm90ZXMudHh0"})
    location = created.headers.get("location", "")
    return created, location


@pytest.mark.slow
def test_serve_without_a_terminal_creates_no_key_and_intake_waits_for_the_public_half(
        tmp_path: Path) -> None:
    env = fresh_env(tmp_path / "data")
    port = free_port()
    private_file = tmp_path / "offline" / "recovery.txt"
    private_file.parent.mkdir()
    with serving(env, port) as (proc, base):
        refused = httpx.post(base + "/api/v1/submissions", json=sample_report(), timeout=30)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "no_recovery_key"
        for command in ("dokaz keys generate", "dokaz keys import-public", "dokaz keys init"):
            assert command in error["message"]
        assert refused.headers["retry-after"] == "3600"
        created, _ = tus_upload(base)
        assert created.status_code == 503 and "dokaz keys generate" in created.text
        page = httpx.get(base + "/report?lang=en", timeout=30)
        assert page.status_code == 503 and "dokaz keys import-public" in page.text
        ready = httpx.get(base + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert "dokaz keys generate" in ready.json()["checks"]["recovery_key"]["reason"]

        # The offline machine: no settings, no database (these would not even parse).
        offline = fresh_env(tmp_path / "nowhere", DOKAZ_DATABASE_URL="postgresql://nohost/x",
                            DOKAZ_ENVIRONMENT="production")
        generated = dokaz(offline, "keys", "generate", "--output", str(private_file))
        assert generated.returncode == 0, generated.stderr
        assert not (tmp_path / "nowhere").exists()
        private_text = PRIVATE_TEXT.search(private_file.read_text())
        assert private_text is not None
        assert_no_private_key(generated.stdout + generated.stderr, private_text.group(0))
        public_text = PUBLIC_TEXT.search(generated.stdout)
        assert public_text is not None

        imported = dokaz(env, "keys", "import-public", public_text.group(0))
        assert imported.returncode == 0, imported.stderr
        assert "fingerprint" in imported.stdout

        accepted = httpx.post(base + "/api/v1/submissions", json=sample_report(), timeout=30)
        assert accepted.status_code == 201, accepted.text
        assert httpx.get(base + "/readyz", timeout=30).status_code == 200
        created, location = tus_upload(base)
        assert created.status_code == 201, created.text
        secret = location.rsplit("/", 1)[1]
        assert len(secret) > 20
        patched = httpx.patch(base + location, content=b"notes", timeout=30, headers={
            **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert patched.status_code == 204, patched.text
        assert httpx.head(base + location, headers=TUS, timeout=30).status_code == 200
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    out, err = stdout.decode(), stderr.decode()
    assert_no_private_key(out + err, private_text.group(0))
    # What to run was logged, without secrets; and the upload's secret is in no log line.
    assert "no organisation recovery key" in err and "dokaz keys import-public" in err
    assert '"route": "/api/v1/uploads/{token}"' in err
    assert secret not in out + err


def test_keys_init_refuses_without_a_terminal(settings: Settings, session: Session) -> None:
    result = dokaz(env_for(settings), "keys", "init")
    assert result.returncode == 2
    assert "not a terminal" in result.stderr and "--output" in result.stderr
    assert_no_private_key(result.stdout + result.stderr)
    assert session.exec(sql_select(OrganisationKey)).first() is None
    session.rollback()


def test_keys_init_output_is_a_new_0600_file(settings: Settings, session: Session,
                                              tmp_path: Path) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("do not touch")
    refused = dokaz(env_for(settings), "keys", "init", "--output", str(existing))
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert existing.read_text() == "do not touch"
    assert session.exec(sql_select(OrganisationKey)).first() is None  # nothing was created
    session.rollback()  # SQLite: end the read so the CLI can write

    target = tmp_path / "recovery.txt"
    made = dokaz(env_for(settings), "keys", "init", "--output", str(target))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    found = PRIVATE_TEXT.search(target.read_text())
    assert found is not None
    assert_no_private_key(made.stdout + made.stderr, found.group(0))
    stored = session.exec(sql_select(OrganisationKey)).one()
    assert recovery_public_key(parse_recovery_key(found.group(0))) == stored.public_key
    assert stored.fingerprint in made.stdout
    session.rollback()

    again = dokaz(env_for(settings), "keys", "init", "--output", str(tmp_path / "second.txt"))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert not (tmp_path / "second.txt").exists()


def test_generate_then_import_public_round_trip_through_a_grant(
        settings: Settings, session: Session, tmp_path: Path, app_client: object) -> None:
    private_file = tmp_path / "recovery.txt"
    offline = fresh_env(tmp_path / "offline-data")
    generated = dokaz(offline, "keys", "generate", "--output", str(private_file))
    assert generated.returncode == 0, generated.stderr
    private_text = PRIVATE_TEXT.search(private_file.read_text())
    public_text = PUBLIC_TEXT.search(generated.stdout)
    assert private_text is not None and public_text is not None
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600

    mistaken = dokaz(env_for(settings), "keys", "import-public", private_text.group(0))
    assert mistaken.returncode == 1 and "PRIVATE" in mistaken.stderr
    assert_no_private_key(mistaken.stdout + mistaken.stderr, private_text.group(0))
    assert session.exec(sql_select(OrganisationKey)).first() is None
    session.rollback()

    imported = dokaz(env_for(settings), "keys", "import-public", public_text.group(0))
    assert imported.returncode == 0, imported.stderr
    assert dokaz(env_for(settings), "keys", "import-public",
                 public_text.group(0)).returncode == 1  # only one recovery key

    client = app_client
    reply = client.post("/api/v1/submissions", json=sample_report())  # type: ignore[attr-defined]
    assert reply.status_code == 201, reply.text
    colleague = create_staff(session, Role.CASEWORKER, settings=settings)
    session.rollback()
    granted = dokaz(env_for(settings), "keys", "grant", "--username", colleague.user.username,
                    "--all-cases", "--recovery-key-stdin", stdin=private_text.group(0) + "\n")
    assert granted.returncode == 0, granted.stderr
    assert "granted 1 case(s)" in granted.stdout
    wraps = {w.recipient_kind: w for w in session.exec(sql_select(CaseKeyWrap).where(
        col(CaseKeyWrap.recipient_kind).in_(["recovery", "staff"])))}
    rec, mine = wraps["recovery"], wraps["staff"]
    assert mine.recipient_id == colleague.id
    by_recovery = unwrap_data_key(parse_recovery_key(private_text.group(0)), rec.wrapped_key,
                                  case_key_context(rec.case_id, "recovery", rec.recipient_id))
    by_colleague = unwrap_data_key(colleague.keypair.private_bytes, mine.wrapped_key,
                                   case_key_context(mine.case_id, "staff", colleague.id))
    assert by_recovery == by_colleague


def _read_until(fd: int, pattern: re.Pattern[str], timeout: float = 90) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
            if pattern.search(seen.decode(errors="replace")):
                return seen.decode(errors="replace")
    pytest.fail(f"{pattern.pattern!r} never appeared on the terminal: {seen[-2000:]!r}")


@pytest.mark.slow
def test_serve_on_a_terminal_offers_the_key_and_shows_it_there_only(tmp_path: Path) -> None:
    env = fresh_env(tmp_path / "data")
    port = free_port()
    log_path = tmp_path / "stderr.log"
    controller, terminal = pty.openpty()
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port)],
                                env=env, cwd=ROOT, stdin=terminal, stdout=terminal, stderr=log,
                                start_new_session=True)
    os.close(terminal)
    try:
        _read_until(controller, re.compile(r"no organisation recovery key yet.*\[Y/n\]", re.S))
        os.write(controller, b"y\n")
        shown = _read_until(controller, re.compile(r"Fingerprint.*\n", re.S))
        found = PRIVATE_TEXT.search(shown)
        assert found is not None, shown
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("serve did not become ready after creating the key")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        os.close(controller)
    # The key's public half is installed; the private text went to the terminal only.
    assert_no_private_key(log_path.read_text(), found.group(0))


def test_keys_init_on_a_terminal_shows_the_key_there(settings: Settings, session: Session) -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "api", "keys", "init"], env=env_for(settings),
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=terminal,
                            stderr=subprocess.PIPE)
    os.close(terminal)
    try:
        shown = _read_until(controller, re.compile(r"Fingerprint.*\n", re.S))
    finally:
        _, stderr = proc.communicate(timeout=60)
        os.close(controller)
    assert proc.returncode == 0
    found = PRIVATE_TEXT.search(shown)
    assert found is not None
    assert_no_private_key(stderr.decode(), found.group(0))
    stored = session.exec(sql_select(OrganisationKey)).one()
    assert recovery_public_key(parse_recovery_key(found.group(0))) == stored.public_key
    assert stored.fingerprint in shown


def test_serve_in_production_creates_nothing_even_on_a_terminal(
        settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    import typer

    from api.keys import cli, display

    asked: list[str] = []

    def confirm(text: str, **_kw: object) -> bool:
        asked.append(text)
        return True

    monkeypatch.setattr(display, "interactive", lambda *a: True)
    monkeypatch.setattr(typer, "confirm", confirm)
    with caplog.at_level("WARNING", logger="dokaz.keys"):
        cli.ensure_at_startup(settings.model_copy(update={"environment": "production"}))
    assert asked == []
    assert session.exec(sql_select(OrganisationKey)).first() is None
    assert "dokaz keys import-public" in caplog.text
    assert_no_private_key(caplog.text)
