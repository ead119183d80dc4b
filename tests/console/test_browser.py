"""A caseworker's morning in Chromium, with JavaScript off and on, in two languages.

A person reports through the public form; the caseworker signs in to the console (password
and TOTP code), finds the report in the queue, reads it, downloads a file and checks its
SHA-256 against the page, codes the detention with its torture allegation in the act
editor (seen on the case page and in the editor afterwards), asks the submitter a question
and sends the case to review; the submitter sees the question on /followup. Every console
page passes axe-core, asks no other origin for anything, and is photographed at 1280 and
768 px.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import cast

import pytest
from playwright.sync_api import Browser
from sqlmodel import Session

from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from api.console.i18n import translations
from api.vocab.registry import Language, label
from api.web.i18n import translations as web_translations
from tests.factories import create_staff
from tests.web.browsing import (
    Visit,
    fill_report,
    receipt_text,
    screenshot,
    serious_violations,
    two_files,
    visit,
)
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


def t(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def check_page(v: Visit, name: str, lang: str) -> None:
    assert v.page.get_attribute("html", "lang") == lang
    assert serious_violations(v) == [], name
    if not v.javascript:
        for width in (1280, 768):
            v.page.set_viewport_size({"width": width, "height": 900})
            screenshot(v.page, f"console-{name}-{lang}-{width}")
        v.page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize(("lang", "javascript"), [("be", False), ("en", True)],
                         ids=["be-nojs", "en-js"])
def test_caseworker_reads_a_new_report_asks_and_sends_it_to_review(
        live_server: LiveServer, browser: Browser, session: Session, lang: str,
        javascript: bool) -> None:
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True,
                          settings=live_server.settings)
    files = two_files(f"console-{lang}")
    narrative = f"Console canary {lang}: затрымалі каля пад'езда."
    with visit(browser, live_server.url, javascript=javascript) as submitter:
        submitter.goto(f"/report?lang={lang}")
        fill_report(submitter.page, files, narrative)
        submitter.page.click("button[type=submit]")
        submitter.page.wait_for_selector("#receipt-code", timeout=60_000)
        receipt = receipt_text(submitter.page)
        label = web_translations(lang).gettext("Case reference")
        reference = submitter.page.locator(f"dt:text-is('{label}') + dd").inner_text().strip()

    question = f"Question {lang}: where were you taken after the arrest?"
    with visit(browser, live_server.url, javascript=javascript) as v:
        page = v.page
        v.goto(f"/staff/sign-in?lang={lang}")
        assert page.inner_text("h1") == t(lang, "Sign in")
        check_page(v, "sign-in", lang)
        page.fill("#username", worker.user.username)
        page.fill("#password", worker.password)
        page.fill("#code", code_for_step(worker.totp_secret, step_at(datetime.now(UTC))))
        page.click("main button[type=submit]")
        page.wait_for_selector("nav.tabs")
        assert page.url.endswith("/staff/queue")
        check_page(v, "queue", lang)

        link = page.locator("table.cases tbody th a").first
        assert link.inner_text() == reference
        link.click()
        page.wait_for_selector("div.narrative")
        assert narrative in page.inner_text("div.narrative")
        check_page(v, "case", lang)

        # Download each file and check it against the SHA-256 the page shows.
        for f in files:
            row = page.locator("tr", has_text=f.name)
            shown = row.locator("code.hash").inner_text().strip()
            with page.expect_download() as download_info:
                row.locator("a").click()
            path = download_info.value.path()
            assert path is not None
            data = open(path, "rb").read()  # noqa: SIM115
            assert hashlib.sha256(data).hexdigest() == shown == f.sha256

        code_the_detention(v, lang)

        page.fill("textarea[name=body]", question)
        page.click("form[action$='/messages'] button[type=submit]")
        page.wait_for_selector("p.notice")
        assert question in page.inner_text("ol.messages")
        for state in ("triage", "in_review"):
            page.select_option("#to", state)
            page.click("form[action$='/transitions'] button[type=submit]")
            page.wait_for_selector("p.notice")
        facts = page.inner_text("dl.facts")
        assert t(lang, "in review") in facts
        assert v.foreign_requests() == []

    with visit(browser, live_server.url, javascript=javascript) as back:
        back.goto(f"/followup?lang={lang}")
        back.page.fill("#receipt", receipt)
        back.page.click("form[action^='/followup?'] button[type=submit]")
        back.page.wait_for_selector("#write")
        assert question in back.page.inner_text("main")


def code_the_detention(v: Visit, lang: str) -> None:
    """On the case page: a new act, a detention (15 days of administrative arrest in a
    pre-trial prison) with a torture allegation (a method, a purpose), saved, then seen on
    the case page and in the editor again."""
    page = v.page
    case_path = page.url.split("?")[0].removeprefix(v.base_url)
    page.click(f"a[href='{case_path}/acts/new']")
    page.wait_for_selector("#f-act_type")
    check_page(v, "act", lang)
    page.select_option("#f-act_type", "detention")
    page.fill("#f-start_month", "2020-08")
    page.select_option("#f-region", "BY-HM")
    page.check("input[name=has_detention]")
    page.select_option("#f-legal_regime", "administrative_arrest")
    page.fill("#f-admin_arrest_days", "15")
    page.select_option("#f-facility_type", "tsip")
    page.check("input[name=has_torture]")
    page.check("input[name=methods][value=beating]")
    page.check("input[name=intents][value=extraction_of_information]")
    page.click(f"form[action='{case_path}/acts'] button[type=submit]")
    page.wait_for_selector("p.notice")
    assert page.inner_text("p.notice") == t(lang, "The act is saved.")
    # The submitter's own statements stay marked as such; the coded act is the worker's.
    acts = page.locator("ul.acts li").filter(
        has_text=t(lang, "torture or ill-treatment alleged")).filter(
        has_not_text=t(lang, "as stated at intake, not confirmed"))
    assert acts.count() == 1
    coded = acts.inner_text()
    vocab_lang = cast(Language, lang)
    for part in (label("act_type", "detention", vocab_lang), "2020-08",
                 label("region", "BY-HM", vocab_lang), t(lang, "detention")):
        assert part in coded, (part, coded)
    acts.locator("a").click()
    page.wait_for_selector("#f-act_type")
    assert page.input_value("#f-act_type") == "detention"
    assert page.input_value("#f-facility_type") == "tsip"
    assert page.input_value("#f-admin_arrest_days") == "15"
    assert page.is_checked("input[name=methods][value=beating]")
    assert page.is_checked("input[name=intents][value=extraction_of_information]")
    assert not page.is_checked("input[name=methods][value=electric_shock]")
    page.click(f"main a[href='{case_path}']")
    page.wait_for_selector("div.narrative")
