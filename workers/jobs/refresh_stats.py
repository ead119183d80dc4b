"""Refresh the anonymised statistics tables (api.stats.service.refresh).

Scheduled only when the statistics feature provides ``refresh``; never faked.
"""

from __future__ import annotations

from datetime import timedelta

from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.jobs import feature_function
from workers.registry import JobSpec, register


def run(ctx: JobContext, payload: Empty) -> None:
    refresh = feature_function("api.stats.service", "refresh")
    assert refresh is not None
    refresh(ctx.session)


register(JobSpec(
    kind="refresh_stats",
    run=run,
    every=lambda s: timedelta(hours=1),
    available=lambda s: feature_function("api.stats.service", "refresh") is not None,
))
