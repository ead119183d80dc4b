"""``StatsLimiter``: the app's one per-key limiter of statistics pulls."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.core.dependencies import service
from api.stats.limits import PullLimiter


def _stats_limiter(request: Request) -> PullLimiter:
    return service(request, "stats_limiter", PullLimiter)


StatsLimiter = Annotated[PullLimiter, Depends(_stats_limiter)]
