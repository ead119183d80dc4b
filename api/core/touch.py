"""Usage touches: "this session / key was used at T", written at most once per interval.

A touch is bookkeeping, not part of what a request does, so it must never make a request
wait nor make it hold a row lock: written with the request (an ORM change flushed at the
first autoflush), the ``UPDATE`` held the session's or key's row locked until the commit,
and every other request with the same token or key queued behind it for the rest of that
request (41.6 % of partner pull time under load). :func:`touch_if_stale` is instead one
short statement in a transaction of its own, run once the request's transaction has ended
(callers schedule it with ``api.audit.service.after_outcome``):

* conditional: ``WHERE id = :id AND (col IS NULL OR col < :cutoff)``, so of many requests
  in the same interval only the first writes, and the rest change nothing;
* on PostgreSQL the row is taken with ``FOR UPDATE SKIP LOCKED``: a row another
  transaction holds (a concurrent touch, a logout, a revocation) is skipped, never waited
  for; the next request after that one ends touches it instead;
* a failure (SQLite busy past its timeout, a full pool) is logged by type and dropped: a
  touch missed is a minute of precision lost, an error turned into a 5xx would be worse.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Column, Engine, Table, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("dokaz.touch")


def touch_if_stale(
    engine: Engine, table: Table, column: str, row_id: uuid.UUID, now: datetime,
    every: timedelta,
) -> bool:
    """Set ``table.column = now`` on row ``row_id`` if it is NULL or older than
    ``now - every``, without waiting on a lock; True when a row was changed."""
    id_col: Column[uuid.UUID] = table.c.id
    stamp: Column[datetime] = table.c[column]
    stale = (id_col == row_id) & or_(stamp.is_(None), stamp < now - every)
    if engine.dialect.name == "postgresql":
        # The UPDATE may only take the row the sub-select locked (or none): SKIP LOCKED
        # makes "someone holds it" mean "not now" instead of "wait".
        target = select(id_col).where(stale).with_for_update(skip_locked=True).scalar_subquery()
        stmt = update(table).where(id_col == target).values({column: now})
    else:
        # SQLite admits one writer at a time anyway; this is its own short transaction,
        # run after the request's has ended, so it never waits for the request's own lock.
        stmt = update(table).where(stale).values({column: now})
    try:
        with engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)
    except SQLAlchemyError as exc:
        log.warning("usage touch skipped", extra={"error_type": type(exc).__name__,
                                                  "table": table.name})
        return False
