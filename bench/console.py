"""Benchmark: the console's queue and case pages over 1,000,000 cases in PostgreSQL, against
the list and detail API calls they are built on, in the same run.

Fills a scratch database as ``bench/cases.py`` does (1,000,000 cases with persons, acts and
key wraps), then adds what a page needs that bulk rows cannot give: a real coordinator on
intake duty and a few real reports sent through intake (so the case page decrypts real
testimony). Through the whole application in-process (the same ASGI stack for both), it
times alternately, call by call:

* ``GET /staff/queue?tab=open`` (the page: a list page plus a capped count per tab, and the
  HTML) against ``GET /api/v1/cases?state=...`` (the same page of the list as JSON);
* ``GET /staff/cases/{id}`` (the case page) against ``GET /api/v1/cases/{id}``.

Prints the medians and each page's ratio (target <= 1.5) and exits 1 when one misses it.

    .venv/bin/python bench/console.py [--cases 1000000] [--repeat 40] [--keep | --reuse DB]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cases import ADMIN_URL, fill  # noqa: E402  (bench/cases.py: the same 1M cases)

from api.app import create_app  # noqa: E402
from api.auth.accounts import CLI, create_user  # noqa: E402
from api.auth.roles import Role  # noqa: E402
from api.auth.totp import code_for_step, open_secret, step_at  # noqa: E402
from api.cases.workflow.states import OPEN_STATES  # noqa: E402
from api.console import session as console_session  # noqa: E402
from api.core.db import make_engine  # noqa: E402
from api.core.settings import Settings  # noqa: E402
from api.keys.service import (  # noqa: E402
    NoRecoveryKey,
    create_recovery_key,
    require_recovery_key,
)

TARGET = 1.5
REPORTS = 3


def setup_people(settings: Settings, client: TestClient) -> tuple[str, list[str]]:
    """A signed-in coordinator on intake duty and the ids of real cases it reads."""
    engine = make_engine(settings)
    username = f"bench-console-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    with Session(engine) as db:
        if not _has_recovery_key(db):
            create_recovery_key(db)
        new = create_user(db, settings, username=username, role=Role.COORDINATOR,
                          password=password, actor=CLI, now=datetime.now(UTC),
                          on_intake_duty=True)
        db.commit()
        user = new.user
        assert user.totp_secret is not None
        secret = open_secret(settings, user.id, user.totp_secret)
    engine.dispose()
    references = []
    for i in range(REPORTS):
        sent = client.post("/api/v1/submissions", json=_report(i))
        assert sent.status_code == 201, sent.text
        references.append(sent.json()["reference"])
    login = client.post("/api/v1/auth/login", json={
        "username": username, "password": password,
        "code": code_for_step(secret, step_at(datetime.now(UTC)))})
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    found = client.get("/api/v1/cases", params={"limit": 200, "sort": "received_on"},
                       headers=headers).json()["items"]
    ids = [c["id"] for c in found if c["reference"] in references]
    assert len(ids) == REPORTS, "the real reports are not in the coordinator's list"
    return token, ids


def _has_recovery_key(db: Session) -> bool:
    try:
        require_recovery_key(db)
    except NoRecoveryKey:
        return False
    return True


def _report(i: int) -> dict[str, Any]:
    return {
        "reporter": {"role": "relative"}, "acts": ["detention", "torture"],
        "when": {"start": "2025-03"}, "where": {"region": "BY-HM", "facility_type": "tsip"},
        "narrative": f"Bench report {i}: detained near the entrance, beaten at the station. "
                     * 40,
        "consent": {"internal_handling": True, "aggregate_statistics": True},
        "language": "ru",
    }


def interleaved(a: Callable[[], Any], b: Callable[[], Any], repeat: int
                ) -> tuple[list[float], list[float]]:
    a(), b()  # warm-up: plans, caches, templates
    ta: list[float] = []
    tb: list[float] = []
    for i in range(repeat):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    return ta, tb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40, help="interleaved calls per side")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DB", help="time an already filled database")
    parser.add_argument("--db-prefix", default=os.environ.get("DOKAZ_BENCH_DB_PREFIX",
                                                              "dokaz_bench"))
    args = parser.parse_args()

    name = args.reuse or f"{args.db_prefix}_console_{secrets.token_hex(3)}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    data_dir = Path("/tmp/dokaz-bench-console") / name
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = Settings(database_url=url.replace("postgresql://", "postgresql+psycopg://"),
                        data_dir=data_dir, kdf_profile="fast-insecure-for-tests",
                        audit_chain_max_pending=100_000)
    missed = False
    try:
        if not args.reuse:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"'.encode())
            fill(settings, url, args.cases)
        missed = run(settings, args.repeat)
    finally:
        if not args.keep and not args.reuse:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        elif not args.reuse:
            print(f"kept database {name}")
    if missed:
        sys.exit(1)


def run(settings: Settings, repeat: int) -> bool:
    app = create_app(settings)
    with TestClient(app) as client:
        token, case_ids = setup_people(settings, client)
        api = {"Authorization": f"Bearer {token}"}
        client.cookies.set(console_session.COOKIE, token)
        states = [s.value for s in OPEN_STATES]

        def queue_page() -> None:
            r = client.get("/staff/queue", params={"tab": "open"})
            assert r.status_code == 200, r.status_code

        def list_api() -> None:
            r = client.get("/api/v1/cases", params={"state": states, "limit": 50}, headers=api)
            assert r.status_code == 200, r.status_code

        def case_page() -> None:
            r = client.get(f"/staff/cases/{case_ids[0]}")
            assert r.status_code == 200, r.status_code

        def detail_api() -> None:
            r = client.get(f"/api/v1/cases/{case_ids[0]}", headers=api)
            assert r.status_code == 200, r.status_code

        rows = []
        for label, page, call in (("queue (tab open)", queue_page, list_api),
                                  ("case page", case_page, detail_api)):
            tp, ta = interleaved(page, call, repeat)
            rows.append((label, statistics.median(tp), statistics.median(ta)))
    print(f"{repeat} interleaved calls per side; medians (ms)")
    print(f"{'page':<20} {'page ms':>9} {'API ms':>8} {'ratio':>6}")
    missed = False
    for label, p, a in rows:
        ratio = p / a
        missed |= ratio > TARGET
        print(f"{label:<20} {p:>9.2f} {a:>8.2f} {ratio:>6.2f}")
    worst = max(p / a for _, p, a in rows)
    print(f"worst ratio page/API: {worst:.2f} (target <= {TARGET:.2f})"
          + ("" if not missed else "  MISSED"))
    return missed


if __name__ == "__main__":
    main()
