"""Appending to and checking the hash-chained audit log (format: api/audit/chain.py).

``record`` appends inside the caller's transaction, so an audited read and its entry
commit or roll back together. The entry is held on the session and chained only as the
last statement before the transaction commits (:func:`_chain_pending`, a ``before_commit``
hook): the transaction's other writes are flushed, then the single chain-head row is
locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
admits one writer at a time), the entries get the next numbers and hashes, and the commit
releases the lock. So concurrent audited requests wait
for each other only for the length of a commit, never for the rest of a request (its
queries, its rendering, a slow client): holding the head from the first ``record`` to the
commit made every case read and partner pull queue behind every other for seconds under
load. Tamper evidence is unchanged: the chain is still one gapless sequence, built under
the same lock, and there is never an unchained tail to cover.

Code that reads the log inside the transaction that wrote to it calls
:func:`chain_pending` first (the verifier and checkpoints do).

Entries that must survive a rolled-back request (failed logins, refused receipts) use
``record_always`` (written in a separate transaction after the request's transaction
ends, whichever way) or ``record_separately`` (a separate transaction right now; never
call it while this thread holds an open write transaction on SQLite: it would wait for
its own lock). Deferred work is tried again after a transient database error (a lock
timeout, SQLite busy, a serialization failure, a full pool), with growing pauses, and
logged only if it finally fails (:func:`with_retries`): under a burst of failed sign-ins
the chain-head lock is contended, and an entry lost then is an attack unrecorded.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import Engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col

from api.audit import actions
from api.audit.chain import GENESIS_HASH, DetailValue, canonical_details, compute_hash
from api.audit.models import AuditChainHead, AuditCheckpoint, AuditEntry
from api.audit.shipping import Anchor
from api.core.db import unit_of_work
from api.core.errors import DokazError, ServiceUnavailable
from api.core.models import utcnow

log = logging.getLogger("dokaz.audit")

HEAD_ID = 1
_AFTER_OUTCOME = "dokaz_after_outcome"
_PENDING = "dokaz_audit_pending"


class AuditChainError(DokazError):
    status_code = 503
    code = "audit_unavailable"
    default_message = (
        "The audit log cannot be written, so this action was refused. An administrator "
        "should run `dokaz audit verify`."
    )


def _lock_head(session: Session) -> AuditChainHead:
    """Lock the head row for the rest of the transaction (creating it the first time).

    One statement when the row exists, which is always but once: under contention every
    round trip made while holding the lock is waited for by every other audited request."""
    stmt = (
        select(AuditChainHead)
        .where(col(AuditChainHead.id) == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head: AuditChainHead | None = session.execute(stmt).scalar_one_or_none()
    if head is None:
        table = AuditChainHead.__table__  # type: ignore[attr-defined]
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        values = {"id": HEAD_ID, "seq": 0, "entry_hash": GENESIS_HASH}
        session.execute(dialect.insert(table).values(**values)
                        .on_conflict_do_nothing(index_elements=["id"]))
        head = session.execute(stmt).scalar_one()
    if head.seq == 0 and session.execute(select(func.count()).select_from(AuditEntry)).scalar():
        # The head row was deleted while entries remain: starting a second chain would
        # hide that. Refuse until someone looks.
        log.error("audit chain head missing while entries exist")
        raise AuditChainError()
    return head


def record(
    session: Session,
    *,
    action: str,
    actor_id: uuid.UUID | None,
    actor_kind: str = "staff",
    case_id: uuid.UUID | None = None,
    target: str | None = None,
    details: Mapping[str, DetailValue] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction: it is numbered, hashed and written
    when the transaction commits (its ``seq`` is 0 until then), and vanishes with it if
    the transaction rolls back."""
    if actor_kind not in actions.ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {actor_kind!r}")
    if target is not None and len(target) > 128:
        raise ValueError("audit target too long: it must be an id or a name")
    entry = AuditEntry(
        seq=0, created_at=now or utcnow(), action=action, actor_kind=actor_kind,
        actor_id=actor_id, case_id=case_id, target=target,
        details=canonical_details(details), prev_hash="", entry_hash="",
    )
    _begin(session)
    pending: list[AuditEntry] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "before_commit", _chain_on_commit)
        event.listen(session, "after_transaction_end", _forget_on_end)
    pending.append(entry)
    return entry


def _begin(session: Session) -> None:
    """Make sure ``session`` is in a transaction, so its end (commit or rollback) fires the
    hooks that chain or forget the pending entries and run the after-outcome work."""
    if not session.in_transaction():
        session.connection()


def chain_pending(session: Session) -> None:
    """Chain and flush this transaction's pending entries now (and so take the head until
    the commit). Only for code that must read them back before committing."""
    pending: list[AuditEntry] = session.info.get(_PENDING) or []
    if not pending:
        return
    # Everything else this transaction writes goes out first, before the head is taken:
    # the commit's own flush would otherwise send it (a report's case, submission, files,
    # persons, acts and consents: dozens of statements) while every other audited request,
    # staff ones included, waits for the head.
    session.flush()
    head = _lock_head(session)
    for entry in pending:
        entry.seq = head.seq + 1
        entry.prev_hash = head.entry_hash
        entry.entry_hash = entry_hash(entry)
        session.add(entry)
        head.seq, head.entry_hash = entry.seq, entry.entry_hash
    pending.clear()
    session.flush()


def _chain_on_commit(session: Session) -> None:
    chain_pending(session)


def _forget_on_end(session: Session, transaction: Any) -> None:
    # A rolled-back transaction takes its entries with it; a committed one chained them.
    if transaction.parent is None:
        pending: list[AuditEntry] | None = session.info.get(_PENDING)
        if pending:
            pending.clear()


def entry_hash(entry: AuditEntry | Any) -> str:
    return compute_hash(
        seq=entry.seq, created_at=entry.created_at, action=entry.action,
        actor_kind=entry.actor_kind, actor_id=entry.actor_id, case_id=entry.case_id,
        target=entry.target, details=entry.details, prev_hash=entry.prev_hash,
    )


def record_separately(engine: Engine, **kwargs: Any) -> AuditEntry:
    """Append in a transaction of its own, committed now."""
    with unit_of_work(engine) as session:
        return record(session, **kwargs)


def after_outcome(session: Session, work: Callable[[Engine], None]) -> None:
    """Run ``work(engine)`` once this session's transaction has ended, committed or not.

    It runs in its own transaction(s) after the DBAPI commit or rollback, so it neither
    joins the caller's fate nor waits for the caller's SQLite write lock. ``work`` must
    capture plain values, never ORM objects of ``session``: touching an expired object
    would reopen a transaction on ``session`` (and on SQLite wait for our own lock).
    """
    _begin(session)
    pending: list[Callable[[Engine], None]] | None = session.info.get(_AFTER_OUTCOME)
    if pending is None:
        pending = []
        session.info[_AFTER_OUTCOME] = pending
        event.listen(session, "after_transaction_end", _drain)
    pending.append(work)


def _drain(session: Session, transaction: Any) -> None:
    if transaction.parent is not None:
        return  # a savepoint or nested transaction: wait for the outermost one
    pending: list[Callable[[Engine], None]] = session.info.get(_AFTER_OUTCOME) or []
    if not pending:
        return
    work_items = list(pending)
    pending.clear()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    for work in work_items:
        # The caller's outcome is already decided; what it left for afterwards (a failed
        # sign-in's entry, a refused receipt's) must not be lost to a busy moment.
        with_retries(functools.partial(work, engine))


# Waits between tries of deferred work that met a transient database error: about 6 s
# in all, longer than any lock a short transaction holds (SQLite's busy timeout applies
# within each try too).
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may succeed: a lock timeout, SQLite busy, a serialization
    failure or deadlock (all OperationalError in our drivers), a full connection pool, a
    dropped connection (``unit_of_work`` turns these into a 503 for requests)."""
    if isinstance(exc, ServiceUnavailable):
        exc = exc.__context__ or exc
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _gave_up(exc: BaseException, tries: int) -> None:
    # No usernames, details or messages: an exception's text may quote the statement.
    log.error("deferred audit work failed",
              extra={"error_type": type(exc).__name__, "tries": tries})


def with_retries(work: Callable[[], object]) -> bool:
    """Run ``work`` (one transaction of its own), again after a transient database error
    with growing pauses; log once if it finally fails. True when it succeeded."""
    for tries, pause in enumerate((*RETRY_DELAYS, None), start=1):
        try:
            work()
            return True
        except Exception as exc:
            if pause is None or not is_transient(exc):
                _gave_up(exc, tries)
                return False
            time.sleep(pause)
    return False  # not reached: the last pause is None


async def with_retries_async(work: Callable[[], object]) -> bool:
    """:func:`with_retries` for async callers: each try in a worker thread, the pauses in
    the event loop (a pool thread never sleeps waiting for the database)."""
    for tries, pause in enumerate((*RETRY_DELAYS, None), start=1):
        try:
            await anyio.to_thread.run_sync(work)
            return True
        except Exception as exc:
            if pause is None or not is_transient(exc):
                _gave_up(exc, tries)
                return False
            await anyio.sleep(pause)
    return False


def record_always(session: Session, **kwargs: Any) -> None:
    """Append once the caller's transaction ends, even if it rolls back (failed logins)."""
    canonical_details(kwargs.get("details"))  # fail now, in the caller, on bad details

    def work(engine: Engine) -> None:
        record_separately(engine, **kwargs)

    after_outcome(session, work)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    first_bad_id: uuid.UUID | None = None
    reason: str | None = None
    # Checkpoints kept off the server (shipped, mailed, --expect) that matched.
    anchors_matched: int = 0

    def describe(self) -> str:
        if self.ok:
            return (f"audit log OK: {self.checked} entries, head #{self.head_seq} "
                    f"{self.head_hash}; {self.anchors_matched} off-server checkpoint "
                    f"line(s) match")
        where = f"entry #{self.first_bad_seq}" if self.first_bad_seq is not None else "log"
        ident = f" (id {self.first_bad_id})" if self.first_bad_id else ""
        return f"audit log BROKEN at {where}{ident}: {self.reason}"


STORED = "a checkpoint stored in the database"


def verify_chain(
    session: Session,
    *,
    expect: tuple[int, str] | None = None,
    anchors: Iterable[Anchor] = (),
    batch: int = 1000,
) -> VerifyResult:
    """Walk the whole chain and report the first entry that breaks it.

    ``expect`` and ``anchors`` are (seq, hash) pairs kept off the server (see
    api/audit/shipping.py); checkpoints stored in the database are checked too, but only
    the off-server ones survive a forger who holds the database.
    """
    chain_pending(session)
    wanted: dict[int, list[Anchor]] = {}
    for cp in session.execute(select(AuditCheckpoint)).scalars():
        wanted.setdefault(cp.seq, []).append(Anchor(cp.seq, cp.entry_hash, STORED))
    if expect is not None:
        wanted.setdefault(expect[0], []).append(Anchor(expect[0], expect[1], "--expect"))
    for anchor in anchors:
        wanted.setdefault(anchor.seq, []).append(anchor)
    matched = 0

    # A checkpoint of the empty log (#0) names the genesis hash; anything else there is forged.
    for anchor in wanted.pop(0, []):
        if anchor.entry_hash.lower() != GENESIS_HASH:
            return VerifyResult(False, 0, 0, GENESIS_HASH, 0, None,
                                f"a checkpoint of the empty log ({anchor.where}) does not "
                                "name the genesis hash")
        matched += anchor.source != STORED

    table = AuditEntry.__table__  # type: ignore[attr-defined]
    expected_seq, prev, checked = 1, GENESIS_HASH, 0
    last_seq = 0
    while True:
        # Keyset pages keep memory flat on a long log.
        rows = session.execute(
            select(table).where(table.c.seq >= expected_seq).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return VerifyResult(
                    False, checked, last_seq, prev, expected_seq, None,
                    f"entry #{expected_seq} is missing (deleted?); the next entry present "
                    f"is #{row.seq} (id {row.id})",
                )
            bad = _check_row(row, prev)
            if bad is not None:
                return VerifyResult(False, checked, last_seq, prev, row.seq, row.id, bad)
            for anchor in wanted.pop(row.seq, []):
                if anchor.entry_hash.lower() != row.entry_hash:
                    return VerifyResult(
                        False, checked, last_seq, prev, row.seq, row.id,
                        f"does not match the checkpoint from {anchor.where}: the chain was "
                        "rewritten from here on (entries deleted, inserted or edited)",
                    )
                matched += anchor.source != STORED
            prev, last_seq, expected_seq = row.entry_hash, row.seq, row.seq + 1
            checked += 1
    head = session.get(AuditChainHead, HEAD_ID)
    if wanted:
        seq = min(wanted)
        return VerifyResult(
            False, checked, last_seq, prev, seq, None,
            f"the checkpoint from {wanted[seq][0].where} names entry #{seq} but the log ends at "
            f"#{last_seq}: the log was truncated below a checkpoint (entries removed)",
        )
    if head is not None and (head.seq, head.entry_hash) != (last_seq, prev):
        if head.seq > last_seq:
            reason = (f"the chain head says the last entry is #{head.seq} but the log ends "
                      f"at #{last_seq}: entries were removed from the end")
            return VerifyResult(False, checked, last_seq, prev, last_seq + 1, None, reason)
        return VerifyResult(
            False, checked, last_seq, prev, head.seq, None,
            "the chain head does not match the last entry (head or tail edited)",
        )
    if head is None and last_seq:
        return VerifyResult(False, checked, last_seq, prev, None, None,
                            "the chain head row is missing")
    return VerifyResult(True, checked, last_seq, prev, anchors_matched=matched)


def _check_row(row: Any, prev: str) -> str | None:
    if row.prev_hash != prev:
        return (f"does not follow entry #{row.seq - 1}: its previous-hash differs "
                "(entries reordered, inserted or replaced)")
    if entry_hash(row) != row.entry_hash:
        return "its contents do not match its hash (edited)"
    return None


def checkpoint(session: Session) -> AuditCheckpoint:
    """Store the current head as a checkpoint (call periodically; also copy it off-site)."""
    chain_pending(session)
    head = _lock_head(session)
    cp = AuditCheckpoint(seq=head.seq, entry_hash=head.entry_hash)
    session.add(cp)
    session.flush()
    return cp
