"""Per-API-key rate limit of statistics pulls (in memory, per process).

The last hour's pulls per key, counted by the shared ``api.core.ratelimit.SlidingWindow``.
In memory is enough: the limit slows down scraping and accidental loops; the privacy
guarantees do not depend on it (suppression answers from one fixed release, DP is bounded
by the ledger in the database).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from api.core.errors import RateLimited
from api.core.ratelimit import SlidingWindow

WINDOW_SECONDS = 3600.0


class PullLimiter:
    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = SlidingWindow(per_hour, WINDOW_SECONDS, clock=clock)

    @property
    def per_hour(self) -> int:
        return self._window.limit

    @per_hour.setter
    def per_hour(self, value: int) -> None:
        self._window.limit = value

    def check(self, key_id: uuid.UUID) -> None:
        """Count one pull, or raise 429 saying when the next one is allowed."""
        wait = self._window.take(str(key_id))
        if wait is not None:
            # Whole seconds past the exact wait, as this limit has always answered.
            retry = int(wait) + 1
            raise RateLimited(retry, f"This API key made {self.per_hour} statistics pulls "
                              f"in the last hour, the most allowed. Try again in {retry} "
                              "seconds.")
