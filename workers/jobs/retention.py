"""Retention by workflow state: crypto-shred cases that stayed in a state long enough.

Policy (settings, days after the case entered the state; None keeps for ever):
``retention_days_spam``, ``retention_days_rejected``, ``retention_days_closed``.
``plan_retention`` (hourly) enqueues one ``shred_case`` per eligible case, deduplicated
by case and state entry time. ``shred_case`` checks the policy again inside its own
transaction (the case may have been reopened meanwhile), shreds, and records
``case.shredded`` in the audit log, in the same transaction. A case whose key still seals
a thread that lives in another case (split out of it) is kept: shredding its key would
destroy that other case's thread (threat model property 11 moves threads, never re-seals).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

import api.models  # noqa: F401  (every table, so the shredding plan covers the whole schema)
from api.audit import actions
from api.audit.service import record
from api.cases import shredding
from api.cases.models import Case
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from api.jobs.kinds import CaseRef, Empty
from workers.context import JobContext
from workers.registry import JobSpec, register


def policy(settings: Settings) -> dict[str, int]:
    """State -> days; states without a policy are kept."""
    days = {"spam": settings.retention_days_spam, "rejected": settings.retention_days_rejected,
            "closed": settings.retention_days_closed}
    return {state: d for state, d in days.items() if d is not None}


def eligible(case: Case, settings: Settings, now: datetime) -> bool:
    days = policy(settings).get(case.state)
    return (case.shredded_at is None and days is not None
            and case.state_changed_at <= now - timedelta(days=days))


def due_cases(session: Session, settings: Settings, now: datetime) -> list[Case]:
    found: list[Case] = []
    for state, days in policy(settings).items():
        stmt = select(Case).where(
            col(Case.state) == state,
            col(Case.shredded_at).is_(None),
            col(Case.state_changed_at) <= now - timedelta(days=days),
        )
        found.extend(c for c in session.exec(stmt).all()
                     if not shredding.key_seals_elsewhere(session, c.id))
    return found


def plan_retention(ctx: JobContext, payload: Empty) -> None:
    for case in due_cases(ctx.session, ctx.settings, utcnow()):
        key = f"shred_case:{case.id}:{int(case.state_changed_at.timestamp())}"
        service.enqueue(ctx.session, "shred_case", CaseRef(case_id=case.id), dedupe_key=key,
                        settings=ctx.settings)


def shred_case(ctx: JobContext, payload: CaseRef) -> None:
    session = ctx.session
    case = session.exec(select(Case).where(Case.id == payload.case_id).with_for_update()).first()
    if case is None or not eligible(case, ctx.settings, utcnow()):
        return  # already shredded, reopened, or deleted: nothing to do (idempotent)
    if shredding.key_seals_elsewhere(session, case.id):
        return  # a thread split out of it still needs its key; kept until that case goes
    state = case.state
    counts = shredding.shred_case(session, ctx.storage, case.id)
    record(session, action=actions.CASE_SHREDDED, actor_id=None, actor_kind="system",
           case_id=case.id, details={"reason": "retention", "state": state,
                                     "wraps": counts.get("case_key_wrap", 0),
                                     "blobs": counts.get("blobs", 0)})


register(JobSpec(kind="plan_retention", run=plan_retention, every=lambda s: timedelta(hours=1)))
register(JobSpec(kind="shred_case", run=shred_case))
