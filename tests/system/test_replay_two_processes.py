"""The same Idempotency-Key sent to two API processes at the same moment files one case.

Two real ``python -m api serve`` processes share one database; for each key a barrier
releases three identical posts at once (two to one process, one to the other). The
unique key of ``intake_replay`` must let exactly one through: one 201 with a receipt,
the others 200 with the same reference and no receipt, and one case per key.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, func, select

from api.cases.models import Case
from api.intake.models import IntakeReplay, Receipt
from tests.factories import create_recovery_key_text
from tests.system.live import deployment

pytestmark = pytest.mark.slow
KEYS = 12

REPORT = {"reporter": {"role": "witness"}, "acts": ["detention"],
          "where": {"region": "BY-MI"}, "narrative": "Taken at the station.",
          "consent": {"internal_handling": True}, "language": "en"}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_one_key_at_two_processes_at_once_files_one_case(kind: str, tmp_path: Path) -> None:
    with deployment(kind, tmp_path) as dep:
        with Session(dep.engine) as s:
            create_recovery_key_text(s)
        apis = [dep.start_api(), dep.start_api()]
        targets = [apis[0].url, apis[1].url, apis[0].url]
        answers: dict[str, list[httpx.Response]] = {}
        for _ in range(KEYS):
            key = str(uuid.uuid4())
            barrier = threading.Barrier(len(targets))
            got: list[httpx.Response] = []

            def post(url: str, key: str = key, barrier: threading.Barrier = barrier,
                     got: list[httpx.Response] = got) -> None:
                with httpx.Client(timeout=60) as client:
                    barrier.wait()
                    got.append(client.post(url + "/api/v1/submissions", json=REPORT,
                                           headers={"Idempotency-Key": key}))

            threads = [threading.Thread(target=post, args=(url,)) for url in targets]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            answers[key] = got

        for key, got in answers.items():
            codes = sorted(r.status_code for r in got)
            assert codes == [200, 200, 201], (key, [r.text for r in got])
            assert len({r.json()["reference"] for r in got}) == 1
            assert [bool(r.json()["receipt"]) for r in got].count(True) == 1
        with Session(dep.engine) as s:
            assert s.exec(select(func.count()).select_from(Case)).one() == KEYS
            assert s.exec(select(func.count()).select_from(Receipt)).one() == KEYS
            assert s.exec(select(func.count()).select_from(IntakeReplay)).one() == KEYS
