"""Expire abandoned resumable uploads (api.uploads.service.expire_uploads).

Rows go in the job's transaction; their blobs after the commit (api.storage.pending).
"""

from __future__ import annotations

from datetime import timedelta

from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.jobs import feature_function
from workers.registry import JobSpec, register


def run(ctx: JobContext, payload: Empty) -> None:
    expire = feature_function("api.uploads.service", "expire_uploads")
    assert expire is not None
    expire(ctx.session, ctx.storage)


register(JobSpec(
    kind="expire_uploads",
    run=run,
    every=lambda s: timedelta(hours=1),
    available=lambda s: feature_function("api.uploads.service", "expire_uploads") is not None,
))
