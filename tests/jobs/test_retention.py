"""Retention shreds exactly the cases the policy names: wraps, ciphertext and blobs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, Table, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from api.app import create_app
from api.audit import actions
from api.audit.models import AuditEntry
from api.audit.service import verify_chain
from api.cases import shredding
from api.cases.files.models import Attachment
from api.cases.models import Case, CaseEvent
from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from api.storage import get_storage
from tests.factories import create_recovery_key_text
from tests.jobs.conftest import submit_with_file
from workers.registry import runnable
from workers.runner import Worker

# name: (state, days in that state, shredded?) under spam=30, rejected=365, closed=None
CASES = {
    "old_spam": ("spam", 40, True),
    "young_spam": ("spam", 10, False),
    "old_rejected": ("rejected", 400, True),
    "old_closed": ("closed", 1000, False),
    "old_new": ("new", 1000, False),
}


def _rows(session: Session, case_id: uuid.UUID) -> dict[str, int]:
    out = {}
    for table in shredding.plan().delete:
        n = session.execute(sa_select(func.count()).select_from(table)
                            .where(table.c.case_id == case_id)).scalar_one()
        out[table.name] = int(n)
    return out


def test_retention_shreds_exactly_what_the_policy_says(
    engine: Engine, job_settings: Settings
) -> None:
    settings = job_settings.model_copy(update={
        "retention_days_spam": 30, "retention_days_rejected": 365, "retention_days_closed": None,
    })
    storage = get_storage(settings)
    with Session(engine) as s:
        create_recovery_key_text(s)
    with TestClient(create_app(settings, engine)) as client:
        refs = {name: str(submit_with_file(client, f"CANARY{name}")["reference"])
                for name in CASES}
    ids: dict[str, uuid.UUID] = {}
    with unit_of_work(engine) as s:
        for name, (state, days, _) in CASES.items():
            case = s.execute(select(Case).where(col(Case.reference) == refs[name])).scalar_one()
            case.state, case.state_changed_at = state, utcnow() - timedelta(days=days)
            ids[name] = case.id
            s.add(CaseEvent(case_id=case.id, kind="transition", to_state=state,
                            sealed_comment=b"\x01sealed comment"))
    with unit_of_work(engine) as s:
        before = {name: _rows(s, ids[name]) for name in CASES}
        blobs = {name: list(s.execute(select(Attachment.blob_name)
                                      .where(col(Attachment.case_id) == ids[name])).scalars())
                 for name in CASES}
    for name in CASES:
        assert before[name]["case_key_wrap"] >= 2 and before[name]["submission"] == 1
        assert len(blobs[name]) >= 1 and all(storage.exists(b) for b in blobs[name])

    worker = Worker(settings, engine, schedule=False, specs=runnable(settings))
    with unit_of_work(engine) as s:
        service.enqueue(s, "plan_retention", settings=settings)
    assert worker.drain() == 3  # the planner and two shreddings

    with unit_of_work(engine) as s:
        for name, (_state, _days, shredded) in CASES.items():
            case = s.get(Case, ids[name])
            assert case is not None
            rows = _rows(s, ids[name])
            comments = s.execute(select(CaseEvent.sealed_comment)
                                 .where(col(CaseEvent.case_id) == ids[name])).scalars().all()
            if shredded:
                assert case.shredded_at is not None and case.reference == refs[name]
                assert set(rows.values()) == {0}, rows
                assert comments == [None]  # the workflow event stays, its comment goes
                assert not any(storage.exists(b) for b in blobs[name])
            else:
                assert case.shredded_at is None
                assert rows == before[name]
                assert comments == [b"\x01sealed comment"]
                assert all(storage.exists(b) for b in blobs[name])
        entries = s.execute(select(AuditEntry).where(
            col(AuditEntry.action) == actions.CASE_SHREDDED)).scalars().all()
        assert {e.case_id for e in entries} == {ids["old_spam"], ids["old_rejected"]}
        assert verify_chain(s).ok

    # Idempotent: planning again finds nothing, and a repeated shred job does nothing.
    with unit_of_work(engine) as s:
        service.enqueue(s, "plan_retention", dedupe_key="again", settings=settings)
        service.enqueue(s, "shred_case", {"case_id": str(ids["old_spam"])}, settings=settings)
    assert worker.drain() == 2
    with unit_of_work(engine) as s:
        assert len(s.execute(select(AuditEntry).where(
            col(AuditEntry.action) == actions.CASE_SHREDDED)).scalars().all()) == 2


def test_shred_plan_covers_every_sealed_case_table() -> None:
    plan = shredding.plan()
    deleted = {t.name for t in plan.delete}
    assert {"case_key_wrap", "submission", "attachment", "receipt", "case_message",
            "case_person", "case_act"} <= deleted
    nulled = {t.name: cols for t, cols in plan.null_out}
    assert nulled["cases"] and "case_event" in nulled
    tables: dict[str, Table] = dict(SQLModel.metadata.tables)
    for name, table in tables.items():
        if shredding._case_scoped(table) and shredding._ciphertext(table, nullable=False):
            assert name in deleted
