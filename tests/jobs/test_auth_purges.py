"""The periodic sign-in purges: ended sessions and finished throttle windows go, live ones stay."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from api.auth.models import LoginThrottle, StaffSession
from api.auth.roles import Role
from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from api.jobs.models import DONE, Job
from tests.factories import create_staff
from workers.registry import load_builtin_jobs
from workers.runner import Worker
from workers.scheduler import Scheduler

KINDS = ("purge_staff_sessions", "purge_login_throttle")


def _run(engine: Engine, settings: Settings, kind: str) -> None:
    """Enqueue ``kind`` and run it through a worker, as the scheduler would."""
    specs = load_builtin_jobs()
    with unit_of_work(engine) as s:
        assert service.enqueue(s, kind, None, settings=settings) is not None
    assert Worker(settings, engine, schedule=False, specs={kind: specs[kind]}).drain() == 1
    with unit_of_work(engine) as s:
        assert [j.status for j in s.exec(select(Job).where(Job.kind == kind)).all()] == [DONE]


def _session_row(user_id: uuid.UUID, created: datetime, *, revoked: datetime | None = None,
                 lifetime: timedelta = timedelta(hours=12)) -> StaffSession:
    return StaffSession(
        user_id=user_id, token_hash=secrets.token_bytes(32), session_key=b"blob",
        created_at=created, last_seen_at=created, expires_at=created + lifetime,
        revoked_at=revoked, revoke_reason="logout" if revoked else None,
    )


def test_both_purges_run_on_a_schedule(engine: Engine, job_settings: Settings) -> None:
    specs = load_builtin_jobs()
    enqueued = Scheduler(job_settings, engine, specs).tick(utcnow())
    assert set(KINDS) <= set(enqueued)
    assert specs["purge_staff_sessions"].every is not None
    assert specs["purge_login_throttle"].every is not None
    assert specs["purge_staff_sessions"].every(job_settings) == timedelta(days=1)
    assert specs["purge_login_throttle"].every(job_settings) == timedelta(hours=1)


def test_session_purge_removes_long_ended_sessions_and_keeps_live_and_recent_ones(
    engine: Engine, session: Session, job_settings: Settings
) -> None:
    assert job_settings.staff_session_keep_days == 7
    user = create_staff(session, Role.CASEWORKER)
    now = utcnow()
    rows = {
        "live": _session_row(user.id, now - timedelta(hours=1)),
        "expired_recently": _session_row(user.id, now - timedelta(days=2)),
        "revoked_recently": _session_row(user.id, now - timedelta(hours=2),
                                         revoked=now - timedelta(hours=1)),
        "expired_long_ago": _session_row(user.id, now - timedelta(days=30)),
        "revoked_long_ago": _session_row(user.id, now - timedelta(days=9), lifetime=timedelta(
            days=30), revoked=now - timedelta(days=8)),
    }
    ids = {name: row.id for name, row in rows.items()}
    with unit_of_work(engine) as s:
        s.add_all(rows.values())
    _run(engine, job_settings, "purge_staff_sessions")
    with unit_of_work(engine) as s:
        left = set(s.exec(select(StaffSession.id)).all())
    assert left == {ids["live"], ids["expired_recently"], ids["revoked_recently"]}


def test_throttle_purge_removes_forgotten_counters_and_keeps_recent_ones(
    engine: Engine, job_settings: Settings
) -> None:
    now = utcnow()
    with unit_of_work(engine) as s:
        s.add(LoginThrottle(key="open", last_failure_at=now - timedelta(minutes=50),
                            failures=9))
        s.add(LoginThrottle(key="ended", last_failure_at=now - timedelta(minutes=70),
                            failures=9))
        s.add(LoginThrottle(key="old", last_failure_at=now - timedelta(days=40), failures=1))
    _run(engine, job_settings, "purge_login_throttle")
    with unit_of_work(engine) as s:
        left = {(r.key, r.failures) for r in s.exec(select(LoginThrottle)).all()}
    assert left == {("open", 9)}
