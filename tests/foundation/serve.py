"""Waiting for a real ``dokaz serve`` process that a test started to answer."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import httpx
import pytest


def wait_healthy(proc: subprocess.Popen[bytes], base: str, *, log: Path | None = None,
                 timeout: float = 60) -> None:
    """Poll ``base``/healthz until it answers 200; fail the test (with the server's log,
    if it writes one) when the process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    why = "did not start" if proc.poll() is None else f"exited with {proc.returncode}"
    pytest.fail(f"serve {why}" + (": " + log.read_text() if log else ""))
