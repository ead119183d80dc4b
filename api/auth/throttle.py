"""Sign-in throttling: growing delays for the sender, then for the account; never a lock-out.

Every sign-in attempt passes three counters, cheapest first, before any Argon2 runs:

1. **Per client** (``client`` is the sign-in's client tag, see
   ``api.auth.dependencies.signin_client``; None: no per-client limit). After
   ``login_free_failures_per_client`` failures, each further attempt must wait
   ``login_first_delay_seconds``, doubled per further failure, at most
   ``login_max_delay_per_client_seconds``, reckoned from the client's last failure.
   Tor circuit tags (``c:``) are counted in Redis when it is configured, so the delay
   holds in every API process; address tags (``a:``) never leave this process's memory
   (the reason is in :mod:`api.core.shared`).
2. **Globally**: at most ``login_attempts_global_per_minute`` attempts reach Argon2 per
   sliding minute, in Redis across processes when configured (it bounds the Argon2 work a
   spray of many clients and usernames can cause).
3. **Per account** (``LoginThrottle``, in the database so every process shares it): the
   same schedule with a larger free allowance (``login_free_failures_per_account``), so an
   account slows down only when its failures come from many clients, at most
   ``login_max_delay_per_account_seconds``. Keyed by an HMAC of the name, existing or
   not, so throttling tells nobody which names exist. A successful sign-in clears it.

A counter is forgotten once ``login_failures_forgotten_after_seconds`` pass without a
new failure (settings insist that this outlasts both caps, or waiting out one delay would
reset the count). Nobody is ever refused for longer than the cap: a genuine person whose
account is being sprayed signs in after at most that wait.

Each attempt is *counted before* its password is checked, atomically with the check of
the wait (a Lua script in Redis, the account row under its lock), and given back when it
succeeds. So concurrent guesses cannot all slip through a wait each would pass alone, and
a failure is counted whether or not its audit entry is written later. A refused attempt
counts nothing and costs nothing but this check; a later counter refusing gives back what
the earlier ones took.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis import Redis, RedisError
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from api.auth.models import LoginThrottle
from api.core.errors import RateLimited
from api.core.ratelimit import SHAREABLE_TAG_PREFIXES, SharedSlidingWindow
from api.core.settings import Settings

log = logging.getLogger("dokaz.auth.throttle")

GLOBAL = "global"  # the key of the budget every attempt shares


@dataclass(frozen=True)
class Backoff:
    """The delay schedule: ``free`` failures, then ``first`` seconds doubling per failure,
    at most ``cap``; failures are forgotten ``forget`` seconds after the last one."""

    free: int
    first: float
    cap: float
    forget: float

    @classmethod
    def for_clients(cls, settings: Settings) -> Backoff:
        return cls(settings.login_free_failures_per_client, settings.login_first_delay_seconds,
                   settings.login_max_delay_per_client_seconds,
                   settings.login_failures_forgotten_after_seconds)

    @classmethod
    def for_accounts(cls, settings: Settings) -> Backoff:
        return cls(settings.login_free_failures_per_account,
                   settings.login_first_delay_seconds,
                   settings.login_max_delay_per_account_seconds,
                   settings.login_failures_forgotten_after_seconds)

    def delay(self, failures: int) -> float:
        """How long after the last of ``failures`` failures the next attempt must wait."""
        if failures < self.free:
            return 0.0
        # Capped before it is computed: 2 ** 2000 would not fit a float.
        return min(self.cap, self.first * 2.0 ** min(failures - self.free, 64))

    def counted(self, failures: int, since_last: float) -> int:
        """The failures still remembered ``since_last`` seconds after the last one."""
        return 0 if since_last >= self.forget else failures

    def wait(self, failures: int, since_last: float) -> float:
        """Seconds the next attempt must still wait (0: it may go now). Never more than
        the cap, even if a clock went backwards."""
        failures = self.counted(failures, since_last)
        delay = self.delay(failures)
        return max(0.0, min(delay, delay - since_last))

    def steps(self) -> list[float]:
        """The delays after ``free``, ``free + 1``, ... failures, up to the first capped one
        (the Redis script indexes this list; every later failure waits the cap)."""
        out = [self.delay(self.free)]
        while out[-1] < self.cap:
            out.append(self.delay(self.free + len(out)))
        return out


def human_seconds(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    if whole % 60 == 0:
        minutes = whole // 60
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{whole} second" + ("s" if whole != 1 else "")


class SignInWait(RateLimited):
    """429: wait before trying again; Retry-After is the remaining delay (at most the cap)."""

    def __init__(self, wait: float, whose: str, cap: float) -> None:
        retry = max(1, math.ceil(wait))
        super().__init__(retry, (
            f"There were too many failed sign-ins {whose}. Please wait {retry} seconds "
            "before trying again. Nothing was checked this time; the wait grows with each "
            f"failed sign-in, to at most {human_seconds(cap)}."))


# ---- per client: memory, or Redis for Tor circuits -----------------------------------

# One round trip, atomic: forget a quiet counter, refuse while the wait runs, else count.
# ARGV: now, free, forget, then Backoff.steps(). The schedule itself is Backoff's.
_TAKE = """
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local forget = tonumber(ARGV[3])
local row = redis.call('HMGET', KEYS[1], 'f', 't')
local f = tonumber(row[1]) or 0
local last = tonumber(row[2]) or now
if now - last >= forget then f = 0 end
if f >= free then
  local steps = #ARGV - 3
  local delay = tonumber(ARGV[3 + math.min(f - free + 1, steps)])
  local wait = math.min(delay, last + delay - now)
  if wait > 0 then return tostring(wait) end
end
redis.call('HSET', KEYS[1], 'f', f + 1, 't', ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(forget * 1000))
return ''
"""
_GIVE_BACK = """
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if f > 0 then redis.call('HSET', KEYS[1], 'f', f - 1) end
return f
"""


class ClientFailures:
    """Failures per client tag: :meth:`take` counts an attempt or says how long to wait."""

    def __init__(self, backoff: Backoff, redis: Redis | None = None,
                 prefix: str = "dokaz:") -> None:
        self.backoff = backoff
        self._redis = redis
        self._prefix = prefix
        self._steps = backoff.steps()
        self._local: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._last_prune = 0.0

    def shares(self, tag: str) -> bool:
        return self._redis is not None and tag.startswith(SHAREABLE_TAG_PREFIXES)

    def _key(self, tag: str) -> str:
        return f"{self._prefix}signin:client:{tag}"

    def take(self, tag: str, now: float) -> float | None:
        """Count one attempt of ``tag`` at ``now`` (seconds) and return None, or count
        nothing and return the seconds it must still wait."""
        if self.shares(tag):
            assert self._redis is not None
            try:
                answer = self._redis.eval(_TAKE, 1, self._key(tag), repr(now),
                                          self.backoff.free, self.backoff.forget,
                                          *self._steps)
            except (RedisError, OSError) as exc:
                log.warning("redis unreachable, counting sign-in failures in memory: %s",
                            type(exc).__name__)
            else:
                text = answer.decode() if isinstance(answer, bytes) else str(answer or "")
                return float(text) if text else None
        with self._lock:
            self._prune(now)
            failures, last = self._local.get(tag, (0, now))
            failures = self.backoff.counted(failures, now - last)
            wait = self.backoff.wait(failures, now - last)
            if wait > 0:
                return wait
            self._local[tag] = (failures + 1, now)
            return None

    def give_back(self, tag: str) -> None:
        """Undo one :meth:`take` of ``tag``: the attempt turned out to be no failure."""
        if self.shares(tag):
            assert self._redis is not None
            try:
                self._redis.eval(_GIVE_BACK, 1, self._key(tag))
                return
            except (RedisError, OSError):
                pass  # it was counted in memory then, or is lost with Redis: either way
        with self._lock:
            held = self._local.get(tag)
            if held is not None and held[0] > 0:
                self._local[tag] = (held[0] - 1, held[1])

    def failures(self, tag: str, now: float) -> int:
        """The failures of ``tag`` still remembered at ``now`` (for tests and figures)."""
        if self.shares(tag):
            assert self._redis is not None
            row = self._redis.hmget(self._key(tag), "f", "t")
            if row[0] is None:
                return 0
            return self.backoff.counted(int(row[0]), now - float(row[1] or now))
        with self._lock:
            failures, last = self._local.get(tag, (0, now))
            return self.backoff.counted(failures, now - last)

    def _prune(self, now: float) -> None:
        if now - self._last_prune < self.backoff.forget:
            return
        self._last_prune = now
        for tag in [t for t, (_, last) in self._local.items()
                    if now - last >= self.backoff.forget]:
            del self._local[tag]


# ---- per account: the database -------------------------------------------------------


def account_key(settings: Settings, username: str) -> str:
    secret = settings.secret_key.get_secret_value().encode("utf-8")
    name = username.strip().casefold().encode("utf-8")
    return hmac.new(secret, b"dokaz-login-throttle\x00" + name, hashlib.sha256).hexdigest()


def take_account(session: Session, key: str, now: datetime, backoff: Backoff) -> None:
    """Count one attempt for the account ``key``, or raise :class:`SignInWait` (nothing
    counted). The row is locked for the rest of the caller's transaction (PostgreSQL
    ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` admits one writer at a time), so the
    check and the count are one step for concurrent attempts in every process."""
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    values = {"key": key, "last_failure_at": now, "failures": 0}
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values)
    else:
        stmt = sqlite.insert(table).values(**values)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    row = session.execute(
        select(LoginThrottle).where(col(LoginThrottle.key) == key).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    since = (now - row.last_failure_at).total_seconds()
    wait = backoff.wait(row.failures, since)
    if wait > 0:
        raise SignInWait(wait, "for this username", backoff.cap)
    row.failures = backoff.counted(row.failures, since) + 1
    row.last_failure_at = now
    session.add(row)
    session.flush()


def give_back_account(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is not None and row.failures > 0:
        row.failures -= 1
        session.add(row)
        session.flush()


def clear_account(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == key))


def account_failures(session: Session, key: str, now: datetime, backoff: Backoff) -> int:
    row = session.get(LoginThrottle, key)
    if row is None:
        return 0
    return backoff.counted(row.failures, (now - row.last_failure_at).total_seconds())


def purge_expired(session: Session, settings: Settings, now: datetime) -> int:
    """Delete counters quiet for longer than the forgetting period (the hourly job)."""
    before = now - timedelta(seconds=settings.login_failures_forgotten_after_seconds)
    stmt = delete(LoginThrottle).where(col(LoginThrottle.last_failure_at) <= before)
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)


# ---- the app's throttle ----------------------------------------------------------------


class SignInThrottle:
    """The per-client counters and the global budget of one app (built once, in
    ``api.services``); the per-account counters are in the database."""

    def __init__(self, settings: Settings, redis: Redis | None = None) -> None:
        self.clients = ClientFailures(Backoff.for_clients(settings), redis,
                                      settings.redis_key_prefix)
        self.accounts = Backoff.for_accounts(settings)
        self.global_rate = SharedSlidingWindow(
            settings.login_attempts_global_per_minute, 60, redis=redis, name="login-global",
            prefix=settings.redis_key_prefix, shared_keys=frozenset({GLOBAL}))

    def take_client_and_global(self, client: str | None, now: datetime) -> None:
        """Count the attempt for its client, then against the global budget; or raise
        429 with nothing counted."""
        if client is not None:
            wait = self.clients.take(client, now.timestamp())
            if wait is not None:
                raise SignInWait(wait, "from here", self.clients.backoff.cap)
        wait_global = self.global_rate.take(GLOBAL)
        if wait_global is not None:
            self.give_back_client(client)
            retry = max(1, math.ceil(wait_global))
            raise RateLimited(retry, "The service is receiving too many sign-in attempts. "
                                     f"Try again in {retry} seconds.")

    def give_back_client(self, client: str | None) -> None:
        if client is not None:
            self.clients.give_back(client)

    def give_back_global(self) -> None:
        self.global_rate.give_back(GLOBAL)
