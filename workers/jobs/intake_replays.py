"""``purge_intake_replays`` (hourly): remembered form tokens and Idempotency-Keys past
``intake_replay_hours`` are deleted (api.intake.replays), so no key outlives its use."""

from __future__ import annotations

from datetime import timedelta

from api.core.models import utcnow
from api.intake import replays
from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.registry import JobSpec, register


def purge_intake_replays(ctx: JobContext, payload: Empty) -> None:
    replays.purge(ctx.session, utcnow())


register(JobSpec(kind="purge_intake_replays", run=purge_intake_replays,
                 every=lambda s: timedelta(hours=1)))
