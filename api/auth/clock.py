"""The clock used for sessions, TOTP steps and throttling.

Production uses the system clock. Tests move an app's clock forward
(``app.state.auth_clock.advance(...)``) to check expiry and TOTP windows without sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.core.models import utcnow


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def clock_of(state: Any) -> Clock:
    """The clock kept on an app's ``state`` (created on first use)."""
    clock = getattr(state, "auth_clock", None)
    if not isinstance(clock, Clock):
        clock = Clock()
        state.auth_clock = clock
    return clock
