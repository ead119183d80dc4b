"""Admin user management over the API, and the intake-duty list."""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.auth.repository import intake_duty_recipients
from api.auth.roles import Role
from tests.factories import (
    approve_all,
    create_staff,
    login,
    login_headers,
    put_on_intake_duty,
)

USERS = "/api/v1/admin/users"


def test_create_user_shows_totp_uri_once_and_it_works(
    app_client: TestClient, session: Session
) -> None:
    admin = login_headers(app_client, create_staff(session, Role.ADMIN))
    r = app_client.post(USERS, headers=admin, json={
        "username": "Olena.K", "role": "caseworker", "password": "three unrelated words here",
        "on_intake_duty": True})
    assert r.status_code == 201, r.text
    body = r.json()
    # Duty (and reading at all) waits for a coordinator's approval (two-person rule).
    assert body["user"]["username"] == "olena.k" and body["user"]["on_intake_duty"] is False
    assert {p["kind"] for p in body["pending_approvals"]} == {"reader", "intake_duty"}
    approve_all(app_client, create_staff(session, Role.COORDINATOR), body["pending_approvals"])
    listed_user = [u for u in app_client.get(USERS, headers=admin).json()
                   if u["username"] == "olena.k"]
    assert listed_user[0]["on_intake_duty"] is True and listed_user[0]["reader_approved"]
    uri = body["totp_provisioning_uri"]
    assert uri.startswith("otpauth://totp/Dokaz:olena.k?secret=")
    listed = app_client.get(USERS, headers=admin)
    assert "secret" not in listed.text and "olena.k" in listed.text
    assert "password_hash" not in listed.text and "sealed" not in listed.text
    # The person can sign in with a code from that URI.
    code = pyotp.TOTP(pyotp.parse_uri(uri).secret).now()
    r = app_client.post("/api/v1/auth/login", json={
        "username": "olena.k", "password": "three unrelated words here", "code": code})
    assert r.status_code == 200, r.text


def test_create_user_refusals(app_client: TestClient, session: Session) -> None:
    admin = login_headers(app_client, create_staff(session, Role.ADMIN, username="boss"))
    weak = app_client.post(USERS, headers=admin, json={
        "username": "someone", "role": "caseworker", "password": "Password1234!"})
    assert weak.status_code == 422 and "most common" in weak.json()["error"]["message"]
    short = app_client.post(USERS, headers=admin, json={
        "username": "someone", "role": "caseworker", "password": "short"})
    assert "at least 12" in short.json()["error"]["message"]
    dup = app_client.post(USERS, headers=admin, json={
        "username": "BOSS", "role": "caseworker", "password": "three unrelated words here"})
    assert dup.status_code == 409
    partner = app_client.post(USERS, headers=admin, json={
        "username": "ngo", "role": "partner", "password": "three unrelated words here"})
    assert partner.status_code == 422
    bad_name = app_client.post(USERS, headers=admin, json={
        "username": "a b/c", "role": "caseworker", "password": "three unrelated words here"})
    assert bad_name.status_code == 422 and "Usernames" in bad_name.json()["error"]["message"]
    duty = app_client.post(USERS, headers=admin, json={
        "username": "lawyer1", "role": "lawyer", "password": "three unrelated words here",
        "on_intake_duty": True})
    assert duty.status_code == 422


def test_role_change_is_audited_and_immediate(app_client: TestClient, session: Session) -> None:
    admin = create_staff(session, Role.ADMIN)
    admin_h = login_headers(app_client, admin)
    cw = create_staff(session, Role.CASEWORKER, on_intake_duty=True)
    cw_h = login_headers(app_client, cw)
    assert app_client.get(USERS, headers=cw_h).status_code == 403
    r = app_client.put(f"{USERS}/{cw.id}/role", headers=admin_h, json={"role": "admin"})
    assert r.json()["role"] == "admin" and r.json()["on_intake_duty"] is False
    assert app_client.get(USERS, headers=cw_h).status_code == 200  # same session, new role
    entry = session.exec(select(AuditEntry).where(
        col(AuditEntry.action) == actions.ROLE_CHANGE)).one()
    session.rollback()
    assert entry.actor_id == admin.id and entry.target == cw.user.username
    assert '"old_role":"caseworker"' in entry.details and '"new_role":"admin"' in entry.details


def test_last_admin_cannot_be_removed(app_client: TestClient, session: Session) -> None:
    admin = create_staff(session, Role.ADMIN)
    h = login_headers(app_client, admin)
    assert app_client.post(f"{USERS}/{admin.id}/disable", headers=h).status_code == 409
    r = app_client.put(f"{USERS}/{admin.id}/role", headers=h, json={"role": "caseworker"})
    assert r.status_code == 409 and "last active admin" in r.json()["error"]["message"]


def test_reset_totp_and_enable(app_client: TestClient, session: Session) -> None:
    admin_h = login_headers(app_client, create_staff(session, Role.ADMIN))
    cw = create_staff(session, Role.CASEWORKER)
    token = login(app_client, cw)["token"]
    r = app_client.post(f"{USERS}/{cw.id}/reset-totp", headers=admin_h)
    assert r.status_code == 200
    new_secret = pyotp.parse_uri(r.json()["totp_provisioning_uri"]).secret
    assert new_secret != cw.totp_secret
    assert app_client.get("/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 401
    cw.totp_secret = new_secret
    login(app_client, cw)
    app_client.post(f"{USERS}/{cw.id}/disable", headers=admin_h)
    r = app_client.post(f"{USERS}/{cw.id}/enable", headers=admin_h)
    assert r.json()["disabled"] is False
    login(app_client, cw)


def test_intake_duty_recipients(app_client: TestClient, session: Session) -> None:
    admin_h = login_headers(app_client, create_staff(session, Role.ADMIN))
    on = create_staff(session, Role.CASEWORKER, on_intake_duty=True)
    coord = create_staff(session, Role.COORDINATOR)
    create_staff(session, Role.CASEWORKER)  # not on duty
    create_staff(session, Role.LAWYER)
    put_on_intake_duty(app_client, admin_h, coord.id, create_staff(session, Role.COORDINATOR))
    recipients = dict(intake_duty_recipients(session))
    session.rollback()
    assert recipients == {on.id: on.keypair.public_bytes, coord.id: coord.keypair.public_bytes}
    r = app_client.post(f"{USERS}/{on.id}/disable", headers=admin_h)
    assert r.status_code == 200, r.text
    assert [uid for uid, _ in intake_duty_recipients(session)] == [coord.id]
    session.rollback()
    admin = create_staff(session, Role.ADMIN)
    r = app_client.put(f"{USERS}/{admin.id}/intake-duty", headers=admin_h,
                       json={"on_intake_duty": True})
    assert r.status_code == 422
