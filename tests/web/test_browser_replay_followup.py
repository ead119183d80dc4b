"""In Chromium, JavaScript off and on: reloading the receipt page files nothing new, and
the follow-up of a closed case or of a case waiting for the submitter has no dead end."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from api.auth.roles import Role
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads import contexts
from api.cases.threads.models import CaseMessage, Submission
from api.core.settings import Settings
from api.intake.models import IntakeReplay, Receipt
from api.web.i18n import translations
from tests.factories import create_recovery_key_text, create_staff
from tests.intake.helpers import case_key_by_recovery
from tests.web.browsing import fill_report, receipt_text, serious_violations, two_files, visit
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def intake_ready(session: Session, settings: Settings) -> str:
    """conftest's ``intake_ready``, keeping the recovery key so a test can write to a
    case as staff would (a question sealed under the case key)."""
    text = create_recovery_key_text(session)
    create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    return text


@pytest.fixture
def recovery_text(intake_ready: str) -> str:
    return intake_ready


def t(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def _counts(server: LiveServer) -> tuple[int, int, int]:
    with Session(server.engine) as s:
        return (s.exec(select(func.count()).select_from(Case)).one(),
                s.exec(select(func.count()).select_from(Receipt)).one(),
                s.exec(select(func.count()).select_from(Attachment)).one())


@pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])
def test_reloading_the_receipt_page_files_nothing_new(
        live_server: LiveServer, browser: Browser, javascript: bool) -> None:
    lang = "ru"
    files = two_files("reload")
    with visit(browser, live_server.url, javascript=javascript) as v:
        page = v.page
        v.goto(f"/report?lang={lang}")
        fill_report(page, files, "Задержали у подъезда.")
        page.click("button[type=submit]")
        page.wait_for_selector("#receipt-code", timeout=60_000)
        receipt = receipt_text(page)
        reference = page.inner_text("dd[translate=no]")
        assert _counts(live_server) == (1, 1, 2)

        # Reload: the browser posts the same form again (F5 on a POST's answer).
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.reload()
        page.wait_for_selector("h1")
        assert posts == [live_server.url + f"/report?lang={lang}"]  # it really was sent again
        assert page.inner_text("h1") == t(lang, "Your report had already been received")
        main = page.inner_text("main")
        assert reference in main
        assert receipt not in main.replace("-", "") and page.query_selector("#receipt-code") is None
        assert t(lang, "Send a new report") in main
        assert t(lang, "Follow up with your receipt") in main
        assert serious_violations(v) == []
        assert _counts(live_server) == (1, 1, 2)

        # A second reload, and the link to a new report gives a fresh form that files anew.
        page.reload()
        page.wait_for_selector("h1")
        assert page.inner_text("h1") == t(lang, "Your report had already been received")
        page.click(f"text={t(lang, 'Send a new report')}")
        page.wait_for_selector("#report-form")
        fill_report(page, files[:1], "Другой случай.")
        page.click("button[type=submit]")
        page.wait_for_selector("#receipt-code", timeout=60_000)
        assert receipt_text(page) != receipt
        assert _counts(live_server) == (2, 2, 3)
        assert v.foreign_requests() == []
    with Session(live_server.engine) as s:
        assert s.exec(select(func.count()).select_from(IntakeReplay)).one() == 2


def _api_report(server: LiveServer) -> dict[str, str]:
    doc = {"reporter": {"role": "relative"}, "acts": ["detention"],
           "where": {"region": "BY-MI"}, "narrative": "Taken at night.",
           "consent": {"internal_handling": True}, "language": "be"}
    r = httpx.post(server.url + "/api/v1/submissions", json=doc, timeout=30)
    assert r.status_code == 201, r.text
    body: dict[str, str] = r.json()
    return body


def _ask(server: LiveServer, reference: str, question: str, recovery_text: str) -> None:
    with Session(server.engine) as s:
        case = s.exec(select(Case).where(col(Case.reference) == reference)).one()
        key = case_key_by_recovery(s, case.id, recovery_text)
        thread = s.exec(select(Submission).where(col(Submission.case_id) == case.id)).one()
        message_id = uuid.uuid4()
        s.add(CaseMessage(id=message_id, case_id=case.id, submission_id=thread.id,
                          key_case_id=case.id, direction="to_submitter",
                          body=contexts.seal_message(key, case.id, message_id, question)))
        s.exec(update(Case).where(col(Case.id) == case.id).values(state="needs_info"))
        s.commit()


def _open(v: object, lang: str, receipt: str) -> None:
    from tests.web.browsing import Visit

    assert isinstance(v, Visit)
    v.goto(f"/followup?lang={lang}")
    v.page.fill("#receipt", receipt)
    v.page.click("form[action^='/followup?'] button[type=submit]")
    v.page.wait_for_selector("dl.details")


@pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])
def test_follow_up_of_a_waiting_then_closed_case_has_no_dead_end(
        live_server: LiveServer, browser: Browser, javascript: bool,
        recovery_text: str) -> None:
    lang = "be"
    sent = _api_report(live_server)
    _ask(live_server, sent["reference"], "Якога дня гэта было?", recovery_text)
    with visit(browser, live_server.url, javascript=javascript) as v:
        page = v.page
        _open(v, lang, sent["receipt"])
        main = page.inner_text("main")
        assert t(lang, "Waiting for your answer to our question") in main
        assert t(lang, "A question is waiting for your answer") in main
        assert "Якога дня гэта было?" in main
        assert page.is_visible("#message") and page.is_visible("#files")
        assert serious_violations(v) == []
        page.fill("#message", "У панядзелак.")
        page.click("form[action^='/followup?'] button[type=submit]")
        page.wait_for_selector("p.notice")
        assert t(lang, "A question is waiting for your answer") not in page.inner_text("main")
        assert t(lang, "Being worked on") in page.inner_text("main")

        with Session(live_server.engine) as s:
            s.exec(update(Case).values(state="closed"))
            s.commit()
        _open(v, lang, sent["receipt"])
        main = page.inner_text("main")
        assert t(lang, "This case is closed") in main
        assert t(lang, "Closed") in main
        # No form to fill in for nothing: no message box, no file input, no send button.
        for selector in ("#message", "#files", "#followup-files", "button[type=submit]"):
            assert page.query_selector(selector) is None, selector
        # What the person can do instead: read what is there, or send a new report.
        assert "У панядзелак." in main
        page.click(f"text={t(lang, 'Send a new report')}")
        page.wait_for_selector("#report-form")
        assert page.url == live_server.url + f"/report?lang={lang}"
        assert v.foreign_requests() == []
