"""The public pages over HTTP: headers, CSRF, languages, errors that keep what was typed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select

from api.app import create_app
from api.cases.files.models import Attachment
from api.cases.threads.models import Submission
from api.core.settings import Settings
from api.web import csrf, pages
from api.web.i18n import from_accept_language, translations
from tests.factories import create_recovery_key_text

PAGES = ["/report", "/about", "/followup", "/report?lang=ru", "/about?lang=uk"]


def client_for(settings: Settings, engine: Engine) -> TestClient:
    return TestClient(create_app(settings, engine),
                      base_url="http://127.0.0.1:8000")


@pytest.fixture
def web(settings: Settings, engine: Engine, intake_ready: None) -> Iterator[TestClient]:
    with client_for(settings, engine) as client:
        yield client


@pytest.fixture
def pages_only(settings: Settings, engine: Engine, session: Session) -> Iterator[TestClient]:
    """The pages with a recovery key (the form is offered) but nobody on intake duty."""
    create_recovery_key_text(session)
    with client_for(settings, engine) as client:
        yield client


NOT_SET_UP = {  # the heading in each language, and the commands, which are not translated
    "be": "Паведамленні пакуль не прымаюцца", "ru": "Сообщения пока не принимаются",
    "uk": "Повідомлення поки що не приймаються", "en": "Reports cannot be received yet",
}


@pytest.mark.parametrize("lang", sorted(NOT_SET_UP))
def test_without_a_recovery_key_the_form_says_so_in_its_language(
        settings: Settings, engine: Engine, session: Session, lang: str) -> None:
    with client_for(settings, engine) as client:
        shown = client.get(f"/report?lang={lang}")
        # A form opened earlier (any page's token will do) is still sent.
        token = token_of(client.get("/followup").text)
        # The form's language travels in its hidden field, not in the address.
        sent = post_report(client, report_fields(lang=lang), token,
                           [("a.txt", b"notes", "text/plain")], headers={"accept-language": "de"})
    for response in (shown, sent):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3600"
        assert f'lang="{lang}"' in response.text
        assert NOT_SET_UP[lang] in response.text
        for command in ("dokaz keys generate", "dokaz keys import-public", "dokaz keys init"):
            assert command in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "They took him at the bus stop." in sent.text  # the text is given back
    # Nothing was stored: no submission, no file blob.
    assert rows(session, Submission) == 0
    assert not [p for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()]
    create_recovery_key_text(session)
    with client_for(settings, engine) as client:
        assert client.get(f"/report?lang={lang}").status_code == 200


def token_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def report_fields(**overrides: str) -> list[tuple[str, str]]:
    fields = {
        "lang": "en", "website": "", "role": "witness", "categories": "detention",
        "narrative": "They took him at the bus stop.", "when_day": "", "when_month": "3",
        "when_year": "2021", "region": "BY-HR", "facility_type": "", "place_details": "",
        "person_name": "", "person_details": "", "perpetrator_details": "",
        "submitter_name": "", "contact": "",
    }
    fields.update(overrides)
    return list(fields.items())


def rows(session: Session, model: type[SQLModel]) -> int:
    """How many rows ``model``'s table holds. The read's transaction ends at once: on SQLite
    an open one holds the lock the app's next request needs to write."""
    count = session.exec(select(func.count()).select_from(model)).one()
    session.rollback()
    return count


def post_report(client: TestClient, fields: list[tuple[str, str]], token: str,
                files: list[tuple[str, bytes, str]] | None = None, **kw: Any) -> Any:
    data: list[tuple[str, Any]] = [("csrf", (None, token)), *[(k, (None, v)) for k, v in fields]]
    for name, body, ctype in files or [("", b"", "application/octet-stream")]:
        data.append(("files", (name, body, ctype)))
    return client.post("/report", files=data, **kw)


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_page(pages_only: TestClient, path: str) -> None:
    response = pages_only.get(path)
    assert response.status_code == 200
    h = response.headers
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "http" not in csp  # nothing from elsewhere
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert "onion-location" not in h
    # Every referenced asset is local.
    for url in re.findall(r'(?:src|href)="([^"]+)"', response.text):
        assert url.startswith(("/", "#")), url


def test_static_assets_and_onion_location(settings: Settings, engine: Engine) -> None:
    onion = "a" * 56 + ".onion"
    with client_for(settings.model_copy(update={"onion_address": onion}), engine) as client:
        page = client.get("/about?lang=be")
        assert page.headers["onion-location"] == f"http://{onion}/about"
        assert onion in page.text
        css = client.get("/static/web.css")
        assert css.headers["content-type"].startswith("text/css")
        assert css.headers["cache-control"] == "no-store"
        assert client.get("/static/../app.py").status_code == 404
        assert client.get("/static/nothing.css").status_code == 404


def test_language_from_switcher_then_accept_language_then_belarusian(
        pages_only: TestClient) -> None:
    web = pages_only
    assert 'lang="uk"' in web.get("/report", headers={"accept-language": "uk-UA,en;q=0.8"}).text
    assert 'lang="en"' in web.get("/report?lang=en", headers={"accept-language": "ru"}).text
    assert 'lang="be"' in web.get("/report", headers={"accept-language": "de"}).text
    assert from_accept_language("fr;q=0.9, ru;q=0.5, en;q=0.7") == "en"
    assert from_accept_language("ru;q=0, be-BY") == "be"


def test_form_cookie_is_a_strict_http_only_session_cookie(pages_only: TestClient) -> None:
    cookie = pages_only.get("/report").headers["set-cookie"]
    assert cookie.startswith(csrf.COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()


def test_full_report_without_javascript(web: TestClient, session: Session) -> None:
    token = token_of(web.get("/report?lang=en").text)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    response = post_report(web, report_fields(consent="aggregate_statistics"), token,
                           [("a.png", png, "image/png"), ("b.txt", b"notes", "text/plain")])
    assert response.status_code == 200, response.text
    assert "Your report has been received" in response.text
    assert len(re.findall(r'<span class="group">', response.text)) == 8
    assert response.headers["cache-control"] == "no-store"
    row = session.exec(select(Submission)).one()
    assert (row.channel, row.language, row.submitter_role) == ("web", "en", "witness")
    assert row.consent_scopes == "internal_handling,aggregate_statistics"
    assert rows(session, Attachment) == 2


@pytest.mark.parametrize("lang", ["be", "ru", "uk", "en"])
def test_errors_are_listed_linked_translated_and_input_kept(web: TestClient, session: Session,
                                                           lang: str) -> None:
    token = token_of(web.get(f"/report?lang={lang}").text)
    fields = report_fields(lang=lang, narrative="", categories="", when_day="31",
                           when_month="2", when_year="2021", contact="my signal 123",
                           place_details="Акрэсціна <b>")
    response = post_report(web, fields, token, [("a.txt", b"kept?", "text/plain")])
    assert response.status_code == 422
    text = response.text
    gettext = translations(lang).gettext
    assert gettext("Please describe what happened.") in text
    assert gettext("Files you chose were not kept. Please choose them again before sending.") \
        in text
    # Listed at the top, linked to the fields, tied to them for screen readers.
    summary = text[text.index('class="error-summary"'):text.index("</div>", text.index(
        'class="error-summary"'))]
    for target in ("#categories", "#narrative", "#when_day"):
        assert f'href="{target}"' in summary
    assert 'aria-describedby="narrative-hint narrative-error"' in text
    assert 'aria-invalid="true"' in text
    # What the person typed is back, escaped.
    assert 'value="my signal 123"' in text
    assert "Акрэсціна &lt;b&gt;</textarea>" in text
    assert rows(session, Submission) == 0
    assert rows(session, Attachment) == 0


def assert_kept_text(response: httpx.Response, session: Session, status: int, lang: str,
                     narrative: str, explanation: str) -> None:
    """A refused form stores nothing and comes back as the form page: the narrative still
    in its field and a translated explanation of what to do."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"{narrative}</textarea>" in response.text
    assert translations(lang).gettext(explanation) in response.text
    assert rows(session, Submission) == 0
    assert rows(session, Attachment) == 0


# The exact English source of each explanation (the pages show its translation): pinned
# here rather than read from api.web.pages, so a change of wording is a visible change.
EXPIRED_FORM_EXPLANATION = (
    "For your protection, a form can be sent only from this site and only for a limited "
    "time after it was opened. Your text is shown below: check it and send again. Files "
    "were not kept: choose them again.")
FILES_TOO_LARGE_EXPLANATION = (
    "The files were too large or too many (the limits are shown under the field). Your text "
    "is kept, but no file was: choose fewer or smaller files, or send the report now and add "
    "files later with your receipt.")


def test_expired_or_missing_token_keeps_the_text(web: TestClient, settings: Settings,
                                                 session: Session) -> None:
    web.get("/report")
    nonce = web.cookies[csrf.COOKIE]
    secret = settings.secret_key.get_secret_value()
    old = csrf.issue(secret, nonce, time.time() - settings.web_form_token_hours * 3600 - 5)
    fields = report_fields(narrative="Everything I wrote over two hours.")
    for token in (old, "v1.123.bad", csrf.issue(secret, "another-nonce-0123456789")):
        response = post_report(web, fields, token)
        assert "This form has expired" not in response.text  # the form itself, with the text
        assert_kept_text(response, session, 403, "en", "Everything I wrote over two hours.",
                         EXPIRED_FORM_EXPLANATION)


def test_cross_site_posts_are_refused_before_the_body(web: TestClient, session: Session) -> None:
    token = token_of(web.get("/report").text)
    for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}):
        response = post_report(web, report_fields(), token, headers=headers)
        assert response.status_code == 403
        # The language is not known before the body is read: Accept-Language, then be.
        assert translations("be").gettext(pages.CROSS_SITE_TEXT) in response.text
    assert rows(session, Submission) == 0


def test_a_too_large_file_gives_a_translated_page_and_keeps_the_text(
        settings: Settings, engine: Engine, intake_ready: None, session: Session) -> None:
    small = settings.model_copy(update={"max_file_bytes": 1024})
    with client_for(small, engine) as client:
        token = token_of(client.get("/report?lang=ru").text)
        response = post_report(client, report_fields(lang="ru", narrative="Мой текст"), token,
                               [("big.txt", b"x" * 5000, "text/plain")])
    assert_kept_text(response, session, 413, "ru", "Мой текст", FILES_TOO_LARGE_EXPLANATION)


def test_honeypot_gets_a_receipt_and_stores_nothing(web: TestClient, session: Session) -> None:
    token = token_of(web.get("/report").text)
    response = post_report(web, report_fields(website="http://spam.example"), token,
                           [("a.txt", b"spam", "text/plain")])
    assert response.status_code == 200
    assert 'id="receipt-code"' in response.text
    assert rows(session, Submission) == 0


def test_wrong_receipt_is_a_translated_field_error(web: TestClient) -> None:
    token = token_of(web.get("/followup?lang=uk").text)
    response = web.post("/followup", data={
        "csrf": token, "lang": "uk", "action": "login",
        "receipt": "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"})
    assert response.status_code == 401
    assert translations("uk").gettext(
        "That receipt is not right. Check it and try again; after a few wrong tries you will "
        "have to wait an hour.") in response.text
    assert "AAAA-AAAA" not in response.text  # the receipt is never echoed


def test_cross_site_posts_spend_no_budget(settings: Settings, engine: Engine,
                                          intake_ready: None, session: Session) -> None:
    """A page elsewhere that makes its visitors' browsers post the form is refused before
    the rate limits: neither the client's nor the global budget pays for it."""
    tight = settings.model_copy(update={"intake_rate_per_client_per_hour": 1,
                                        "intake_rate_global_per_minute": 1})
    with client_for(tight, engine) as client:
        token = token_of(client.get("/report").text)
        for _ in range(5):
            refused = post_report(client, report_fields(), token,
                                  headers={"origin": "https://evil.example"})
            assert refused.status_code == 403
        accepted = post_report(client, report_fields(), token)
        assert accepted.status_code == 200, accepted.text
    assert rows(session, Submission) == 1


def test_the_receipt_is_hashed_ahead_once_the_text_is_valid_and_files_come(
        web: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The form's receipt starts when its first file arrives (text fields valid), so a slow
    upload finds it ready; an invalid form starts none, and both hash at most once."""
    monkeypatch.setattr(settings, "receipt_stock", 0)  # no receipt ready ahead
    from api.ingress import argon2
    from api.intake import service

    started: list[str] = []
    real_start = argon2.start_argon2
    real_prepare = service.prepare_receipt

    def start(*args: Any, **kw: Any) -> Any:
        started.append("ahead")
        return real_start(*args, **kw)

    def prepare(settings: Settings) -> service.PreparedReceipt:
        started.append("hash")
        return real_prepare(settings)

    monkeypatch.setattr(service, "start_argon2", start)
    monkeypatch.setattr(service, "prepare_receipt", prepare)
    token = token_of(web.get("/report?lang=en").text)
    files = [("b.txt", b"notes", "text/plain")]
    assert post_report(web, report_fields(), token, files).status_code == 200
    assert started == ["ahead", "hash"]
    started.clear()
    token = token_of(web.get("/report?lang=en").text)
    assert post_report(web, report_fields(narrative=""), token, files).status_code == 422
    assert started == []
