"""An in-memory sliding-window rate limit, shared by intake, follow-up, sign-in and statistics.

Counts live only in this process's memory and are never written anywhere: for submitters
that is the point (nothing about them is stored), for everything else it is enough to slow
down floods and guessing. With several API processes each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key, in memory only."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_prune = clock()

    def _prune(self, now: float) -> None:
        if now - self._last_prune < self.window:
            return
        self._last_prune = now
        for key in [k for k, q in self._events.items() if not q or q[-1] <= now - self.window]:
            del self._events[key]

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may act again, 0 if it may act now (nothing recorded)."""
        now = self._clock()
        with self._lock:
            q = self._events.get(key)
            if q is None:
                return 0
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) < self.limit:
                return 0
            return max(1, math.ceil(q[0] + self.window - now))

    def hit(self, key: str) -> int:
        """Record an event; return 0, or the seconds to wait if the limit was reached."""
        wait = self.take(key)
        return 0 if wait is None else max(1, math.ceil(wait))

    def take(self, key: str) -> float | None:
        """Record an event and return None; or, at the limit, record nothing and return the
        exact seconds until the oldest event leaves the window (callers round it)."""
        now = self._clock()
        with self._lock:
            self._prune(now)
            q = self._events.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return q[0] + self.window - now
            q.append(now)
            return None
