"""The worker loop: claim a job, run it, record the outcome; repeat until told to stop.

Guarantees (tested with real processes in tests/workers):

* at least once: a job is "done" only when its handler returned; a worker killed mid-job
  leaves the row ``running`` with a lease, and once the lease runs out any worker re-claims
  it (handlers are idempotent);
* never twice at once: see api.jobs.repository (SKIP LOCKED, fencing) and
  workers.registry (the row lock held by transactional handlers);
* retries with exponential backoff and jitter, then ``dead`` after ``max_attempts``; only
  the exception's type name is stored or logged, never its message.

SIGTERM/SIGINT set a stop flag: each slot finishes its current job and exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from sqlalchemy import Engine

from api.core.db import unit_of_work
from api.core.settings import Settings
from api.jobs import kinds, repository
from api.jobs.repository import Claim
from workers.context import JobContext, LostClaim
from workers.registry import JobSpec, runnable
from workers.scheduler import Scheduler

log = logging.getLogger("dokaz.worker")


def worker_name(slot: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{slot}"[:128]


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        concurrency: int = 1,
        schedule: bool = True,
        specs: dict[str, JobSpec] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.concurrency = max(1, concurrency)
        self.specs = specs if specs is not None else runnable(settings)
        self.scheduler = Scheduler(settings, engine, self.specs) if schedule else None
        self.stop = threading.Event()
        self.lease = timedelta(seconds=settings.job_lease_seconds)

    # ---- one job ----

    def claim(self, slot: int = 0) -> Claim | None:
        with unit_of_work(self.engine) as session:
            return repository.claim_next(
                session, kinds=self.specs.keys(), worker=worker_name(slot), lease=self.lease
            )

    def run_once(self, slot: int = 0) -> bool:
        """Claim and run one job; False if there was nothing to do."""
        claim = self.claim(slot)
        if claim is None:
            return False
        self.execute(claim)
        return True

    def execute(self, claim: Claim) -> None:
        spec = self.specs[claim.kind]
        try:
            payload = kinds.parse(claim.kind, claim.payload)
            if spec.transactional:
                self._run_in_transaction(spec, claim, payload)
            else:
                self._run_with_heartbeat(spec, claim, payload)
        except LostClaim:
            log.warning("job claim lost", extra={"job_id": str(claim.job_id),
                                                 "kind": claim.kind})
        except Exception as exc:
            # The type name only: a message could quote protected content.
            error_type = type(exc).__name__
            with unit_of_work(self.engine) as session:
                status = repository.mark_failed(
                    session, claim, error_type,
                    base=self.settings.job_backoff_base_seconds,
                    cap=self.settings.job_backoff_max_seconds,
                )
            log.warning("job failed", extra={"job_id": str(claim.job_id), "kind": claim.kind,
                                             "error_type": error_type,
                                             "attempt": claim.attempts, "status": status})
        else:
            log.info("job done", extra={"job_id": str(claim.job_id), "kind": claim.kind,
                                        "attempt": claim.attempts})

    def _run_in_transaction(self, spec: JobSpec, claim: Claim, payload: object) -> None:
        with unit_of_work(self.engine) as session:
            if not repository.lock_claim(session, claim):
                raise LostClaim
            spec.run(JobContext(self.settings, self.engine, claim, session), payload)
            if not repository.mark_done(session, claim):
                raise LostClaim  # rolls the handler's effects back with it

    def _run_with_heartbeat(self, spec: JobSpec, claim: Claim, payload: object) -> None:
        ctx = JobContext(self.settings, self.engine, claim)
        done = threading.Event()

        def beat() -> None:
            interval = max(0.5, self.settings.job_lease_seconds / 3)
            while not done.wait(interval):
                try:
                    with unit_of_work(self.engine) as session:
                        if not repository.extend_lease(session, claim, self.lease):
                            ctx.lost.set()
                            return
                except Exception as exc:  # the next beat tries again; the lease is a margin
                    log.warning("heartbeat failed", extra={"error_type": type(exc).__name__})

        thread = threading.Thread(target=beat, name=f"heartbeat-{claim.job_id}", daemon=True)
        thread.start()
        try:
            spec.run(ctx, payload)
        finally:
            done.set()
            thread.join()
        with unit_of_work(self.engine) as session:
            if not repository.mark_done(session, claim):
                raise LostClaim

    # ---- the loop ----

    def _slot_loop(self, slot: int) -> None:
        while not self.stop.is_set():
            try:
                if self.scheduler is not None and slot == 0:
                    self.scheduler.tick()
                if self.run_once(slot):
                    continue
            except Exception as exc:  # database down: wait and try again, do not die
                log.warning("worker loop error", extra={"error_type": type(exc).__name__})
            self.stop.wait(self.settings.job_poll_seconds)

    def run_forever(self) -> None:
        log.info("worker started", extra={"kinds": sorted(self.specs),
                                          "concurrency": self.concurrency})
        threads = [
            threading.Thread(target=self._slot_loop, args=(slot,), name=f"worker-{slot}")
            for slot in range(1, self.concurrency)
        ]
        for thread in threads:
            thread.start()
        self._slot_loop(0)
        for thread in threads:
            thread.join()
        log.info("worker stopped")

    def drain(self, max_jobs: int = 10_000) -> int:
        """Run the scheduler once, then jobs until none is runnable (``--once``, tests)."""
        if self.scheduler is not None:
            self.scheduler.tick()
        count = 0
        while count < max_jobs and not self.stop.is_set() and self.run_once():
            count += 1
        return count
