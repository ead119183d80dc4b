"""Staff notifications: the batched digest and service-level reminders.

``plan_digests`` (every ``digest_check_minutes``) looks at each active subscription whose
interval has passed, counts new/urgent cases since its last digest and open overdue cases,
moves ``last_digest_at`` forward and enqueues one ``send_notification`` carrying only those
integers, all in one transaction: a digest is planned exactly once per interval, and the
counts cover every case exactly once (new cases are counted by their creation day, less
those of that day an earlier digest already reported, so intake needs to enqueue nothing
and no exact creation time is needed). A coordinator's digest also counts the two-person
approval requests, approvals, rejections and expiries since the last digest (from the audit
log) and the requests still waiting, so every coordinator hears of every such change; it
names no account and no case. ``plan_sla_reminders`` (hourly, one reminder per assignee per
day via its dedupe key) tells assignees how many of their cases are overdue.

``send_notification`` talks to the SMTP server outside any database lock
(``transactional=False``); see workers.registry for the at-least-once trade-off.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from api.approvals import service as approvals
from api.auth.models import StaffUser
from api.auth.roles import Role
from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from api.jobs.kinds import Empty, Notification, NotificationTemplate
from api.jobs.models import NotificationSubscription
from workers import case_queries, mail
from workers.context import JobContext
from workers.registry import JobSpec, register


def _smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def plan_digests(ctx: JobContext, payload: Empty) -> None:
    session, now = ctx.session, utcnow()
    stmt = select(NotificationSubscription).where(col(NotificationSubscription.active))
    overdue_total: int | None = None
    for sub in session.exec(stmt.with_for_update()).all():
        if sub.last_digest_at + timedelta(minutes=sub.digest_interval_minutes) > now:
            continue
        new, urgent = _new_since_last_digest(session, sub, now)
        if overdue_total is None:
            overdue_total = sum(case_queries.overdue_by_assignee(session, ctx.settings,
                                                                 now).values())
        staff = session.get(StaffUser, sub.staff_user_id)
        two_person = None
        if staff is not None and staff.role == Role.COORDINATOR.value:
            two_person = approvals.digest_counts(session, ctx.settings, sub.last_digest_at,
                                                 now.date())
        # One digest per window, named by where the window starts (stable on retries).
        key = f"digest:{sub.id}:{sub.last_digest_at.timestamp():.6f}"
        sub.last_digest_at = now
        if new or overdue_total or (two_person is not None and two_person.any()):
            counts = {} if two_person is None else {
                "approvals_requested": two_person.requested,
                "approvals_approved": two_person.approved,
                "approvals_rejected": two_person.rejected,
                "approvals_expired": two_person.expired,
                "approvals_pending": two_person.pending,
            }
            note = Notification(subscription_id=sub.id, template=NotificationTemplate.DIGEST,
                                new=new, urgent=urgent, overdue=overdue_total, **counts)
            service.enqueue(session, "send_notification", note, dedupe_key=key,
                            settings=ctx.settings)
    session.flush()


def _new_since_last_digest(session: Session, sub: NotificationSubscription, now: datetime
                           ) -> tuple[int, int]:
    """New (and urgent) cases not yet reported to ``sub``; remembers today's counts."""
    first = sub.digest_day or sub.last_digest_at.date()
    new, urgent = case_queries.count_created(session, first)
    if sub.digest_day is not None:
        # Never negative: a case of that day may since have been merged or shredded.
        new = max(0, new - sub.digest_day_new)
        urgent = min(new, max(0, urgent - sub.digest_day_urgent))
    today = now.date()
    sub.digest_day = today
    sub.digest_day_new, sub.digest_day_urgent = case_queries.count_created(session, today,
                                                                           today)
    return new, urgent


def plan_sla_reminders(ctx: JobContext, payload: Empty) -> None:
    session, now = ctx.session, utcnow()
    overdue = case_queries.overdue_by_assignee(session, ctx.settings, now)
    subs = session.exec(
        select(NotificationSubscription).where(col(NotificationSubscription.active))
    ).all()
    for sub in subs:
        count = overdue.get(sub.staff_user_id, 0)
        if count:
            note = Notification(subscription_id=sub.id, template=NotificationTemplate.SLA,
                                overdue=count)
            service.enqueue(session, "send_notification", note,
                            dedupe_key=f"sla:{sub.id}:{now:%Y-%m-%d}", settings=ctx.settings)


def send_notification(ctx: JobContext, note: Notification) -> None:
    with unit_of_work(ctx.engine) as session:
        sub = session.get(NotificationSubscription, note.subscription_id)
        address = sub.email if sub is not None and sub.active else None
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
