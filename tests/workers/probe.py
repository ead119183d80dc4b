"""Probe jobs for the process tests: they log start and end lines to a file.

A worker subprocess imports this module before the CLI (see ``worker_command``), so the
production registry never contains test kinds. Each line is one ``write`` on a file
opened with O_APPEND, so lines from concurrent processes never interleave.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from pydantic import Field

from api.jobs.kinds import Payload, register_kind
from workers.context import JobContext
from workers.registry import JobSpec, register

PROBE_LOG_ENV = "DOKAZ_TEST_PROBE_LOG"


class Probe(Payload):
    probe_id: uuid.UUID
    sleep_ms: int = Field(default=0, ge=0, le=60_000)
    fail_times: int = Field(default=0, ge=0, le=10)


def _log(event: str, job_id: uuid.UUID, probe: Probe) -> None:
    path = os.environ.get(PROBE_LOG_ENV)
    if not path:
        return
    line = f"{event} {probe.probe_id} {job_id} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _run(ctx: JobContext, probe: Probe) -> None:
    _log("start", ctx.claim.job_id, probe)
    if ctx.claim.attempts <= probe.fail_times:
        _log("fail", ctx.claim.job_id, probe)
        raise ValueError("probe failure with a secret message that must not be stored")
    time.sleep(probe.sleep_ms / 1000)
    if ctx._session is not None:
        ctx.session.flush()
    _log("end", ctx.claim.job_id, probe)


def install() -> None:
    register_kind("probe", Probe)
    register_kind("probe_ext", Probe)
    register(JobSpec(kind="probe", run=_run))
    register(JobSpec(kind="probe_ext", run=_run, transactional=False))


install()


def worker_command(*args: str) -> list[str]:
    code = "import tests.workers.probe; from api.cli import main; main()"
    return [sys.executable, "-c", code, "worker", *args]


def read_log(path: Path) -> list[tuple[str, str, str, int, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        event, probe_id, job_id, pid, ts = line.split()
        out.append((event, probe_id, job_id, int(pid), float(ts)))
    return out
