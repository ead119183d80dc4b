from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import DbUnderTest
from tests.workers.probe import PROBE_LOG_ENV, worker_command

ROOT = Path(__file__).resolve().parents[2]
StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def worker_env(database: DbUnderTest, tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    return dict(
        os.environ,
        DOKAZ_DATABASE_URL=database.url,
        DOKAZ_DATA_DIR=str(data),
        DOKAZ_KDF_PROFILE="fast-insecure-for-tests",
        DOKAZ_LOG_FORMAT="text",
        DOKAZ_JOB_LEASE_SECONDS="1",
        DOKAZ_JOB_POLL_SECONDS="0.05",
        DOKAZ_JOB_BACKOFF_BASE_SECONDS="0.05",
        **{PROBE_LOG_ENV: str(tmp_path / "probe.log")},
    )


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[StartWorker]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(worker_command("--no-schedule", *args), env=worker_env,
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
