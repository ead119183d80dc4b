"""Two-person rule (threat model property 12): no one person makes a reader.

Each test runs on SQLite and PostgreSQL through the real API.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session, col, select

from api.approvals.models import PendingChange
from api.approvals.service import expire_due
from api.audit import actions
from api.audit.models import AuditEntry
from api.auth.models import StaffUser
from api.auth.repository import intake_duty_recipients
from api.auth.roles import Role
from api.core import migrations
from api.keys.models import CaseKeyWrap
from crypto.keys import StaffKeyPair
from crypto.staff_keys import unseal_private_key
from tests.audit.test_cli import _dokaz
from tests.conftest import DbUnderTest
from tests.factories import (
    StaffHandle,
    app_clock,
    app_settings,
    approve,
    approve_all,
    create_recovery_key_text,
    create_staff,
    login_headers,
    submit_report,
)

USERS = "/api/v1/admin/users"
APPROVALS = "/api/v1/approvals"
PASSWORD = "three unrelated words here"


def _created(session: Session, body: dict[str, Any]) -> StaffHandle:
    """A handle (password, TOTP, key pair) for an account an admin made over the API."""
    user = session.get(StaffUser, uuid.UUID(body["user"]["id"]))
    assert user is not None
    session.expunge(user)
    session.rollback()
    secret = pyotp.parse_uri(body["totp_provisioning_uri"]).secret
    pair = StaffKeyPair.from_private_bytes(unseal_private_key(user.sealed_private_key, PASSWORD))
    return StaffHandle(user=user, password=PASSWORD, totp_secret=secret, keypair=pair)


def _admin_creates(client: TestClient, admin_h: dict[str, str], name: str, role: str,
                   duty: bool = False) -> dict[str, Any]:
    r = client.post(USERS, headers=admin_h, json={
        "username": name, "role": role, "password": PASSWORD, "on_intake_duty": duty})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _wrapped_to(session: Session, case_id: str) -> set[uuid.UUID]:
    ids = set(session.exec(select(CaseKeyWrap.recipient_id).where(
        col(CaseKeyWrap.case_id) == uuid.UUID(case_id),
        col(CaseKeyWrap.recipient_kind).in_(["staff", "lawyer"]))))
    session.rollback()
    return ids


def _case_id(client: TestClient, headers: dict[str, str]) -> str:
    items = client.get("/api/v1/cases", headers=headers).json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


def _audited(session: Session, action: str) -> list[AuditEntry]:
    rows = list(session.exec(select(AuditEntry).where(col(AuditEntry.action) == action)
                             .order_by(col(AuditEntry.seq))))
    session.expunge_all()  # detached: reading them later opens no transaction (SQLite lock)
    session.rollback()
    return rows


def test_an_admin_alone_cannot_bring_any_account_to_read_a_new_case(
    app_client: TestClient, session: Session
) -> None:
    create_recovery_key_text(session)
    admin = create_staff(session, Role.ADMIN)
    admin_h = login_headers(app_client, admin)
    duty_coord = create_staff(session, Role.COORDINATOR, on_intake_duty=True)
    old_cw = create_staff(session, Role.CASEWORKER)
    old_lawyer = create_staff(session, Role.LAWYER)
    old_coord = create_staff(session, Role.COORDINATOR)

    # New accounts: asked for as a coordinator and as an on-duty caseworker, and a lawyer.
    as_coord = _admin_creates(app_client, admin_h, "new.coord", "coordinator")
    assert as_coord["user"]["role"] == "caseworker"
    assert as_coord["user"]["reader_approved"] is False
    assert {p["kind"] for p in as_coord["pending_approvals"]} == {"reader", "coordinator_role"}
    as_duty = _admin_creates(app_client, admin_h, "new.duty", "caseworker", duty=True)
    assert as_duty["user"]["on_intake_duty"] is False
    assert {p["kind"] for p in as_duty["pending_approvals"]} == {"reader", "intake_duty"}
    as_lawyer = _admin_creates(app_client, admin_h, "new.lawyer", "lawyer")
    new = [_created(session, b) for b in (as_coord, as_duty, as_lawyer)]

    # Existing accounts: duty, a role change to coordinator, a lawyer made a caseworker.
    duty = app_client.put(f"{USERS}/{old_cw.id}/intake-duty", headers=admin_h,
                          json={"on_intake_duty": True})
    assert duty.status_code == 202 and duty.json()["kind"] == "intake_duty"
    assert duty.json()["status"] == "pending"
    role = app_client.put(f"{USERS}/{old_cw.id}/role", headers=admin_h,
                          json={"role": "coordinator"})
    assert role.status_code == 202 and role.json()["kind"] == "coordinator_role"
    again = app_client.put(f"{USERS}/{old_cw.id}/role", headers=admin_h,
                           json={"role": "coordinator"})
    assert again.json()["id"] == role.json()["id"]  # asking twice files one request
    lawyer_cw = app_client.put(f"{USERS}/{old_lawyer.id}/role", headers=admin_h,
                               json={"role": "caseworker"})
    assert lawyer_cw.status_code == 200 and lawyer_cw.json()["role"] == "caseworker"
    assert app_client.put(f"{USERS}/{old_lawyer.id}/intake-duty", headers=admin_h,
                          json={"on_intake_duty": True}).status_code == 202
    assert app_client.put(f"{USERS}/{old_coord.id}/intake-duty", headers=admin_h,
                          json={"on_intake_duty": True}).status_code == 202
    own = app_client.put(f"{USERS}/{admin.id}/role", headers=admin_h,
                         json={"role": "coordinator"})
    assert own.status_code == 202

    # The admin cannot decide any of it, nor grant, nor assign.
    pending = app_client.get(APPROVALS, headers=login_headers(app_client, duty_coord)).json()
    assert len(pending) == 10
    for item in pending:
        r = app_client.post(f"{APPROVALS}/{item['id']}/approve", headers=admin_h)
        assert r.status_code == 403
    assert app_client.get(APPROVALS, headers=admin_h).status_code == 403
    # The new accounts' other requests wait for their reader request: listed after the
    # reader requests, marked, and refused until it is approved.
    new_ids = {b["user"]["id"] for b in (as_coord, as_duty, as_lawyer)}
    kinds = [item["kind"] for item in pending]
    assert kinds == sorted(kinds, key=lambda k: k != "reader")
    for item in pending:
        assert item["reader_first"] is (item["kind"] != "reader"
                                        and item["target_id"] in new_ids), item
    waiting = next(i for i in pending if i["reader_first"])
    r = app_client.post(f"{APPROVALS}/{waiting['id']}/approve",
                        headers=login_headers(app_client, duty_coord))
    assert r.status_code == 409 and "reader request first" in r.json()["error"]["message"]

    submit_report(app_client, narrative="CANARY testimony")
    coord_h = login_headers(app_client, duty_coord)
    case_id = _case_id(app_client, coord_h)
    everyone = [h.id for h in new] + [old_cw.id, old_lawyer.id, old_coord.id, admin.id]
    for uid in everyone:
        assert app_client.post(f"/api/v1/cases/{case_id}/access", headers=admin_h,
                               json={"staff_id": str(uid)}).status_code == 403
        assert app_client.put(f"/api/v1/cases/{case_id}/assignee", headers=admin_h,
                              json={"assignee_id": str(uid)}).status_code == 403
    assert _wrapped_to(session, case_id) == {duty_coord.id}
    assert [uid for uid, _ in intake_duty_recipients(session)] == [duty_coord.id]
    session.rollback()

    # Even a coordinator cannot hand the case to an account no coordinator approved.
    for handle in new[:2]:
        r = app_client.put(f"/api/v1/cases/{case_id}/assignee", headers=coord_h,
                           json={"assignee_id": str(handle.id)})
        assert r.status_code == 409 and "approved reader" in r.json()["error"]["message"]
    assert _wrapped_to(session, case_id) == {duty_coord.id}

    for handle in [*new, old_cw, old_lawyer, old_coord]:
        h = login_headers(app_client, handle)
        assert app_client.get(f"/api/v1/cases/{case_id}", headers=h).status_code in (403, 404)
    # The would-be coordinator is still a caseworker: it cannot decide approvals either.
    r = app_client.post(f"{APPROVALS}/{pending[0]['id']}/approve",
                        headers=login_headers(app_client, new[0]))
    assert r.status_code == 403


def test_no_one_approves_their_own_request_and_a_grant_needs_the_approvers_key(
    app_client: TestClient, session: Session
) -> None:
    create_recovery_key_text(session)
    coord_a = create_staff(session, Role.COORDINATOR, on_intake_duty=True)
    coord_b = create_staff(session, Role.COORDINATOR, on_intake_duty=True)
    keyless = create_staff(session, Role.COORDINATOR)
    cw = create_staff(session, Role.CASEWORKER)
    submit_report(app_client)
    a_h = login_headers(app_client, coord_a)
    case_id = _case_id(app_client, a_h)
    url = f"/api/v1/cases/{case_id}/access"

    asked = app_client.post(url, headers=a_h, json={"staff_id": str(cw.id)})
    assert asked.status_code == 202 and asked.json()["kind"] == "case_grant"
    assert asked.json()["case_id"] == case_id and asked.json()["you_may_decide"] is False
    own = app_client.post(f"{APPROVALS}/{asked.json()['id']}/approve", headers=a_h)
    assert own.status_code == 403 and "another coordinator" in own.json()["error"]["message"]
    no_key = app_client.post(f"{APPROVALS}/{asked.json()['id']}/approve",
                             headers=login_headers(app_client, keyless))
    assert no_key.status_code == 403
    cw_h = login_headers(app_client, cw)
    assert app_client.get(f"/api/v1/cases/{case_id}", headers=cw_h).status_code == 404
    assert _wrapped_to(session, case_id) == {coord_a.id, coord_b.id}

    # A coordinator asking for access for themselves cannot approve it either.
    for_self = app_client.post(url, headers=login_headers(app_client, keyless),
                               json={"staff_id": str(keyless.id)})
    assert for_self.status_code == 202
    r = app_client.post(f"{APPROVALS}/{for_self.json()['id']}/approve",
                        headers=login_headers(app_client, keyless))
    assert r.status_code == 403

    # The second coordinator, who holds the key, approves: the grant happens, audited.
    done = approve(app_client, coord_b, asked.json()["id"])
    assert done["decided_by_id"] == str(coord_b.id)
    assert app_client.get(f"/api/v1/cases/{case_id}", headers=cw_h).status_code == 200
    grant = _audited(session, actions.KEY_GRANT)
    assert [(g.actor_id, g.target, str(g.case_id)) for g in grant] == [
        (coord_b.id, str(cw.id), case_id)]
    requested = _audited(session, actions.APPROVAL_REQUESTED)
    assert {(e.actor_id, e.case_id) for e in requested} == {
        (coord_a.id, uuid.UUID(case_id)), (keyless.id, uuid.UUID(case_id))}
    approved = _audited(session, actions.APPROVAL_APPROVED)
    assert [e.actor_id for e in approved] == [coord_b.id]
    assert '"kind":"case_grant"' in approved[0].details
    assert app_client.post(f"{APPROVALS}/{asked.json()['id']}/approve",
                           headers=login_headers(app_client, coord_b)).status_code == 409
    # Rejecting changes nothing; it is audited too.
    rejected = app_client.post(f"{APPROVALS}/{for_self.json()['id']}/reject",
                               headers=login_headers(app_client, coord_b))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert keyless.id not in _wrapped_to(session, case_id)
    assert len(_audited(session, actions.APPROVAL_REJECTED)) == 1


def test_a_second_coordinators_approval_makes_the_change_and_is_audited(
    app_client: TestClient, session: Session
) -> None:
    create_recovery_key_text(session)
    admin_h = login_headers(app_client, create_staff(session, Role.ADMIN))
    coord = create_staff(session, Role.COORDINATOR)
    body = _admin_creates(app_client, admin_h, "olena.k", "caseworker", duty=True)
    reader, duty = sorted(body["pending_approvals"], key=lambda p: p["kind"] != "reader")
    early = app_client.post(f"{APPROVALS}/{duty['id']}/approve",
                            headers=login_headers(app_client, coord))
    assert early.status_code == 409 and "reader request first" in early.json()["error"]["message"]
    approve(app_client, coord, reader["id"])
    approve(app_client, coord, duty["id"])
    olena = _created(session, body)
    assert [uid for uid, _ in intake_duty_recipients(session)] == [olena.id]
    session.rollback()
    submit_report(app_client, narrative="read by the approved caseworker")
    olena_h = login_headers(app_client, olena)
    case_id = _case_id(app_client, olena_h)
    assert app_client.get(f"/api/v1/cases/{case_id}", headers=olena_h).status_code == 200
    duty_changes = _audited(session, actions.INTAKE_DUTY_CHANGED)
    assert [(e.actor_id, e.target) for e in duty_changes] == [(coord.id, "olena.k")]

    # A coordinator made by an admin: a caseworker until a coordinator approves the role,
    # then a coordinator who may decide others' requests.
    made = _admin_creates(app_client, admin_h, "new.coord", "coordinator")
    approve_all(app_client, coord, made["pending_approvals"])
    new_coord = _created(session, made)
    assert new_coord.user.role == "coordinator"
    ask = app_client.put(f"{USERS}/{coord.id}/intake-duty", headers=admin_h,
                         json={"on_intake_duty": True})
    approve(app_client, new_coord, ask.json()["id"])
    assert {uid for uid, _ in intake_duty_recipients(session)} == {olena.id, coord.id}
    session.rollback()
    roles = _audited(session, actions.ROLE_CHANGE)
    assert [(e.actor_id, e.target) for e in roles] == [(coord.id, "new.coord")]
    assert len(_audited(session, actions.APPROVAL_APPROVED)) == 5
    assert app_client.get(APPROVALS, headers=login_headers(app_client, coord)).json() == []
    # Narrowing stays one step.
    off = app_client.put(f"{USERS}/{olena.id}/intake-duty", headers=admin_h,
                         json={"on_intake_duty": False})
    assert off.status_code == 200 and off.json()["on_intake_duty"] is False


def test_expired_requests_do_nothing(app_client: TestClient, session: Session) -> None:
    admin = create_staff(session, Role.ADMIN)
    coord = create_staff(session, Role.COORDINATOR)
    cw = create_staff(session, Role.CASEWORKER)
    asked = app_client.put(f"{USERS}/{cw.id}/intake-duty",
                           headers=login_headers(app_client, admin),
                           json={"on_intake_duty": True})
    assert asked.status_code == 202
    settings = app_settings(app_client)
    clock = app_clock(app_client)
    clock.advance(settings.approval_expiry_days * 86400)
    coord_h = login_headers(app_client, coord)
    assert app_client.get(APPROVALS, headers=coord_h).json() == []
    late = app_client.post(f"{APPROVALS}/{asked.json()['id']}/approve", headers=coord_h)
    assert late.status_code == 409 and "expired" in late.json()["error"]["message"]
    assert expire_due(session, settings, clock.now().date()) == 1
    session.commit()
    row = session.get(PendingChange, uuid.UUID(asked.json()["id"]))
    user = session.get(StaffUser, cw.id)
    assert row is not None and row.status == "expired" and user is not None
    assert user.on_intake_duty is False
    session.rollback()
    [expired] = _audited(session, actions.APPROVAL_EXPIRED)
    assert expired.actor_kind == "system" and expired.target == cw.user.username
    assert expire_due(session, settings, clock.now().date()) == 0
    session.rollback()
    # Asking again files a fresh request.
    again = app_client.put(f"{USERS}/{cw.id}/intake-duty",
                           headers=login_headers(app_client, admin),
                           json={"on_intake_duty": True})
    assert again.status_code == 202 and again.json()["id"] != asked.json()["id"]


def test_the_first_coordinator_comes_from_the_shell_never_from_the_api(
    app_client: TestClient, session: Session, database: DbUnderTest, tmp_path: Path
) -> None:
    made = _dokaz(database, tmp_path, "users", "create", "--role", "coordinator",
                  "--username", "first-coord", "--intake-duty", "--password-stdin",
                  stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    user = session.exec(select(StaffUser).where(StaffUser.username == "first-coord")).one()
    assert user.role == "coordinator" and user.on_intake_duty is True
    assert user.reader_approved_on is not None
    assert session.exec(select(PendingChange)).all() == []
    session.rollback()
    admin_h = login_headers(app_client, create_staff(session, Role.ADMIN))
    body = _admin_creates(app_client, admin_h, "second.coord", "coordinator")
    assert body["user"]["role"] == "caseworker"


@pytest.mark.parametrize("disabled", [False, True])
def test_migration_carries_existing_accounts_forward(
    database: DbUnderTest, tmp_path: Path, disabled: bool
) -> None:
    from tests.foundation.test_migrations import _fresh_db

    url = _fresh_db(database, tmp_path)
    migrations.upgrade(database.settings, "0006", url=url)
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text(
            "INSERT INTO staff_user (id, username, role, password_hash, public_key, "
            "sealed_private_key, on_intake_duty, created_at, totp_last_step, disabled_at) "
            "VALUES (:id, 'old.cw', 'caseworker', 'x', :pk, :sk, :duty, :now, 0, :off)"),
            {"id": uuid.uuid4().hex if database.kind == "sqlite" else uuid.uuid4(),
             "pk": b"\x02" * 32, "sk": b"\x01", "duty": True,
             "now": "2026-01-01 00:00:00+00:00",
             "off": "2026-02-01 00:00:00+00:00" if disabled else None})
    migrations.upgrade(database.settings, url=url)
    with eng.connect() as conn:
        approved, duty = conn.execute(text(
            "SELECT reader_approved_on, on_intake_duty FROM staff_user")).one()
    eng.dispose()
    assert bool(duty) is True  # duty flags stay
    assert (approved is None) is disabled  # active accounts count as approved


def test_an_admin_can_ask_again_for_a_reader_approval(
    app_client: TestClient, session: Session
) -> None:
    admin = create_staff(session, Role.ADMIN)
    admin_h = login_headers(app_client, admin)
    coord = create_staff(session, Role.COORDINATOR)
    body = _admin_creates(app_client, admin_h, "late.cw", "caseworker")
    [first] = body["pending_approvals"]
    app_clock(app_client).advance(app_settings(app_client).approval_expiry_days * 86400)
    admin_h = login_headers(app_client, admin)
    url = f"{USERS}/{body['user']['id']}/reader-approval"
    again = app_client.post(url, headers=admin_h)
    assert again.status_code == 202 and again.json()["id"] != first["id"]
    assert again.json()["kind"] == "reader" and again.json()["requested_by_id"] == str(admin.id)
    approve(app_client, coord, again.json()["id"])
    users = {u["username"]: u for u in app_client.get(USERS, headers=admin_h).json()}
    assert users["late.cw"]["reader_approved"] is True
    assert app_client.post(url, headers=admin_h).status_code == 409
    new_admin = _admin_creates(app_client, admin_h, "new.admin", "admin")
    assert new_admin["pending_approvals"] == []  # admins read nothing: nothing to approve
    admin_url = f"{USERS}/{new_admin['user']['id']}/reader-approval"
    assert app_client.post(admin_url, headers=admin_h).status_code == 422
