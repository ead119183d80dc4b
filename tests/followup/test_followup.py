"""Follow-up by receipt: sessions, throttling, status, messages, additions, closed cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.app import create_app
from api.cases.models import Case
from api.cases.threads import contexts
from api.cases.threads.models import CaseMessage, Submission
from api.core.errors import Unauthorized
from api.core.models import day_floor
from api.followup import service as followup_service
from api.followup import tokens
from api.followup.models import FollowupSession
from api.intake.models import Receipt
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, case_key_by_recovery, form, read_back, report, stored_state


def _submit(intake: Intake) -> dict[str, str]:
    r = intake.client.post("/api/v1/submissions", json=report())
    assert r.status_code == 201
    body: dict[str, str] = r.json()
    return body


def _login(client: TestClient, receipt: str) -> dict[str, str]:
    r = client.post("/api/v1/followup/session", json={"receipt": receipt})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _case(intake: Intake, reference: str) -> Case:
    with Session(intake.engine) as s:
        return s.exec(select(Case).where(col(Case.reference) == reference)).one()


def test_status_and_messages_both_ways(intake: Intake) -> None:
    sub = _submit(intake)
    # Typed sloppily: lower case, spaces instead of dashes.
    auth = _login(intake.client, sub["receipt"].lower().replace("-", " "))
    r = intake.client.get("/api/v1/followup/status", headers=auth)
    assert r.json() | {"received_on": None} == {
        "reference": sub["reference"], "status": "received", "received_on": None,
        "accepts_input": True, "unread_messages": 0}
    r = intake.client.post("/api/v1/followup/messages", json={"text": "Він усё яшчэ там."},
                           headers=auth)
    assert r.status_code == 201 and r.json()["direction"] == "from_you"
    case = _case(intake, sub["reference"])
    with Session(intake.engine) as s:
        key = case_key_by_recovery(s, case.id, intake.recovery_text)
        stored = s.exec(select(CaseMessage)).one()
        assert "Він".encode() not in stored.body
        assert contexts.open_message(key, case.id, stored.id, stored.body) == "Він усё яшчэ там."
        reply_id = uuid.uuid4()
        s.add(CaseMessage(id=reply_id, case_id=case.id, submission_id=stored.submission_id,
                          key_case_id=case.id, direction="to_submitter",
                          author_id=intake.on_duty.id,
                          body=contexts.seal_message(key, case.id, reply_id, "We are on it.")))
        s.commit()
    assert intake.client.get("/api/v1/followup/status",
                             headers=auth).json()["unread_messages"] == 1
    msgs = intake.client.get("/api/v1/followup/messages", headers=auth).json()
    assert [(m["direction"], m["text"]) for m in msgs] == [
        ("from_you", "Він усё яшчэ там."), ("to_you", "We are on it.")]
    assert intake.client.get("/api/v1/followup/status",
                             headers=auth).json()["unread_messages"] == 0


def test_additions_json_and_files(intake: Intake) -> None:
    sub = _submit(intake)
    auth = _login(intake.client, sub["receipt"])
    r = intake.client.post("/api/v1/followup/additions", json={"narrative": "More detail."},
                           headers=auth)
    assert r.status_code == 201, r.text
    body, ctype = form({"narrative": "A photo of the summons."}, [("s.png", "image/png", PNG)])
    r = intake.client.post("/api/v1/followup/additions", content=body,
                           headers={**auth, "content-type": ctype})
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["name"] == "s.png"
    assert intake.client.post("/api/v1/followup/additions", json={},
                              headers=auth).status_code == 400
    case = _case(intake, sub["reference"])
    with Session(intake.engine) as s:
        payloads, files = read_back(s, intake.storage, case.id, intake.recovery_text)
        followups = s.exec(select(Submission).where(col(Submission.is_followup))).all()
    assert len(followups) == 2
    assert {p.get("narrative") for p in payloads} >= {"More detail.", "A photo of the summons."}
    assert files[0][1] == PNG


def test_wrong_receipts_are_throttled_per_client_and_per_receipt(
        intake_with: Callable[..., Intake]) -> None:
    intake = intake_with(receipt_attempts_per_hour=2)
    sub = _submit(intake)
    good = sub["receipt"]
    wrong = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    codes = [intake.client.post("/api/v1/followup/session",
                                json={"receipt": wrong}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    r = intake.client.post("/api/v1/followup/session", json={"receipt": good})
    assert r.status_code == 429 and "Retry-After" in r.headers and good not in r.text
    with Session(intake.engine) as s:
        row = s.exec(select(Receipt)).one()
        assert row.locked_until is not None and row.locked_until > datetime.now(UTC)
        # Day precision (property 13): locked to a 00:00 UTC at least an hour away.
        assert row.locked_until == day_floor(row.locked_until)
        assert row.locked_until >= datetime.now(UTC) + timedelta(minutes=59)
        assert int(r.headers["Retry-After"]) >= 59 * 60
    # A fresh process (no memory of this client) still finds the receipt locked.
    with TestClient(create_app(intake.settings, intake.engine)) as other:
        assert other.post("/api/v1/followup/session",
                          json={"receipt": good}).status_code == 429
        with Session(intake.engine) as s:
            s.exec(update(Receipt).values(locked_until=None))
            s.commit()
        assert other.post("/api/v1/followup/session", json={"receipt": good}).status_code == 201


def test_unknown_and_malformed_receipts(intake: Intake) -> None:
    r = intake.client.post("/api/v1/followup/session", json={"receipt": "0000-" * 7 + "0000"})
    assert r.status_code == 401 and "not right" in r.json()["error"]["message"]
    r = intake.client.post("/api/v1/followup/session", json={"receipt": "hello"})
    assert r.status_code == 400 and "32 letters" in r.json()["error"]["message"]
    assert intake.client.get("/api/v1/followup/status").status_code == 401
    assert intake.client.get("/api/v1/followup/status",
                             headers={"Authorization": "Bearer dkf_x"}).status_code == 401


def test_expired_session(intake: Intake) -> None:
    auth = _login(intake.client, _submit(intake)["receipt"])
    with Session(intake.engine) as s:
        s.exec(update(FollowupSession).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()
    r = intake.client.get("/api/v1/followup/status", headers=auth)
    assert r.status_code == 401 and "ended" in r.json()["error"]["message"]


def test_closed_case_rejects_new_input(intake: Intake) -> None:
    sub = _submit(intake)
    auth = _login(intake.client, sub["receipt"])
    with Session(intake.engine) as s:
        s.exec(update(Case).values(state="closed"))
        s.commit()
    assert intake.client.get("/api/v1/followup/status", headers=auth).json()["status"] == "closed"
    before = stored_state(intake.engine, intake.storage)
    r = intake.client.post("/api/v1/followup/messages", json={"text": "hi"}, headers=auth)
    assert r.status_code == 409 and "closed" in r.json()["error"]["message"]
    body, ctype = form({"narrative": "x"}, [("s.png", "image/png", PNG)])
    r = intake.client.post("/api/v1/followup/additions", content=body,
                           headers={**auth, "content-type": ctype})
    assert r.status_code == 409
    assert stored_state(intake.engine, intake.storage) == before
    assert len(intake.client.get("/api/v1/followup/messages", headers=auth).json()) == 0


def test_message_and_addition_sizes_reveal_only_the_bucket(intake: Intake) -> None:
    sub = _submit(intake)
    auth = _login(intake.client, sub["receipt"])
    texts = ["Так.", "Яго перавялі ў іншую камеру, адваката не пускаюць.", "x" * 400]
    for text in texts:
        r = intake.client.post("/api/v1/followup/messages", json={"text": text}, headers=auth)
        assert r.status_code == 201, r.text
    for narrative in ["Ok.", "A longer addition about the hearing on Monday. " * 5]:
        r = intake.client.post("/api/v1/followup/additions", json={"narrative": narrative},
                               headers=auth)
        assert r.status_code == 201, r.text
    with Session(intake.engine) as s:
        bodies = [m.body for m in s.exec(select(CaseMessage))]
        additions = [x.payload for x in s.exec(select(Submission).where(
            col(Submission.is_followup)))]
    # Every message under the 512-byte floor has one and the same stored length.
    assert len(bodies) == 3 and len({len(b) for b in bodies}) == 1
    assert len(additions) == 2 and len({len(p) for p in additions}) == 1


def test_session_rows_are_days_and_the_exact_expiry_is_sealed(intake: Intake) -> None:
    """Property 13: the row holds days only; the exact end lives sealed under the token,
    so the session still ends on time and editing the row cannot lengthen it."""
    r = intake.client.post("/api/v1/followup/session",
                           json={"receipt": _submit(intake)["receipt"]})
    token, exact = r.json()["token"], datetime.fromisoformat(r.json()["expires_at"])
    with Session(intake.engine) as s:
        row = s.exec(select(FollowupSession)).one()
        assert row.created_at == day_floor(row.created_at)
        assert row.expires_at == day_floor(row.expires_at) and row.expires_at >= exact
        _, sealed_expiry = tokens.open_case_key(row.sealed_case_key, token, row.id)
        assert abs(sealed_expiry - exact) < timedelta(seconds=1)
        assert followup_service.authenticate(s, token, now=exact - timedelta(seconds=5))
        for late in (exact + timedelta(seconds=1), row.expires_at - timedelta(seconds=1)):
            with pytest.raises(Unauthorized, match="ended"):
                followup_service.authenticate(s, token, now=late)
        # Someone with the database pushes the row's expiry into next year: no effect.
        s.exec(update(FollowupSession).values(expires_at=datetime(2099, 1, 1, tzinfo=UTC)))
        s.commit()
        with pytest.raises(Unauthorized, match="ended"):
            followup_service.authenticate(s, token, now=exact + timedelta(minutes=1))


def test_messages_keep_their_order_within_a_day(intake: Intake) -> None:
    sub = _submit(intake)
    auth = _login(intake.client, sub["receipt"])
    texts = [f"message {n}" for n in range(6)]
    for text in texts:
        assert intake.client.post("/api/v1/followup/messages", json={"text": text},
                                  headers=auth).status_code == 201
    with Session(intake.engine) as s:
        rows = s.exec(select(CaseMessage)).all()
        assert {m.created_at for m in rows} == {day_floor(datetime.now(UTC))}
        assert sorted(m.seq for m in rows) == list(range(1, 7))
    msgs = intake.client.get("/api/v1/followup/messages", headers=auth).json()
    assert [m["text"] for m in msgs] == texts


def test_a_question_to_the_submitter_shows_as_waiting_for_them(intake: Intake) -> None:
    sub = _submit(intake)
    auth = _login(intake.client, sub["receipt"])
    case = _case(intake, sub["reference"])

    def status() -> str:
        r = intake.client.get("/api/v1/followup/status", headers=auth)
        assert r.status_code == 200
        value: str = r.json()["status"]
        return value

    with Session(intake.engine) as s:
        s.exec(update(Case).values(state="needs_info"))
        s.commit()
    # The case needs information, but nobody has asked this submitter yet.
    assert status() == "in_progress"
    with Session(intake.engine) as s:
        key = case_key_by_recovery(s, case.id, intake.recovery_text)
        thread = s.exec(select(Submission).where(col(Submission.case_id) == case.id)).one()
        question_id = uuid.uuid4()
        s.add(CaseMessage(id=question_id, case_id=case.id, submission_id=thread.id,
                          key_case_id=case.id, direction="to_submitter",
                          author_id=intake.on_duty.id,
                          body=contexts.seal_message(key, case.id, question_id,
                                                     "Which day was it?")))
        s.commit()
    assert status() == "waiting_for_you"
    r = intake.client.get("/api/v1/followup/status", headers=auth)
    assert r.json()["accepts_input"] is True
    assert intake.client.post("/api/v1/followup/messages", json={"text": "A Monday."},
                              headers=auth).status_code == 201
    assert status() == "in_progress"  # answered: our turn again
    with Session(intake.engine) as s:
        s.exec(update(Case).values(state="closed"))
        s.commit()
    assert status() == "closed"
