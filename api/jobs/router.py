"""Admin API: the job queue (list, dead-letter retry)."""

from __future__ import annotations

import uuid
from enum import Enum

from fastapi import APIRouter, Query

from api.auth.dependencies import AdminOnly
from api.core.dependencies import DbSession
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from api.core.errors import error_responses as errors
from api.jobs import repository, service
from api.jobs.schemas import JobOut, JobSummary

router = APIRouter(prefix="/api/v1/admin")
TAGS: list[str | Enum] = ["admin: jobs"]
AUTH = (Unauthorized, Forbidden)


@router.get("/jobs", tags=TAGS, response_model=list[JobOut],
            responses=errors(*AUTH, InvalidInput))
def list_jobs(
    me: AdminOnly,
    session: DbSession,
    status: str | None = Query(None, description="queued, running, done or dead"),
    kind: str | None = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[JobOut]:
    """Jobs, newest first. Dead jobs are the dead-letter queue."""
    jobs = service.list_jobs(session, status=status, kind=kind, limit=limit, offset=offset)
    return [JobOut.model_validate(j) for j in jobs]


@router.get("/jobs/summary", tags=TAGS, response_model=JobSummary, responses=errors(*AUTH))
def summary(me: AdminOnly, session: DbSession) -> JobSummary:
    """How many jobs are in each state (for monitoring: alert when ``dead`` > 0)."""
    return JobSummary(counts=repository.counts_by_status(session))


@router.post("/jobs/{job_id}/retry", tags=TAGS, response_model=JobOut,
             responses=errors(*AUTH, NotFound, Conflict))
def retry(job_id: uuid.UUID, me: AdminOnly, session: DbSession) -> JobOut:
    """Queue a dead job again with a fresh set of attempts."""
    return JobOut.model_validate(service.retry(session, job_id))
