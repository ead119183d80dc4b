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

import logging
import secrets
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
