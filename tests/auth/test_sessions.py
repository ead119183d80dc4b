"""Sessions: idle and absolute expiry, revocation, password change, the session-bound key."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth import login as login_service
from api.auth.models import StaffSession, StaffUser
from api.auth.principals import Principal
from api.auth.roles import Role
from api.core.errors import Unauthorized
from crypto.errors import DecryptionError
from crypto.staff_keys import decrypt_for_session, unseal_private_key
from tests.factories import app_clock, app_settings, create_staff, login, login_headers

ME = "/api/v1/auth/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _session_row(session: Session, session_id: str) -> StaffSession:
    row = session.get(StaffSession, uuid.UUID(session_id), populate_existing=True)
    assert row is not None
    session.expunge(row)  # keep the loaded values...
    session.rollback()  # ...but never keep SQLite's write lock while the app works
    return row


def test_idle_timeout(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    body = login(app_client, cw)
    clock = app_clock(app_client)
    clock.advance(29 * 60)
    assert app_client.get(ME, headers=_bearer(body["token"])).status_code == 200
    clock.advance(29 * 60)  # activity above moved the idle deadline
    assert app_client.get(ME, headers=_bearer(body["token"])).status_code == 200
    clock.advance(31 * 60)
    r = app_client.get(ME, headers=_bearer(body["token"]))
    assert r.status_code == 401
    assert "30 minutes without activity" in r.json()["error"]["message"]
    assert r.headers["WWW-Authenticate"] == "Bearer"
    # The expired session's key blob is wiped, although the request itself failed.
    assert _session_row(session, body["session_id"]).session_key is None


def test_absolute_lifetime(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    body = login(app_client, cw)
    clock = app_clock(app_client)
    for _ in range(12 * 60 // 20 - 1):  # active every 20 minutes for almost 12 hours
        clock.advance(20 * 60)
        assert app_client.get(ME, headers=_bearer(body["token"])).status_code == 200
    clock.advance(21 * 60)
    r = app_client.get(ME, headers=_bearer(body["token"]))
    assert r.status_code == 401 and "at most 12 hours" in r.json()["error"]["message"]


def test_logout_revokes_token_and_wipes_key(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    body = login(app_client, cw)
    other = login(app_client, cw)
    assert app_client.post("/api/v1/auth/logout", headers=_bearer(body["token"])).status_code == 204
    r = app_client.get(ME, headers=_bearer(body["token"]))
    assert r.status_code == 401 and "ended" in r.json()["error"]["message"]
    assert _session_row(session, body["session_id"]).session_key is None
    # Other sessions live on.
    assert app_client.get(ME, headers=_bearer(other["token"])).status_code == 200


def test_list_and_revoke_own_sessions(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    a, b = login(app_client, cw), login(app_client, cw)
    listed = app_client.get("/api/v1/auth/sessions", headers=_bearer(a["token"])).json()
    assert {s["id"] for s in listed} == {a["session_id"], b["session_id"]}
    assert [s["current"] for s in listed if s["id"] == a["session_id"]] == [True]
    r = app_client.delete(f"/api/v1/auth/sessions/{b['session_id']}", headers=_bearer(a["token"]))
    assert r.status_code == 204
    assert app_client.get(ME, headers=_bearer(b["token"])).status_code == 401
    # Someone else's session id is simply not found.
    other = create_staff(session, Role.CASEWORKER)
    c = login(app_client, other)
    r = app_client.delete(f"/api/v1/auth/sessions/{c['session_id']}", headers=_bearer(a["token"]))
    assert r.status_code == 404
    assert app_client.get(ME, headers=_bearer(c["token"])).status_code == 200


def test_admin_revoke(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    admin = create_staff(session, Role.ADMIN)
    token = login(app_client, cw)["token"]
    r = app_client.post(f"/api/v1/admin/users/{cw.id}/revoke-sessions",
                        headers=login_headers(app_client, admin))
    assert r.json() == {"sessions_ended": 1}
    assert app_client.get(ME, headers=_bearer(token)).status_code == 401


def test_password_change_reseals_key_and_ends_every_session(
    app_client: TestClient, session: Session
) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    first, second = login(app_client, cw), login(app_client, cw)
    new_password = "a fresh passphrase for tests"
    r = app_client.post("/api/v1/auth/password", headers=_bearer(first["token"]),
                        json={"current_password": "wrong one entirely",
                              "new_password": new_password})
    assert r.status_code == 422 and "current password" in r.json()["error"]["message"]
    r = app_client.post("/api/v1/auth/password", headers=_bearer(first["token"]),
                        json={"current_password": cw.password, "new_password": "password1234"})
    assert r.status_code == 422 and "most common" in r.json()["error"]["message"]
    r = app_client.post("/api/v1/auth/password", headers=_bearer(first["token"]),
                        json={"current_password": cw.password, "new_password": new_password})
    assert r.status_code == 200 and r.json()["sessions_ended"] == 2
    for token in (first["token"], second["token"]):
        assert app_client.get(ME, headers=_bearer(token)).status_code == 401
    stored = session.get(StaffUser, cw.id)
    assert stored is not None
    sealed = stored.sealed_private_key
    session.rollback()
    # Same key pair, now sealed under the new password only.
    assert unseal_private_key(sealed, new_password) == cw.keypair.private_bytes
    with pytest.raises(DecryptionError):
        unseal_private_key(sealed, cw.password)
    cw.password = new_password
    login(app_client, cw)


def test_principal_private_key_is_session_bound(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    body = login(app_client, cw)
    row = _session_row(session, body["session_id"])
    assert row.session_key is not None and body["token"].encode() not in row.session_key
    principal = Principal(user_id=cw.id, username=cw.user.username, role=Role.CASEWORKER,
                          session_id=row.id, _token=body["token"], _session_key=row.session_key)
    assert principal.private_key() == cw.keypair.private_bytes
    assert body["token"] not in repr(principal)
    # The stored hash of the token does not open the blob; a wrong token neither.
    with pytest.raises(DecryptionError):
        decrypt_for_session(row.session_key, "dks_" + "x" * 43, str(row.id))
    assert Principal(user_id=cw.id, username=cw.user.username, role=Role.CASEWORKER,
                     session_id=row.id) == principal  # token not part of equality
    with pytest.raises(Unauthorized):
        Principal(user_id=cw.id, username="x", role=Role.CASEWORKER,
                  session_id=row.id).private_key()


def test_garbage_tokens(app_client: TestClient) -> None:
    for header in ("Bearer", "Basic abc", "Bearer dks_" + "a" * 43, "Bearer nonsense",
                   "Bearer dkp_" + "a" * 43):
        r = app_client.get(ME, headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["error"]["message"]
    assert "sign in" in app_client.get(ME).json()["error"]["message"]


def test_authenticate_refuses_a_revoked_session_before_any_key_use(
    app_client: TestClient, session: Session
) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    body = login(app_client, cw)
    app_client.post("/api/v1/auth/logout", headers=_bearer(body["token"]))
    settings = app_settings(app_client)
    with pytest.raises(Unauthorized):
        login_service.authenticate(session, settings, body["token"],
                                   app_clock(app_client).now())
    session.rollback()
