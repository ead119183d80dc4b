"""The chainer: requests append unchained entries without any shared lock, and one
chainer at a time numbers and hashes them afterwards (api/audit/service.py)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.chain import GENESIS_HASH, compute_hash
from api.audit.models import AuditEntry
from api.audit.service import (
    BackgroundChainer,
    chain,
    chain_now,
    record,
    record_separately,
    verify_chain,
)
from api.audit.shipping import pending as pending_checkpoint
from api.core.models import utcnow
from tests.conftest import DbUnderTest


def _append_unchained(engine: Engine, *ages: float) -> list[uuid.UUID]:
    """Entries committed but never chained, as a process leaves them that died between
    its commit and its chaining; ``ages`` in seconds before now."""
    now = utcnow()
    rows = [AuditEntry(created_at=now - timedelta(seconds=age), action=actions.CASE_READ,
                       actor_kind="system", case_id=uuid.uuid4(), details=f'{{"n":{i}}}')
            for i, age in enumerate(ages)]
    with Session(engine, expire_on_commit=False) as s:
        s.add_all(rows)
        s.commit()
    return [r.id for r in rows]


def _chain_rows(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEntry).order_by(
            col(AuditEntry.seq).is_(None), col(AuditEntry.seq))).all())


def _verify(engine: Engine, **kwargs: object) -> object:
    with Session(engine) as s:
        return verify_chain(s, **kwargs)  # type: ignore[arg-type]


def test_a_request_transaction_never_touches_the_chain_head(engine: Engine) -> None:
    """Nothing between BEGIN and COMMIT of an audited transaction reads or locks the
    head: the entry goes out unchained, and is chained just after the commit."""
    record_separately(engine, action=actions.CASE_READ, actor_id=None, actor_kind="system")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()).lower())

    committed = threading.Event()
    with Session(engine) as s:
        event.listen(s, "after_commit", lambda _s: committed.set())
        event.listen(engine, "before_cursor_execute", seen)
        try:
            entry = record(s, action=actions.CASE_READ, actor_id=None, actor_kind="system")
            s.flush()
            in_transaction = list(statements)
            s.commit()
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert any(q.startswith("insert into audit_log") for q in in_transaction)
    assert not any("audit_chain_head" in q for q in in_transaction), in_transaction
    assert committed.is_set()
    assert entry.seq == 2 and entry.entry_hash  # chained right after, and shown on the object
    assert _verify(engine).ok  # type: ignore[attr-defined]


def test_concurrent_appends_from_two_connections_do_not_wait(database: DbUnderTest,
                                                             engine: Engine) -> None:
    """Two open audited transactions, and even a chainer holding the head, do not make a
    third commit wait; the skipped entry is chained by the next run."""
    if database.kind != "postgresql":
        pytest.skip("SQLite admits one writer at a time by design: no concurrent appends")
    # The head row exists from the first chained entry on (creating it is the one moment a
    # second chainer waits: for the other's uncommitted insert).
    record_separately(engine, action=actions.LOGIN, actor_id=None, actor_kind="system")
    first = Session(engine)
    holder = Session(engine)
    try:
        record(first, action=actions.CASE_READ, actor_id=None, actor_kind="system")
        first.flush()  # an audited transaction open, its entry written
        assert chain(holder) == []  # another process's chainer holds the head
        started = time.monotonic()
        done = threading.Event()

        def other_request() -> None:
            record_separately(engine, action=actions.CASE_CHANGED, actor_id=None,
                              actor_kind="system")
            done.set()

        worker = threading.Thread(target=other_request)
        worker.start()
        worker.join(timeout=10)
        assert done.is_set() and time.monotonic() - started < 2.0
        assert chain_now(engine, wait=False) is None  # the head is still taken: skip
        first.commit()  # its own chaining skips too
    finally:
        holder.rollback()
        holder.close()
        first.close()
    assert [e.seq for e in _chain_rows(engine)] == [1, None, None]
    chained = chain_now(engine)
    assert chained is not None and [c.seq for c in chained] == [2, 3]
    assert _verify(engine).ok  # type: ignore[attr-defined]


def test_chainer_orders_by_time_and_hashes_as_chain_v1(engine: Engine) -> None:
    ids = _append_unchained(engine, 5.0, 9.0, 1.0, 7.0)  # committed out of time order
    chained = chain_now(engine)
    assert chained is not None and [c.seq for c in chained] == [1, 2, 3, 4]
    rows = _chain_rows(engine)
    assert [r.id for r in rows] == [ids[1], ids[3], ids[0], ids[2]]
    assert rows[0].prev_hash == GENESIS_HASH
    for a, b in itertools.pairwise(rows):
        assert b.prev_hash == a.entry_hash and a.created_at <= b.created_at
    for r in rows:
        assert r.entry_hash == compute_hash(
            seq=r.seq or 0, created_at=r.created_at, action=r.action, actor_kind=r.actor_kind,
            actor_id=r.actor_id, case_id=r.case_id, target=r.target, details=r.details,
            prev_hash=r.prev_hash or "")
    assert chain_now(engine) == []  # nothing left: a second run changes nothing
    result = _verify(engine)
    assert result.ok and result.checked == 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(("statements", "bad_seq", "words"), [
    (["UPDATE audit_log SET case_id = NULL WHERE seq = 2"], 2, "edited"),
    (["DELETE FROM audit_log WHERE seq = 2"], 2, "missing"),
    (["UPDATE audit_log SET seq = -1 WHERE seq = 1", "UPDATE audit_log SET seq = 1 WHERE seq = 3",
      "UPDATE audit_log SET seq = 3 WHERE seq = -1"], 1, "does not follow"),
])
def test_verify_names_tampering_with_entries_the_chainer_chained(
    engine: Engine, statements: list[str], bad_seq: int, words: str,
) -> None:
    _append_unchained(engine, 3.0, 2.0, 1.0)
    chain_now(engine)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    result = _verify(engine, max_unchained_age=60)
    assert not result.ok and result.first_bad_seq == bad_seq  # type: ignore[attr-defined]
    assert words in (result.reason or "")  # type: ignore[attr-defined]


def test_unchained_older_than_the_bound_fails_verify_naming_them(engine: Engine) -> None:
    record_separately(engine, action=actions.CASE_READ, actor_id=None, actor_kind="system")
    stale = _append_unchained(engine, 30.0, 10.0)
    _append_unchained(engine, 0.0)  # just committed: within the bound, not a failure
    result = _verify(engine, max_unchained_age=5)
    assert not result.ok  # type: ignore[attr-defined]
    assert result.first_bad_id == stale[0]  # type: ignore[attr-defined]
    message = result.describe()  # type: ignore[attr-defined]
    assert "unchained" in message and str(stale[0]) in message and str(stale[1]) in message
    assert _verify(engine, max_unchained_age=60).ok  # type: ignore[attr-defined]


def test_a_crash_between_append_and_chain_is_healed_by_the_next_run(engine: Engine) -> None:
    record_separately(engine, action=actions.CASE_READ, actor_id=None, actor_kind="system")
    left = _append_unchained(engine, 20.0, 15.0)
    assert not _verify(engine, max_unchained_age=2).ok  # type: ignore[attr-defined]
    # The next audited commit anywhere chains the whole tail, its own entry last.
    entry = record_separately(engine, action=actions.CASE_CHANGED, actor_id=None,
                              actor_kind="system")
    assert entry.seq == 4
    rows = _chain_rows(engine)
    assert [r.id for r in rows[1:3]] == left and all(r.seq for r in rows)
    assert _verify(engine, max_unchained_age=2).ok  # type: ignore[attr-defined]


def test_background_chainer_takes_a_tail_nobody_commits_after(engine: Engine) -> None:
    ids = _append_unchained(engine, 1.0)
    chainer = BackgroundChainer(engine, 0.05).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _chain_rows(engine)[0].seq is None:
            time.sleep(0.05)
    finally:
        chainer.stop()
    rows = _chain_rows(engine)
    assert [(r.id, r.seq) for r in rows] == [(ids[0], 1)]


def test_checkpoints_and_shipping_cover_chained_entries_only(engine: Engine) -> None:
    entries = [record_separately(engine, action=actions.CASE_READ, actor_id=None,
                                 actor_kind="system") for _ in range(2)]
    _append_unchained(engine, 0.0)
    with Session(engine) as s:
        cp = pending_checkpoint(s, "s3", 100)
    assert cp is not None and (cp.seq, cp.entry_hash) == (2, entries[1].entry_hash)
    assert [seq for seq, _ in cp.hashes] == [1, 2]
