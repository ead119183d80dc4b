"""Scale-out: two API processes and two workers on one PostgreSQL and one S3 store.

200 submissions with files go alternately to both APIs; each must be stored completely
and exactly once (decrypted here with the offline recovery key). Then a quarter of the
cases fall under the retention policy and both workers shred them: every job is done
exactly once, on its first attempt, and the audit chain verifies.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.audit.service import verify_chain
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads.contexts import open_payload, read_attachment
from api.cases.threads.models import Submission
from api.core import migrations
from api.core.db import make_engine
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from api.jobs.models import DONE, Job
from api.keys.models import CaseKeyWrap
from api.keys.service import case_key_context
from api.storage import get_storage
from crypto.recovery import parse_recovery_key
from crypto.sealed import unwrap_data_key
from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _pg_available
from tests.factories import create_recovery_key_text, sample_report
from tests.storage.moto_server import MotoS3, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
N = 200


@pytest.fixture
def cluster_db() -> Iterator[str]:
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required")
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    name = f"dokaz_scale_{secrets.token_hex(4)}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def s3() -> Iterator[MotoS3]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield MotoS3(f"http://127.0.0.1:{port}")
    server.stop()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "API process exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("API did not start")


def _submit(port: int, i: int) -> tuple[int, str, str]:
    canary = f"SCALE{i:04d}{secrets.token_hex(4)}"
    report = sample_report(narrative=f"Narrative {canary}")
    files = [("files", (f"{canary}.txt", f"evidence {canary}".encode() * 50, "text/plain"))]
    # A 503 (database busy) and a 429 (this address's upload slots are all held: the eight
    # senders share 127.0.0.1, and a slot may outlive its response by a moment) both say
    # nothing was saved: retry, as a client told to wait would.
    for _ in range(5):
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/submissions",
                       data={"submission": json.dumps(report)}, files=files, timeout=60)
        if r.status_code not in (429, 503):
            break
        time.sleep(1)
    assert r.status_code == 201, r.text
    return i, canary, r.json()["reference"]


def _wait_jobs_done(engine: Engine, timeout: float) -> list[Job]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as s:
            jobs = list(s.exec(select(Job)).all())
        if jobs and all(j.status == DONE for j in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError("jobs did not finish")


def test_two_apis_two_workers_200_submissions_exactly_once(
    cluster_db: str, s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    overrides = s3.settings_overrides(bucket)
    settings = Settings.model_validate({
        "database_url": cluster_db, "data_dir": tmp_path / "d",
        "kdf_profile": "fast-insecure-for-tests", **overrides})
    migrations.upgrade(settings)
    engine = make_engine(settings)
    with Session(engine) as s:
        recovery_text = create_recovery_key_text(s)
    env = dict(
        os.environ, DOKAZ_DATABASE_URL=cluster_db, DOKAZ_KDF_PROFILE="fast-insecure-for-tests",
        DOKAZ_LOG_FORMAT="text", DOKAZ_STORAGE_BACKEND="s3",
        DOKAZ_S3_ENDPOINT_URL=s3.endpoint, DOKAZ_S3_BUCKET=bucket,
        DOKAZ_S3_ACCESS_KEY_ID="testing", DOKAZ_S3_SECRET_ACCESS_KEY="testing",
        DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR="100000",
        DOKAZ_INTAKE_RATE_GLOBAL_PER_MINUTE="100000",
        DOKAZ_JOB_POLL_SECONDS="0.2", DOKAZ_RETENTION_DAYS_SPAM="30",
    )
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n, port in enumerate(ports):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "api", "serve", "--port", str(port)],
                env=dict(env, DOKAZ_DATA_DIR=str(tmp_path / f"api{n}")), cwd=ROOT,
                stdout=open(tmp_path / f"api{n}.log", "wb"), stderr=subprocess.STDOUT))  # noqa: SIM115
        for n in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "api", "worker", "--concurrency", "2"],
                env=dict(env, DOKAZ_DATA_DIR=str(tmp_path / f"worker{n}")), cwd=ROOT,
                stdout=open(tmp_path / f"worker{n}.log", "wb"), stderr=subprocess.STDOUT))  # noqa: SIM115
        for port, proc in zip(ports, procs, strict=False):
            _wait_healthy(port, proc)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            sent = list(pool.map(lambda i: _submit(ports[i % 2], i), range(N)))
        print(f"{N} submissions through 2 APIs: {time.monotonic() - started:.1f} s")
        expected = {ref: canary for _, canary, ref in sent}
        assert len(expected) == N  # distinct references

        storage = get_storage(settings)
        private = parse_recovery_key(recovery_text)
        with Session(engine) as s:
            cases = s.exec(select(Case)).all()
            assert sorted(c.reference for c in cases) == sorted(expected)
            for case in cases:
                wrap = s.exec(select(CaseKeyWrap).where(
                    col(CaseKeyWrap.case_id) == case.id,
                    col(CaseKeyWrap.recipient_kind) == "recovery")).one()
                key = unwrap_data_key(private, wrap.wrapped_key, case_key_context(
                    case.id, "recovery", wrap.recipient_id))
                [sub] = s.exec(select(Submission).where(col(Submission.case_id) == case.id))
                canary = expected[case.reference]
                assert canary in json.dumps(open_payload(key, sub))
                [att] = s.exec(select(Attachment).where(col(Attachment.case_id) == case.id))
                data = b"".join(read_attachment(key, att, storage, s))
                assert data == f"evidence {canary}".encode() * 50

        print(f"verified: {time.monotonic() - started:.1f} s")
        # Retention: a quarter become old spam; both workers shred exactly those.
        doomed = sorted(expected)[: N // 4]
        with Session(engine) as s:
            s.exec(update(Case).where(col(Case.reference).in_(doomed)).values(
                state="spam", state_changed_at=utcnow() - timedelta(days=40)))
            service.enqueue(s, "plan_retention", dedupe_key="scale-out-test", settings=settings)
            s.commit()
        _wait_jobs_done(engine, 120)
        time.sleep(1)
        jobs = _wait_jobs_done(engine, 60)
        assert all(j.attempts == 1 for j in jobs), [(j.kind, j.attempts) for j in jobs]
        assert sum(1 for j in jobs if j.kind == "shred_case") == len(doomed)
        with Session(engine) as s:
            shredded = s.exec(select(Case.reference).where(
                col(Case.shredded_at).is_not(None))).all()
            assert sorted(shredded) == doomed
            entries = s.exec(select(AuditEntry.case_id).where(
                col(AuditEntry.action) == actions.CASE_SHREDDED)).all()
            assert len(entries) == len(set(entries)) == len(doomed)
            assert s.exec(select(func.count()).select_from(Attachment)).one() == N - len(doomed)
            assert verify_chain(s).ok
        assert len(list(storage.iter_blobs())) == N - len(doomed)
        print(f"shredded: {time.monotonic() - started:.1f} s")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        engine.dispose()
