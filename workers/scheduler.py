"""Periodic jobs without a separate scheduler process.

Every worker runs this. Time is cut into periods of each kind's interval (aligned to the
Unix epoch); for the current period a worker enqueues the kind with the dedupe key
``"<kind>:<period start, UTC>"``. The key is unique in the job table and the insert is
``ON CONFLICT DO NOTHING``, so N workers on N machines enqueue each period's job exactly
once, and a period whose job already ran is never enqueued again. A worker remembers the
last period it enqueued per kind, so it touches the database once per period, not per poll.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine

from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from workers.registry import JobSpec

log = logging.getLogger("dokaz.worker")


def period_key(kind: str, now: datetime, every_seconds: int) -> str:
    start = int(now.timestamp()) // every_seconds * every_seconds
    return f"{kind}:{datetime.fromtimestamp(start, UTC):%Y-%m-%dT%H:%M}"


class Scheduler:
    def __init__(self, settings: Settings, engine: Engine, specs: dict[str, JobSpec]) -> None:
        self.settings = settings
        self.engine = engine
        self.periodic = {
            kind: max(60, int(spec.every(settings).total_seconds()))
            for kind, spec in specs.items()
            if spec.every is not None
        }
        self._last: dict[str, str] = {}

    def due_keys(self, now: datetime) -> dict[str, str]:
        keys = {kind: period_key(kind, now, every) for kind, every in self.periodic.items()}
        return {kind: key for kind, key in keys.items() if self._last.get(kind) != key}

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue this period's job of every periodic kind; return the kinds enqueued."""
        due = self.due_keys(now or utcnow())
        if not due:
            return []
        enqueued: list[str] = []
        with unit_of_work(self.engine) as session:
            for kind, key in due.items():
                if service.enqueue(session, kind, None, dedupe_key=key, settings=self.settings):
                    enqueued.append(kind)
        self._last.update(due)
        if enqueued:
            log.info("periodic jobs enqueued", extra={"kinds": enqueued})
        return enqueued
