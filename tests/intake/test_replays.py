"""Idempotency-Key on POST /api/v1/submissions: a replay files nothing new, and the key
record tells a seized database nothing about which case it belongs to."""

from __future__ import annotations

import uuid
from datetime import timedelta

import anyio
import httpx
from sqlmodel import col, func, select

from api.cases.files.models import Attachment
from api.cases.models import Case
from api.core.db import unit_of_work
from api.core.models import utcnow
from api.intake.models import IntakeReplay, Receipt
from api.jobs import service as jobs
from api.jobs.models import DONE, Job
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, form, report
from workers.registry import load_builtin_jobs
from workers.runner import Worker

URL = "/api/v1/submissions"


def _counts(intake: Intake) -> tuple[int, int, int]:
    with intake.session() as s:
        return (s.exec(select(func.count()).select_from(Case)).one(),
                s.exec(select(func.count()).select_from(Receipt)).one(),
                s.exec(select(func.count()).select_from(Attachment)).one())


def test_a_replay_files_nothing_and_names_the_case_without_a_receipt(intake: Intake) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = intake.client.post(URL, json=report(), headers=key)
    assert first.status_code == 201, first.text
    assert first.json()["receipt"] and first.json()["already_received"] is False
    again = intake.client.post(URL, json=report(), headers=key)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["reference"] == first.json()["reference"]
    assert body["receipt"] is None and body["already_received"] is True
    assert body["files"] == []
    assert _counts(intake) == (1, 1, 0)
    # Spacing and key order are not a different report; a structured-field string works.
    third = intake.client.post(URL, content=httpx.Request(
        "POST", "http://t", json=report()).content.replace(b",", b", "),
        headers={"content-type": "application/json",
                 "Idempotency-Key": f'"{key["Idempotency-Key"]}"'})
    assert third.status_code == 200 and third.json()["reference"] == body["reference"]
    # Without a key every post is a report of its own, as before.
    assert intake.client.post(URL, json=report()).status_code == 201
    assert intake.client.post(URL, json=report()).status_code == 201
    assert _counts(intake) == (3, 3, 0)


def test_multipart_replay_keeps_no_second_copy_of_the_files(intake: Intake) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body, ctype = form(report(), [("photo.png", "image/png", PNG)])
    first = intake.client.post(URL, content=body, headers={"content-type": ctype, **key})
    assert first.status_code == 201, first.text
    blobs = sorted(b.name for b in intake.storage.iter_blobs())
    again = intake.client.post(URL, content=body, headers={"content-type": ctype, **key})
    assert again.status_code == 200 and again.json()["already_received"] is True
    assert _counts(intake) == (1, 1, 1)
    assert sorted(b.name for b in intake.storage.iter_blobs()) == blobs
    # Other file bytes under the same key are another report: refused, nothing kept.
    other, ctype2 = form(report(), [("photo.png", "image/png", PNG + b"x")])
    r = intake.client.post(URL, content=other, headers={"content-type": ctype2, **key})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    assert _counts(intake) == (1, 1, 1)
    assert sorted(b.name for b in intake.storage.iter_blobs()) == blobs


def test_same_key_with_another_report_is_refused_clearly(intake: Intake) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert intake.client.post(URL, json=report(), headers=key).status_code == 201
    r = intake.client.post(URL, json=report(narrative="Something else entirely."),
                           headers=key)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "different report" in error["message"] and "new key" in error["message"]
    assert "Something else" not in r.text
    assert _counts(intake) == (1, 1, 0)


def test_a_key_too_short_or_with_odd_characters_is_a_400(intake: Intake) -> None:
    bad: str | bytes
    for bad in ("abc", "x" * 256, "p\u00e4iv\u00e4\u00e4-p\u00e4iv\u00e4\u00e4".encode(),
                "with space inside it!!"):
        r = intake.client.post(URL, json=report(), headers={"Idempotency-Key": bad})
        assert r.status_code == 400, (bad, r.text)
        assert "Idempotency-Key must be 16 to 255" in r.json()["error"]["message"]
    assert _counts(intake) == (0, 0, 0)


def test_concurrent_replays_make_one_case(intake: Intake) -> None:
    app = intake.client.app
    key = str(uuid.uuid4())
    results: list[httpx.Response] = []

    async def one() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            results.append(await client.post(URL, json=report(),
                                             headers={"Idempotency-Key": key}))

    async def many() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)

    anyio.run(many)
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201], \
        [r.text for r in results]
    assert len({r.json()["reference"] for r in results}) == 1
    assert sum(1 for r in results if r.json()["receipt"]) == 1
    assert _counts(intake) == (1, 1, 0)


def test_the_key_record_names_neither_key_nor_case(intake: Intake) -> None:
    key = "key-" + uuid.uuid4().hex
    r = intake.client.post(URL, json=report(), headers={"Idempotency-Key": key})
    assert r.status_code == 201
    with intake.session() as s:
        case = s.exec(select(Case)).one()
        row = s.exec(select(IntakeReplay)).one()
    assert key not in row.lookup and len(row.lookup) == 64
    for needle in (key.encode(), case.id.bytes, str(case.id).encode(),
                   case.reference.encode(), b"Akrestsina"):
        assert needle not in row.sealed
    # Day precision, retention (24 h) rounded up to the next 00:00 UTC.
    assert row.expires_at.hour == row.expires_at.minute == 0
    assert timedelta(hours=24) <= row.expires_at - utcnow() < timedelta(hours=48)


def test_expired_keys_are_forgotten_and_purged_by_the_worker(intake: Intake) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert intake.client.post(URL, json=report(), headers=key).status_code == 201
    with unit_of_work(intake.engine) as s:
        row = s.exec(select(IntakeReplay)).one()
        row.expires_at = utcnow() - timedelta(days=1)
        s.add(row)
    # Past its expiry a key is a new report's key (its row is replaced, not duplicated).
    assert intake.client.post(URL, json=report(), headers=key).status_code == 201
    assert _counts(intake)[0] == 2
    with unit_of_work(intake.engine) as s:
        row = s.exec(select(IntakeReplay)).one()
        row.expires_at = utcnow() - timedelta(days=1)
        s.add(row)
        s.add(IntakeReplay(lookup="f" * 64, sealed=b"\x01" * 40,
                           expires_at=utcnow() + timedelta(days=1)))
    specs = load_builtin_jobs()
    kind = "purge_intake_replays"
    every = specs[kind].every
    assert every is not None and every(intake.settings) == timedelta(hours=1)
    with unit_of_work(intake.engine) as s:
        assert jobs.enqueue(s, kind, None, settings=intake.settings) is not None
    assert Worker(intake.settings, intake.engine, schedule=False,
                  specs={kind: specs[kind]}).drain() == 1
    with intake.session() as s:
        assert [j.status for j in s.exec(select(Job).where(col(Job.kind) == kind))] == [DONE]
        assert [r.lookup for r in s.exec(select(IntakeReplay))] == ["f" * 64]
