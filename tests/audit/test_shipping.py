"""Checkpoints shipped off the server (threat model 14) and verification against them.

Real targets: a moto S3 server over HTTP with Object Lock in COMPLIANCE mode, and an
aiosmtpd server. The attack is the one found on main: with the database alone, delete 8
case-read entries, re-hash the chain and the head, clear the stored checkpoints.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api import cli
from api.app import create_app
from api.audit import actions
from api.audit.chain import GENESIS_HASH
from api.audit.models import AuditEntry, AuditShipment
from api.audit.service import entry_hash, record_separately, verify_chain
from api.audit.shipping import parse_lines, read_file, shipped_anchors
from api.audit.shipping import status as shipping_status
from api.auth.roles import Role
from api.core.models import utcnow
from api.core.settings import Settings, get_settings
from api.jobs import service
from api.jobs.models import DEAD, DONE, Job
from tests.audit.conftest import Inbox, LockedS3, free_port
from tests.conftest import DbUnderTest
from tests.factories import create_staff, login_headers
from workers.registry import runnable
from workers.runner import Worker
from workers.scheduler import Scheduler

KIND = "ship_audit_checkpoint"
ALLOWED_LINE = re.compile(r"^(#[ -~]*|\d+:[0-9a-f]{64})$")


@pytest.fixture
def ship_settings(database: DbUnderTest, tmp_path: Path, locked_s3: LockedS3,
                  inbox: Inbox) -> Settings:
    return database.make_settings(
        tmp_path / "data", job_backoff_base_seconds=0.01, job_backoff_max_seconds=0.05,
        **locked_s3.overrides(locked_s3.new_bucket()), **inbox.overrides())


def _ship(settings: Settings, engine: Engine) -> Job:
    """Queue one shipping job and run it until it is done or dead (retries included)."""
    specs = runnable(settings)
    assert KIND in specs
    worker = Worker(settings, engine, schedule=False, specs={KIND: specs[KIND]})
    with Session(engine) as s:
        job_id = service.enqueue(s, KIND, None, settings=settings)
        s.commit()
    for _ in range(200):
        worker.drain()
        with Session(engine) as s:
            job = s.get(Job, job_id)
            assert job is not None
            if job.status in (DONE, DEAD):
                return job
        time.sleep(0.02)  # a retry waits for its backoff
    raise AssertionError("the shipping job neither finished nor died")


def _case_reads(engine: Engine, n: int, case: uuid.UUID | None = None) -> list[AuditEntry]:
    case = case or uuid.uuid4()
    return [record_separately(engine, action=actions.CASE_READ, actor_id=uuid.uuid4(),
                              case_id=case, details={"fields": "narrative"})
            for _ in range(n)]


def _others(engine: Engine, n: int) -> list[AuditEntry]:
    return [record_separately(engine, action=actions.LOGIN, actor_id=uuid.uuid4())
            for _ in range(n)]


def _forge_without(engine: Engine, doomed: set[int]) -> None:
    """The attack: delete entries, renumber and re-hash the rest and the head, clear the
    stored checkpoints (and the record of what was shipped)."""
    with Session(engine) as s:
        rows = list(s.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all())
        for row in rows:
            if row.seq in doomed:
                s.delete(row)
        s.flush()
        prev = GENESIS_HASH
        for new_seq, row in enumerate([r for r in rows if r.seq not in doomed], start=1):
            row.seq, row.prev_hash = new_seq, prev
            row.entry_hash = entry_hash(row)
            prev = row.entry_hash
            s.add(row)
            s.flush()
        s.execute(text("UPDATE audit_chain_head SET seq = :s, entry_hash = :h"),
                  {"s": len(rows) - len(doomed), "h": prev})
        s.execute(text("DELETE FROM audit_checkpoint"))
        s.execute(text("DELETE FROM audit_shipment"))
        s.commit()
    with Session(engine) as s:
        assert verify_chain(s).ok  # the database alone now looks fine: the finding on main


def _dokaz(database: DbUnderTest, tmp_path: Path, settings: Settings, *args: str
           ) -> tuple[int, str, str]:
    env = {"DOKAZ_DATABASE_URL": database.url, "DOKAZ_DATA_DIR": str(tmp_path),
           "DOKAZ_KDF_PROFILE": "fast-insecure-for-tests", "DOKAZ_LOG_FORMAT": "text"}
    if settings.audit_ship_s3_bucket:
        env |= {"DOKAZ_AUDIT_SHIP_S3_BUCKET": settings.audit_ship_s3_bucket,
                "DOKAZ_AUDIT_SHIP_S3_ENDPOINT_URL": str(settings.audit_ship_s3_endpoint_url),
                "DOKAZ_AUDIT_SHIP_S3_ACCESS_KEY_ID": "testing",
                "DOKAZ_AUDIT_SHIP_S3_SECRET_ACCESS_KEY": "testing"}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["audit", "verify", *args], env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.stdout, result.stderr


def _objects(locked_s3: LockedS3, bucket: str) -> list[dict[str, object]]:
    pages = locked_s3.client().get_paginator("list_object_versions").paginate(Bucket=bucket)
    return [v for page in pages for v in page.get("Versions", [])]


def _body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("ascii")


def test_job_ships_each_new_head_to_a_locked_bucket_and_by_mail(
    engine: Engine, ship_settings: Settings, locked_s3: LockedS3, inbox: Inbox
) -> None:
    case = uuid.uuid4()
    first = _case_reads(engine, 5, case)
    job = _ship(ship_settings, engine)
    assert job.status == DONE

    bucket = ship_settings.audit_ship_s3_bucket
    assert bucket
    client = locked_s3.client()
    [obj] = _objects(locked_s3, bucket)
    assert obj["Key"] == f"dokaz-audit/{5:020d}.txt"
    head = client.head_object(Bucket=bucket, Key=obj["Key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=1)
    body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
    # Every entry's hash since the last shipment, the head last; comments; nothing else.
    assert [(a.seq, a.entry_hash) for a in parse_lines(body, "x")] == [
        (e.seq, e.entry_hash) for e in first]
    assert all(ALLOWED_LINE.match(line) for line in body.splitlines())

    [(rcpt, raw)] = inbox.messages
    assert rcpt == ["audit-copy@example.org"]
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "Dokaz audit checkpoint #5"
    text_body = _body(mail)
    assert [(a.seq, a.entry_hash) for a in parse_lines(text_body, "m")] == [
        (5, first[-1].entry_hash)]
    # Nothing that names a case, a person or an action leaves the server.
    for shipped in (body, raw.decode("ascii")):
        for entry in first:
            assert str(entry.case_id) not in shipped and str(entry.actor_id) not in shipped
        assert actions.CASE_READ not in shipped and "narrative" not in shipped

    # The head did not move: nothing new is shipped.
    assert _ship(ship_settings, engine).status == DONE
    assert len(_objects(locked_s3, bucket)) == 1 and len(inbox.messages) == 1
    more = _others(engine, 3)
    assert _ship(ship_settings, engine).status == DONE
    keys = sorted(str(o["Key"]) for o in _objects(locked_s3, bucket))
    assert keys == [f"dokaz-audit/{5:020d}.txt", f"dokaz-audit/{8:020d}.txt"]
    second = client.get_object(Bucket=bucket, Key=keys[1])["Body"].read().decode()
    assert [a.seq for a in parse_lines(second, "x")] == [e.seq for e in more]
    assert len(inbox.messages) == 2
    with Session(engine) as s:
        shipped = s.exec(select(AuditShipment.target, AuditShipment.seq)).all()
    assert sorted(shipped) == [("mail", 5), ("mail", 8), ("s3", 5), ("s3", 8)]


def test_a_shipped_checkpoint_cannot_be_deleted_or_replaced(
    engine: Engine, ship_settings: Settings, locked_s3: LockedS3
) -> None:
    _case_reads(engine, 3)
    _ship(ship_settings, engine)
    bucket = ship_settings.audit_ship_s3_bucket
    client = locked_s3.client()
    [obj] = _objects(locked_s3, bucket)  # type: ignore[arg-type]
    key, version = str(obj["Key"]), str(obj["VersionId"])
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # "Overwriting" adds a version beside the original, and "deleting" adds a marker: the
    # original stays, and verification reads every version.
    forged = f"3:{'a' * 64}\n"
    client.put_object(Bucket=bucket, Key=key, Body=forged.encode())
    client.delete_object(Bucket=bucket, Key=key)
    original = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert b"# dokaz audit checkpoint" in original
    with Session(engine) as s:
        result = verify_chain(s, anchors=shipped_anchors(ship_settings))
    assert not result.ok and result.first_bad_seq == 3
    assert f"{key} (version " in (result.reason or "")


def test_verify_names_the_first_entry_a_rewrite_changed(
    database: DbUnderTest, engine: Engine, ship_settings: Settings, inbox: Inbox,
    tmp_path: Path
) -> None:
    _others(engine, 4)                       # 1-4
    _case_reads(engine, 10)                  # 5-14
    _ship(ship_settings, engine)
    _others(engine, 2)                       # 15-16
    _ship(ship_settings, engine)
    code, out, _ = _dokaz(database, tmp_path, ship_settings)
    assert code == 0, out
    assert "audit log OK: 16 entries" in out and "16 off-server checkpoint line(s)" in out

    _forge_without(engine, set(range(6, 14)))  # 8 of the case reads; 8 entries remain
    _others(engine, 10)                        # and life goes on: the log is at #18 again

    code, out, err = _dokaz(database, tmp_path, ship_settings, "--no-shipped")
    assert code == 0 and "audit log OK" in out  # without the shipped copies: unnoticed
    assert "no checkpoint kept off the server was compared" in err
    code, out, _ = _dokaz(database, tmp_path, ship_settings)
    assert code == 1
    assert "audit log BROKEN at entry #6 " in out
    assert f"s3://{ship_settings.audit_ship_s3_bucket}/dokaz-audit/{14:020d}.txt" in out
    assert "rewritten" in out

    # The mailed checkpoints, saved to a file by the recipient, catch it too (at a head).
    mbox = tmp_path / "checkpoints.mbox"
    mbox.write_bytes(b"\n".join(raw for _, raw in inbox.messages))
    code, out, _ = _dokaz(database, tmp_path, ship_settings, "--no-shipped",
                          "--checkpoints", str(mbox))
    assert code == 1
    assert "audit log BROKEN at entry #14 " in out and "checkpoints.mbox line" in out


def test_truncation_below_a_mailed_checkpoint_is_named(
    database: DbUnderTest, engine: Engine, database_settings: Settings, inbox: Inbox,
    tmp_path: Path
) -> None:
    settings = database_settings.model_copy(update=inbox.overrides())
    _case_reads(engine, 12)
    assert _ship(settings, engine).status == DONE
    _forge_without(engine, set(range(3, 11)))
    mailed = tmp_path / "mail.txt"
    mailed.write_text(_body(message_from_bytes(inbox.messages[0][1])))
    code, out, _ = _dokaz(database, tmp_path, settings, "--checkpoints", str(mailed))
    assert code == 1
    assert "names entry #12 but the log ends at #4" in out and "truncated" in out


@pytest.fixture
def database_settings(database: DbUnderTest, tmp_path: Path) -> Settings:
    return database.make_settings(tmp_path / "data", job_backoff_base_seconds=0.01,
                                  job_backoff_max_seconds=0.05)


def test_a_target_that_fails_is_retried_and_visible_while_others_ship(
    engine: Engine, ship_settings: Settings, inbox: Inbox
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = ship_settings.model_copy(update={"audit_ship_s3_endpoint_url": down,
                                                "job_max_attempts": 2})
    _case_reads(engine, 2)
    job = _ship(settings, engine)
    assert job.status == DEAD and job.attempts == 2 and job.last_error == "ShippingFailed"
    assert len(inbox.messages) == 1  # mail went out although the bucket was down
    with Session(engine) as s:
        assert s.exec(select(AuditShipment.target)).all() == ["mail"]
        head, targets = shipping_status(s, settings, utcnow() + timedelta(hours=1))
    assert head == 2
    assert [(t.target, t.last_seq, t.behind) for t in targets] == [
        ("s3", None, True), ("mail", 2, False)]
    # Once the bucket is back, the next period ships to it (and mail has nothing new).
    assert _ship(ship_settings, engine).status == DONE
    assert len(inbox.messages) == 1
    with Session(engine) as s:
        assert sorted(s.exec(select(AuditShipment.target)).all()) == ["mail", "s3"]


def test_admin_verify_endpoint_reads_the_bucket(
    engine: Engine, session: Session, ship_settings: Settings
) -> None:
    with TestClient(create_app(ship_settings, engine)) as client:
        admin = login_headers(client, create_staff(session, Role.ADMIN, settings=ship_settings))
        _case_reads(engine, 10)
        _ship(ship_settings, engine)
        r = client.get("/api/v1/admin/audit/verify", headers=admin)
        assert r.status_code == 200 and r.json()["ok"] is True
        assert r.json()["anchors_matched"] >= 10
        shipped = client.get("/api/v1/admin/audit/shipping", headers=admin).json()
        assert shipped["message"] == "checkpoints are being shipped"
        assert [(t["target"], t["behind"]) for t in shipped["targets"]] == [
            ("s3", False), ("mail", False)]
        assert all(t["last_seq"] is not None for t in shipped["targets"])
        with Session(engine) as s:
            first_read = s.exec(select(AuditEntry.seq).where(
                col(AuditEntry.action) == actions.CASE_READ).order_by(col(AuditEntry.seq))
            ).first()
        assert first_read is not None
        _forge_without(engine, set(range(first_read, first_read + 8)))
        r = client.get("/api/v1/admin/audit/verify", headers=admin)
        assert r.status_code == 200 and r.json()["ok"] is False
        assert r.json()["first_bad_seq"] == first_read

    down = ship_settings.model_copy(
        update={"audit_ship_s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_app(down, engine)) as client:
        admin = login_headers(client, create_staff(session, Role.ADMIN, settings=down))
        r = client.get("/api/v1/admin/audit/verify", headers=admin)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "audit_checkpoints_unavailable"


def test_verify_refuses_an_unreadable_bucket_or_an_empty_checkpoints_file(
    database: DbUnderTest, engine: Engine, ship_settings: Settings, tmp_path: Path
) -> None:
    _case_reads(engine, 2)
    down = ship_settings.model_copy(
        update={"audit_ship_s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    code, out, err = _dokaz(database, tmp_path, down)
    assert code == 2 and "audit log OK" not in out and "could not be read" in err
    junk = tmp_path / "notes.txt"
    junk.write_text("no checkpoints here\n")
    code, out, err = _dokaz(database, tmp_path, ship_settings, "--checkpoints", str(junk))
    assert code == 2 and "no checkpoint line" in err


def test_checkpoint_lines_are_found_in_saved_mail_and_quotes(tmp_path: Path) -> None:
    digest = "ab" * 32
    path = tmp_path / "saved.eml"
    path.write_text(f"Subject: Dokaz audit checkpoint #7\n\n7:{digest}\n> > 9:{digest.upper()}\n"
                    f"10:{digest[:-1]}\nnot 11:{digest}\n")
    assert [(a.seq, a.entry_hash, a.where) for a in read_file(path)] == [
        (7, digest, f"{path} line 3"), (9, digest, f"{path} line 4")]


def test_production_refuses_to_start_without_a_shipping_target(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    base = {"environment": "production", "data_dir": data, "secret_key": "x" * 40}
    reasons = " ".join(Settings(**base).insecure_reasons())  # type: ignore[arg-type]
    assert "DOKAZ_AUDIT_SHIP_S3_BUCKET" in reasons and "DOKAZ_AUDIT_SHIP_OPT_OUT" in reasons
    assert Settings(**base, audit_ship_opt_out=True).insecure_reasons() == []  # type: ignore[arg-type]
    assert Settings(**base, audit_ship_s3_bucket="b").insecure_reasons() == []  # type: ignore[arg-type]
    mail_only = Settings(**base, audit_ship_mail_to="a@example.org")  # type: ignore[arg-type]
    assert "DOKAZ_SMTP_HOST" in " ".join(mail_only.insecure_reasons())
    assert Settings(**base, audit_ship_mail_to="a@example.org",  # type: ignore[arg-type]
                    smtp_host="mx").insecure_reasons() == []
    with pytest.raises(ValueError, match="audit_ship_mail_to"):
        Settings(audit_ship_mail_to="a@example.org\nBcc: b@example.org")


def test_the_worker_schedules_shipping_only_when_a_target_is_set(
    engine: Engine, ship_settings: Settings, database_settings: Settings
) -> None:
    every = ship_settings.model_copy(update={"audit_ship_interval_minutes": 7})
    assert Scheduler(every, engine, runnable(every)).periodic[KIND] == 7 * 60
    assert KIND not in runnable(database_settings)


def test_a_bucket_without_object_lock_is_refused(
    engine: Engine, ship_settings: Settings, locked_s3: LockedS3
) -> None:
    """A checkpoint is never left in a bucket where it could be deleted: the job fails."""
    plain = "dokaz-plain-" + uuid.uuid4().hex[:8]
    locked_s3.client().create_bucket(Bucket=plain)
    settings = ship_settings.model_copy(update={"audit_ship_s3_bucket": plain,
                                                "audit_ship_mail_to": None,
                                                "job_max_attempts": 1})
    _case_reads(engine, 2)
    job = _ship(settings, engine)
    assert job.status == DEAD and job.last_error == "ShippingFailed"
    assert _objects(locked_s3, plain) == []
