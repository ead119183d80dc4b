"""The audit chain: appends, concurrent writers, and tampering that verify must catch."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.audit.service import (
    checkpoint,
    entry_hash,
    record,
    record_always,
    record_separately,
    verify_chain,
)
from api.auth.roles import Role
from tests.factories import create_staff, login_headers


def _fill(engine: Engine, n: int = 6) -> list[AuditEntry]:
    case = uuid.uuid4()
    return [record_separately(engine, action=actions.CASE_READ, actor_id=uuid.uuid4(),
                              case_id=case, details={"fields": "narrative", "n": i})
            for i in range(n)]


def _verify(engine: Engine, **kwargs: object) -> object:
    with Session(engine) as s:
        return verify_chain(s, **kwargs)  # type: ignore[arg-type]


def _sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_chain_appends_and_verifies(engine: Engine) -> None:
    entries = _fill(engine)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    result = _verify(engine)
    assert result.ok and result.checked == 6 and result.head_seq == 6  # type: ignore[attr-defined]


TAMPERING = {
    "edit action": (["UPDATE audit_log SET action = 'auth.login' WHERE seq = 3"], 3, "edited"),
    "edit details": (["UPDATE audit_log SET details = '{}' WHERE seq = 4"], 4, "edited"),
    "edit actor": (["UPDATE audit_log SET actor_id = NULL WHERE seq = 2"], 2, "edited"),
    "edit stored hash": (["UPDATE audit_log SET entry_hash = '" + "a" * 64 + "' WHERE seq = 2"],
                         2, "edited"),
    "edit prev hash": (["UPDATE audit_log SET prev_hash = '" + "b" * 64 + "' WHERE seq = 5"], 5,
                       "does not follow"),
    "delete middle": (["DELETE FROM audit_log WHERE seq = 3"], 3, "missing"),
    "delete first": (["DELETE FROM audit_log WHERE seq = 1"], 1, "missing"),
    "delete tail": (["DELETE FROM audit_log WHERE seq >= 5"], 5, "removed from the end"),
    "reorder": (["UPDATE audit_log SET seq = -1 WHERE seq = 2",
                 "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                 "UPDATE audit_log SET seq = 3 WHERE seq = -1"], 2, ""),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected_and_named(engine: Engine, case: str) -> None:
    entries = _fill(engine)
    statements, bad_seq, words = TAMPERING[case]
    _sql(engine, *statements)
    result = _verify(engine)
    assert not result.ok  # type: ignore[attr-defined]
    assert result.first_bad_seq == bad_seq, result.describe()  # type: ignore[attr-defined]
    assert words in (result.reason or "")  # type: ignore[attr-defined]
    assert f"entry #{bad_seq}" in result.describe()  # type: ignore[attr-defined]
    if case.startswith("edit"):
        assert result.first_bad_id == entries[bad_seq - 1].id  # type: ignore[attr-defined]


def test_rewritten_tail_is_caught_by_a_checkpoint(engine: Engine) -> None:
    _fill(engine, 4)
    with Session(engine) as s:
        cp = checkpoint(s)
        s.commit()
        anchor = (cp.seq, cp.entry_hash)
    _fill(engine, 2)
    # A careful forger edits entry 3 and recomputes every later hash and the head.
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all()
        prev = rows[1].entry_hash
        for row in rows[2:]:
            if row.seq == 3:
                row.action = actions.LOGIN
            row.prev_hash = prev
            row.entry_hash = entry_hash(row)
            prev = row.entry_hash
            s.add(row)
        s.flush()
        s.execute(text("UPDATE audit_chain_head SET entry_hash = :h"), {"h": prev})
        # ...and deletes the stored checkpoint, leaving only the copy kept elsewhere.
        s.execute(text("DELETE FROM audit_checkpoint"))
        s.commit()
    assert _verify(engine).ok  # type: ignore[attr-defined]  # the chain alone looks fine
    result = _verify(engine, expect=anchor)
    assert not result.ok and result.first_bad_seq == 4  # type: ignore[attr-defined]
    assert "checkpoint" in (result.reason or "")  # type: ignore[attr-defined]


def test_stored_checkpoint_catches_truncation_and_rewrite(engine: Engine) -> None:
    _fill(engine, 5)
    with Session(engine) as s:
        checkpoint(s)
        s.commit()
    _sql(engine, "DELETE FROM audit_log WHERE seq >= 4",
         "UPDATE audit_chain_head SET seq = 3, entry_hash = "
         "(SELECT entry_hash FROM audit_log WHERE seq = 3)")
    result = _verify(engine)
    assert not result.ok and "checkpoint" in (result.reason or "")  # type: ignore[attr-defined]


def test_checkpoint_of_the_empty_log_stays_valid(engine: Engine) -> None:
    """A checkpoint taken before anything was logged names entry #0 (the genesis)."""
    with Session(engine) as s:
        assert checkpoint(s).seq == 0
        s.commit()
    assert _verify(engine).ok  # type: ignore[attr-defined]
    _fill(engine, 3)
    assert _verify(engine).ok  # type: ignore[attr-defined]
    _sql(engine, "UPDATE audit_checkpoint SET entry_hash = 'ff' WHERE seq = 0")
    result = _verify(engine)
    assert not result.ok and "genesis" in (result.reason or "")  # type: ignore[attr-defined]


def test_concurrent_writers_make_one_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                record_separately(engine, action=actions.CASE_READ, actor_id=uuid.uuid4())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _verify(engine)
    assert result.ok and result.checked == 40  # type: ignore[attr-defined]


def test_record_always_survives_rollback_and_record_does_not(engine: Engine) -> None:
    with Session(engine) as s:
        record(s, action=actions.CASE_READ, actor_id=None, actor_kind="system")
        record_always(s, action=actions.LOGIN_FAILED, actor_id=None, actor_kind="anonymous",
                      details={"reason": "bad_code"})
        s.rollback()
    with Session(engine) as s:
        assert list(s.exec(select(AuditEntry.action))) == [actions.LOGIN_FAILED]


@pytest.mark.parametrize("details", [
    {"narrative": "x" * 201}, {"Bad Key": 1}, {"nested": {"a": 1}}, {"list": [1, 2]},
])
def test_details_refuse_anything_like_content(engine: Engine, details: dict[str, object]) -> None:
    with Session(engine) as s, pytest.raises(ValueError):
        record(s, action=actions.CASE_READ, actor_id=None, actor_kind="system",
               details=details)  # type: ignore[arg-type]


def test_admin_export_and_verify_endpoints(app_client: TestClient, session: Session,
                                           engine: Engine) -> None:
    admin = login_headers(app_client, create_staff(session, Role.ADMIN))
    _fill(engine, 3)
    r = app_client.get("/api/v1/admin/audit/export?format=json", headers=admin)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    rows = json.loads(r.text)
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert {row["action"] for row in rows} >= {actions.USER_CREATED, actions.LOGIN,
                                               actions.CASE_READ, actions.AUDIT_EXPORTED}
    r = app_client.get("/api/v1/admin/audit/export?format=csv", headers=admin)
    assert r.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(r.text)))
    assert len(parsed) == len(rows) + 1 and parsed[0]["prev_hash"] == "0" * 64
    assert app_client.get("/api/v1/admin/audit/export?format=xml",
                          headers=admin).status_code == 422
    r = app_client.get("/api/v1/admin/audit/verify", headers=admin)
    assert r.json()["ok"] is True
    cp = app_client.post("/api/v1/admin/audit/checkpoints", headers=admin)
    assert cp.status_code == 201 and cp.json()["seq"] == r.json()["head_seq"] + 1
    _sql(engine, "UPDATE audit_log SET target = 'someone' WHERE seq = 2")
    r = app_client.get("/api/v1/admin/audit/verify", headers=admin)
    assert r.json()["ok"] is False and r.json()["first_bad_seq"] == 2
    assert "entry #2" in r.json()["message"]
