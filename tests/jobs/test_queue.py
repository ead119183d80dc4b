"""The queue's guarantees, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

import tests.workers.probe  # noqa: F401
from api.core.db import unit_of_work
from api.core.errors import Conflict, NotFound
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import repository, service
from api.jobs.models import DEAD, DONE, QUEUED, RUNNING, Job
from workers.runner import Worker

MakeWorker = Callable[..., Worker]


def _job(engine: Engine, job_id: uuid.UUID) -> Job:
    with unit_of_work(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _enqueue(engine: Engine, settings: Settings, **payload: object) -> uuid.UUID:
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "probe", {"probe_id": str(uuid.uuid4()), **payload},
                                 settings=settings)
    assert job_id is not None
    return job_id


def test_job_enqueued_in_a_rolled_back_transaction_never_exists(
    engine: Engine, job_settings: Settings
) -> None:
    with pytest.raises(RuntimeError), unit_of_work(engine) as s:
        service.enqueue(s, "probe", {"probe_id": str(uuid.uuid4())}, settings=job_settings)
        raise RuntimeError("the write that caused the job failed")
    with unit_of_work(engine) as s:
        assert s.exec(select(Job)).all() == []


def test_committed_job_runs_once_and_is_done(
    engine: Engine, job_settings: Settings, make_worker: MakeWorker
) -> None:
    job_id = _enqueue(engine, job_settings)
    worker = make_worker()
    assert worker.drain() == 1
    assert worker.drain() == 0
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.locked_by, job.last_error) == (DONE, 1, None, None)
    assert job.finished_at is not None


def test_dedupe_key_enqueues_once(engine: Engine, job_settings: Settings) -> None:
    with unit_of_work(engine) as s:
        first = service.enqueue(s, "probe", {"probe_id": str(uuid.uuid4())},
                                dedupe_key="probe:one", settings=job_settings)
        again = service.enqueue(s, "probe", {"probe_id": str(uuid.uuid4())},
                                dedupe_key="probe:one", settings=job_settings)
    assert first is not None and again is None
    with unit_of_work(engine) as s:
        assert len(s.exec(select(Job)).all()) == 1


def test_failures_back_off_then_dead_letter_with_type_name_only(
    engine: Engine, job_settings: Settings, make_worker: MakeWorker
) -> None:
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "probe", {"probe_id": str(uuid.uuid4()), "fail_times": 9},
                                 max_attempts=3, settings=job_settings)
    assert job_id is not None
    worker = make_worker()
    assert worker.run_once()
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.last_error) == (QUEUED, 1, "ValueError")
    assert job.run_at > utcnow() - timedelta(seconds=1)  # pushed back by the backoff
    for _ in range(2):
        time.sleep(0.06)
        assert worker.run_once()
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.last_error) == (DEAD, 3, "ValueError")
    assert "secret" not in repr(job.model_dump())
    time.sleep(0.06)
    assert not worker.run_once()  # dead jobs stay dead

    with unit_of_work(engine) as s:
        assert service.retry(s, job_id).status == QUEUED
    with unit_of_work(engine) as s, pytest.raises(Conflict):
        service.retry(s, job_id)
    with unit_of_work(engine) as s, pytest.raises(NotFound):
        service.retry(s, uuid.uuid4())
    assert _job(engine, job_id).attempts == 0


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, (lo, hi) in {1: (5, 10), 2: (10, 20), 3: (20, 40), 20: (50, 100)}.items():
        for _ in range(20):
            assert lo <= repository.backoff_seconds(attempt, 10, 100) <= hi


def test_expired_lease_is_reclaimed_and_the_old_claim_is_fenced_out(
    engine: Engine, job_settings: Settings, make_worker: MakeWorker
) -> None:
    job_id = _enqueue(engine, job_settings)
    a, b = make_worker(), make_worker()
    claim_a = a.claim(slot=1)
    assert claim_a is not None and claim_a.job_id == job_id
    assert b.claim(slot=2) is None  # leased to a
    with unit_of_work(engine) as s:  # a "dies": its lease runs out
        job = s.get(Job, job_id)
        assert job is not None
        job.lease_until = utcnow() - timedelta(seconds=1)
    claim_b = b.claim(slot=2)
    assert claim_b is not None and claim_b.attempts == 2
    with unit_of_work(engine) as s:
        assert not repository.mark_done(s, claim_a)  # a came back too late
        assert repository.mark_failed(s, claim_a, "X", base=1, cap=1) is None
        assert not repository.extend_lease(s, claim_a, timedelta(seconds=5))
    b.execute(claim_b)
    a.execute(claim_a)  # the late worker's run is refused by the fence
    job = _job(engine, job_id)
    assert (job.status, job.attempts) == (DONE, 2)


def test_killed_on_the_last_attempt_goes_dead(
    engine: Engine, job_settings: Settings, make_worker: MakeWorker
) -> None:
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "probe", {"probe_id": str(uuid.uuid4())}, max_attempts=1,
                                 settings=job_settings)
    assert job_id is not None
    w = make_worker()
    assert w.claim() is not None
    with unit_of_work(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == RUNNING
        job.lease_until = utcnow() - timedelta(seconds=1)
    assert w.claim() is None
    job = _job(engine, job_id)
    assert (job.status, job.last_error) == (DEAD, "LeaseExpired")


def test_non_transactional_job_heartbeats_and_finishes(
    engine: Engine, job_settings: Settings, make_worker: MakeWorker
) -> None:
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "probe_ext", {"probe_id": str(uuid.uuid4()),
                                                  "sleep_ms": 50}, settings=job_settings)
    assert job_id is not None
    assert make_worker().drain() == 1
    assert _job(engine, job_id).status == DONE


def test_scheduler_enqueues_each_period_once_across_workers(
    engine: Engine, job_settings: Settings
) -> None:
    from workers.registry import runnable
    from workers.scheduler import Scheduler

    specs = runnable(job_settings)
    # Noon: "an hour later" must stay in the same day for the daily job (run between 23:00
    # and midnight UTC it used to land in the next day's period).
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    first = Scheduler(job_settings, engine, specs).tick(now)
    second = Scheduler(job_settings, engine, specs).tick(now)  # another worker, same period
    assert "plan_retention" in first and "prune_jobs" in first
    assert second == []
    with unit_of_work(engine) as s:
        keys = [j.dedupe_key for j in s.exec(select(Job)).all()]
    assert len(keys) == len(set(keys)) == len(first)
    later = Scheduler(job_settings, engine, specs).tick(now + timedelta(hours=1))
    assert "plan_retention" in later and "prune_jobs" not in later


def test_prune_forgets_old_done_jobs_but_keeps_dead_ones(
    engine: Engine, job_settings: Settings, make_worker: MakeWorker
) -> None:
    done_id, dead_id = _enqueue(engine, job_settings), _enqueue(engine, job_settings)
    with unit_of_work(engine) as s:
        for job_id, status in ((done_id, DONE), (dead_id, DEAD)):
            job = s.get(Job, job_id)
            assert job is not None
            job.status, job.finished_at = status, utcnow() - timedelta(days=30)
    with unit_of_work(engine) as s:
        assert repository.delete_finished_before(s, utcnow() - timedelta(days=14)) == 1
    with unit_of_work(engine) as s:
        assert s.get(Job, done_id) is None and s.get(Job, dead_id) is not None
