"""The app clock, used for sessions, TOTP steps, throttling and partner keys.

Production uses the system clock; each app has one (:mod:`api.services`). Tests move
it forward (``services_of(app).clock.advance(...)``) to check expiry and TOTP windows
without sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from api.core.models import utcnow


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
