"""The README's set-up commands work as written, in a fresh clone and virtualenv."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker} -->\s*```sh\n(.+?)\n```\s*<!-- /{marker} -->", text, re.S)
    assert m, f"README lost its {marker} block"
    return m.group(1).strip()


def test_readme_has_exactly_two_setup_commands() -> None:
    assert readme_command("serve-command").endswith("dokaz serve")
    assert readme_command("test-command") == "bash scripts/test.sh"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


@pytest.mark.slow
def test_serve_command_from_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "clone"
    # The working tree as it is (committed or not), without build artefacts.
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for rel in subprocess.run(
        ["git", "ls-files", "--others", "--modified", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split():
        src = ROOT / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOKAZ_", "VIRTUAL_ENV"))}
    env["DOKAZ_PORT"] = str(port)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        ["bash", "-c", readme_command("serve-command")], cwd=clone, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("serve exited: " + (tmp_path / "serve.log").read_text()[-3000:])
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                # Started without a terminal: up, but not ready until a recovery key exists.
                checks = r.json().get("checks", {}) if r.status_code == 503 else {}
                if checks and not checks["recovery_key"]["ok"] and all(
                        c["ok"] for name, c in checks.items() if name != "recovery_key"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("serve did not become ready: " + (tmp_path / "serve.log").read_text())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "ORGANISATION RECOVERY KEY" not in output and "DOKAZ-RK1-" not in output
    assert "dokaz keys import-public" in output  # the log says what to run
    assert (clone / "dokaz-data" / "dokaz.sqlite3").exists()
