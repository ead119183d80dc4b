"""The notification jobs: thin wrappers around :mod:`api.notifications.service`.

``plan_digests`` runs every ``digest_check_minutes``, ``plan_sla_reminders`` hourly.
``send_notification`` talks to the SMTP server outside any database lock
(``transactional=False``); see workers.registry for the at-least-once trade-off.
"""

from __future__ import annotations

from datetime import timedelta

from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs.kinds import Empty, Notification
from api.notifications import mail, service
from workers.context import JobContext
from workers.registry import JobSpec, register


def _smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def plan_digests(ctx: JobContext, payload: Empty) -> None:
    service.plan_digests(ctx.session, ctx.settings, utcnow())


def plan_sla_reminders(ctx: JobContext, payload: Empty) -> None:
    service.plan_sla_reminders(ctx.session, ctx.settings, utcnow())


def send_notification(ctx: JobContext, note: Notification) -> None:
    with unit_of_work(ctx.engine) as session:
        address = service.active_address(session, note.subscription_id)
    if address is None:
        return  # unsubscribed meanwhile: nothing to send, and nothing to retry
    msg = mail.compose(ctx.settings, address, note)
    ctx.ensure_claim()
    mail.send(ctx.settings, msg)


register(JobSpec(kind="plan_digests", run=plan_digests, available=_smtp_configured,
                 every=lambda s: timedelta(minutes=s.digest_check_minutes)))
register(JobSpec(kind="plan_sla_reminders", run=plan_sla_reminders, available=_smtp_configured,
                 every=lambda s: timedelta(hours=1)))
register(JobSpec(kind="send_notification", run=send_notification, transactional=False,
                 available=_smtp_configured))
