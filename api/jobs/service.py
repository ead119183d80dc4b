"""Enqueueing jobs inside the caller's transaction, and the admin operations on them.

How other features use it: call :func:`enqueue` with the request's ``DbSession`` in the
service that makes the write the job is about. The job row is flushed into that same
transaction, so it is committed exactly when the write is, and vanishes with it on
rollback. Workers pick it up after the commit; there is no "enqueue after commit" hook
that a crash between commit and enqueue could lose.

Intake does not need to enqueue anything for notifications: the digest counts cases
created since each recipient's last digest, which is simpler and cannot miss a case.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from api.core.errors import Conflict, InvalidInput, NotFound
from api.core.models import utcnow
from api.core.settings import Settings, get_settings
from api.jobs import kinds, repository
from api.jobs.models import STATUSES, Job


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | kinds.Payload | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
    settings: Settings | None = None,
) -> uuid.UUID | None:
    """Queue ``kind`` in the caller's transaction. Returns the id, or None when a job with
    ``dedupe_key`` already exists (then nothing is inserted).

    The payload is validated against the kind's model: ids, enums and integers only.
    """
    data = kinds.validate(kind, payload)
    settings = settings or get_settings()
    return repository.insert(
        session,
        kind=kind,
        payload=data,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts or settings.job_max_attempts,
        dedupe_key=dedupe_key,
    )


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Unknown job status; use one of: {', '.join(STATUSES)}.")
    return repository.list_jobs(session, status=status, kind=kind, limit=limit, offset=offset)


def retry(session: Session, job_id: uuid.UUID) -> Job:
    """Put a dead-lettered job back in the queue with a fresh set of attempts."""
    job = repository.get(session, job_id)
    if job is None:
        raise NotFound("No job with this id.")
    if not repository.requeue_dead(session, job_id):
        raise Conflict(f"Only dead jobs can be retried; this one is {job.status}.")
    session.refresh(job)
    return job
