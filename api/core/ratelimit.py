"""The sliding-window rate limit, shared by intake, follow-up, sign-in and statistics.

:class:`SlidingWindow` counts in this process's memory and writes nothing anywhere.
:class:`SharedSlidingWindow` counts the keys that may be shared (global budgets, Tor
circuit tags) in Redis, so a limit holds across every API process, and keeps every other
key (an address's tag) in memory: see :mod:`api.core.shared` for why. When Redis cannot
be reached it counts in memory too, so a limit weakens but never refuses everybody.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from redis import Redis, RedisError

log = logging.getLogger("dokaz.ratelimit")

# Tags the privacy middleware makes start with what they were derived from
# (api.core.privacy): "c:" a Tor circuit, "a:" an address. Only these may be shared.
SHAREABLE_TAG_PREFIXES = ("c:",)

# One round trip, atomic: drop what left the window, count, record if there is room.
# The clock is Redis's own (TIME), so every process judges by the same time.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
return ''
"""


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

    def give_back(self, key: str) -> None:
        """Undo one :meth:`take` of ``key`` (a reserved attempt that turned out good)."""
        with self._lock:
            q = self._events.get(key)
            if q:
                q.pop()


class SharedSlidingWindow(SlidingWindow):
    """The same limit, counted in Redis for shareable keys (see the module docstring).

    ``name`` tells the windows apart in Redis. ``shared_keys`` says which keys go there:
    the exact key names of global budgets (e.g. ``{"global"}``), plus every circuit tag.
    """

    def __init__(self, limit: int, window: float, *, redis: Redis | None, name: str,
                 prefix: str = "dokaz:", shared_keys: frozenset[str] = frozenset(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limit, window, clock)
        self._redis = redis
        self._name = name
        self._prefix = prefix
        self._shared_keys = shared_keys

    def shares(self, key: str) -> bool:
        return self._redis is not None and (
            key in self._shared_keys or key.startswith(SHAREABLE_TAG_PREFIXES))

    def _remote(self, key: str, record: bool) -> tuple[bool, float | None]:
        """(answered, seconds to wait or None when there is room); not answered: Redis
        failed, and the caller counts in memory instead."""
        assert self._redis is not None
        try:
            answer = self._redis.eval(
                _TAKE, 1, f"{self._prefix}rl:{self._name}:{key}", self.window, self.limit,
                "1" if record else "0", secrets.token_hex(8))
        except (RedisError, OSError) as exc:
            log.warning("redis unreachable, counting %s in memory: %s", self._name,
                        type(exc).__name__)
            return False, None
        text = answer.decode() if isinstance(answer, bytes) else str(answer or "")
        return True, (float(text) if text else None)

    def take(self, key: str) -> float | None:
        if self.shares(key):
            answered, wait = self._remote(key, record=True)
            if answered:
                return wait
        return super().take(key)

    def give_back(self, key: str) -> None:
        if self.shares(key):
            assert self._redis is not None
            try:
                self._redis.zpopmax(f"{self._prefix}rl:{self._name}:{key}")
                return
            except (RedisError, OSError):
                pass  # it was counted in memory then, or is lost with Redis: either way
        super().give_back(key)

    def retry_after(self, key: str) -> int:
        if self.shares(key):
            answered, wait = self._remote(key, record=False)
            if answered:
                return 0 if wait is None else max(1, math.ceil(wait))
        return super().retry_after(key)
