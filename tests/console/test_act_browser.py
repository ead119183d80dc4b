"""The act editor and the interventions pages in Chromium with JavaScript off, in
Russian: every one passes axe-core and is used with its form alone (a perpetrator added in
the empty row, a disappearance ticked, an intervention recorded)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser
from sqlmodel import Session

from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from api.console.i18n import translations
from tests.console.test_browser import check_page
from tests.factories import create_staff, sample_report
from tests.web.browsing import visit
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser
LANG = "ru"


def t(message: str) -> str:
    return translations(LANG).gettext(message)


def test_code_the_rest_of_an_act_and_an_intervention_without_javascript(
        live_server: LiveServer, browser: Browser, session: Session) -> None:
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True,
                          settings=live_server.settings)
    sent = httpx.post(live_server.url + "/api/v1/submissions",
                      json=sample_report(acts=["detention"]), timeout=60)
    assert sent.status_code == 201, sent.text
    with visit(browser, live_server.url, javascript=False) as v:
        page = v.page
        v.goto(f"/staff/sign-in?lang={LANG}")
        page.fill("#username", worker.user.username)
        page.fill("#password", worker.password)
        page.fill("#code", code_for_step(worker.totp_secret, step_at(datetime.now(UTC))))
        page.click("main button[type=submit]")
        page.wait_for_selector("nav.tabs")
        v.goto("/staff/queue?tab=all")
        page.locator("table.cases tbody th a").first.click()
        page.wait_for_selector("#acts-heading")

        page.locator("ul.acts a").first.click()
        page.wait_for_selector("form.stack.wide")
        check_page(v, "act-editor", LANG)
        page.check("input[name=has_disappearance]")
        page.fill("#f-last_seen_month", "2025-03")
        page.select_option("#f-perpetrators-0-perpetrator_type", "omon")
        page.select_option("#f-perpetrators-0-degree", "direct")
        page.fill("#f-perpetrators-0-unit", "3-я рота")
        page.click("form.stack.wide button[type=submit]")
        page.wait_for_selector("p.notice")
        acts = page.inner_text("ul.acts")
        assert t("enforced disappearance") in acts
        assert t("alleged perpetrators: %(num)s") % {"num": 1} in acts

        page.locator("section[aria-labelledby=interventions-heading] a").last.click()
        page.wait_for_selector("#f-intervention_type")
        check_page(v, "intervention", LANG)
        page.select_option("#f-intervention_type", "legal_aid")
        page.select_option("#f-status", "planned")
        page.fill("#f-reference", "№ 5/2025")
        page.click("main button[type=submit]")
        page.wait_for_selector("p.notice")
        assert t("The intervention is saved.") in page.inner_text("p.notice")
        assert "№ 5/2025" in page.inner_text("main table")
        check_page(v, "interventions", LANG)
        assert v.foreign_requests() == []
