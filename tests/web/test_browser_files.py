"""In Chromium, JavaScript off and on: files are judged by what they are, and every
refusal or limit page comes back in the language the form was filled in.

The browser context asks for English (``locale="en-US"``, as Tor Browser always does); the
forms are filled in Belarusian.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.auth.roles import Role
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads.models import Submission
from api.core.settings import Settings
from api.storage import get_storage
from api.web import pages
from api.web.i18n import translations
from tests.factories import create_recovery_key_text, create_staff
from tests.intake.helpers import read_back
from tests.web.browsing import UploadFile, fill_report, receipt_text, tiny_png, visit
from tests.web.conftest import LiveServer, serving

pytestmark = pytest.mark.browser

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(20_000)
MODES = pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])


def be(message: str) -> str:
    return translations("be").gettext(message)


@pytest.fixture
def intake_ready(session: Session, settings: Settings) -> str:
    """As tests/web/conftest.py's, keeping the recovery key's text to read files back."""
    text = create_recovery_key_text(session)
    create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    return text


@MODES
def test_a_png_named_jpg_is_accepted_and_stored_as_png(
        live_server: LiveServer, browser: Browser, intake_ready: str, javascript: bool) -> None:
    photo = UploadFile("IMG_2041.jpg", "image/jpeg", tiny_png(3))  # what a phone may do
    notes = UploadFile("заява.txt", "text/plain",
                       "Мяне затрымалі 12 жніўня.\r\n".encode("cp1251") * 40)  # Notepad, ANSI
    with visit(browser, live_server.url, javascript=javascript) as v:
        v.goto("/report?lang=be")
        fill_report(v.page, [photo, notes], "Нарратыў: фота з тэлефона.")
        v.page.click("button[type=submit]")
        v.page.wait_for_selector("#receipt-code", timeout=60_000)
        body = v.page.inner_text("main")
        assert photo.name in body and photo.sha256 in body and notes.sha256 in body
        receipt_text(v.page)
        if javascript:
            assert any("/api/v1/uploads/" in u for u in v.requests)
    with Session(live_server.engine) as s:
        sub = s.exec(select(Submission).where(col(Submission.language) == "be")).one()
        case = s.exec(select(Case).where(col(Case.id) == sub.case_id)).one()
        _, files = read_back(s, get_storage(live_server.settings), case.id, intake_ready)
    by_name = {meta["filename"]: (meta, data) for meta, data in files}
    meta, data = by_name[photo.name]
    assert data == photo.data and meta["detected_type"] == "image/png"
    assert by_name[notes.name][0]["detected_type"] == "text/plain"


@MODES
def test_a_program_is_refused_naming_the_file_in_the_forms_language(
        live_server: LiveServer, browser: Browser, javascript: bool) -> None:
    program = UploadFile("справаздача.pdf", "application/pdf", EXE)
    photo = UploadFile("фота.png", "image/png", tiny_png(5))
    with visit(browser, live_server.url, javascript=javascript) as v:
        page = v.page
        v.goto("/report?lang=be")
        fill_report(page, [photo, program], "Нарратыў, які не павінен згубіцца.")
        page.click("button[type=submit]")
        if javascript:
            # upload.js says what the server said, naming the file, and takes the bar away.
            status = page.locator(".upload-progress p.upload-error")
            status.wait_for(timeout=60_000)
            text = status.inner_text()
            assert program.name in text
            assert be("%(name)s could not be sent. Check the connection and press the button "
                      "again.") % {"name": program.name} != text
            assert "злучэнне" not in text.lower()  # not "check your connection"
            assert page.locator(".upload-progress progress").count() == 1  # the photo's
            assert page.get_attribute("button[type=submit]", "disabled") is None
            assert page.input_value("#narrative").startswith("Нарратыў")
        else:
            page.wait_for_selector("#error-summary")
            assert page.get_attribute("html", "lang") == "be"
            expected = be(pages.FILE_REFUSED_PROGRAM) % {"name": program.name}
            assert " ".join(expected.split()) in " ".join(page.inner_text("main").split())
            assert page.input_value("#narrative").startswith("Нарратыў")
        assert v.foreign_requests() == []
    with Session(live_server.engine) as s:
        assert s.exec(select(Submission)).all() == []
        assert s.exec(select(Attachment)).all() == []


@MODES
def test_a_belarusian_form_gets_its_limit_page_in_belarusian(
        settings: Settings, engine: Engine, intake_ready: str, browser: Browser,
        javascript: bool) -> None:
    # One report an hour from a client: the second is refused before its body is read,
    # where only the form's address says which language it was filled in.
    tight = settings.model_copy(update={"intake_rate_per_client_per_hour": 1})
    with serving(tight, engine) as server, visit(browser, server.url,
                                                 javascript=javascript) as v:
        page = v.page
        # Tor Browser asks for English; the form is filled in Belarusian.
        assert page.evaluate("navigator.language") == "en-US"
        for attempt in range(2):
            v.goto("/report?lang=be")
            fill_report(page, [UploadFile(f"фота{attempt}.png", "image/png",
                                          tiny_png(attempt))], "Нарратыў.")
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            page.wait_for_selector("h1 >> text=" + (
                be("Your report has been received") if attempt == 0 else be(pages.RATE_HEADING)),
                timeout=60_000)
        assert page.get_attribute("html", "lang") == "be"
        assert " ".join(be(pages.RATE_TEXT).split()) in " ".join(
            page.inner_text("main").split())
        # The way back leads to the form in Belarusian too.
        page.click("main a[href^='/report']")
        page.wait_for_selector("#report-form")
        assert page.get_attribute("html", "lang") == "be"
        assert v.foreign_requests() == []
