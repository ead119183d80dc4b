"""A submitter's thread waiting for staff, over the API (both engines): the detail says so,
the list filters on it, a reply or marking the thread answered ends the wait."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.cases.models import CaseEvent
from api.cases.threads.models import CaseMessage
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case
from tests.factories import login_headers

BASE = "/api/v1/cases"


def _waiting(client: TestClient, headers: dict[str, str]) -> list[str]:
    listed = client.get(BASE, params={"awaiting_answer": "true"}, headers=headers)
    assert listed.status_code == 200
    return [i["id"] for i in listed.json()["items"]]


def test_mark_answered_ends_the_wait_and_is_recorded(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw], submissions=2,
                     messages=["please call my lawyer"])
    other = make_case(session, settings, wrap_to=[staff.cw])
    thread, quiet_thread = made.submissions
    cw = login_headers(app_client, staff.cw)

    assert _waiting(app_client, cw) == [str(made.id)]
    assert len(app_client.get(BASE, headers=cw).json()["items"]) == 2  # default: every case
    threads = {t["id"]: t for t in app_client.get(f"{BASE}/{made.id}", headers=cw)
               .json()["threads"]}
    assert threads[str(thread)]["awaiting_answer"] is True
    assert threads[str(quiet_thread)]["awaiting_answer"] is False

    url = f"{BASE}/{made.id}/threads/{thread}/answered"
    # A thread with nothing waiting, and one of another case, are refused.
    quiet = app_client.post(f"{BASE}/{made.id}/threads/{quiet_thread}/answered", headers=cw)
    assert quiet.status_code == 409
    elsewhere = app_client.post(f"{BASE}/{other.id}/threads/{thread}/answered", headers=cw)
    assert elsewhere.status_code == 422  # not a thread of that case
    lawyer = app_client.post(url, headers=login_headers(app_client, staff.lawyer))
    assert lawyer.status_code == 403

    done = app_client.post(url, headers=cw)
    assert done.status_code == 200, done.text
    assert done.json() == {"thread_id": str(thread), "messages_answered": 1}
    assert _waiting(app_client, cw) == []
    detail = app_client.get(f"{BASE}/{made.id}", headers=cw).json()
    assert not any(t["awaiting_answer"] for t in detail["threads"])
    assert app_client.post(url, headers=cw).status_code == 409

    # Recorded like a reply: an event in the case's history and an audit entry, ids only.
    event = session.exec(select(CaseEvent).where(CaseEvent.case_id == made.id,
                                                 CaseEvent.kind == "answered")).one()
    assert event.actor_id == staff.cw.user.id and event.detail == f"thread={thread};messages=1"
    entry = session.exec(select(AuditEntry).where(
        col(AuditEntry.case_id) == made.id, AuditEntry.action == "case.changed")).one()
    assert entry.target == str(thread) and "thread_answered" in entry.details
    session.rollback()


def test_a_reply_answers_and_a_new_message_waits_again(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw], messages=["where is he held?"])
    cw = login_headers(app_client, staff.cw)
    assert _waiting(app_client, cw) == [str(made.id)]
    sent = app_client.post(f"{BASE}/{made.id}/messages", json={"body": "We are asking."},
                           headers=cw)
    assert sent.status_code == 201
    assert _waiting(app_client, cw) == []
    answered = session.exec(select(CaseMessage.answered_at).where(
        CaseMessage.case_id == made.id, CaseMessage.direction == "from_submitter")).one()
    assert answered is not None
    session.rollback()

    # The submitter writes again (as follow-up stores it): the thread waits once more.
    session.add(CaseMessage(case_id=made.id, submission_id=made.submissions[0],
                            key_case_id=made.id, direction="from_submitter", body=b"x",
                            seq=99))
    session.commit()
    assert _waiting(app_client, cw) == [str(made.id)]
