"""State that several API processes must share: Redis, when ``DOKAZ_REDIS_URL`` is set.

Without it (the embedded default, one process) every counter lives in process memory, as
before. With it, the counters that must hold across processes live in Redis:

* the global budgets (they name nobody);
* the holds on bodies in flight (:class:`Pool`): upload slots, everyone's and each
  circuit's, and the bytes reserved against the free-disk floor, so every process counts
  the bodies the others are streaming;
* the per-circuit counters behind Tor (``proxy-protocol`` identity), keyed by an HMAC of
  the circuit id under a key that the processes share through Redis, so one circuit is one
  client whichever process it reaches. A circuit id means nothing outside the onion
  service's own tor process, and the entries expire with their window.

What never leaves process memory: counters keyed on a network address. A seized Redis
holding HMACs of addresses would let anyone who also took the HMAC key test the whole IPv4
space against them, so address-keyed limits stay per process
(:class:`api.core.ratelimit.SharedSlidingWindow` refuses to send them).

Run Redis without persistence (``save ""``, ``appendonly no``): nothing in it is worth
keeping, and nothing about a submitter should reach a disk.

Written here rather than taken from a rate-limit library: the libraries we looked at
key on the client address, which is exactly what must not be shared, and none of them
falls back to memory when Redis fails. A victim must not be refused because Redis is down.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from redis import Redis, RedisError

from api.core.ratelimit import SHAREABLE_TAG_PREFIXES

if TYPE_CHECKING:
    from api.core.settings import Settings

log = logging.getLogger("dokaz.shared")

def redis_from_settings(settings: Settings) -> Redis | None:
    """A client for ``DOKAZ_REDIS_URL``, or None for the embedded default."""
    if not settings.redis_url:
        return None
    # Short timeouts: a request must not wait long on a Redis that went away; the
    # counters then fall back to this process's memory.
    timeout = settings.redis_timeout_seconds
    return Redis.from_url(settings.redis_url, socket_timeout=timeout,
                          socket_connect_timeout=timeout, health_check_interval=30)


def shared_secret(client: Redis | None, prefix: str, name: str) -> bytes:
    """A 32-byte secret every process of this deployment agrees on.

    Created by whichever process asks first (``SET NX``) and kept only in Redis's memory,
    so a Redis restart makes a new one. Without Redis, or when it cannot be reached, a
    per-process secret: the counters keyed by it are then per process, which is weaker
    but refuses nobody.
    """
    if client is None:
        return secrets.token_bytes(32)
    key = prefix + "secret:" + name
    try:
        client.set(key, secrets.token_bytes(32), nx=True)
        value = client.get(key)
    except (RedisError, OSError):
        log.warning("redis unreachable: %s is per process", name)
        return secrets.token_bytes(32)
    if not isinstance(value, bytes) or len(value) != 32:
        log.warning("redis holds no usable %s: it is per process", name)
        return secrets.token_bytes(32)
    return value


class Leases:
    """Exclusive holds on a name, for one request at a time, across every API process.

    With Redis a hold is ``SET NX PX`` with a random token, and only the holder's token
    releases it. Without Redis it is this process's memory, which is enough for the one
    process of the embedded default. A hold expires after ``ttl`` seconds unless renewed,
    so a process that dies while holding one blocks nobody for long.
    """

    _RELEASE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) else return 0 end")
    _RENEW = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
              "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end")

    def __init__(self, redis: Redis | None, prefix: str, ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix + "lease:"
        self.ttl = ttl
        self._local: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str) -> str | None:
        """A token if ``name`` was free (it is now held), else None."""
        token = secrets.token_hex(16)
        if self._redis is not None:
            try:
                ok = self._redis.set(self._prefix + name, token, nx=True,
                                     px=int(self.ttl * 1000))
                return token if ok else None
            except (RedisError, OSError):
                log.warning("redis unreachable: leases are per process")
        now = time.monotonic()
        with self._lock:
            held = self._local.get(name)
            if held is not None and held[1] > now:
                return None
            self._local[name] = (token, now + self.ttl)
        return token

    def renew(self, name: str, token: str) -> None:
        if self._redis is not None:
            try:
                self._redis.eval(self._RENEW, 1, self._prefix + name, token,
                                 int(self.ttl * 1000))
                return
            except (RedisError, OSError):
                pass
        with self._lock:
            if self._local.get(name, ("", 0.0))[0] == token:
                self._local[name] = (token, time.monotonic() + self.ttl)

    def release(self, name: str, token: str) -> None:
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):  # it then expires with its ttl
                self._redis.eval(self._RELEASE, 1, self._prefix + name, token)
        with self._lock:
            if self._local.get(name, ("", 0.0))[0] == token:
                del self._local[name]


# One round trip, atomic: drop the holds whose time ran out, sum the live ones, then (mode
# "take") add one if it fits the capacity, or (mode "set") renew and re-weigh one, or
# (mode "peek") change nothing. Times are Redis's own (TIME), so every process agrees.
_POOL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mode, token, weight, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], gone)
  redis.call('SREM', KEYS[3], gone)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local total = 0
for _, w in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(w) end
if mode == 'peek' then return {1, total, redis.call('HLEN', KEYS[1]), 0} end
local own = redis.call('HGET', KEYS[1], token)
if mode == 'has' then return {own and 1 or 0, total, redis.call('HLEN', KEYS[1]), 0} end
if (mode == 'renew' or mode == 'touch') and not own then
  return {0, total, redis.call('HLEN', KEYS[1]), 0}
end
own = tonumber(own or '0')
if mode == 'renew' or mode == 'touch' then weight = own end
local evicted = 0
if mode == 'take' and total + weight > tonumber(ARGV[5]) then
  -- Reclaim evictable holds, oldest first, until the new hold fits (Pool.take): first
  -- silent ones (touched, no bytes since) ARGV[8] ms after the touch, then those not
  -- renewed for ARGV[6] ms ("e:"; "f:" only after ARGV[7] times that).
  local idle = tonumber(ARGV[6])
  if idle > 0 then
    local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for pass = 1, 2 do
      for i = 1, #all, 2 do
        if total + weight <= tonumber(ARGV[5]) then break end
        local old, renewed = all[i], tonumber(all[i + 1]) - ttl
        local kind = string.sub(old, 1, 2)
        local started = redis.call('SISMEMBER', KEYS[3], old) == 1
        local stale = (kind == 'e:' and renewed <= now - idle)
          or (kind == 'f:' and renewed <= now - tonumber(ARGV[7]) * idle)
        local evictable = kind == 'e:' or kind == 'f:'
        if evictable and redis.call('HEXISTS', KEYS[1], old) == 1
            and ((pass == 1 and not started and renewed <= now - tonumber(ARGV[8]))
                 or (pass == 2 and stale)) then
          total = total - tonumber(redis.call('HGET', KEYS[1], old) or '0')
          redis.call('HDEL', KEYS[1], old)
          redis.call('ZREM', KEYS[2], old)
          redis.call('SREM', KEYS[3], old)
          evicted = evicted + 1
        end
      end
    end
  end
  if total + weight > tonumber(ARGV[5]) then
    return {0, total, redis.call('HLEN', KEYS[1]), evicted}
  end
end
redis.call('HSET', KEYS[1], token, tostring(weight))
redis.call('ZADD', KEYS[2], now + ttl, token)
-- "Started" (in KEYS[3]) protects a hold from being taken as silent: a new hold is
-- (the server has not begun to read it), a touch (the server now waits for its bytes)
-- makes it a candidate, its first renewal (bytes arrived) protects it again.
if mode == 'touch' then
  redis.call('SREM', KEYS[3], token)
else
  redis.call('SADD', KEYS[3], token)
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return {1, total - own + weight, redis.call('HLEN', KEYS[1]), evicted}
"""
# A hold taken ``evictable="slowly"`` is reclaimed only after this many times the idle time.
SLOWLY_FACTOR = 4
# A hold touched (the server waits for its bytes) and not renewed since, this long, is
# silent: reclaimed first. A client sends its body with its headers, so its first bytes
# are waiting by the time the server reads; the grace covers the server's own delays.
SILENT_GRACE = 1.0


@dataclass(frozen=True)
class Hold:
    """One request's hold in a :class:`Pool` (``remote``: in Redis, else in memory)."""

    key: str
    token: str
    remote: bool


class Pool:
    """Weighted holds that expire, counted against a capacity, per key.

    A hold is what one request keeps while its body streams: a weight of 1 for an upload
    slot, or the bytes it may still write for the disk reservation. :meth:`take` adds one
    if the live holds plus it stay within the capacity; :meth:`update` renews it (and
    sets its weight) while bytes arrive; :meth:`release` ends it. A hold not renewed for
    ``ttl`` seconds is gone, so a process killed while holding blocks nobody for long.

    A hold taken ``evictable`` may be reclaimed sooner: when a new hold does not fit,
    evictable holds are removed to make room, oldest first: silent ones (touched, no
    bytes since, for :data:`SILENT_GRACE`), then those not renewed for ``idle_after``
    seconds. Its holder learns it at its next :meth:`renew` (False). That is what keeps
    upload slots for the people sending bytes when idle connections hold them all: a
    burst of idle connections cannot fill the pool against a sender, because a sender
    renews at its first bytes and every idle hold goes before it.

    Keys that may be shared (``shared_keys``, and Tor circuit tags) live in Redis when it
    is configured, so every process counts the same holds; every other key, an address's
    tag above all, stays in this process's memory (see the module docstring). If Redis
    fails the hold is counted in memory: a limit weakens, nobody is refused for it.
    """

    def __init__(self, redis: Redis | None, prefix: str, name: str, ttl: float,
                 shared_keys: frozenset[str] = frozenset()) -> None:
        self._redis = redis
        self._prefix = f"{prefix}pool:{name}:"
        self.ttl = ttl
        self._shared_keys = shared_keys
        self._local: dict[str, dict[str, tuple[int, float]]] = {}
        self._started: set[str] = set()  # holds renewed at least once (bytes arrived)
        self._lock = threading.Lock()

    def shares(self, key: str) -> bool:
        return self._redis is not None and (
            key in self._shared_keys or key.startswith(SHAREABLE_TAG_PREFIXES))

    def _remote(self, key: str, mode: str, token: str = "", weight: int = 0,
                capacity: int = 0, idle_after: float = 0.0) -> tuple[bool, int, int] | None:
        """(done, total weight, holds) from Redis; None when Redis failed."""
        assert self._redis is not None
        base = self._prefix + key
        try:
            done, total, count, _evicted = self._redis.eval(
                _POOL, 3, base + ":w", base + ":e", base + ":s", mode, token, str(weight),
                str(max(1, int(self.ttl * 1000))), str(capacity),
                str(max(0, int(idle_after * 1000))), str(SLOWLY_FACTOR),
                str(int(SILENT_GRACE * 1000)))
        except (RedisError, OSError, ValueError) as exc:
            log.warning("redis unreachable, holding %s in memory: %s", self._prefix,
                        type(exc).__name__)
            return None
        return bool(done), int(total), int(count)

    def _live(self, key: str, now: float) -> dict[str, tuple[int, float]]:
        holds = self._local.setdefault(key, {})
        for token in [t for t, (_, until) in holds.items() if until <= now]:
            del holds[token]
            self._started.discard(token)
        return holds

    def take(self, key: str, weight: int, capacity: int, *,
             evictable: bool | Literal["slowly"] = False,
             idle_after: float = 0.0) -> Hold | None:
        """A new hold of ``weight`` if everything held under ``key`` stays within
        ``capacity`` (after reclaiming evictable holds idle for ``idle_after`` seconds,
        if that is > 0); None if it would not. ``evictable``: this hold may be reclaimed
        so in its turn (``"slowly"``: only after :data:`SLOWLY_FACTOR` times as long)."""
        kind = "f:" if evictable == "slowly" else "e:" if evictable else "k:"
        token = kind + secrets.token_hex(16)
        if self.shares(key):
            answer = self._remote(key, "take", token, weight, capacity, idle_after)
            if answer is not None:
                return Hold(key, token, True) if answer[0] else None
        now = time.monotonic()
        with self._lock:
            holds = self._live(key, now)
            total = sum(w for w, _ in holds.values())
            if total + weight > capacity and idle_after > 0:
                for old in self._reclaimable(key, holds, now, idle_after):
                    if total + weight <= capacity:
                        break
                    total -= holds.pop(old)[0]
                    self._started.discard(old)
            if total + weight > capacity:
                return None
            holds[token] = (weight, now + self.ttl)
            self._started.add(token)
        return Hold(key, token, False)

    def holds(self, hold: Hold) -> bool:
        """Whether ``hold`` is still held (not reclaimed or expired); True when Redis
        cannot say."""
        if hold.remote:
            answer = self._remote(hold.key, "has", hold.token)
            return True if answer is None else answer[0]
        with self._lock:
            return hold.token in self._live(hold.key, time.monotonic())

    def _reclaimable(self, key: str, holds: dict[str, tuple[int, float]], now: float,
                     idle_after: float) -> list[str]:
        """Evictable holds to reclaim, in order: never started, oldest first; then those
        idle for ``idle_after`` (``"slowly"`` ones: :data:`SLOWLY_FACTOR` times that)."""
        by_age = sorted(holds, key=lambda t: holds[t][1])
        fresh = [t for t in by_age if t[:2] in ("e:", "f:") and t not in self._started
                 and holds[t][1] - self.ttl <= now - SILENT_GRACE]
        stale = [t for t in by_age if t in self._started and (
            (t.startswith("e:") and holds[t][1] - self.ttl <= now - idle_after)
            or (t.startswith("f:")
                and holds[t][1] - self.ttl <= now - SLOWLY_FACTOR * idle_after))]
        return fresh + stale

    def touch(self, hold: Hold) -> None:
        """The server now waits for ``hold``'s bytes: restart its clock, and make it silent
        (reclaimable after :data:`SILENT_GRACE`) until its next :meth:`renew`. A hold is
        never silent before its first touch: the time until then is the server's."""
        if hold.remote:
            self._remote(hold.key, "touch", hold.token)
            return
        now = time.monotonic()
        with self._lock:
            holds = self._live(hold.key, now)
            if hold.token in holds:
                holds[hold.token] = (holds[hold.token][0], now + self.ttl)
                self._started.discard(hold.token)

    def renew(self, hold: Hold) -> bool:
        """Renew ``hold`` (weight unchanged); False if it is gone: reclaimed as idle, or
        expired. When Redis cannot say, True (nobody is refused for Redis failing)."""
        if hold.remote:
            answer = self._remote(hold.key, "renew", hold.token)
            return True if answer is None else answer[0]
        now = time.monotonic()
        with self._lock:
            holds = self._live(hold.key, now)
            if hold.token not in holds:
                return False
            weight, _ = holds[hold.token]
            holds[hold.token] = (weight, now + self.ttl)
            self._started.add(hold.token)
            return True

    def update(self, hold: Hold, weight: int) -> tuple[int, int] | None:
        """Renew ``hold`` with its new ``weight``; what is now held under its key (the
        total weight and the number of holds, ``hold`` included), or None if Redis could
        not say."""
        if hold.remote:
            answer = self._remote(hold.key, "set", hold.token, weight)
            return None if answer is None else answer[1:]
        now = time.monotonic()
        with self._lock:
            holds = self._live(hold.key, now)
            holds[hold.token] = (weight, now + self.ttl)
            return sum(w for w, _ in holds.values()), len(holds)

    def total(self, key: str) -> int:
        """What the live holds under ``key`` weigh together (0 if Redis cannot say)."""
        if self.shares(key):
            answer = self._remote(key, "peek")
            if answer is not None:
                return answer[1]
        with self._lock:
            total = sum(w for w, _ in self._live(key, time.monotonic()).values())
            if not self._local.get(key):
                self._local.pop(key, None)
            return total

    def release(self, hold: Hold) -> None:
        if hold.remote:
            assert self._redis is not None
            base = self._prefix + hold.key
            with contextlib.suppress(RedisError, OSError):  # it then expires with its ttl
                pipe = self._redis.pipeline()
                pipe.hdel(base + ":w", hold.token)
                pipe.zrem(base + ":e", hold.token)
                pipe.srem(base + ":s", hold.token)
                pipe.execute()
            return
        with self._lock:
            holds = self._local.get(hold.key)
            if holds is not None:
                holds.pop(hold.token, None)
                self._started.discard(hold.token)
                if not holds:
                    del self._local[hold.key]
