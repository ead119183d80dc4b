"""Queries on the audit log that other features ask (it is written by api.audit.service)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, func, select

from api.audit.models import AuditEntry


def audited_since(session: Session, actions: Sequence[str], since: datetime) -> dict[str, int]:
    """How many audit entries of each of ``actions`` were written after ``since``."""
    stmt = (
        select(AuditEntry.action, func.count())
        .where(col(AuditEntry.action).in_(actions), col(AuditEntry.created_at) > since)
        .group_by(col(AuditEntry.action))
    )
    return {action: int(n) for action, n in session.exec(stmt).all()}
