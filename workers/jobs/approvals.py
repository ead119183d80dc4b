"""``expire_approvals`` (hourly): two-person requests past ``approval_expiry_days`` expire.

An expired request does nothing (approving it is refused anyway); marking it here writes
the audit entry that coordinators' digests count, whether or not anyone looks at it.
"""

from __future__ import annotations

from datetime import timedelta

from api.approvals import service
from api.core.models import utcnow
from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.registry import JobSpec, register


def expire_approvals(ctx: JobContext, payload: Empty) -> None:
    service.expire_due(ctx.session, ctx.settings, utcnow().date())


register(JobSpec(kind="expire_approvals", run=expire_approvals,
                 every=lambda s: timedelta(hours=1)))
