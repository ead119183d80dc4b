"""POST /api/v1/submissions: what is stored, who can open it, and what stays plaintext."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.auth.roles import Role
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads.models import Submission
from api.ingress.files import RECORD_SIZE
from api.intake import service as intake_service
from api.intake.models import Receipt
from api.keys.models import CaseKeyWrap
from api.keys.service import case_key_context
from crypto import aead
from crypto.padding import padme
from crypto.sealed import unwrap_data_key
from crypto.stream import ciphertext_size
from tests.factories import create_staff, login_headers
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, form, read_back, report, stored_state

RECEIPT_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$")
PDF = b"%PDF-1.7\n" + b"x" * 3000 + b"\n%%EOF\n"


def _case(intake: Intake, reference: str) -> Case:
    with intake.session() as s:
        return s.exec(select(Case).where(col(Case.reference) == reference)).one()


def test_json_submission_is_stored_sealed_with_coarse_plaintext(intake: Intake) -> None:
    r = intake.client.post("/api/v1/submissions", json=report())
    assert r.status_code == 201, r.text
    body = r.json()
    assert RECEIPT_RE.match(body["receipt"])
    assert re.match(r"^DKZ-[0-9A-Z]{4}-[0-9A-Z]{4}$", body["reference"])
    assert body["files"] == []
    case = _case(intake, body["reference"])
    assert (case.state, case.region, case.period_start_month, case.date_precision) == (
        "new", "BY-HM", "2025-03", "unknown_day")
    assert case.urgent and case.urgency_reasons == "ongoing_detention,torture_risk"
    with intake.session() as s:
        sub = s.exec(select(Submission).where(col(Submission.case_id) == case.id)).one()
        assert (sub.channel, sub.submitter_role, sub.categories, sub.language) == (
            "api", "relative", "detention,torture", "be")
        assert sub.consent_scopes == "internal_handling,aggregate_statistics"
        assert b"Hanna" not in sub.payload
        kinds = sorted(w.recipient_kind for w in s.exec(
            select(CaseKeyWrap).where(col(CaseKeyWrap.case_id) == case.id)))
        assert kinds == ["receipt", "recovery", "staff"]
        staff_wrap = s.exec(select(CaseKeyWrap).where(
            col(CaseKeyWrap.case_id) == case.id, col(CaseKeyWrap.recipient_kind) == "staff"
        )).one()
        assert staff_wrap.recipient_id == intake.on_duty.id
        staff_key = unwrap_data_key(intake.on_duty.keypair.private_bytes, staff_wrap.wrapped_key,
                                    case_key_context(case.id, "staff", intake.on_duty.id))
        payloads, files = read_back(s, intake.storage, case.id, intake.recovery_text)
        from api.cases.threads.contexts import open_payload
        assert open_payload(staff_key, sub) == payloads[0]
    assert payloads[0]["reporter"]["name"] == "Hanna"
    assert payloads[0]["narrative"].startswith("He was taken")
    assert "website" not in payloads[0] and files == []


def test_multipart_files_are_encrypted_and_hashes_returned(intake: Intake) -> None:
    body, ctype = form(report(), [("photo.png", "image/png", PNG),
                                  ("заява.pdf", None, PDF),
                                  ("notes.txt", "text/plain", "Прывітанне".encode())])
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 201, r.text
    out = r.json()["files"]
    assert [(f["name"], f["size"], f["type"]) for f in out] == [
        ("photo.png", len(PNG), "image/png"), ("заява.pdf", len(PDF), "application/pdf"),
        ("notes.txt", len("Прывітанне".encode()), "text/plain")]
    assert out[0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    case = _case(intake, r.json()["reference"])
    with intake.session() as s:
        _, files = read_back(s, intake.storage, case.id, intake.recovery_text)
        atts = s.exec(select(Attachment).where(col(Attachment.case_id) == case.id)).all()
    by_name = {meta["filename"]: (meta, data) for meta, data in files}
    assert by_name["photo.png"][1] == PNG and by_name["заява.pdf"][1] == PDF
    assert by_name["заява.pdf"][0]["claimed_type"] == "application/octet-stream"
    assert by_name["заява.pdf"][0]["detected_type"] == "application/pdf"
    for att in atts:
        assert att.blob_name is not None
        assert re.fullmatch(r"a/[0-9a-f]{32}", att.blob_name)
        with intake.storage.open_reader(att.blob_name) as f:
            raw = f.read()
        assert raw.startswith(b"DKZF") and PNG[:16] not in raw and b"%PDF" not in raw
        assert len(raw) == att.ciphertext_size


def test_published_schema_is_versioned(intake: Intake) -> None:
    r = intake.client.get("/api/v1/submissions/schema")
    assert r.status_code == 200
    schema = r.json()
    assert schema["$id"] == "dokaz.submission/1"
    assert {"reporter", "acts", "when", "where", "persons", "narrative", "consent",
            "language"} <= set(schema["properties"])
    assert schema["properties"]["website"]["description"] == "Leave empty."


def test_urgency_wgeid_for_recent_disappearance(intake: Intake) -> None:
    from datetime import date, timedelta

    recent = (date.today() - timedelta(days=20)).isoformat()
    old = (date.today() - timedelta(days=200)).isoformat()
    for start, urgent in ((recent, True), (old, False)):
        doc = report(acts=["disappearance"], when={"start": start}, persons=[])
        r = intake.client.post("/api/v1/submissions", json=doc)
        assert r.status_code == 201, r.text
        case = _case(intake, r.json()["reference"])
        assert case.urgent is urgent
        assert ("wgeid_urgent" in case.urgency_reasons) is urgent
        assert case.date_precision == "exact"


def test_honeypot_gets_a_normal_answer_and_nothing_is_stored(intake: Intake) -> None:
    before = stored_state(intake.engine, intake.storage)
    body, ctype = form(report(website="http://spam.example"), [("a.png", "image/png", PNG)])
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 201
    assert RECEIPT_RE.match(r.json()["receipt"])
    assert r.json()["files"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert stored_state(intake.engine, intake.storage) == before


def test_lawyer_submission_is_wrapped_to_the_lawyer(intake: Intake) -> None:
    with intake.session() as s:
        lawyer = create_staff(s, Role.LAWYER, settings=intake.settings)
    headers = login_headers(intake.client, lawyer)
    r = intake.client.post("/api/v1/submissions", json=report(reporter={"role": "lawyer"}),
                           headers=headers)
    assert r.status_code == 201, r.text
    case = _case(intake, r.json()["reference"])
    with intake.session() as s:
        sub = s.exec(select(Submission).where(col(Submission.case_id) == case.id)).one()
        assert (sub.channel, sub.lawyer_id) == ("lawyer", lawyer.id)
        wrap = s.exec(select(CaseKeyWrap).where(
            col(CaseKeyWrap.case_id) == case.id, col(CaseKeyWrap.recipient_kind) == "lawyer"
        )).one()
        key = unwrap_data_key(lawyer.keypair.private_bytes, wrap.wrapped_key,
                              case_key_context(case.id, "lawyer", lawyer.id))
        from api.cases.threads.contexts import open_payload
        assert open_payload(key, sub)["reporter"]["role"] == "lawyer"
    # A caseworker's token is not a way in; a broken token is refused outright.
    cw_headers = login_headers(intake.client, intake.on_duty)
    assert intake.client.post("/api/v1/submissions", json=report(),
                              headers=cw_headers).status_code == 403
    assert intake.client.post("/api/v1/submissions", json=report(),
                              headers={"Authorization": "Bearer dks_nope"}).status_code == 401


def test_two_submissions_at_once(intake: Intake) -> None:
    app = intake.client.app
    results: list[httpx.Response] = []

    async def one(i: int) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body, ctype = form(report(narrative=f"report {i}"),
                               [(f"f{i}.png", "image/png", PNG + bytes([i]) * 70_000)])
            results.append(await client.post("/api/v1/submissions", content=body,
                                             headers={"content-type": ctype}))

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, 1)
            tg.start_soon(one, 2)

    anyio.run(both)
    assert [r.status_code for r in results] == [201, 201], [r.text for r in results]
    narratives = set()
    for r in results:
        case = _case(intake, r.json()["reference"])
        with intake.session() as s:
            payloads, files = read_back(s, intake.storage, case.id, intake.recovery_text)
        narratives.add(payloads[0]["narrative"])
        assert len(files) == 1 and files[0][1].startswith(PNG)
    assert narratives == {"report 1", "report 2"}


def test_receipt_is_stored_only_as_a_verifier(intake: Intake) -> None:
    r = intake.client.post("/api/v1/submissions", json=report())
    receipt = r.json()["receipt"].replace("-", "")
    with intake.session() as s:
        row = s.exec(select(Receipt)).one()
    assert row.lookup == receipt[:8]
    assert receipt[8:].encode() not in row.verifier


def _json_of(r: httpx.Response) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(r.text)
    return value


def test_stored_file_sizes_reveal_only_the_padme_bucket(intake: Intake) -> None:
    # Threat-model property 13: a file known to the adversary (say, from a seized phone)
    # cannot be confirmed by its exact ciphertext size. 1030 and 1080 bytes share the
    # Padmé bucket 1088; 1089 is in the next one.
    sizes = [1030, 1080, 1089]
    blobs = [bytes([n % 250 + 1]) * n for n in sizes]
    parts: list[tuple[str, str | None, bytes]] = [
        (f"f{n}.bin", None, data) for n, data in zip(sizes, blobs, strict=True)]
    body, ctype = form(report(), parts)
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 201, r.text
    # The submitter still sees each file's exact size and hash.
    assert [(f["size"], f["sha256"]) for f in r.json()["files"]] == [
        (len(d), hashlib.sha256(d).hexdigest()) for d in blobs]
    case = _case(intake, r.json()["reference"])
    with intake.session() as s:
        _, files = read_back(s, intake.storage, case.id, intake.recovery_text)
        atts = s.exec(select(Attachment).where(col(Attachment.case_id) == case.id)).all()
    stored: dict[int, int] = {}
    for att in atts:
        assert att.blob_name is not None
        with intake.storage.open_reader(att.blob_name) as f:
            raw = f.read()
        assert raw[:5] == b"DKZF\x02" and len(raw) == att.ciphertext_size
        stored[len(raw)] = stored.get(len(raw), 0) + 1
    assert sorted(stored.items()) == [
        (ciphertext_size(1088, RECORD_SIZE), 2), (ciphertext_size(1089, RECORD_SIZE), 1)]
    assert ciphertext_size(1030, RECORD_SIZE) == ciphertext_size(1088, RECORD_SIZE)
    # Reading back gives exactly the original bytes, with the exact size sealed.
    by_name = {meta["filename"]: (meta, data) for meta, data in files}
    for n, data in zip(sizes, blobs, strict=True):
        assert by_name[f"f{n}.bin"][1] == data and by_name[f"f{n}.bin"][0]["size"] == n


def test_payload_ciphertext_reveals_only_the_bucket(intake: Intake) -> None:
    lengths: set[int] = set()
    for extra in range(4):
        r = intake.client.post("/api/v1/submissions",
                               json=report(narrative="Яны білі. " * 300 + "x" * extra))
        assert r.status_code == 201, r.text
        with intake.session() as s:
            sub = s.exec(select(Submission).where(
                col(Submission.case_id) == _case(intake, r.json()["reference"]).id)).one()
        padded = len(sub.payload) - aead.OVERHEAD
        assert sub.payload[0] == aead.PADDED_VERSION and padme(padded) == padded
        lengths.add(len(sub.payload))
    # Narratives a few characters apart land in one bucket (steps of 256 bytes here),
    # at most straddling one bucket boundary.
    assert len(lengths) <= 2


def test_database_failure_after_files_leaves_no_blobs(intake: Intake,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = stored_state(intake.engine, intake.storage)
    original = intake_service.attach_files

    def attach_then_fail(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise RuntimeError("simulated failure after the blobs and rows were written")

    monkeypatch.setattr(intake_service, "attach_files", attach_then_fail)
    body, ctype = form(report(), [("a.png", "image/png", PNG), ("b.png", "image/png", PNG)])
    # The 500 body is what this test checks, so this client renders server errors.
    client = TestClient(intake.client.app, raise_server_exceptions=False)
    r = client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 500 and "Nothing you sent was kept" in r.text
    assert stored_state(intake.engine, intake.storage) == before
