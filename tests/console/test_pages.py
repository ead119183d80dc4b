"""The staff console over HTTP, on both engines: sign-in, the queue, a case, moving it on,
asking the submitter, signing out; the cookie and page headers; refusals as pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlmodel import Session, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.console.i18n import translations
from api.core.settings import Settings
from tests.console.helpers import csrf_of, post, sign_in
from tests.factories import create_recovery_key_text, create_staff, submit_report


def t(lang: str, message: str) -> str:
    """A message as the page shows it: translated, and escaped as Jinja escapes it."""
    return str(escape(translations(lang).gettext(message)))


@pytest.fixture
def intake(session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)


def test_sign_in_sets_a_strict_session_cookie_and_wrong_codes_say_so(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    page = app_client.get("/staff/sign-in?lang=uk")
    assert page.status_code == 200
    assert t("uk", "Sign in") in page.text and 'lang="uk"' in page.text
    bad = app_client.post("/staff/sign-in", data={
        "csrf": csrf_of(page.text), "lang": "uk", "username": worker.user.username,
        "password": worker.password, "code": "000000"}, follow_redirects=False)
    assert bad.status_code == 401
    assert t("uk", "Sign-in failed: the username, password or six-digit code is not right. "
                   "Codes can be used only once; wait for the next one if you just used it."
             ) in bad.text
    assert worker.password not in bad.text  # the password is never echoed

    sign_in(app_client, worker)
    cookie = next(c for c in app_client.cookies.jar if c.name == "dokaz_staff")
    assert cookie.path == "/staff" and cookie.value.startswith("dks_")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite", "").lower() == "strict"
    assert cookie.expires is None  # a session cookie: gone when the browser closes


def test_a_sign_in_form_without_its_token_is_refused(app_client: TestClient, session: Session,
                                                     settings: Settings) -> None:
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    refused = app_client.post("/staff/sign-in", data={
        "username": worker.user.username, "password": worker.password, "code": "123456"})
    assert refused.status_code == 403
    assert t("be", "This form has expired. Please sign in again.") in refused.text  # default


def test_pages_need_a_session_and_show_the_sign_in_form(app_client: TestClient) -> None:
    for path in ("/staff/queue", "/staff/account", "/staff/cases/"
                 "00000000-0000-0000-0000-000000000000"):
        response = app_client.get(path, headers={"Accept-Language": "ru"})
        assert response.status_code == 401, path
        assert 'action="/staff/sign-in"' in response.text
        assert t("ru", "Please sign in") in response.text
    assert app_client.get("/staff/", follow_redirects=False).headers["location"] == \
        "/staff/sign-in"


def test_queue_case_transition_and_question(app_client: TestClient, session: Session,
                                            settings: Settings, intake: None) -> None:
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    submitted = submit_report(app_client, narrative="Canary: detained at the bus stop.")
    csrf = sign_in(app_client, worker, lang="be")
    # The account's language, once chosen, is the console's.
    assert post(app_client, "/staff/account/language", csrf, language="be").status_code == 303

    queue = app_client.get("/staff/queue?tab=open")
    assert queue.status_code == 200
    assert t("be", "Queue") in queue.text
    reference = submitted["reference"]
    assert reference in queue.text
    assert "Canary" not in queue.text  # the list shows coarse fields only
    unassigned = app_client.get("/staff/queue?tab=mine")
    assert reference not in unassigned.text

    case_id = next(line.split('/staff/cases/')[1].split('"')[0]
                   for line in queue.text.splitlines() if "/staff/cases/" in line)
    page = app_client.get(f"/staff/cases/{case_id}")
    assert page.status_code == 200
    assert "Canary: detained at the bus stop." in page.text
    session.expire_all()
    reads = session.exec(select(AuditEntry).where(AuditEntry.action == actions.CASE_READ)).all()
    assert any(e.actor_id == worker.user.id for e in reads)
    session.rollback()  # end the test's read (on SQLite it would hold the write lock)

    # Without its token a change is refused, and nothing moves.
    forged = app_client.post(f"/staff/cases/{case_id}/transitions", data={"to": "triage"},
                             follow_redirects=False)
    assert forged.status_code == 403
    moved = post(app_client, f"/staff/cases/{case_id}/transitions", csrf, to="triage")
    assert moved.status_code == 303
    page = app_client.get(moved.headers["location"])
    assert t("be", "The case has moved on.") in page.text
    thread_id = page.text.split('name="thread_id" value="')[1].split('"')[0]
    asked = post(app_client, f"/staff/cases/{case_id}/messages", csrf, thread_id=thread_id,
                 body="Where were you taken?")
    assert asked.status_code == 303
    assert "Where were you taken?" in app_client.get(asked.headers["location"]).text
    for state in ("in_review", "needs_info"):
        waiting = post(app_client, f"/staff/cases/{case_id}/transitions", csrf, to=state)
        assert waiting.status_code == 303, state
    # A move the workflow has no edge for is a page saying so, and the case stays.
    again = post(app_client, f"/staff/cases/{case_id}/transitions", csrf, to="referred")
    assert again.status_code == 409
    assert reference in app_client.get("/staff/queue?tab=waiting").text


def test_headers_on_every_console_page(app_client: TestClient, session: Session,
                                       settings: Settings) -> None:
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    sign_in(app_client, worker)
    for path in ("/staff/queue", "/staff/account", "/staff/sign-in"):
        response = app_client.get(path)
        assert response.headers["cache-control"] == "no-store", path
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["x-frame-options"] == "DENY"


def test_roles_and_refusals_are_pages_in_the_account_language(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    admin = create_staff(session, Role.ADMIN, settings=settings)
    csrf = sign_in(app_client, admin)
    post(app_client, "/staff/account/language", csrf, language="ru")
    assert app_client.get("/staff/", follow_redirects=False).headers["location"] == \
        "/staff/account"
    refused = app_client.get("/staff/queue")
    assert refused.status_code == 403
    assert t("ru", "You cannot open this") in refused.text
    # A form post renders no page of its own; its refusal is in the account's language too.
    not_a_caseworker = post(app_client, "/staff/cases/00000000-0000-0000-0000-000000000000"
                            "/transitions", csrf, to="triage")
    assert not_a_caseworker.status_code == 403
    assert t("ru", "You cannot open this") in not_a_caseworker.text
    forged = post(app_client, "/staff/account/language", "not-the-token", language="be")
    assert forged.status_code == 403 and 'lang="ru"' in forged.text
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    csrf = sign_in(app_client, worker)
    post(app_client, "/staff/account/language", csrf, language="ru")
    missing = app_client.get("/staff/cases/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and t("ru", "Nothing was found here") in missing.text
    unknown = app_client.get("/staff/no-such-page", headers={"Accept-Language": "uk"})
    assert unknown.status_code == 404 and t("uk", "Nothing was found here") in unknown.text
    bad_tab = app_client.get("/staff/queue?tab=nope")
    assert bad_tab.status_code in (403, 422)


def test_a_form_past_the_limit_is_refused_while_it_arrives(app_client: TestClient,
                                                          session: Session,
                                                          settings: Settings) -> None:
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    csrf = sign_in(app_client, worker)
    too_big = "x" * (settings.console_max_form_bytes + 1)
    response = post(app_client, "/staff/account/language", csrf, language=too_big)
    assert response.status_code == 413
    assert t("en", "This form is too large") in response.text  # signed in with English
    odd = app_client.post("/staff/account/language", content=b'{"language": "be"}',
                          headers={"Content-Type": "application/json"})
    assert odd.status_code == 415


def test_sessions_listed_and_sign_out_ends_the_session(app_client: TestClient,
                                                      session: Session,
                                                      settings: Settings) -> None:
    worker = create_staff(session, Role.LAWYER, settings=settings)
    csrf = sign_in(app_client, worker)
    account = app_client.get("/staff/account", headers={"Accept-Language": "en"})
    assert t("en", "this browser") in account.text
    assert "minutes without activity" in account.text
    out = post(app_client, "/staff/sign-out", csrf)
    assert out.status_code == 303
    after = app_client.get(out.headers["location"], headers={"Accept-Language": "en"})
    assert "You are signed out." in after.text
    assert app_client.get("/staff/account").status_code == 401


def test_the_console_is_not_served_on_the_public_surface(settings: Settings, engine: object
                                                         ) -> None:
    from api.app import create_app
    from api.core.surfaces import Surface

    public = create_app(settings, engine, surface=Surface.PUBLIC)  # type: ignore[arg-type]
    with TestClient(public) as client:
        assert client.get("/staff/sign-in").status_code == 404


def test_password_change_explains_a_wrong_password_and_ends_every_session(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    csrf = sign_in(app_client, worker)
    wrong = post(app_client, "/staff/account/password", csrf, current_password="not it",
                 new_password="a-new-long-password-1", new_password_again="a-new-long-password-1")
    assert wrong.status_code == 422
    assert "The current password is not right." in wrong.text
    differ = post(app_client, "/staff/account/password", csrf,
                  current_password=worker.password, new_password="one-new-password-2",
                  new_password_again="another-password-3")
    assert differ.status_code == 422
    changed = post(app_client, "/staff/account/password", csrf,
                   current_password=worker.password, new_password="a-new-long-password-1",
                   new_password_again="a-new-long-password-1")
    assert changed.status_code == 303
    assert app_client.get("/staff/account").status_code == 401
