"""Database faults: restart PostgreSQL under a load of submissions and case edits.

The test runs its own PostgreSQL cluster (``initdb`` into a temp dir, own port): stopping
the shared server at 127.0.0.1:5432 would break every other test running in parallel.
While the database is down the API must answer 503 with a message a person understands
(and ``Retry-After``), never 500; once it is back the same API process must serve again
without a restart; and nothing acknowledged may be lost: every submission that got a
receipt is stored and readable with the recovery key, and every case edit that got its
new ETag is in the database (the case's version is at least that ETag).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from api.auth.roles import Role
from api.cases.models import Case
from tests.factories import create_recovery_key_text, create_staff, sample_report
from tests.system import figures
from tests.system.live import Deployment, PrivatePostgres, mint_token
from tests.system.traffic import all_cases, canary_of, open_case, recovery_private

pytestmark = pytest.mark.slow


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked_submissions: dict[str, str] = field(default_factory=dict)  # canary -> reference
    acked_versions: dict[str, int] = field(default_factory=dict)  # case id -> ETag version
    statuses: dict[int, int] = field(default_factory=dict)
    unavailable_messages: set[str] = field(default_factory=set)
    broken: int = 0

    def count(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code == 503:
                assert response.headers.get("retry-after"), "503 without Retry-After"
                self.unavailable_messages.add(response.json()["error"]["message"])


def submitter(url: str, tally: Tally, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            canary = "CANARY" + secrets.token_hex(8)
            try:
                r = client.post("/api/v1/submissions",
                                json=sample_report(narrative=f"Narrative {canary}"))
            except httpx.HTTPError:
                tally.broken += 1
                continue
            tally.count(r)
            if r.status_code == 201:
                with tally.lock:
                    tally.acked_submissions[canary] = r.json()["reference"]
            elif r.status_code == 503:
                time.sleep(0.2)


def editor(url: str, token: str, case_id: str, tally: Tally, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    priorities = ["high", "low", "normal"]
    n = 0
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        while not stop.is_set():
            try:
                got = client.get(f"/api/v1/cases/{case_id}")
                tally.count(got)
                if got.status_code != 200:
                    time.sleep(0.2)
                    continue
                n += 1
                r = client.patch(f"/api/v1/cases/{case_id}", json={"priority": priorities[n % 3]},
                                 headers={"If-Match": got.headers["etag"]})
            except httpx.HTTPError:
                tally.broken += 1
                continue
            tally.count(r)
            if r.status_code == 200:
                version = int(r.headers["etag"].strip('"'))
                with tally.lock:
                    tally.acked_versions[case_id] = max(version,
                                                        tally.acked_versions.get(case_id, 0))


def test_postgres_restart_under_load_loses_nothing(private_pg: PrivatePostgres,
                                                   tmp_path: Path) -> None:
    url = private_pg.create_database("dokaz")
    dep = Deployment(tmp_path, url)
    try:
        with Session(dep.engine, expire_on_commit=False) as s:
            recovery = create_recovery_key_text(s)
            worker = create_staff(s, Role.CASEWORKER, on_intake_duty=True)
        api = dep.start_api()
        token = mint_token(dep.engine, dep.settings, worker)
        dep.engine.dispose()  # the test's own pool must not hold connections across the stop
        with httpx.Client(base_url=api.url, timeout=30) as client:
            for _ in range(4):
                assert client.post("/api/v1/submissions", json=sample_report()).status_code == 201
            case_ids = [c["id"] for c in client.get(
                "/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).json()["items"]]
        assert len(case_ids) == 4

        tally = Tally()
        stop = threading.Event()
        threads = [threading.Thread(target=submitter, args=(api.url, tally, stop))
                   for _ in range(3)]
        threads += [threading.Thread(target=editor, args=(api.url, token, cid, tally, stop))
                    for cid in case_ids]
        for t in threads:
            t.start()
        time.sleep(3)
        acked_before_stop = len(tally.acked_submissions)
        private_pg.stop()
        time.sleep(0.5)
        down = httpx.post(api.url + "/api/v1/submissions", json=sample_report(), timeout=30)
        assert down.status_code == 503, down.text
        assert "database" in down.json()["error"]["message"].lower()
        ready = httpx.get(api.url + "/readyz", timeout=30)
        assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]
        time.sleep(3)
        private_pg.start()
        back_at = time.monotonic()
        recovered_after = None
        while time.monotonic() - back_at < 30:
            r = httpx.post(api.url + "/api/v1/submissions", json=sample_report(), timeout=30)
            if r.status_code == 201:
                recovered_after = time.monotonic() - back_at
                break
            time.sleep(0.2)
        assert recovered_after is not None, "the API did not recover by itself"
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert api.proc.poll() is None, "the API process died"

        assert 500 not in tally.statuses, tally.statuses
        assert tally.statuses.get(503, 0) > 0, "no request saw the database down"
        assert len(tally.acked_submissions) > acked_before_stop, "no submission after restart"
        private = recovery_private(recovery)
        stored = {canary_of(open_case(dep.engine, dep.storage, private, c)): c.reference
                  for c in all_cases(dep.engine)}
        lost = [c for c, ref in tally.acked_submissions.items() if stored.get(c) != ref]
        assert lost == [], f"acknowledged submissions lost: {lost}"
        with Session(dep.engine) as s:
            lost_edits = [cid for cid, v in tally.acked_versions.items()
                          if (case := s.get(Case, uuid.UUID(cid))) is None or case.version < v]
        assert lost_edits == []
        figures.record("database_restart", submissions_acked=len(tally.acked_submissions),
                       cases_edited=len(tally.acked_versions), lost=len(lost),
                       lost_edits=len(lost_edits), statuses=tally.statuses,
                       recovered_after_s=round(recovered_after, 2), broken=tally.broken,
                       messages_503=sorted(tally.unavailable_messages))
    finally:
        dep.close()
