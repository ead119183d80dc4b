"""Blob deletions tied to the outcome of a database transaction.

Blobs are written before the database commit (an acknowledged receipt must point at
complete objects). :func:`delete_on_rollback` registers a new blob with the session:
if the session's outermost transaction rolls back (an error, a failed commit, a client
that went away) the blob is deleted at once; if it commits, the registration is
dropped. :func:`delete_after_commit` is the mirror image for blobs that a committed
transaction stops referencing (e.g. the parts of a deleted tus upload). A hard crash
skips both hooks; :func:`api.storage.sweep.sweep_orphans` then deletes the blob later
because no committed row names it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from api.storage.base import BlobStorage

log = logging.getLogger("dokaz.storage")
_ROLLBACK = "dokaz_blobs_on_rollback"
_COMMIT = "dokaz_blobs_after_commit"

Pending = list[tuple[BlobStorage, str]]


def _lists(session: Session) -> tuple[Pending, Pending]:
    if _ROLLBACK not in session.info:
        session.info[_ROLLBACK] = []
        session.info[_COMMIT] = []
    return session.info[_ROLLBACK], session.info[_COMMIT]


def _registered(session: Session) -> tuple[Pending, Pending] | None:
    if _ROLLBACK not in session.info:
        return None  # nothing was ever registered with this session
    return session.info[_ROLLBACK], session.info[_COMMIT]


def _delete_all(pending: Pending) -> None:
    while pending:
        storage, name = pending.pop()
        try:
            storage.delete(name)
        except Exception as exc:  # the orphan sweep gets it later
            log.warning("could not delete a blob", extra={"error_type": type(exc).__name__})


# Listened to on every session (registering on each session that wrote a blob cost more
# than the rest of a small upload's bookkeeping); a session that registered nothing
# returns at once.
@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    lists = _registered(session)
    if lists is None:
        return
    on_rollback, after_commit = lists
    on_rollback.clear()
    _delete_all(after_commit)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction is not None and previous_transaction.parent is not None:
        return  # a savepoint; the outer transaction may still commit
    lists = _registered(session)
    if lists is None:
        return
    on_rollback, after_commit = lists
    after_commit.clear()
    _delete_all(on_rollback)


def delete_on_rollback(session: Session, storage: BlobStorage, name: str) -> None:
    """Delete ``name`` if this session's transaction does not commit."""
    _lists(session)[0].append((storage, name))


def delete_after_commit(session: Session, storage: BlobStorage, name: str) -> None:
    """Delete ``name`` once this session's transaction has committed."""
    _lists(session)[1].append((storage, name))
