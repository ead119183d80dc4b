"""State that several API processes must share: Redis, when ``DOKAZ_REDIS_URL`` is set.

Without it (the embedded default, one process) every counter lives in process memory, as
before. With it, the counters that must hold across processes live in Redis:

* the global budgets (they name nobody);
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
from typing import TYPE_CHECKING

from redis import Redis, RedisError

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
