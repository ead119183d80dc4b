"""``StatsLimiter``: the app's one per-key limiter of statistics pulls; ``StatsPullCache``:
its cache of rendered pulls."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.core.dependencies import service
from api.stats.limits import PullLimiter
from api.stats.rendered import PullCache


def _stats_limiter(request: Request) -> PullLimiter:
    return service(request, "stats_limiter", PullLimiter)


StatsLimiter = Annotated[PullLimiter, Depends(_stats_limiter)]


def _stats_pull_cache(request: Request) -> PullCache:
    return service(request, "stats_pull_cache", PullCache)


StatsPullCache = Annotated[PullCache, Depends(_stats_pull_cache)]
