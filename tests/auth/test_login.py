"""Sign-in: TOTP, replay, failures that look alike, throttling, audit of failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from tests.factories import (
    app_clock,
    create_staff,
    login,
    login_headers,
    next_totp_code,
)

URL = "/api/v1/auth/login"


def _attempt(
    client: TestClient, username: str, password: str, code: str
) -> tuple[int, dict[str, Any]]:
    r = client.post(URL, json={"username": username, "password": password, "code": code})
    return r.status_code, r.json()


def _actions(session: Session) -> list[str]:
    # Read, then end the transaction: on SQLite an open one holds the write lock.
    result = list(session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq))))
    session.rollback()
    return result


def test_login_me_and_audit(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    body = login(app_client, cw)
    assert body["token"].startswith("dks_") and body["user"]["role"] == "caseworker"
    assert body["idle_timeout_seconds"] == 30 * 60
    me = app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["username"] == cw.user.username
    assert actions.LOGIN in _actions(session)


def test_failures_look_alike_and_are_audited_despite_rollback(
    app_client: TestClient, session: Session
) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    code = next_totp_code(app_client, cw)
    unknown = _attempt(app_client, "nobody-here", cw.password, code)
    wrong_pw = _attempt(app_client, cw.user.username, cw.password + "x", code)
    wrong_code = _attempt(app_client, cw.user.username, cw.password,
                          "000000" if code != "000000" else "111111")
    assert unknown == wrong_pw == wrong_code
    assert unknown[0] == 401 and "not right" in unknown[1]["error"]["message"]
    session.expire_all()
    failed = session.exec(select(AuditEntry).where(
        col(AuditEntry.action) == actions.LOGIN_FAILED).order_by(col(AuditEntry.seq))).all()
    reasons = [e.details for e in failed]
    assert reasons == ['{"reason":"unknown_user"}', '{"reason":"bad_password"}',
                       '{"reason":"bad_code"}']
    # An unknown name is not written to the permanent log (it may be a mistyped password).
    assert failed[0].target is None and failed[1].target == cw.user.username


def test_totp_code_cannot_be_replayed(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    code = next_totp_code(app_client, cw)
    ok, _ = _attempt(app_client, cw.user.username, cw.password, code)
    assert ok == 200
    replay, body = _attempt(app_client, cw.user.username, cw.password, code)
    assert replay == 401 and "only once" in body["error"]["message"]
    # An older code of the allowed window is refused too: steps only move forward.
    step = step_at(app_clock(app_client).now())
    older = code_for_step(cw.totp_secret, step - 1)
    assert _attempt(app_client, cw.user.username, cw.password, older)[0] == 401
    # The factory finds the next unused step (moving the test clock when needed).
    for _ in range(4):
        assert login_headers(app_client, cw)["Authorization"].startswith("Bearer dks_")


def test_code_outside_drift_window_is_refused(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    step = step_at(app_clock(app_client).now())
    far = code_for_step(cw.totp_secret, step + 3)
    assert _attempt(app_client, cw.user.username, cw.password, far)[0] == 401


ACCOUNT_ONLY = {"login_free_failures_per_account": 3, "login_free_failures_per_client": 100,
                "login_first_delay_seconds": 2, "login_max_delay_per_account_seconds": 10,
                "login_max_delay_per_client_seconds": 10,
                "login_failures_forgotten_after_seconds": 60}


def _refused(r: Any) -> int:
    assert r.status_code == 429, r.text
    retry = int(r.headers["Retry-After"])
    assert r.json()["error"]["details"]["retry_after"] == retry
    return retry


def test_account_delays_double_to_the_cap_in_every_process_never_an_hour(
    make_client: Callable[..., TestClient], session: Session
) -> None:
    first = make_client(**ACCOUNT_ONLY)
    second = make_client(**ACCOUNT_ONLY)  # another "API process" on the same database
    cw = create_staff(session, Role.CASEWORKER)
    for _ in range(3):
        assert _attempt(first, cw.user.username, "wrong-password-here", "123456")[0] == 401
    # Even the right password and code wait now, in the other process too, and the wait is
    # the delay (2 s), not an hour; nothing was checked.
    r = second.post(URL, json={"username": cw.user.username, "password": cw.password,
                               "code": next_totp_code(second, cw)})
    assert _refused(r) == 2
    message = r.json()["error"]["message"]
    assert "too many failed sign-ins for this username" in message
    assert "wait 2 seconds" in message and "at most 10 seconds" in message
    # Each failure after the free ones doubles the wait, up to the cap of 10 s.
    wrong = {"username": cw.user.username, "password": "wrong-password-here",
             "code": "123456"}
    waited = 2
    for expected in (4, 8, 10, 10):
        for client in (first, second):
            app_clock(client).advance(waited)
        assert first.post(URL, json=wrong).status_code == 401
        waited = _refused(second.post(URL, json=wrong))
        assert waited == expected
    for client in (first, second):
        app_clock(client).advance(waited)
    # Within the cap the right password and code sign in, and that clears the account.
    login(second, cw)
    for _ in range(3):
        assert _attempt(first, cw.user.username, "wrong-password-here", "123456")[0] == 401


def test_unknown_usernames_are_throttled_alike(
    make_client: Callable[..., TestClient], session: Session
) -> None:
    client = make_client(**ACCOUNT_ONLY)
    for _ in range(3):
        assert _attempt(client, "ghost-user", "wrong-password-here", "123456")[0] == 401
    status, body = _attempt(client, "ghost-user", "wrong-password-here", "123456")
    assert status == 429 and "for this username" in body["error"]["message"]


def test_failures_are_forgotten_after_a_quiet_period(
    make_client: Callable[..., TestClient], session: Session
) -> None:
    client = make_client(**ACCOUNT_ONLY)
    cw = create_staff(session, Role.CASEWORKER)
    for _ in range(3):
        _attempt(client, cw.user.username, "wrong-password-here", "123456")
    assert _attempt(client, cw.user.username, "wrong-password-here", "123456")[0] == 429
    app_clock(client).advance(60)  # the forgetting period, with no failure in it
    for _ in range(3):  # the free failures again, not a doubled delay
        assert _attempt(client, cw.user.username, "wrong-password-here", "123456")[0] == 401


def test_the_sender_is_slowed_before_the_account(
    make_client: Callable[..., TestClient], session: Session
) -> None:
    client = make_client(login_free_failures_per_client=2, login_free_failures_per_account=5,
                         login_first_delay_seconds=3)
    cw = create_staff(session, Role.CASEWORKER)
    for name in ("first-name", "second-name"):
        assert _attempt(client, name, "wrong-password-here", "123456")[0] == 401
    # A third name from the same client waits: the count is the client's, not the name's.
    r = client.post(URL, json={"username": cw.user.username, "password": cw.password,
                               "code": "123456"})
    assert _refused(r) == 3 and "from here" in r.json()["error"]["message"]
    # Another client (another process: its own address tags) is not slowed at all.
    other = make_client()
    login(other, cw)


def test_global_throttle(make_client: Callable[..., TestClient], session: Session) -> None:
    client = make_client(login_attempts_global_per_minute=4)
    for i in range(4):
        assert _attempt(client, f"user{i}", "wrong-password-here", "123456")[0] == 401
    status, body = _attempt(client, "user9", "wrong-password-here", "123456")
    assert status == 429
    assert "too many sign-in attempts" in body["error"]["message"]
    assert body["error"]["message"].endswith("seconds.")


def test_disabled_account_cannot_sign_in(app_client: TestClient, session: Session) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    headers = login_headers(app_client, cw)
    admin = create_staff(session, Role.ADMIN)
    admin_h = login_headers(app_client, admin)
    r = app_client.post(f"/api/v1/admin/users/{cw.id}/disable", headers=admin_h)
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 401
    code = next_totp_code(app_client, cw)
    assert _attempt(app_client, cw.user.username, cw.password, code)[0] == 401


def test_malformed_login_bodies_get_422(app_client: TestClient) -> None:
    for body in ({}, {"username": "a"}, {"username": "a", "password": "b", "code": "1"},
                 {"username": "a" * 65, "password": "b", "code": "123456"}):
        r = app_client.post(URL, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "validation_error"
