"""``dokaz fsck``: each kind of damage is found (counts and ids, never content), repair
runs the orphan sweep, and a healthy store is reported clean. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cases.files.models import Attachment
from api.cases.models import Case
from api.core.settings import Settings
from api.fsck import service as fsck
from api.fsck.report import Report
from api.keys.models import CaseKeyWrap
from api.storage import get_storage
from tests.factories import create_recovery_key_text, sample_report

NOW_GRACE = fsck.Options(grace=timedelta(0))
SECRET = "FSCK-CANARY-narrative"


def submit(client: TestClient, name: str = "a.txt") -> dict[str, Any]:
    r = client.post("/api/v1/submissions", data={
        "submission": json.dumps(sample_report(narrative=SECRET))},
        files=[("files", (name, b"evidence bytes " * 100, "text/plain"))])
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def check(session: Session, settings: Settings, options: fsck.Options = NOW_GRACE) -> Report:
    session.rollback()
    return fsck.run(session, settings, get_storage(settings), options)


def kinds(report: Report) -> set[str]:
    return {f.check for f in report.problems}


def test_clean_store_is_ok(app_client: TestClient, session: Session, settings: Settings
                           ) -> None:
    create_recovery_key_text(session)
    submit(app_client)
    report = check(session, settings)
    assert report.ok, report.lines()
    assert report.counts["attachments"] == 1 and report.counts["cases"] == 1
    assert report.counts["audit_entries"] >= 0


def test_missing_and_resized_blobs(app_client: TestClient, session: Session,
                                   settings: Settings) -> None:
    create_recovery_key_text(session)
    submit(app_client)
    submit(app_client)
    storage = get_storage(settings)
    a, b = session.exec(select(Attachment)).all()
    assert a.blob_name is not None
    storage.delete(a.blob_name)
    session.execute(update(Attachment).where(col(Attachment.id) == b.id)
                    .values(ciphertext_size=1))
    session.commit()
    report = check(session, settings)
    found = {f.check: f.ids for f in report.problems}
    assert found["attachment_blob_missing"] == [str(a.id)]
    assert found["attachment_blob_size"] == [str(b.id)]
    assert SECRET not in "\n".join(report.lines())


def test_orphans_partial_writes_and_repair(app_client: TestClient, session: Session,
                                           settings: Settings) -> None:
    create_recovery_key_text(session)
    submit(app_client)
    storage = get_storage(settings)
    orphan = storage.open_writer("a/" + uuid.uuid4().hex)
    orphan.write(b"x" * 10)
    orphan.commit()
    partial = storage.open_writer("a/" + uuid.uuid4().hex)
    partial.write(b"y")  # never committed: a crash mid-write
    probe = settings.data_dir / ".ready-0123456789abcdef"
    probe.write_bytes(b"")
    # Young leftovers are requests in flight: notes, not problems.
    young = check(session, settings, fsck.default_options(settings))
    assert young.ok and {f.check for f in young.findings} == {"blob_in_flight"}
    report = check(session, settings)
    assert kinds(report) == {"orphan_blob", "partial_write", "stray_temp_file"}
    repaired = check(session, settings, fsck.Options(grace=timedelta(0), repair=True))
    assert repaired.ok, repaired.lines()
    assert repaired.repaired == {"orphan_blobs": 2, "stray_temp_files": 1}
    assert not probe.exists() and len(list(storage.iter_blobs())) == 1


def test_missing_recovery_wrap_and_shredded_leftovers(
    app_client: TestClient, session: Session, settings: Settings
) -> None:
    create_recovery_key_text(session)
    submit(app_client)
    submit(app_client)
    first, second = session.exec(select(Case).order_by(col(Case.reference))).all()
    session.execute(CaseKeyWrap.__table__.delete().where(  # type: ignore[attr-defined]
        CaseKeyWrap.__table__.c.case_id == first.id,  # type: ignore[attr-defined]
        CaseKeyWrap.__table__.c.recipient_kind == "recovery"))  # type: ignore[attr-defined]
    session.execute(update(Case).where(col(Case.id) == second.id).values(
        shredded_at=second.created_at))  # marked shredded, but nothing was deleted
    session.commit()
    found = {f.check: f.ids for f in check(session, settings).problems}
    assert found["case_without_recovery_wrap"] == [str(first.id)]
    assert found["shredded_case_has_wraps"] == [str(second.id)]
    assert found["shredded_case_has_ciphertext"] == [str(second.id)]


def test_tus_state_against_blobs(app_client: TestClient, session: Session,
                                 settings: Settings) -> None:
    create_recovery_key_text(session)  # uploads open only once a recovery key exists
    tus = {"Tus-Resumable": "1.0.0"}
    r = app_client.post("/api/v1/uploads", headers={**tus, "Upload-Length": "100"})
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    r = app_client.patch(location, content=b"z" * 40, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204
    assert check(session, settings).ok
    # Without the URL fsck cannot see sizes; it checks one segment per accepted PATCH.
    session.execute(text("UPDATE upload SET patch_seq = 2"))
    session.commit()
    assert kinds(check(session, settings)) == {"upload_offset"}
    session.execute(text("UPDATE upload SET patch_seq = 1, sealed_progress = NULL"))
    session.commit()
    assert kinds(check(session, settings)) == {"upload_offset"}


def test_broken_audit_chain(app_client: TestClient, session: Session, settings: Settings
                            ) -> None:
    create_recovery_key_text(session)
    from api.audit.service import record

    for i in range(3):
        record(session, action="test.event", actor_id=None, actor_kind="cli",
               details={"n": i})
    session.commit()
    assert check(session, settings).ok
    session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    session.commit()
    assert kinds(check(session, settings)) == {"audit_chain"}


def test_cli_exit_codes(app_client: TestClient, session: Session, settings: Settings,
                        monkeypatch: Any) -> None:
    from api.cli import app
    from api.core.settings import get_settings

    create_recovery_key_text(session)
    submit(app_client)
    monkeypatch.setenv("DOKAZ_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DOKAZ_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["fsck"])
        assert ok.exit_code == 0 and "fsck: OK" in ok.output, ok.output
        [(att_id, blob)] = session.exec(select(Attachment.id, Attachment.blob_name)).all()
        session.rollback()  # SQLite: release the write lock BEGIN IMMEDIATE took
        assert blob is not None
        os.unlink(os.path.join(get_storage(settings).root,  # type: ignore[attr-defined]
                               "a", blob[2:4], blob[2:]))
        bad = runner.invoke(app, ["fsck", "--json"])
        assert bad.exit_code == 1, bad.output
        assert json.loads(bad.output)["findings"][0]["ids"] == [str(att_id)]
    finally:
        get_settings.cache_clear()
