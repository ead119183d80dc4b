"""Staff notifications: subscriptions, the batched digest and service-level reminders.

``plan_digests`` looks at each active subscription whose interval has passed, counts
new/urgent cases since its last digest and open overdue cases, moves ``last_digest_at``
forward and enqueues one ``send_notification`` carrying only those integers, all in the
caller's transaction: a digest is planned exactly once per interval, and the counts cover
every case exactly once (new cases are counted by their creation day, less those of that
day an earlier digest already reported, so intake needs to enqueue nothing and no exact
creation time is needed). A coordinator's digest also counts the two-person approval
requests, approvals, rejections and expiries since the last digest (from the audit log)
and the requests still waiting, so every coordinator hears of every such change; it names
no account and no case. ``plan_sla_reminders`` (one reminder per assignee per day via its
dedupe key) tells assignees how many of their cases are overdue.

The jobs that run these on a schedule, and the one that sends the mail
(:mod:`api.notifications.mail`), are thin wrappers in ``workers/jobs/notifications.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from api.approvals import service as approvals
from api.auth import repository as auth_repository
from api.auth.roles import Role
from api.cases import sla
from api.core.errors import NotFound
from api.core.settings import Settings
from api.jobs import service as jobs
from api.jobs.kinds import Notification, NotificationTemplate
from api.notifications.models import NotificationSubscription

# ---- subscriptions ----


def subscribe(
    session: Session, staff_user_id: uuid.UUID, email: str, interval_minutes: int
) -> NotificationSubscription:
    """Create or update the digest subscription of one staff member."""
    if auth_repository.get_staff(session, staff_user_id) is None:
        raise NotFound("No staff member with this id.")
    stmt = select(NotificationSubscription).where(
        NotificationSubscription.staff_user_id == staff_user_id
    )
    sub = session.exec(stmt).first()
    if sub is None:
        sub = NotificationSubscription(staff_user_id=staff_user_id, email=email,
                                       digest_interval_minutes=interval_minutes)
        session.add(sub)
    else:
        sub.email, sub.digest_interval_minutes, sub.active = email, interval_minutes, True
    session.flush()
    return sub


def subscribe_by_username(session: Session, username: str, email: str,
                          interval_minutes: int) -> NotificationSubscription:
    """:func:`subscribe` for the command line, which names staff by username."""
    user = auth_repository.get_by_username(session, username)
    if user is None:
        raise NotFound("No staff member with this username.")
    return subscribe(session, user.id, email, interval_minutes)


def list_subscriptions(session: Session) -> list[NotificationSubscription]:
    stmt = select(NotificationSubscription).order_by(col(NotificationSubscription.email))
    return list(session.exec(stmt).all())


def unsubscribe(session: Session, subscription_id: uuid.UUID) -> None:
    sub = session.get(NotificationSubscription, subscription_id)
    if sub is None:
        raise NotFound("No notification subscription with this id.")
    session.delete(sub)
    session.flush()


def active_address(session: Session, subscription_id: uuid.UUID) -> str | None:
    """Where a planned notification goes; None once unsubscribed or paused."""
    sub = session.get(NotificationSubscription, subscription_id)
    return sub.email if sub is not None and sub.active else None


# ---- planning ----


def plan_digests(session: Session, settings: Settings, now: datetime) -> None:
    stmt = select(NotificationSubscription).where(col(NotificationSubscription.active))
    overdue_total: int | None = None
    for sub in session.exec(stmt.with_for_update()).all():
        if sub.last_digest_at + timedelta(minutes=sub.digest_interval_minutes) > now:
            continue
        new, urgent = _new_since_last_digest(session, sub, now)
        if overdue_total is None:
            overdue_total = sum(sla.overdue_by_assignee(session, settings, now).values())
        staff = auth_repository.get_staff(session, sub.staff_user_id)
        two_person = None
        if staff is not None and staff.role == Role.COORDINATOR.value:
            two_person = approvals.digest_counts(session, settings, sub.last_digest_at,
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
            jobs.enqueue(session, "send_notification", note, dedupe_key=key,
                         settings=settings)
    session.flush()


def _new_since_last_digest(session: Session, sub: NotificationSubscription, now: datetime
                           ) -> tuple[int, int]:
    """New (and urgent) cases not yet reported to ``sub``; remembers today's counts."""
    first = sub.digest_day or sub.last_digest_at.date()
    new, urgent = sla.count_created(session, first)
    if sub.digest_day is not None:
        # Never negative: a case of that day may since have been merged or shredded.
        new = max(0, new - sub.digest_day_new)
        urgent = min(new, max(0, urgent - sub.digest_day_urgent))
    today = now.date()
    sub.digest_day = today
    sub.digest_day_new, sub.digest_day_urgent = sla.count_created(session, today, today)
    return new, urgent


def plan_sla_reminders(session: Session, settings: Settings, now: datetime) -> None:
    overdue = sla.overdue_by_assignee(session, settings, now)
    subs = session.exec(
        select(NotificationSubscription).where(col(NotificationSubscription.active))
    ).all()
    for sub in subs:
        count = overdue.get(sub.staff_user_id, 0)
        if count:
            note = Notification(subscription_id=sub.id, template=NotificationTemplate.SLA,
                                overdue=count)
            jobs.enqueue(session, "send_notification", note,
                         dedupe_key=f"sla:{sub.id}:{now:%Y-%m-%d}", settings=settings)
