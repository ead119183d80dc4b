"""Delete blobs that no committed row names (api.storage.sweep.sweep_orphans).

Catches what a crash skipped: a request killed between writing its blobs and its
commit, or a shredding job killed between its commit and its blob deletions.
"""

from __future__ import annotations

from datetime import timedelta

from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.jobs import feature_function
from workers.registry import JobSpec, register


def run(ctx: JobContext, payload: Empty) -> None:
    sweep = feature_function("api.storage.sweep", "sweep_orphans")
    assert sweep is not None
    sweep(ctx.session, ctx.storage, timedelta(hours=ctx.settings.orphan_blob_min_age_hours))


register(JobSpec(
    kind="sweep_orphan_blobs",
    run=run,
    every=lambda s: timedelta(hours=6),
    available=lambda s: feature_function("api.storage.sweep", "sweep_orphans") is not None,
))
