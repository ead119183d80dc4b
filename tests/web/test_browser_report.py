"""A person reports in Chromium, with JavaScript off (Tor Browser "Safest") and on.

Each run fills the whole form in one language, attaches two files, sends, reads the
receipt page (receipt, file names, SHA-256), checks accessibility with axe-core and that
the browser asked no other origin for anything; then it follows up with the receipt.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser
from sqlmodel import Session, select

from api.cases.files.models import Attachment
from api.cases.threads.models import Submission
from api.web.i18n import LANGUAGES, translations
from tests.web.browsing import (
    fill_report,
    receipt_text,
    screenshot,
    serious_violations,
    two_files,
    visit,
)
from tests.web.conftest import LiveServer
from tests.web.followup_flow import follow_up

pytestmark = pytest.mark.browser


def t(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


@pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_full_report_then_follow_up(live_server: LiveServer, browser: Browser, lang: str,
                                    javascript: bool) -> None:
    mode = "js" if javascript else "nojs"
    files = two_files(f"{lang}-{mode}")
    narrative = f"Canary narrative {lang} {mode}: затрымалі ля пад'езда, білі ў РУУС.\n" * 20
    with visit(browser, live_server.url, javascript=javascript) as v:
        v.goto(f"/report?lang={lang}")
        page = v.page
        assert page.get_attribute("html", "lang") == lang
        assert page.inner_text("h1") == t(lang, "Report what happened")
        fill_report(page, files, narrative)
        if not javascript:
            for width in (360, 1280):
                page.set_viewport_size({"width": width, "height": 800})
                screenshot(page, f"report-{lang}-{width}")
            page.set_viewport_size({"width": 1280, "height": 900})
        page.click("button[type=submit]")
        page.wait_for_selector("#receipt-code", timeout=60_000)

        # POST and render: the address bar still says /report (and the form's language,
        # which its errors are written in), nothing identifying in it.
        assert page.url == live_server.url + f"/report?lang={lang}"
        assert page.inner_text("h1") == t(lang, "Your report has been received")
        receipt = receipt_text(page)
        body = page.inner_text("main")
        for f in files:
            assert f.name in body and f.sha256 in body
        assert serious_violations(v) == []
        if not javascript:
            page.set_viewport_size({"width": 360, "height": 800})
            screenshot(page, f"receipt-{lang}-360")
            page.set_viewport_size({"width": 1280, "height": 900})

        if javascript:
            # The files went through resumable (tus) uploads, not the form post.
            assert any("/api/v1/uploads/" in u for u in v.requests)
        follow_up(v, lang, receipt, screenshots=not javascript)
        assert v.foreign_requests() == []

    with Session(live_server.engine) as session:
        submissions = session.exec(select(Submission).where(Submission.language == lang)).all()
        first = next(s for s in submissions if not s.is_followup)
        assert first.channel == "web"
        assert set(first.categories.split(",")) == {"detention", "torture"}
        assert "aggregate_statistics" in first.consent_scopes
        attachments = session.exec(
            select(Attachment).where(Attachment.submission_id == first.id)).all()
        assert len(attachments) == 2
