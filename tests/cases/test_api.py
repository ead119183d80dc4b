"""The caseworker API over HTTP: roles, ETag/If-Match, downloads, grants, drafts, paging."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.cases.models import Case
from api.core.models import utcnow
from api.core.settings import Settings
from tests.cases.factory import Staff, jpeg_with_gps, make_case
from tests.cases.metadata.test_metadata import VICTIM, document
from tests.factories import (
    approve,
    create_recovery_key_text,
    create_staff,
    login_headers,
    submit_report,
)

BASE = "/api/v1/cases"


def test_roles_etag_and_concurrency(app_client: TestClient, session: Session,
                                    settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    cw = login_headers(app_client, staff.cw)
    assert app_client.get(BASE).status_code == 401
    admin = app_client.get(BASE, headers=login_headers(app_client, staff.admin))
    assert admin.status_code == 403
    listed = app_client.get(BASE, headers=cw).json()
    assert [i["id"] for i in listed["items"]] == [str(made.id)]

    got = app_client.get(f"{BASE}/{made.id}", headers=cw)
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.json()["submissions"][0]["payload"]["narrative"] == "canary narrative 0"
    reads = session.exec(select(AuditEntry).where(col(AuditEntry.case_id) == made.id,
                                                  AuditEntry.action == "case.read")).all()
    assert len(reads) == 1 and "submissions" in reads[0].details
    session.rollback()  # SQLite: end the test's transaction so the app can write

    url = f"{BASE}/{made.id}"
    assert app_client.patch(url, json={"region": "BY-BR"}, headers=cw).status_code == 428
    ok = app_client.patch(url, json={"region": "BY-BR"}, headers={**cw, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = app_client.patch(url, json={"region": "BY-VI"}, headers={**cw, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["error"]["details"]["current_version"] == 2
    bad = app_client.patch(url, json={"acts": [{"victim_id": str(VICTIM), "act_type": "nope"}]},
                           headers={**cw, "If-Match": '"2"'})
    assert bad.status_code == 422 and "nope" not in bad.text
    assert any(f["path"].endswith("act_type") for f in bad.json()["error"]["details"]["fields"])

    wrong = app_client.post(f"{url}/transitions", json={"to": "verified"}, headers=cw)
    assert wrong.status_code == 409 and wrong.json()["error"]["details"]["allowed"]
    moved = app_client.post(f"{url}/transitions", json={"to": "triage", "comment": "ok"},
                            headers=cw)
    assert moved.status_code == 200 and moved.json()["state"] == "triage"
    lawyer = login_headers(app_client, staff.lawyer)
    assert app_client.get(url, headers=lawyer).status_code == 404
    assert app_client.post(f"{url}/transitions", json={"to": "in_review"},
                           headers=lawyer).status_code == 403


def test_download_keeps_its_sandbox_policy_and_download_headers(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    """The page-header middleware must not replace the download's own, stricter headers:
    ``sandbox`` makes an attachment opened inline a script-less, origin-less document."""
    made = make_case(session, settings, wrap_to=[staff.cw],
                     files=[("page.html", "text/html", b"<script>alert(1)</script>")])
    dl = app_client.get(f"{BASE}/{made.id}/attachments/{made.attachments[0]}",
                        headers=login_headers(app_client, staff.cw))
    assert dl.status_code == 200, dl.text
    h = dl.headers
    assert h.get_list("content-security-policy") == ["sandbox"]
    assert h["content-type"] == "application/octet-stream"
    assert h["content-disposition"].startswith('attachment; filename="dokaz-')
    assert h.get_list("x-content-type-options") == ["nosniff"]
    assert h.get_list("cache-control") == ["no-store"]
    # The middleware still adds what the route did not set.
    assert h["referrer-policy"] == "no-referrer" and h["x-frame-options"] == "DENY"
    assert h["cross-origin-resource-policy"] == "same-origin"
    # Every other response keeps the page policy.
    other = app_client.get(f"{BASE}/{made.id}", headers=login_headers(app_client, staff.cw))
    assert "default-src 'none'" in other.headers["content-security-policy"]


def test_download_derivative_and_access(app_client: TestClient, session: Session,
                                        settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.coord, staff.coord2, staff.cw],
                     files=[("<script>.jpg", "image/jpeg", jpeg_with_gps())],
                     messages=["hello from the relative"])
    coord = login_headers(app_client, staff.coord)
    url = f"{BASE}/{made.id}"
    dl = app_client.get(f"{url}/attachments/{made.attachments[0]}", headers=coord)
    assert dl.status_code == 200 and dl.content == jpeg_with_gps()
    assert dl.headers["content-length"] == str(len(jpeg_with_gps()))  # not the padded size
    assert dl.headers["content-type"] == "application/octet-stream"
    assert dl.headers["content-disposition"].startswith("attachment;")
    assert "<script>" not in dl.headers["content-disposition"]
    assert dl.headers["x-content-type-options"] == "nosniff"
    der = app_client.post(f"{url}/attachments/{made.attachments[0]}/derivatives", headers=coord)
    assert der.status_code == 201 and der.json()["kind"] == "derivative"
    assert der.json()["metadata"]["derived_from_sha256"]

    msgs = app_client.get(f"{url}/messages", headers=coord).json()
    assert msgs[0]["body"] == "hello from the relative" and msgs[0]["direction"] == (
        "from_submitter")
    sent = app_client.post(f"{url}/messages", json={"body": "We received it."}, headers=coord)
    assert sent.status_code == 201
    again = app_client.get(f"{url}/messages", headers=coord).json()
    assert again[0]["read_at"] is not None and again[1]["body"] == "We received it."

    cw2 = login_headers(app_client, staff.cw2)
    assert app_client.get(url, headers=cw2).status_code == 404
    grant = app_client.post(f"{url}/access", json={"staff_id": str(staff.cw2.user.id)},
                            headers=coord)
    assert grant.status_code == 202  # a second coordinator who holds the key approves
    assert app_client.get(url, headers=cw2).status_code == 404
    approve(app_client, staff.coord2, grant.json()["id"])
    assert app_client.get(url, headers=cw2).status_code == 200
    cw = login_headers(app_client, staff.cw)
    assert app_client.post(f"{url}/access", json={"staff_id": str(staff.cw2.user.id)},
                           headers=cw).status_code == 403  # coordinators grant
    assert app_client.delete(f"{url}/access/{staff.cw2.user.id}",
                             headers=coord).status_code == 204
    assert app_client.get(url, headers=cw2).status_code == 404
    actions = set(session.exec(select(AuditEntry.action).where(
        col(AuditEntry.case_id) == made.id)))
    assert {"key.grant", "key.revoke", "attachment.read", "case.read"} <= actions


def test_referral_over_http(app_client: TestClient, session: Session, settings: Settings,
                            staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    cw = login_headers(app_client, staff.cw)
    url = f"{BASE}/{made.id}"
    received = session.get(Case, made.id).received_on  # type: ignore[union-attr]
    session.rollback()
    assert app_client.patch(url, json=document(received),
                            headers={**cw, "If-Match": '"1"'}).status_code == 200
    refused = app_client.get(f"{url}/referral-drafts/wgeid", headers=cw)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "consent_missing"
    assert "share_un_wgeid" in refused.json()["error"]["message"]
    for scope in ("share_un_wgeid", "un_name_to_government"):
        r = app_client.post(f"{url}/consents", json={"person_id": str(VICTIM), "scope": scope},
                            headers=cw)
        assert r.status_code == 201, r.text
    doc = app_client.get(f"{url}/referral-drafts/wgeid", headers=cw)
    assert doc.status_code == 200 and doc.json()["mechanism"] == "WGEID"
    md = app_client.get(f"{url}/referral-drafts/wgeid?format=markdown&lang=be", headers=cw)
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Праект паведамлення")


def test_paging_sorting_overdue(app_client: TestClient, session: Session, settings: Settings,
                                staff: Staff) -> None:
    made = [make_case(session, settings, wrap_to=[staff.cw],
                      received_on=utcnow().date() - timedelta(days=n)) for n in range(5)]
    overdue = session.get(Case, made[3].id)
    assert overdue is not None
    overdue.due_at = utcnow() - timedelta(days=1)  # its due day has passed
    session.add(overdue)
    session.commit()
    cw = login_headers(app_client, staff.cw)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "sort": "received_on", "order": "desc"}
        if cursor:
            params["cursor"] = cursor
        page = app_client.get(BASE, params=params, headers=cw).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [str(m.id) for m in made]
    late = app_client.get(BASE, params={"overdue": "true"}, headers=cw).json()["items"]
    assert [i["id"] for i in late] == [str(made[3].id)] and late[0]["overdue"]
    due = app_client.get(BASE, params={"sort": "due", "order": "asc", "limit": 1},
                         headers=cw).json()
    assert due["items"][0]["id"] == str(made[3].id)
    bad = app_client.get(BASE, params={"cursor": "garbage"}, headers=cw)
    assert bad.status_code == 400
    other = app_client.get(BASE, params={"cursor": due["next_cursor"]}, headers=cw)
    assert other.status_code == 400  # a cursor of another sort order
    assert app_client.get(BASE, params={"state": "nonsense"}, headers=cw).status_code == 422
    assert app_client.get(f"{BASE}/{uuid.uuid4()}", headers=cw).status_code == 404


def test_case_from_the_real_intake(app_client: TestClient, session: Session) -> None:
    """A report sent through the public intake API opens for the caseworker on duty:
    same wrap, payload and file contexts on both sides."""
    create_recovery_key_text(session)
    duty = create_staff(session, Role.CASEWORKER, on_intake_duty=True)
    other = create_staff(session, Role.CASEWORKER)
    receipt = submit_report(app_client, narrative="Canary: taken from his flat at night.")
    headers = login_headers(app_client, duty)
    items = app_client.get(BASE, headers=headers).json()["items"]
    assert [i["reference"] for i in items] == [receipt["reference"]]
    # The report's act category is the case's act already (intake statements).
    assert items[0]["act_types"] == ["detention"] and items[0]["due_at"] is not None
    detail = app_client.get(f"{BASE}/{items[0]['id']}", headers=headers).json()
    assert "taken from his flat" in str(detail["submissions"][0]["payload"])
    assert app_client.get(f"{BASE}/{items[0]['id']}",
                          headers=login_headers(app_client, other)).status_code == 404


def test_next_moves_say_what_is_open_to_the_caller_and_why_not(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    """``GET /transitions``: the moves the case page offers, for any API client."""
    made = make_case(session, settings, wrap_to=[staff.cw, staff.coord])
    url = f"{BASE}/{made.id}"
    cw, coord = (login_headers(app_client, h) for h in (staff.cw, staff.coord))
    for state in ("triage", "in_review"):
        assert app_client.post(f"{url}/transitions", json={"to": state},
                               headers=cw).status_code == 200

    def moves(headers: dict[str, str]) -> dict[str, tuple[bool, str | None]]:
        r = app_client.get(f"{url}/transitions", headers=headers)
        assert r.status_code == 200, r.text
        return {m["state"]: (m["open"], m["rule"]) for m in r.json()}

    mine = moves(cw)
    assert mine["verified"] == (False, "four_eyes")  # she sent it to review
    assert mine["needs_info"] == (True, None)
    refused = app_client.post(f"{url}/transitions", json={"to": "verified"}, headers=cw)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["rule"] == "four_eyes"
    assert moves(coord)["verified"] == (True, None)
    # Only who may move a case asks; a case one cannot see is not found.
    lawyer = login_headers(app_client, staff.lawyer)
    assert app_client.get(f"{url}/transitions", headers=lawyer).status_code == 403
    assert app_client.get(f"{BASE}/{uuid.uuid4()}/transitions", headers=cw).status_code == 404
