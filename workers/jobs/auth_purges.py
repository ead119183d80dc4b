"""Sign-in housekeeping, so these tables do not grow without bound.

``purge_staff_sessions`` (daily): sessions that ended more than ``staff_session_keep_days``
ago are deleted; until then a stale token is told why it was refused.
``purge_login_throttle`` (hourly): per-account failure counters quiet for longer than
``login_failures_forgotten_after_seconds`` are deleted; such a row no longer slows anything.
"""

from __future__ import annotations

from datetime import timedelta

from api.auth import repository, throttle
from api.core.models import utcnow
from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.registry import JobSpec, register


def purge_staff_sessions(ctx: JobContext, payload: Empty) -> None:
    before = utcnow() - timedelta(days=ctx.settings.staff_session_keep_days)
    repository.purge_sessions(ctx.session, before)


def purge_login_throttle(ctx: JobContext, payload: Empty) -> None:
    throttle.purge_expired(ctx.session, ctx.settings, utcnow())


register(JobSpec(kind="purge_staff_sessions", run=purge_staff_sessions,
                 every=lambda s: timedelta(days=1)))
register(JobSpec(kind="purge_login_throttle", run=purge_login_throttle,
                 every=lambda s: timedelta(hours=1)))
