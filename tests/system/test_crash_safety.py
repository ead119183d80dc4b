"""Crash safety: SIGKILL the API in the middle of real traffic, restart it, count losses.

Two scenarios, each on SQLite and on PostgreSQL, each against a real ``python -m api
serve`` process:

1. 50 concurrent submissions with two files each, half of them streamed slowly; the API
   is killed once some receipts have come back and others are still arriving.
2. Resumable (tus) uploads PATCHed piece by piece from several clients; the API is killed
   half way, restarted, and every upload is resumed from the offset the server reports.

After each restart, read from outside with the offline recovery key: every submission
whose receipt was returned must be stored completely (every file's SHA-256 as sent) and
its receipt must open a follow-up session; no case may exist whose client got an error
response, and any case that exists is complete. ``dokaz fsck`` must find no problem,
and after the orphan sweep (``dokaz fsck --repair``) no orphaned blob, partial write or
temporary file is left.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from api.fsck import service as fsck
from tests.factories import create_recovery_key_text, sample_report
from tests.system import figures
from tests.system.live import Deployment, LiveApi, deployment
from tests.system.traffic import (
    Sent,
    Submitter,
    all_cases,
    canary_of,
    open_case,
    recovery_private,
)

pytestmark = pytest.mark.slow
ENGINES = ["sqlite", "postgresql"]
N = 50
TUS = {"Tus-Resumable": "1.0.0"}


@contextmanager
def serving(kind: str, tmp_path: Path) -> Iterator[tuple[Deployment, LiveApi, str]]:
    """A new deployment with a recovery key and one API process; yields the key's text too,
    to read every case back offline after the crash."""
    with deployment(kind, tmp_path) as dep:
        with Session(dep.engine) as s:
            recovery = create_recovery_key_text(s)
        yield dep, dep.start_api(), recovery


def fsck_json(dep: Deployment, *args: str) -> tuple[int, dict[str, Any]]:
    proc = dep.dokaz("fsck", "--json", *args)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def assert_clean_after_sweep(dep: Deployment) -> dict[str, int]:
    """fsck is happy as it is (crash leftovers are young: notes only); after the orphan
    sweep nothing unnamed is left at all, and the ``dokaz fsck`` command agrees."""
    with Session(dep.engine) as s:
        report = fsck.run(s, dep.settings, dep.storage, fsck.default_options(dep.settings))
        assert report.ok, report.lines()
        repaired = fsck.run(s, dep.settings, dep.storage,
                            fsck.Options(grace=timedelta(0), repair=True)).repaired
    code, after = fsck_json(dep, "--grace-seconds", "0")
    assert code == 0 and after["ok"] and after["findings"] == [], after
    leftovers = [p for p in dep.data_dir.rglob("*")
                 if p.is_file() and (p.name.endswith(".part") or p.name.startswith(".ready-"))]
    assert leftovers == []
    return repaired


def check_receipts(api: LiveApi, sent: list[Sent]) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for s in sent:
            r = client.post("/api/v1/followup/session", json={"receipt": s.receipt})
            assert r.status_code == 201, r.text
            assert r.json()["reference"] == s.reference


def verify_after_crash(dep: Deployment, recovery: str, results: list[Sent]) -> dict[str, int]:
    private = recovery_private(recovery)
    by_canary = {s.canary: s for s in results}
    stored: dict[str, Any] = {}
    for case in all_cases(dep.engine):
        opened = open_case(dep.engine, dep.storage, private, case)  # raises if incomplete
        stored[canary_of(opened)] = (case.reference, opened)
    acked = [s for s in results if s.acknowledged]
    lost = [s.canary for s in acked if s.canary not in stored]
    assert lost == [], f"acknowledged submissions lost: {lost}"
    for s in acked:
        reference, opened = stored[s.canary]
        assert reference == s.reference
        assert sorted(opened.file_hashes) == sorted(s.file_hashes), "incomplete files"
    unacked_visible = 0
    for canary, (_ref, opened) in stored.items():
        s = by_canary[canary]
        if not s.acknowledged:
            # Committed in the instant before the kill, answer lost with the connection:
            # only possible for a client that got no HTTP answer at all, and whole.
            assert s.status is None, f"a case exists although its client got {s.status}"
            assert sorted(opened.file_hashes) == sorted(s.file_hashes)
            unacked_visible += 1
    return {"acknowledged": len(acked), "lost": len(lost), "stored": len(stored),
            "committed_answer_lost": unacked_visible,
            "refused_or_broken": len(results) - len(acked)}


@pytest.mark.parametrize("kind", ENGINES)
def test_sigkill_during_50_concurrent_submissions(kind: str, tmp_path: Path) -> None:
    with serving(kind, tmp_path) as (dep, api, recovery):
        submitter = Submitter(api.url, file_sizes=(200 * 1024, 600 * 1024))
        done: list[Sent] = []
        lock = threading.Lock()

        def one(i: int) -> Sent:
            with httpx.Client() as client:
                # Every other client streams its body slowly (~2 s): still arriving at the kill.
                sent = submitter.send(client, slow=0.05 if i % 2 else 0.0, chunk=24 * 1024)
            with lock:
                done.append(sent)
            return sent

        with ThreadPoolExecutor(max_workers=N) as pool:
            futures: list[Future[Sent]] = [pool.submit(one, i) for i in range(N)]
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with lock:
                    acked = sum(1 for s in done if s.acknowledged)
                if acked >= 8:
                    break
                time.sleep(0.01)
            in_flight = sum(1 for f in futures if not f.done())
            api.kill()
            results = [f.result() for f in futures]
        assert acked >= 8 and in_flight > 0, (acked, in_flight)

        dep.start_api()  # restart on the same data
        figures_ = verify_after_crash(dep, recovery, results)
        check_receipts(dep.apis[-1], [s for s in results if s.acknowledged])
        repaired = assert_clean_after_sweep(dep)
        figures.record("crash_submissions", engine=kind, crashes=1, in_flight_at_kill=in_flight,
                       orphans_swept=repaired.get("orphan_blobs", 0), **figures_)


# ---- resumable uploads -----------------------------------------------------------------


class TusClient:
    """One resumable upload, PATCHed in pieces; remembers the last acknowledged offset."""

    def __init__(self, base_url: str, data: bytes, piece: int) -> None:
        self.base_url = base_url
        self.data = data
        self.piece = piece
        self.location = ""
        self.acked = 0
        self.broken = False

    def create(self, client: httpx.Client) -> None:
        name = base64.b64encode(b"evidence.bin").decode()
        r = client.post(self.base_url + "/api/v1/uploads", headers={
            **TUS, "Upload-Length": str(len(self.data)), "Upload-Metadata": f"filename {name}"})
        assert r.status_code == 201, r.text
        self.location = r.headers["Location"]

    def run(self, client: httpx.Client, pause: float) -> None:
        """PATCH until done or the connection breaks."""
        try:
            while self.acked < len(self.data):
                chunk = self.data[self.acked:self.acked + self.piece]

                def slowly(chunk: bytes = chunk) -> Any:
                    for i in range(0, len(chunk), 32 * 1024):
                        yield chunk[i:i + 32 * 1024]
                        time.sleep(pause)

                r = client.patch(self.base_url + self.location, content=slowly(), headers={
                    **TUS, "Upload-Offset": str(self.acked),
                    "Content-Type": "application/offset+octet-stream"}, timeout=60)
                assert r.status_code == 204, r.text
                self.acked = int(r.headers["Upload-Offset"])
        except httpx.HTTPError:
            self.broken = True

    def resume(self, base_url: str) -> int:
        """After the restart: ask for the offset, send the rest; return the offset found."""
        with httpx.Client(timeout=60) as client:
            r = client.head(base_url + self.location, headers=TUS)
            assert r.status_code == 200, r.text
            found = int(r.headers["Upload-Offset"])
            self.base_url, self.acked, self.broken = base_url, found, False
            self.run(client, pause=0)
            assert not self.broken and self.acked == len(self.data)
        return found


@pytest.mark.parametrize("kind", ENGINES)
def test_sigkill_during_resumable_uploads(kind: str, tmp_path: Path) -> None:
    with serving(kind, tmp_path) as (dep, api, recovery):
        uploads = [TusClient(api.url, secrets.token_bytes(1536 * 1024), 256 * 1024)
                   for _ in range(8)]
        with httpx.Client(timeout=30) as client:
            for up in uploads:
                up.create(client)

        def drive(up: TusClient) -> None:
            with httpx.Client() as client:
                up.run(client, pause=0.03)

        threads = [threading.Thread(target=drive, args=(up,)) for up in uploads]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and sum(u.acked for u in uploads) < 4 * 1024 * 1024:
            time.sleep(0.01)
        sent_before = [u.acked for u in uploads]
        api.kill()
        for t in threads:
            t.join(timeout=60)
        assert any(0 < a < len(u.data) for a, u in zip(sent_before, uploads, strict=True))

        api = dep.start_api()
        lost_bytes = 0
        for up in uploads:
            acked_before = up.acked
            found = up.resume(api.url)
            # The server may have committed a piece whose answer the kill swallowed, but
            # it never forgets an acknowledged one.
            assert found >= acked_before, (found, acked_before)
            lost_bytes += max(0, acked_before - found)

        # Attach every finished upload to a submission and read it back.
        canary = "CANARY" + secrets.token_hex(8)
        report = sample_report(narrative=f"Narrative {canary}",
                               uploads=[up.location for up in uploads])
        r = httpx.post(api.url + "/api/v1/submissions", json=report, timeout=60)
        assert r.status_code == 201, r.text
        expected = sorted(hashlib.sha256(up.data).hexdigest() for up in uploads)
        assert sorted(f["sha256"] for f in r.json()["files"]) == expected
        [case] = all_cases(dep.engine)
        opened = open_case(dep.engine, dep.storage, recovery_private(recovery), case)
        assert sorted(opened.file_hashes) == expected
        repaired = assert_clean_after_sweep(dep)
        figures.record("crash_uploads", engine=kind, crashes=1, uploads=len(uploads),
                       acknowledged_bytes_lost=lost_bytes, lost=0,
                       orphans_swept=repaired.get("orphan_blobs", 0))
