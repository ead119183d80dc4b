"""Appending to and checking the hash-chained audit log (format: api/audit/chain.py).

``record`` appends inside the caller's transaction, so an audited read and its entry
commit or roll back together. The entry is written *unchained* (``seq``, ``prev_hash``
and ``entry_hash`` null) and the request's transaction takes no shared lock for it: every
audited request used to lock the one chain-head row until its commit, and under load staff
requests queued behind CPU-starved public ones for seconds.

One chainer at a time (:func:`chain`) numbers the unchained entries in order of
``created_at`` then ``id``, hashes them exactly as before and moves the head. It holds
the head row while it does (``SELECT ... FOR UPDATE``; SQLite's one writer at a time does
the same), and it runs:

* right after each commit that appended entries, without waiting: when another process is
  chaining (``SKIP LOCKED`` finds the head taken) this one skips, since that chainer or
  the next takes our entries too. After ``audit_chain_max_pending`` skips in a row a
  process waits for its turn once, so a burst cannot grow the tail without bound;
* periodically in every API process on PostgreSQL (:class:`BackgroundChainer`, every half
  of ``audit_chain_max_age_seconds``) and from the worker, so entries left by a process
  that crashed between its commit and its chaining are chained soon after.

Tamper evidence of chained entries is unchanged: one gapless sequence with the same
hashes, checkpoints and shipped copies over chained entries only. An entry still
unchained could be edited or removed unnoticed, so that window is bounded: verification
fails naming every entry unchained for longer than ``audit_chain_max_age_seconds``.

Entries that must survive a rolled-back request (failed logins, refused receipts) use
``record_always`` (written in a separate transaction after the request's transaction
ends, whichever way) or ``record_separately`` (a separate transaction right now; never
call it while this thread holds an open write transaction on SQLite: it would wait for
its own lock). Deferred work is tried again after a transient database error (a lock
timeout, SQLite busy, a serialization failure, a full pool), with growing pauses, and
logged only if it finally fails (:func:`with_retries`): an entry lost under a burst of
failed sign-ins is an attack unrecorded.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import Engine, bindparam, event, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import attributes
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
_COMMITTED = "dokaz_audit_committed"
# Longest an entry may stay unchained before verification fails (settings override it).
DEFAULT_MAX_AGE_SECONDS = 2.0


class AuditChainError(DokazError):
    status_code = 503
    code = "audit_unavailable"
    default_message = (
        "The audit log cannot be written, so this action was refused. An administrator "
        "should run `dokaz audit verify`."
    )


def _lock_head(session: Session, *, wait: bool = True) -> AuditChainHead | None:
    """Lock the head row for the rest of the transaction (creating it the first time).

    With ``wait=False`` return None at once when another transaction holds it (PostgreSQL
    ``SKIP LOCKED``; on SQLite this transaction already is the only writer)."""
    stmt = (
        select(AuditChainHead)
        .where(col(AuditChainHead.id) == HEAD_ID)
        .with_for_update(skip_locked=not wait)
        .execution_options(populate_existing=True)
    )
    head: AuditChainHead | None = session.execute(stmt).scalar_one_or_none()
    if head is None:
        present = session.execute(
            select(col(AuditChainHead.id)).where(col(AuditChainHead.id) == HEAD_ID)
        ).scalar_one_or_none()
        if present is not None:
            return None  # taken by another chainer (only reachable with wait=False)
        table = AuditChainHead.__table__  # type: ignore[attr-defined]
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        values = {"id": HEAD_ID, "seq": 0, "entry_hash": GENESIS_HASH}
        session.execute(dialect.insert(table).values(**values)
                        .on_conflict_do_nothing(index_elements=["id"]))
        head = session.execute(stmt).scalar_one_or_none()
        if head is None:
            return None
    if head.seq == 0 and session.execute(
        select(exists().where(col(AuditEntry.seq).is_not(None)))
    ).scalar():
        # The head row was deleted while chained entries remain: starting a second chain
        # would hide that. Refuse until someone looks.
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
    """Append one entry in the caller's transaction, unchained (``seq`` is None): it
    commits or vanishes with the transaction, and is chained right after the commit."""
    if actor_kind not in actions.ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {actor_kind!r}")
    if target is not None and len(target) > 128:
        raise ValueError("audit target too long: it must be an id or a name")
    entry = AuditEntry(
        created_at=now or utcnow(), action=action, actor_kind=actor_kind,
        actor_id=actor_id, case_id=case_id, target=target,
        details=canonical_details(details),
    )
    _begin(session)
    session.add(entry)
    info = session.info
    pending: list[AuditEntry] | None = info.get(_PENDING)
    if pending is None:
        pending = info[_PENDING] = []
        event.listen(session, "after_commit", _mark_committed)
    if not pending:
        # The first entry of this transaction: chain once it has ended, if it committed.
        after_outcome(session, functools.partial(_chain_after_commit, info))
    pending.append(entry)
    return entry


def _begin(session: Session) -> None:
    """Make sure ``session`` is in a transaction, so its end (commit or rollback) fires the
    hooks that chain or forget the pending entries and run the after-outcome work."""
    if not session.in_transaction():
        session.connection()


def _mark_committed(session: Session) -> None:
    session.info[_COMMITTED] = True


@dataclass(frozen=True)
class Chained:
    id: uuid.UUID
    seq: int
    prev_hash: str
    entry_hash: str


def chain(session: Session, *, wait: bool = True, batch: int = 500,
          max_rounds: int = 20) -> list[Chained] | None:
    """Number and hash the unchained entries (oldest first) in ``session``'s transaction.

    Holds the head until that transaction ends. Returns what it chained, or None when
    ``wait`` is False and another chainer holds the head. It reads again after each batch
    (up to ``max_rounds``), so entries committed meanwhile by processes that skipped
    because of us are taken too.
    """
    head = _lock_head(session, wait=wait)
    if head is None:
        return None
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    done: list[Chained] = []
    seq, prev = head.seq, head.entry_hash
    for _ in range(max_rounds):
        # ``seq IS NULL`` is answered by the unique index on seq (NULLs are indexed).
        rows = session.execute(
            select(table).where(table.c.seq.is_(None))
            .order_by(table.c.created_at, table.c.id).limit(batch)
        ).all()
        if not rows:
            break
        params = []
        for row in rows:
            seq += 1
            digest = compute_hash(
                seq=seq, created_at=row.created_at, action=row.action,
                actor_kind=row.actor_kind, actor_id=row.actor_id, case_id=row.case_id,
                target=row.target, details=row.details, prev_hash=prev)
            params.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            done.append(Chained(row.id, seq, prev, digest))
            prev = digest
        session.execute(
            update(table).where(table.c.id == bindparam("b_id"), table.c.seq.is_(None))
            .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"),
                    entry_hash=bindparam("b_hash")),
            params,
        )
    if done:
        head.seq, head.entry_hash = seq, prev
        session.add(head)
        session.flush()
        _show(session, done)
    return done


def _show(session: Session, done: Iterable[Chained]) -> None:
    """Give entry objects loaded in ``session`` their chain fields (no SQL, not dirty)."""
    for item in done:
        obj = session.identity_map.get(session.identity_key(AuditEntry, item.id))
        if obj is not None:
            _set_chained(obj, item)


def _set_chained(obj: AuditEntry, item: Chained) -> None:
    attributes.set_committed_value(obj, "seq", item.seq)
    attributes.set_committed_value(obj, "prev_hash", item.prev_hash)
    attributes.set_committed_value(obj, "entry_hash", item.entry_hash)


class _SkipCounter:
    """Commits of this process that skipped chaining since it last chained."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.skipped = 0
        self.max_pending = 200

    def should_wait(self) -> bool:
        with self.lock:
            return self.skipped >= self.max_pending

    def update(self, chained: bool) -> None:
        with self.lock:
            self.skipped = 0 if chained else self.skipped + 1


_skips = _SkipCounter()


def configure(*, max_pending: int) -> None:
    """Set the process-wide bound on skipped chainings (from the settings)."""
    _skips.max_pending = max_pending


def chain_now(engine: Engine, *, wait: bool = False) -> list[Chained] | None:
    """One chainer run in a transaction of its own (None: another chainer was busy)."""
    with unit_of_work(engine) as session:
        return chain(session, wait=wait)


def _chain_after_commit(info: dict[str, Any], engine: Engine) -> None:
    pending: list[AuditEntry] = list(info.get(_PENDING) or [])
    (info.get(_PENDING) or []).clear()
    if not info.pop(_COMMITTED, False) or not pending:
        return  # rolled back: the entries went with the transaction
    try:
        done = chain_now(engine, wait=_skips.should_wait())
    except Exception as exc:
        # Not the request's failure: its entries are committed, and the periodic chainer
        # takes them. No message text: it may quote the statement.
        log.warning("audit chaining deferred", extra={"error_type": type(exc).__name__})
        return
    _skips.update(done is not None)
    if done:
        by_id = {item.id: item for item in done}
        for entry in pending:
            item = by_id.get(entry.id)
            if item is not None:
                _set_chained(entry, item)


class BackgroundChainer:
    """Runs :func:`chain_now` every ``interval`` seconds in a daemon thread, so entries
    whose process died between commit and chaining (or skipped) do not wait for the next
    audited commit. One per engine per process; :meth:`stop` ends it."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine, self.interval = engine, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-chainer", daemon=True)

    def start(self) -> BackgroundChainer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                chain_now(self.engine, wait=False)
            except Exception as exc:
                log.warning("periodic audit chaining failed",
                            extra={"error_type": type(exc).__name__})


_background: dict[int, tuple[BackgroundChainer, int]] = {}
_background_lock = threading.Lock()


def acquire_background_chainer(engine: Engine, max_age_seconds: float, max_pending: int
                               ) -> None:
    """Start the periodic chainer of ``engine`` in this process, once however many apps
    share the engine; each call needs a :func:`release_background_chainer`.

    Only on PostgreSQL: with SQLite a single process writes, its commits chain in the
    same breath and never skip, so there is no tail to catch up on but a crash's, which
    the next audited commit or the worker's job takes."""
    configure(max_pending=max_pending)
    if engine.dialect.name != "postgresql":
        return
    with _background_lock:
        chainer, users = _background.get(id(engine), (None, 0))
        if chainer is None:
            chainer = BackgroundChainer(engine, max_age_seconds / 2).start()
        _background[id(engine)] = (chainer, users + 1)


def release_background_chainer(engine: Engine) -> None:
    with _background_lock:
        chainer, users = _background.get(id(engine), (None, 0))
        if chainer is None:
            return
        if users > 1:
            _background[id(engine)] = (chainer, users - 1)
            return
        del _background[id(engine)]
    chainer.stop()


def chain_job(session: Session) -> None:
    """The worker's periodic backstop (workers/jobs/audit_chain.py)."""
    chain(session, wait=False)


def chain_pending(session: Session) -> None:
    """Chain every unchained entry now, this transaction's own included (waiting for the
    head, which it then holds until the commit). For code that reads the chain back."""
    chain(session, wait=True)


def entry_hash(entry: Any) -> str:
    """The hash a chained entry (an AuditEntry or a row) must carry."""
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
        where = (f"entry #{self.first_bad_seq}" if self.first_bad_seq is not None
                 else "unchained entries" if self.first_bad_id else "log")
        ident = f" (id {self.first_bad_id})" if self.first_bad_id else ""
        return f"audit log BROKEN at {where}{ident}: {self.reason}"


STORED = "a checkpoint stored in the database"


def verify_chain(
    session: Session,
    *,
    expect: tuple[int, str] | None = None,
    anchors: Iterable[Anchor] = (),
    batch: int = 1000,
    max_unchained_age: float = DEFAULT_MAX_AGE_SECONDS,
    now: datetime | None = None,
) -> VerifyResult:
    """Walk the whole chain and report the first entry that breaks it.

    ``expect`` and ``anchors`` are (seq, hash) pairs kept off the server (see
    api/audit/shipping.py); checkpoints stored in the database are checked too, but only
    the off-server ones survive a forger who holds the database.
    """
    # Entries unchained for longer than the bound first: until chained they could be
    # edited or removed unnoticed, so a chainer that stopped running is a failure too.
    stale = _stale_unchained(session, max_unchained_age, now)
    # Then hold the head, so no chainer moves the chain while it is walked.
    _lock_head(session, wait=True)
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
    if stale:
        ids = ", ".join(str(i) for i in stale[:STALE_NAMED])
        more = " and more" if len(stale) > STALE_NAMED else ""
        return VerifyResult(
            False, checked, last_seq, prev, None, stale[0],
            f"entries have stayed unchained for more than {max_unchained_age:g} s (is a "
            f"chainer running?), so nothing shows whether they were edited: ids {ids}{more}",
        )
    return VerifyResult(True, checked, last_seq, prev, anchors_matched=matched)


STALE_NAMED = 20


def _stale_unchained(session: Session, max_age: float, now: datetime | None
                     ) -> list[uuid.UUID]:
    """Ids of entries still unchained and created more than ``max_age`` seconds ago."""
    limit = (now or utcnow()) - timedelta(seconds=max_age)
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    return [row.id for row in session.execute(
        select(table.c.id).where(table.c.seq.is_(None), table.c.created_at < limit)
        .order_by(table.c.created_at, table.c.id).limit(STALE_NAMED + 1)
    )]


def _check_row(row: Any, prev: str) -> str | None:
    if row.prev_hash != prev:
        return (f"does not follow entry #{row.seq - 1}: its previous-hash differs "
                "(entries reordered, inserted or replaced)")
    if entry_hash(row) != row.entry_hash:
        return "its contents do not match its hash (edited)"
    return None


def checkpoint(session: Session) -> AuditCheckpoint:
    """Store the current head as a checkpoint (call periodically; also copy it off-site)."""
    chain(session, wait=True)
    head = _lock_head(session)
    assert head is not None  # waited for it
    cp = AuditCheckpoint(seq=head.seq, entry_hash=head.entry_hash)
    session.add(cp)
    session.flush()
    return cp
