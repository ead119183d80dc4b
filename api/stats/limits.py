"""Per-API-key rate limit of statistics pulls (in memory, per process).

A sliding window of the last hour's pull times per key. In memory is enough: the limit
slows down scraping and accidental loops; the privacy guarantees do not depend on it
(suppression answers from one fixed release, DP is bounded by the ledger in the database).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from threading import Lock
from typing import Any

from api.core.errors import RateLimited
from api.core.settings import Settings

WINDOW_SECONDS = 3600.0


class PullLimiter:
    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._pulls: dict[uuid.UUID, deque[float]] = {}
        self._lock = Lock()

    def check(self, key_id: uuid.UUID) -> None:
        """Count one pull, or raise 429 saying when the next one is allowed."""
        now = self.clock()
        with self._lock:
            window = self._pulls.setdefault(key_id, deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= self.per_hour:
                wait = int(window[0] + WINDOW_SECONDS - now) + 1
                raise RateLimited(wait, f"This API key made {self.per_hour} statistics pulls "
                                  f"in the last hour, the most allowed. Try again in {wait} "
                                  "seconds.")
            window.append(now)


def limiter_of(state: Any, settings: Settings) -> PullLimiter:
    limiter = getattr(state, "stats_limiter", None)
    if not isinstance(limiter, PullLimiter):
        limiter = PullLimiter(settings.stats_pulls_per_key_per_hour)
        state.stats_limiter = limiter
    return limiter
