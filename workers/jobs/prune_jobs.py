"""Forget finished jobs after ``job_keep_finished_days`` (dead ones wait for an admin)."""

from __future__ import annotations

from datetime import timedelta

from api.core.models import utcnow
from api.jobs import repository
from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.registry import JobSpec, register


def run(ctx: JobContext, payload: Empty) -> None:
    before = utcnow() - timedelta(days=ctx.settings.job_keep_finished_days)
    repository.delete_finished_before(ctx.session, before)


register(JobSpec(kind="prune_jobs", run=run, every=lambda s: timedelta(days=1)))
