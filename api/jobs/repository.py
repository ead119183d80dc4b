"""Queries on the ``job`` table: insert, claim, fence, finish, fail, list, retry.

Claiming is one short transaction: pick the next runnable row and mark it ``running``
with ``attempts + 1``, ``locked_by`` and a lease. On PostgreSQL the pick is
``SELECT ... FOR UPDATE SKIP LOCKED`` so N workers on N machines never wait on, nor take,
the same row; on SQLite every write transaction starts with ``BEGIN IMMEDIATE``
(api.core.db), which serialises claims on the one machine that holds the file.

A claim is identified by ``(locked_by, attempts)``: every later update of the row says
``WHERE locked_by = :me AND attempts = :n AND status = 'running'``, so a worker that lost its
claim (its lease ran out and another worker re-claimed the job) can neither finish nor
fail the job any more. That fence is what makes "done exactly once" hold.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.core.models import new_id, utcnow
from api.jobs.models import DEAD, DONE, QUEUED, RUNNING, Job


@dataclass(frozen=True)
class Claim:
    """What a worker needs to run one job; plain values, never an ORM object."""

    job_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    locked_by: str


def insert(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime,
    max_attempts: int,
    dedupe_key: str | None,
) -> uuid.UUID | None:
    """Insert a queued job in the caller's transaction; None if the dedupe key exists."""
    values: dict[str, Any] = {
        "id": new_id(), "kind": kind, "payload": payload, "status": QUEUED, "attempts": 0,
        "max_attempts": max_attempts, "run_at": run_at, "dedupe_key": dedupe_key,
        "created_at": utcnow(),
    }
    table = Job.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dedupe_key is None:
        session.execute(table.insert().values(**values))
        return uuid.UUID(str(values["id"]))
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values)
    else:
        stmt = sqlite.insert(table).values(**values)
    # ON CONFLICT DO NOTHING: the second of two workers enqueueing the same period's job
    # neither fails nor aborts the surrounding transaction.
    stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    inserted = session.execute(stmt).first()
    return None if inserted is None else uuid.UUID(str(inserted[0]))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


def _fence(job_id: uuid.UUID, locked_by: str, attempts: int) -> Any:
    return and_(
        col(Job.id) == job_id,
        col(Job.status) == RUNNING,
        col(Job.locked_by) == locked_by,
        col(Job.attempts) == attempts,
    )


def claim_next(
    session: Session, *, kinds: Collection[str], worker: str, lease: timedelta
) -> Claim | None:
    """Mark the next runnable job of one of ``kinds`` as ours; None if there is none."""
    if not kinds:
        return None
    now = utcnow()
    runnable = or_(
        and_(col(Job.status) == QUEUED, col(Job.run_at) <= now),
        # A running job whose lease ran out: its worker died (or hangs without its row
        # lock, see workers.runner). It is taken over; the old claim is fenced out.
        and_(col(Job.status) == RUNNING, col(Job.lease_until) < now),
    )
    while True:
        stmt = (
            select(Job)
            .where(runnable, col(Job.kind).in_(list(kinds)))
            .order_by(col(Job.run_at))
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = session.exec(stmt).first()
        if job is None:
            return None
        if job.status == RUNNING and job.attempts >= job.max_attempts:
            # Killed mid-job on its last attempt: dead-letter it rather than run it again.
            job.status, job.last_error, job.finished_at = DEAD, "LeaseExpired", now
            job.locked_by = job.lease_until = None
            session.flush()
            continue
        job.status = RUNNING
        job.attempts += 1
        job.locked_by = worker
        job.lease_until = now + lease
        job.started_at = now
        session.flush()
        return Claim(job.id, job.kind, dict(job.payload), job.attempts, job.max_attempts, worker)


def lock_claim(session: Session, claim: Claim) -> bool:
    """Lock our claimed row for the rest of this transaction; False if the claim was lost.

    On PostgreSQL the row lock is held while the handler runs, so the claim query
    (SKIP LOCKED) cannot hand the job to anyone else even if the lease runs out.
    """
    stmt = select(Job.id).where(_fence(claim.job_id, claim.locked_by, claim.attempts))
    return session.exec(stmt.with_for_update()).first() is not None


def extend_lease(session: Session, claim: Claim, lease: timedelta) -> bool:
    stmt = (
        update(Job)
        .where(_fence(claim.job_id, claim.locked_by, claim.attempts))
        .values(lease_until=utcnow() + lease)
    )
    return _rowcount(session.execute(stmt)) == 1


def mark_done(session: Session, claim: Claim) -> bool:
    stmt = (
        update(Job)
        .where(_fence(claim.job_id, claim.locked_by, claim.attempts))
        .values(status=DONE, finished_at=utcnow(), locked_by=None, lease_until=None,
                last_error=None)
    )
    return _rowcount(session.execute(stmt)) == 1


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped, times 0.5..1."""
    delay = min(cap, base * float(2 ** min(60, max(0, attempts - 1))))
    return delay * (0.5 + secrets.randbelow(1001) / 2000)


def mark_failed(
    session: Session, claim: Claim, error_type: str, *, base: float, cap: float
) -> str | None:
    """Requeue with backoff, or dead-letter after max_attempts; the new status or None."""
    dead = claim.attempts >= claim.max_attempts
    now = utcnow()
    values: dict[str, Any] = {
        "status": DEAD if dead else QUEUED, "locked_by": None, "lease_until": None,
        "last_error": error_type[:128],
    }
    if dead:
        values["finished_at"] = now
    else:
        values["run_at"] = now + timedelta(seconds=backoff_seconds(claim.attempts, base, cap))
    stmt = update(Job).where(_fence(claim.job_id, claim.locked_by, claim.attempts)).values(
        **values
    )
    changed = _rowcount(session.execute(stmt)) == 1
    return str(values["status"]) if changed else None


def list_jobs(
    session: Session, *, status: str | None, kind: str | None, limit: int, offset: int
) -> list[Job]:
    stmt = select(Job)
    if status:
        stmt = stmt.where(col(Job.status) == status)
    if kind:
        stmt = stmt.where(col(Job.kind) == kind)
    stmt = stmt.order_by(col(Job.created_at).desc(), col(Job.id)).offset(offset).limit(limit)
    return list(session.exec(stmt).all())


def get(session: Session, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


def requeue_dead(session: Session, job_id: uuid.UUID) -> bool:
    """Give a dead job a fresh set of attempts, now. False if it is not dead."""
    stmt = (
        update(Job)
        .where(col(Job.id) == job_id, col(Job.status) == DEAD)
        .values(status=QUEUED, attempts=0, run_at=utcnow(), finished_at=None)
    )
    return _rowcount(session.execute(stmt)) == 1


def delete_finished_before(session: Session, before: datetime) -> int:
    """Forget done jobs finished before ``before`` (dead ones stay until an admin acts)."""
    table = Job.__table__  # type: ignore[attr-defined]
    stmt = table.delete().where(table.c.status == DONE, table.c.finished_at < before)
    return _rowcount(session.execute(stmt))


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    stmt = select(Job.status, func.count()).group_by(col(Job.status))
    return {status: int(n) for status, n in session.exec(stmt).all()}
