"""Each submitter sees only their own thread, through merges and splits (property 11).

End to end over HTTP, on both engines: submitters use their receipts, staff use the case
API. Canary strings are checked by content in everything a receipt gets back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads.models import CaseMessage, Submission
from api.keys.models import CaseKeyWrap
from tests.factories import StaffHandle, approve, create_staff, login_headers
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, form, report

CASES = "/api/v1/cases"


class Submitter:
    """One person with a receipt: their case, their thread and a follow-up session."""

    def __init__(self, intake: Intake, narrative: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        self.intake = intake
        r = intake.client.post("/api/v1/submissions", json=report(narrative=narrative, **extra),
                               headers=headers or {})
        assert r.status_code == 201, r.text
        self.reference = r.json()["reference"]
        self.receipt = r.json()["receipt"]
        with intake.session() as s:
            case = s.exec(select(Case).where(col(Case.reference) == self.reference)).one()
            self.case_id = case.id
            self.thread_id = s.exec(select(Submission.id).where(
                col(Submission.case_id) == case.id)).one()
        r = intake.client.post("/api/v1/followup/session", json={"receipt": self.receipt})
        assert r.status_code == 201, r.text
        self.auth = {"Authorization": f"Bearer {r.json()['token']}"}

    def say(self, text: str) -> None:
        r = self.intake.client.post("/api/v1/followup/messages", json={"text": text},
                                    headers=self.auth)
        assert r.status_code == 201, r.text

    def add(self, text: str, file: tuple[str, str, bytes] | None = None) -> None:
        body, ctype = form({"narrative": text}, [file] if file else [])
        r = self.intake.client.post("/api/v1/followup/additions", content=body,
                                    headers={**self.auth, "content-type": ctype})
        assert r.status_code == 201, r.text

    def sees(self) -> tuple[list[tuple[str, str]], str]:
        """(direction, text) of every message, and the raw text of all it was sent."""
        status = self.intake.client.get("/api/v1/followup/status", headers=self.auth)
        msgs = self.intake.client.get("/api/v1/followup/messages", headers=self.auth)
        assert status.status_code == 200 and msgs.status_code == 200, msgs.text
        return ([(m["direction"], m["text"]) for m in msgs.json()],
                status.text + msgs.text)


def _coordinator(intake: Intake) -> tuple[StaffHandle, dict[str, str]]:
    with intake.session() as s:
        coord = create_staff(s, Role.COORDINATOR, on_intake_duty=True, settings=intake.settings)
    return coord, login_headers(intake.client, coord)


def _reply(intake: Intake, staff: dict[str, str], case_id: uuid.UUID, text: str,
           thread_id: uuid.UUID | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"body": text}
    if thread_id is not None:
        body["thread_id"] = str(thread_id)
    r = intake.client.post(f"{CASES}/{case_id}/messages", json=body, headers=staff)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _merge(intake: Intake, staff: dict[str, str], target: uuid.UUID, source: uuid.UUID) -> None:
    r = intake.client.post(f"{CASES}/{target}/merge", json={"from_case_id": str(source)},
                           headers=staff)
    assert r.status_code == 200, r.text


def test_merge_and_split_keep_each_submitter_in_their_own_thread(intake: Intake) -> None:
    _, staff = _coordinator(intake)  # on intake duty: holds both new cases' keys
    a = Submitter(intake, "CANARY-A-NARRATIVE my address is Lenina 1")
    b = Submitter(intake, "CANARY-B-NARRATIVE my address is Surganova 7")
    a.say("CANARY-A-MESSAGE")
    b.say("CANARY-B-MESSAGE")
    a.add("CANARY-A-ADDITION", ("a-canary.png", "image/png", PNG))
    b.add("CANARY-B-ADDITION", ("b-canary.png", "image/png", PNG + b"b"))
    _reply(intake, staff, a.case_id, "CANARY-REPLY-TO-A")
    _reply(intake, staff, b.case_id, "CANARY-REPLY-TO-B")

    _merge(intake, staff, a.case_id, b.case_id)

    # Two submitters now: a reply must say whose thread it is for.
    r = intake.client.post(f"{CASES}/{a.case_id}/messages", json={"body": "to whom?"},
                           headers=staff)
    assert r.status_code == 422 and "thread_id" in r.json()["error"]["message"]
    after = _reply(intake, staff, a.case_id, "CANARY-REPLY-TO-B-AFTER-MERGE", b.thread_id)
    assert after["thread_id"] == str(b.thread_id)
    b.say("CANARY-B-AFTER-MERGE")
    b.add("CANARY-B-ADDITION-AFTER-MERGE")

    seen_a, raw_a = a.sees()
    assert seen_a == [("from_you", "CANARY-A-MESSAGE"), ("to_you", "CANARY-REPLY-TO-A")]
    assert "CANARY-B" not in raw_a and "REPLY-TO-B" not in raw_a
    seen_b, raw_b = b.sees()
    assert seen_b == [("from_you", "CANARY-B-MESSAGE"), ("to_you", "CANARY-REPLY-TO-B"),
                      ("to_you", "CANARY-REPLY-TO-B-AFTER-MERGE"),
                      ("from_you", "CANARY-B-AFTER-MERGE")]
    assert "CANARY-A" not in raw_b and "REPLY-TO-A" not in raw_b

    # Staff see both threads, labelled, each item tagged with its thread.
    detail = intake.client.get(f"{CASES}/{a.case_id}", headers=staff).json()
    assert [t["shared"] for t in detail["threads"]] == [True, True]
    assert all(t["label"].startswith("submission ") and "(api, be, received " in t["label"]
               for t in detail["threads"])
    by_thread = {t["id"]: t for t in detail["threads"]}
    assert by_thread[str(b.thread_id)]["submissions"] == 3  # report + two additions
    assert {m["thread_id"] for m in detail["messages"]
            if "CANARY-B" in m["body"] or "TO-B" in m["body"]} == {str(b.thread_id)}
    narratives: dict[str, list[str]] = {s["thread_id"]: [] for s in detail["submissions"]}
    for s in detail["submissions"]:
        narratives[s["thread_id"]].append(s["payload"]["narrative"])
    assert all("CANARY-A" in n for n in narratives[str(a.thread_id)])
    assert all("CANARY-B" in n for n in narratives[str(b.thread_id)])

    # Split B's thread back out: both receipts still see exactly their own thread.
    r = intake.client.post(f"{CASES}/{a.case_id}/split",
                           json={"submission_ids": [str(b.thread_id)]}, headers=staff)
    assert r.status_code == 201, r.text
    split_id = uuid.UUID(r.json()["id"])
    _reply(intake, staff, split_id, "CANARY-REPLY-TO-B-AFTER-SPLIT")  # one thread: no id
    _reply(intake, staff, a.case_id, "CANARY-REPLY-TO-A-AFTER-SPLIT")
    b.say("CANARY-B-AFTER-SPLIT")
    seen_a, raw_a = a.sees()
    assert [t for _, t in seen_a] == ["CANARY-A-MESSAGE", "CANARY-REPLY-TO-A",
                                      "CANARY-REPLY-TO-A-AFTER-SPLIT"]
    assert "CANARY-B" not in raw_a
    seen_b, raw_b = b.sees()
    assert [t for _, t in seen_b] == [
        "CANARY-B-MESSAGE", "CANARY-REPLY-TO-B", "CANARY-REPLY-TO-B-AFTER-MERGE",
        "CANARY-B-AFTER-MERGE", "CANARY-REPLY-TO-B-AFTER-SPLIT", "CANARY-B-AFTER-SPLIT"]
    assert "CANARY-A" not in raw_b and r.json()["reference"] in raw_b
    with intake.session() as s:
        # Nothing was re-sealed: every row of B's thread is still under B's own case key.
        for column, key_column in ((Submission.case_id, Submission.key_case_id),
                                   (Attachment.case_id, Attachment.key_case_id),
                                   (CaseMessage.case_id, CaseMessage.key_case_id)):
            keyed = s.exec(select(key_column).where(col(column) == split_id)).all()
            assert keyed and set(keyed) == {b.case_id}


def test_lawyer_gets_a_merged_victims_thread_only_by_an_audited_grant(intake: Intake) -> None:
    _, staff = _coordinator(intake)
    # The second person of the two-person rule: a coordinator on duty too, so the merge
    # shares the victim's thread key with them and they can approve the grant.
    second, _ = _coordinator(intake)
    with intake.session() as s:
        lawyer = create_staff(s, Role.LAWYER, settings=intake.settings)
    as_lawyer = login_headers(intake.client, lawyer)
    own = Submitter(intake, "LAWYER-OWN-NARRATIVE", reporter={"role": "lawyer"},
                    headers=as_lawyer)
    victim = Submitter(intake, "CANARY-VICTIM-NARRATIVE")
    victim.say("CANARY-VICTIM-MESSAGE")
    victim.add("CANARY-VICTIM-ADDITION", ("victim.png", "image/png", PNG))
    _merge(intake, staff, own.case_id, victim.case_id)

    r = intake.client.get(f"{CASES}/{own.case_id}", headers=as_lawyer)
    assert r.status_code == 200, r.text
    assert "CANARY-VICTIM" not in r.text and "victim.png" not in r.text
    threads = {t["id"]: t for t in r.json()["threads"]}
    assert threads[str(victim.thread_id)]["shared"] is False
    assert threads[str(victim.thread_id)]["note"] == "not shared with you"
    assert threads[str(own.thread_id)]["shared"] is True
    assert [s["payload"]["narrative"] for s in r.json()["submissions"]] == [
        "LAWYER-OWN-NARRATIVE"]
    with intake.session() as s:
        victim_file = s.exec(select(Attachment.id).where(
            col(Attachment.case_id) == own.case_id,
            col(Attachment.key_case_id) == victim.case_id)).one()
        # The merge wrapped the victim's key to no lawyer.
        assert s.exec(select(CaseKeyWrap).where(
            col(CaseKeyWrap.case_id) == victim.case_id,
            col(CaseKeyWrap.recipient_id) == lawyer.id)).first() is None
    got = intake.client.get(f"{CASES}/{own.case_id}/attachments/{victim_file}",
                            headers=as_lawyer)
    assert got.status_code == 403 and "not shared" in got.json()["error"]["message"]

    grant_url = f"{CASES}/{own.case_id}/threads/{victim.thread_id}/access"
    r = intake.client.post(grant_url, json={"staff_id": str(lawyer.id)}, headers=staff)
    assert r.status_code == 202, r.text
    request = r.json()
    assert request["kind"] == "case_grant" and request["status"] == "pending"
    assert request["thread_id"] == str(victim.thread_id)
    # Asked for, not given: one coordinator alone widens nobody's access (property 12).
    assert "CANARY-VICTIM" not in intake.client.get(f"{CASES}/{own.case_id}",
                                                    headers=as_lawyer).text
    own_approval = intake.client.post(f"/api/v1/approvals/{request['id']}/approve",
                                      headers=staff)
    assert own_approval.status_code == 403
    approve(intake.client, second, request["id"])
    again = intake.client.post(grant_url, json={"staff_id": str(lawyer.id)}, headers=staff)
    assert again.status_code == 409
    with intake.session() as s:
        grants = [(e, json.loads(e.details)) for e in s.exec(select(AuditEntry).where(
            col(AuditEntry.action) == "key.grant", col(AuditEntry.target) == str(lawyer.id)))]
        thread_grants = [(e, d) for e, d in grants if d.get("kind") == "thread"]
        assert len(thread_grants) == 1 and thread_grants[0][0].actor_id == second.id
        assert thread_grants[0][1]["thread"] == str(victim.thread_id)
        assert thread_grants[0][1]["key_case"] == str(victim.case_id)
        assert thread_grants[0][1]["reason"] == "thread_grant"
    r = intake.client.get(f"{CASES}/{own.case_id}", headers=as_lawyer)
    assert "CANARY-VICTIM-NARRATIVE" in r.text and "CANARY-VICTIM-MESSAGE" in r.text
    got = intake.client.get(f"{CASES}/{own.case_id}/attachments/{victim_file}",
                            headers=as_lawyer)
    assert got.status_code == 200 and got.content == PNG
    # A lawyer's own case access is unchanged, and the duplicate itself stays closed to them.
    assert intake.client.get(f"{CASES}/{victim.case_id}",
                             headers=as_lawyer).status_code == 404
    # The grant is revocable like any other (audited); the thread is withheld again.
    r = intake.client.delete(f"{grant_url}/{lawyer.id}", headers=staff)
    assert r.status_code == 204, r.text
    assert intake.client.delete(f"{grant_url}/{lawyer.id}", headers=staff).status_code == 404
    r = intake.client.get(f"{CASES}/{own.case_id}", headers=as_lawyer)
    assert "CANARY-VICTIM" not in r.text
    with intake.session() as s:
        revokes = [json.loads(e.details) for e in s.exec(select(AuditEntry).where(
            col(AuditEntry.action) == "key.revoke", col(AuditEntry.target) == str(lawyer.id)))]
        assert [(d["kind"], d["thread"]) for d in revokes] == [("thread", str(victim.thread_id))]


def test_informers_duplicate_sees_only_the_informers_thread(intake: Intake) -> None:
    _, staff = _coordinator(intake)
    victim = Submitter(intake, "CANARY-VICTIM-STORY")
    victim.say("CANARY-VICTIM-SAYS where my brother hides")
    _reply(intake, staff, victim.case_id, "CANARY-STAFF-TO-VICTIM")
    informer = Submitter(intake, "a duplicate of the known incident")
    informer.say("informer's question")
    _merge(intake, staff, victim.case_id, informer.case_id)
    _reply(intake, staff, victim.case_id, "reply to the informer", informer.thread_id)
    _reply(intake, staff, victim.case_id, "CANARY-STAFF-TO-VICTIM-AGAIN", victim.thread_id)

    seen, raw = informer.sees()
    assert seen == [("from_you", "informer's question"), ("to_you", "reply to the informer")]
    assert "CANARY" not in raw
    seen, raw = victim.sees()
    assert [t for _, t in seen] == ["CANARY-VICTIM-SAYS where my brother hides",
                                    "CANARY-STAFF-TO-VICTIM", "CANARY-STAFF-TO-VICTIM-AGAIN"]
    assert "informer" not in raw
    with Session(intake.engine) as s:
        # The informer's receipt opens only the informer's key: the victim's rows are under
        # a key it has no wrap to.
        victim_rows = s.exec(select(CaseMessage).where(
            col(CaseMessage.submission_id) == victim.thread_id)).all()
        assert {m.key_case_id for m in victim_rows} == {victim.case_id}
        receipt_wraps = s.exec(select(CaseKeyWrap).where(
            col(CaseKeyWrap.case_id) == victim.case_id,
            col(CaseKeyWrap.recipient_kind) == "receipt")).all()
        assert len(receipt_wraps) == 1  # the victim's own; nobody else's receipt opens it
