"""Delete blobs that no committed row names (api.storage.sweep.sweep_orphans).

Catches what a crash skipped: a request killed between writing its blobs and its
commit, or a shredding job killed between its commit and its blob deletions. Which rows
name blobs comes from :mod:`api.blob_references`, the one list fsck uses too.
"""

from __future__ import annotations

from datetime import timedelta

from api.blob_references import blob_references
from api.jobs.kinds import Empty
from api.storage.sweep import sweep_orphans
from workers.context import JobContext
from workers.registry import JobSpec, register


def run(ctx: JobContext, payload: Empty) -> None:
    sweep_orphans(ctx.session, ctx.storage,
                  timedelta(hours=ctx.settings.orphan_blob_min_age_hours), blob_references())


register(JobSpec(kind="sweep_orphan_blobs", run=run, every=lambda s: timedelta(hours=6)))
