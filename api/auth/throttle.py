"""Sign-in throttling: per account in the database, globally in memory.

Per account: failed sign-ins are counted per username (existing or not, see
``LoginThrottle``) in a window of one hour that starts at the first failure. Once
``login_attempts_per_account_per_hour`` failures are reached, further attempts are refused
before any password is checked, until the window ends. The counter lives in the database
so every API process and worker shares it; a successful sign-in clears it.

Globally: at most ``login_attempts_global_per_minute`` attempts per process per sliding
minute, in memory. It caps the Argon2 work an attacker spraying many usernames can cause;
per-process is enough for that purpose and needs no shared state.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from api.auth.models import LoginThrottle
from api.core.db import unit_of_work
from api.core.errors import RateLimited
from api.core.models import UTCDateTime
from api.core.ratelimit import SlidingWindow
from api.core.settings import Settings

WINDOW = timedelta(hours=1)


def account_key(settings: Settings, username: str) -> str:
    secret = settings.secret_key.get_secret_value().encode("utf-8")
    name = username.strip().casefold().encode("utf-8")
    return hmac.new(secret, b"dokaz-login-throttle\x00" + name, hashlib.sha256).hexdigest()


def check_account(session: Session, key: str, now: datetime, limit: int) -> None:
    row = session.get(LoginThrottle, key)
    if row is None or row.failures < limit:
        return
    ends = row.window_started_at + WINDOW
    if ends > now:
        raise RateLimited(math.ceil((ends - now).total_seconds()))


def count_failure(engine: Engine, key: str, now: datetime) -> None:
    """Add one failure (in its own transaction: the request itself is rolled back)."""
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    now_lit = literal(now, UTCDateTime())
    expired = table.c.window_started_at < literal(now - WINDOW, UTCDateTime())
    values = {"key": key, "window_started_at": now, "failures": 1}
    update = {
        "failures": case((expired, 1), else_=table.c.failures + 1),
        "window_started_at": case((expired, now_lit), else_=table.c.window_started_at),
    }
    with unit_of_work(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            stmt: Any = postgresql.insert(table).values(**values)
        else:
            stmt = sqlite.insert(table).values(**values)
        session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=update))


def clear(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == key))


def purge_expired(session: Session, now: datetime) -> int:
    """Delete counters whose window has ended (a periodic job may call this)."""
    stmt = delete(LoginThrottle).where(col(LoginThrottle.window_started_at) < now - WINDOW)
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)


class GlobalLimiter:
    """A sliding one-minute window of sign-in attempts in this process."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = SlidingWindow(per_minute, 60)

    def hit(self) -> None:
        wait = self._window.hit("global")
        if wait:
            raise RateLimited(
                wait,
                "The service is receiving too many sign-in attempts. "
                f"Try again in {wait} seconds.",
            )
