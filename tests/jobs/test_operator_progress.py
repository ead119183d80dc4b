"""The long operator commands show their progress on a terminal, and only there (issue 18,
item 6): `dokaz backup`, `restore`, `fsck`, `keys grant --all-cases`, `stats refresh` and
`db upgrade` draw a bar on stderr when it is a terminal (a real pseudo-terminal here),
none when stderr is a pipe or with --quiet, and their result lines on stdout are the same
either way.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.auth.roles import Role
from api.core.settings import Settings
from tests.conftest import DbUnderTest
from tests.factories import create_recovery_key_text, create_staff
from tests.jobs.conftest import submit_with_file
from tests.jobs.test_backup import _env, _new_database

ROOT = Path(__file__).resolve().parents[2]
BAR = "\u2501"  # the heavy horizontal line rich draws bars with
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run(env: dict[str, str], args: list[str], *, stdin: str = "",
         terminal: bool) -> tuple[int, str, str]:
    """Run ``dokaz ARGS`` with stderr on a pseudo-terminal (or a pipe); return the exit
    code, stdout and what stderr showed, colours and cursor moves removed."""
    env = dict(env, TERM="xterm-256color", COLUMNS="120")
    command = [sys.executable, "-m", "api", *args]
    if not terminal:
        done = subprocess.run(command, env=env, cwd=ROOT, input=stdin, capture_output=True,
                              text=True, timeout=180)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not data:
                return
            seen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    out, _ = proc.communicate(stdin, timeout=180)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, out, ANSI.sub("", seen.decode("utf-8", "replace"))


def _bar_lines(shown: str, label: str) -> list[str]:
    """The states the bar of step ``label`` was drawn in ("tables ━━━ 12/40 ...")."""
    return [part.strip() for part in re.split(r"[\r\n]", shown)
            if part.strip().startswith(label) and BAR in part]


def _finished(shown: str, label: str) -> tuple[int, int]:
    """The last "done/total" the step's bar showed."""
    lines = _bar_lines(shown, label)
    assert lines, f"no progress bar for {label!r} in {shown!r}"
    found = re.search(r"(\d+)/(\d+)", lines[-1])
    assert found, lines[-1]
    return int(found.group(1)), int(found.group(2))


@pytest.fixture
def populated(database: DbUnderTest, settings: Settings, engine: Engine) -> str:
    with Session(engine, expire_on_commit=False) as s:
        key_text = create_recovery_key_text(s)
        create_staff(s, Role.ADMIN, settings=settings)
    with TestClient(create_app(settings, engine)) as client:
        for i in range(3):
            submit_with_file(client, f"PROGRESS{i}")
    return key_text


@pytest.mark.slow
def test_backup_and_restore_show_progress_on_a_terminal_only(
    database: DbUnderTest, settings: Settings, populated: str, tmp_path: Path,
) -> None:
    env = _env(database.url, settings.data_dir)
    archive = tmp_path / "a.dkzb"
    code, out, shown = _run(env, ["backup", "--out", str(archive)], terminal=True)
    assert code == 0, shown
    assert "backup written to" in out and "3 blobs" in out
    done, total = _finished(shown, "tables")
    assert done == total > 20  # every table of the schema, one step each
    assert _finished(shown, "blobs") == (3, 3)
    assert BAR not in out  # the result line is the same as without a terminal

    piped = tmp_path / "b.dkzb"
    code, out, err = _run(env, ["backup", "--out", str(piped)], terminal=False)
    assert code == 0 and "3 blobs" in out
    assert BAR not in err and "\x1b[" not in err
    quiet = tmp_path / "c.dkzb"
    code, out, shown = _run(env, ["backup", "--quiet", "--out", str(quiet)], terminal=True)
    assert code == 0 and "3 blobs" in out and BAR not in shown

    url = _new_database(database.kind, tmp_path, database)
    target = _env(url, tmp_path / "restored")
    # A restore that fails a third of the way in: its bar stays where it stopped (and the
    # target is put back, so the good archive goes into the same one next).
    damaged = tmp_path / "damaged.dkzb"
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    damaged.write_bytes(bytes(raw))
    code, out, shown = _run(target, ["restore", "--in", str(damaged), "--recovery-key-stdin"],
                            stdin=populated + "\n", terminal=True)
    assert code == 1 and "damaged or incomplete" in shown
    read, size = _finished(shown, "archive")
    assert 0 < read < size == len(raw)
    code, out, shown = _run(target, ["restore", "--in", str(archive), "--recovery-key-stdin"],
                            stdin=populated + "\n", terminal=True)
    assert code == 0, shown
    assert "hashes verified" in out
    done, total = _finished(shown, "migrations")
    assert done == total > 10
    read, size = _finished(shown, "archive")
    assert read == size == archive.stat().st_size


@pytest.mark.slow
def test_fsck_grant_stats_and_migrations_show_progress(
    database: DbUnderTest, settings: Settings, engine: Engine, populated: str, tmp_path: Path,
) -> None:
    env = _env(database.url, settings.data_dir)
    code, out, shown = _run(env, ["fsck", "--grace-seconds", "0"], terminal=True)
    assert code == 0, out + shown
    assert _finished(shown, "checks") == (6, 6)
    assert _finished(shown, "blob listing")[0] >= 3

    with Session(engine, expire_on_commit=False) as s:
        colleague = create_staff(s, Role.CASEWORKER, settings=settings)
    code, out, shown = _run(env, ["keys", "grant", "--username", colleague.user.username,
                                  "--all-cases", "--recovery-key-stdin"],
                            stdin=populated + "\n", terminal=True)
    assert code == 0, out + shown
    granted = int(re.search(r"granted (\d+) case", out).group(1))  # type: ignore[union-attr]
    assert granted >= 3
    assert _finished(shown, "cases") == (granted, granted)

    code, out, shown = _run(env, ["stats", "refresh", "--force"], terminal=True)
    assert code == 0, out + shown
    done, total = _finished(shown, "tables")
    assert done == total > 3 and "published" in out
    code, out, err = _run(env, ["stats", "refresh", "--force"], terminal=False)
    assert code == 0 and "published" in out and BAR not in err

    fresh = _env(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path / "fresh")
    code, out, shown = _run(fresh, ["db", "upgrade"], terminal=True)
    assert code == 0, shown
    done, total = _finished(shown, "migrations")
    assert done == total > 10
    assert "alembic" not in shown  # its per-revision lines stay below INFO
    code, out, shown = _run(fresh, ["db", "upgrade"], terminal=True)
    assert code == 0 and _finished(shown, "migrations") == (0, 0)


def _typo(key_text: str) -> str:
    """The key with one symbol of its 5th group changed (a typing mistake)."""
    groups = key_text.split("-")
    group = groups[6]  # DOKAZ, RK1, then the 14 groups: index 6 is group 5
    groups[6] = ("1" if group[0] != "1" else "2") + group[1:]
    return "-".join(groups)


def test_a_mistyped_recovery_key_is_explained_and_asked_again_at_the_prompt(
    database: DbUnderTest, settings: Settings, engine: Engine, populated: str,
) -> None:
    """`dokaz keys grant` at its hidden prompt (a real terminal on stdin): a typing mistake
    is explained by group and the key asked for again; piped, it is explained and the
    command fails, with the same words and without repeating the key."""
    env = _env(database.url, settings.data_dir)
    with Session(engine, expire_on_commit=False) as s:
        colleague = create_staff(s, Role.CASEWORKER, settings=settings)
    args = ["keys", "grant", "--username", colleague.user.username, "--all-cases"]

    code, out, err = _run(env, [*args, "--recovery-key-stdin"], stdin=_typo(populated) + "\n",
                          terminal=False)
    assert code == 1
    assert ("error: That is not a valid recovery key: group 5 fails its checksum: one "
            "symbol in it is probably mistyped") in err
    assert not [g for g in populated.split("-")[2:] if g in err + out]

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "api", *args], env=env, cwd=ROOT,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    seen = b""

    def type_hidden(line: str) -> None:
        # As a person does: once the prompt has turned echo off (getpass flushes what was
        # typed before), so the key is never shown on the terminal.
        deadline = time.monotonic() + 60
        while termios.tcgetattr(slave)[3] & termios.ECHO:
            assert time.monotonic() < deadline, "the prompt never hid its input"
            time.sleep(0.05)
        os.write(master, line.encode() + b"\n")

    def until(text: bytes) -> None:
        nonlocal seen
        while text not in seen:
            ready, _, _ = select.select([master], [], [], 120)
            assert ready, seen
            seen += os.read(master, 4096)

    try:
        until(b"Recovery key (DOKAZ-RK1-...):")
        type_hidden(_typo(populated))
        until(b"Type it again.")
        assert b"group 5 fails its checksum" in seen
        seen = seen[seen.index(b"Type it again."):]
        until(b"Recovery key (DOKAZ-RK1-...):")
        type_hidden(populated)
        until(b"case(s) to ")
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert not [g for g in populated.split("-")[2:] if g.encode() in seen]  # never echoed
    assert re.search(rb"granted [1-9]\d* case\(s\) to " + colleague.user.username.encode(), seen)
