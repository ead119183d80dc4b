"""The report form posted again (over HTTP): the same form files nothing new, in the form's
language, with no second copy of its files; two posts of it at once still make one case."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session

from api.cases.files.models import Attachment
from api.cases.models import Case
from api.core.settings import Settings
from api.intake.models import Receipt
from api.web.i18n import translations
from tests.web.browsing import tiny_png
from tests.web.test_pages_http import client_for, report_fields, rows, token_of


@pytest.fixture
def web(settings: Settings, engine: Engine, intake_ready: None) -> Iterator[TestClient]:
    with client_for(settings, engine) as client:
        yield client


Part = tuple[str, tuple[str | None, bytes | str, str | None]]


def _form(client: TestClient, lang: str) -> list[Part]:
    """The multipart fields of one rendering of the form, with a file."""
    html = client.get(f"/report?lang={lang}").text
    once = re.search(r'name="once" value="([^"]+)"', html)
    assert once
    fields: list[Part] = [("csrf", (None, token_of(html), None)),
                          ("once", (None, once.group(1), None))]
    fields += [(k, (None, v, None)) for k, v in report_fields(lang=lang)]
    fields.append(("files", ("photo.png", tiny_png(3), "image/png")))
    return fields


def _counts(session: Session) -> tuple[int, int, int]:
    return rows(session, Case), rows(session, Receipt), rows(session, Attachment)


def test_the_same_form_sent_again_is_received_once(web: TestClient, session: Session) -> None:
    lang = "uk"
    fields = _form(web, lang)
    first = web.post("/report", files=fields)
    assert first.status_code == 200 and 'id="receipt-code"' in first.text
    reference = re.search(r'<dd translate="no">(DKZ-[0-9A-Z-]+)</dd>', first.text)
    assert reference
    # The browser asks in English (Tor Browser does); the answer is in the form's language.
    again = web.post("/report", files=fields, headers={"Accept-Language": "en"})
    assert again.status_code == 200
    gettext = translations(lang).gettext
    assert gettext("Your report had already been received") in again.text
    assert reference.group(1) in again.text
    assert 'id="receipt-code"' not in again.text
    assert 'lang="uk"' in again.text
    # Its text comes back, in case it was edited before the second sending.
    assert 'id="kept-text"' in again.text and "They took him at the bus stop." in again.text
    assert _counts(session) == (1, 1, 1)
    # A fresh rendering of the form is a new report.
    assert 'id="receipt-code"' in web.post("/report", files=_form(web, lang)).text
    assert _counts(session) == (2, 2, 2)


def test_two_posts_of_one_form_at_once_make_one_case(web: TestClient, session: Session
                                                     ) -> None:
    fields = _form(web, "en")
    results: list[httpx.Response] = []

    def post() -> None:
        results.append(web.post("/report", files=fields))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200, 200, 200]
    receipts = [r for r in results if 'id="receipt-code"' in r.text]
    replays = [r for r in results if "Your report had already been received" in r.text]
    assert (len(receipts), len(replays)) == (1, 2), [r.text[:300] for r in results]
    assert _counts(session) == (1, 1, 1)


def test_a_post_without_the_forms_once_value_is_never_taken_for_another(
        web: TestClient, session: Session) -> None:
    """Two pages opened in the same second share a token; without the page's random value
    (an old cached page, a script) each post is its own report, as before."""
    fields = [part for part in _form(web, "en") if part[0] != "once"]
    for _ in range(2):
        assert 'id="receipt-code"' in web.post("/report", files=fields).text
    assert _counts(session) == (2, 2, 2)


def test_a_message_sent_from_a_page_opened_before_the_case_closed_is_given_back(
        web: TestClient, session: Session) -> None:
    """The page was open when staff closed the case: the answer has no form left, says
    what to do instead, and gives the typed text back to copy."""
    r = web.post("/api/v1/submissions", json={
        "reporter": {"role": "witness"}, "acts": ["detention"], "where": {"region": "BY-MI"},
        "narrative": "Taken.", "consent": {"internal_handling": True}, "language": "ru"})
    assert r.status_code == 201
    login = web.get("/followup?lang=ru").text
    opened = web.post("/followup", data={"csrf": token_of(login), "lang": "ru",
                                         "receipt": r.json()["receipt"]})
    assert opened.status_code == 200 and 'id="message"' in opened.text
    session_field = re.search(r'name="session" value="([^"]+)"', opened.text)
    assert session_field
    session.exec(update(Case).values(state="closed"))
    session.commit()
    gettext = translations("ru").gettext
    sent = web.post("/followup", data={
        "csrf": token_of(opened.text), "lang": "ru", "session": session_field.group(1),
        "action": "message", "message": "Его перевели в другое СИЗО."})
    assert sent.status_code == 409
    assert 'id="message"' not in sent.text and 'id="files"' not in sent.text
    assert gettext("This case is closed") in sent.text
    assert 'href="#closed-title"' in sent.text and 'href="/report?lang=ru"' in sent.text
    assert 'id="kept-text"' in sent.text and "Его перевели в другое СИЗО." in sent.text
