"""The README's "A ten-minute tour" works as written (issue 18, item 7).

A fresh `git clone` of this repository gets its own virtualenv and an install of itself
(offline: the dependencies are those of the running test environment, linked in, so the
test takes a minute, not the download of every dependency). Then the tour's code blocks,
parsed from the clone's README, are pasted into one bash, command by command, as a
newcomer would: on the embedded default (SQLite, ./tour-data), with nothing from the test
environment's DOKAZ_* settings. Every command must succeed, and each step's output is
checked for what the README says it shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## A ten-minute tour"
MARK = "__TOUR_DONE__"


def tour_blocks(readme: str) -> list[tuple[str, list[str]]]:
    """(step name, commands) for each ``<!-- tour: NAME -->`` block of the tour section;
    a line ending in a backslash continues on the next."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start:end if end > 0 else None]
    blocks = re.findall(r"<!-- tour: ([\w-]+) -->\n```sh\n(.*?)```", section, re.S)
    out = []
    for name, body in blocks:
        commands: list[str] = []
        pending = ""
        for line in body.splitlines():
            if line.endswith("\\"):
                pending += line[:-1]
                continue
            line, pending = pending + line, ""
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line)
        out.append((name, commands))
    return out


class Shell:
    """One bash that commands are pasted into, keeping its variables and jobs."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.buffer = b""

    def run(self, command: str, timeout: float = 120) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{command}\nprintf '\\n{MARK}%s\\n' $?\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        pattern = re.compile(rf"\n{MARK}(\d+)\n".encode())
        while not (found := pattern.search(self.buffer)):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"{command!r} did not finish: {self.buffer.decode()!r}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                self.buffer += os.read(self.proc.stdout.fileno(), 65536)
        output = self.buffer[:found.start()].decode("utf-8", "replace")
        self.buffer = self.buffer[found.end():]
        return int(found.group(1)), output

    def close(self) -> None:
        # The tour's server is a job of this shell, in its session: stop them all.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def _free_port() -> int:
    for port in range(9560, 9600):  # the ops helper's range; any free one elsewhere
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "dokaz"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True,
                   timeout=120)
    # The working tree as it is (committed or not), as tests/foundation/test_readme_commands.py.
    changed = subprocess.run(["git", "ls-files", "--others", "--modified", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in changed.split():
        if (ROOT / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, clone / rel)
    # The README's install line, with the dependencies of the running environment linked in
    # (a .pth line to its site-packages) so nothing but the clone itself is installed: the
    # clone's `dokaz` runs the clone's code, in about 30 s instead of a full download.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(clone / ".venv")],
                   check=True, timeout=120)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = clone / ".venv" / "lib" / version / "site-packages"
    (site / "_tour_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(clone / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--no-deps", "-e", str(clone)], check=True, timeout=300,
                   capture_output=True)
    return clone


@pytest.mark.slow
def test_the_ten_minute_tour_runs_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = _fresh_clone(tmp_path)
    blocks = dict(tour_blocks((clone / "README.md").read_text("utf-8")))
    assert list(blocks) == ["setup", "recovery-key", "people", "serve", "report", "triage",
                            "partner", "backup"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DOKAZ_", "VIRTUAL_ENV"))}
    env["DOKAZ_PORT"] = str(_free_port())
    shell = Shell(clone, env)
    outputs: dict[str, list[str]] = {}
    try:
        for name, commands in blocks.items():
            outputs[name] = []
            for command in commands:
                code, output = shell.run(command)
                assert code == 0, f"[{name}] {command}\n{output}"
                outputs[name].append(output)
    finally:
        shell.close()
    shown = {name: "".join(parts) for name, parts in outputs.items()}
    assert (clone / ".venv" / "bin" / "dokaz").exists()

    # The clone's own code answered, on the embedded default, on the chosen port.
    assert (clone / "tour-data" / "dokaz.sqlite3").exists()
    log = (clone / "tour-server.log").read_text()
    assert f"Uvicorn running on http://127.0.0.1:{env['DOKAZ_PORT']}" in log
    assert "recovery public key installed" in shown["recovery-key"]
    listed = outputs["people"][-1]
    assert all(name in listed for name in ("ales", "vera", "yan"))
    assert '"status":"ready"' in shown["serve"].replace(" ", "")

    reference, status = outputs["report"][3].strip(), outputs["report"][-1].strip()
    receipt = json.loads((clone / "tour-receipt.json").read_text())
    assert re.fullmatch(r"DKZ-[0-9A-Z-]+", reference) and reference == receipt["reference"]
    assert status == "received"  # the coarse status the submitter sees with the receipt

    moves = [out.strip() for out in outputs["triage"][-4:-1]]
    assert moves == ["triage", "in_review", "verified"]
    notes = (clone / "tour-notes.txt").read_bytes()
    assert outputs["triage"][-1].strip() == hashlib.sha256(notes).hexdigest()

    assert "published" in shown["partner"]
    assert outputs["partner"][-1].strip() == "acts_by_type_region_month"

    assert "backup written to tour-backup.dkzb" in shown["backup"]
    assert "hashes verified" in shown["backup"]
    assert (clone / "tour-restored" / "dokaz.sqlite3").exists()
