"""Every public page in Chromium: accessible (axe-core), keyboard-usable, fits 360 px, and
never asks another origin for anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from api.web.i18n import translations
from tests.web.browsing import screenshot, serious_violations, visit
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_every_page_is_accessible_fits_a_phone_and_stays_on_this_origin(
        live_server: LiveServer, browser: Browser) -> None:
    with visit(browser, live_server.url, javascript=True, width=360, height=740) as v:
        page = v.page
        for path in ("/report?lang=uk", "/about?lang=be", "/followup?lang=ru", "/"):
            v.goto(path)
            assert serious_violations(v) == [], path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (path, width)
        v.goto("/about?lang=be")
        screenshot(page, "about-be-360")

        # An empty form: errors listed at the top, linked to their fields, translated.
        v.goto("/report?lang=en")
        page.click("button[type=submit]")
        page.wait_for_selector("#error-summary")
        assert serious_violations(v) == []
        page.click("#error-summary a[href='#narrative']")
        assert page.evaluate("location.hash") == "#narrative"
        screenshot(page, "report-errors-en-360")

        # A wrong receipt: a field error, and the error page is accessible too.
        v.goto("/followup?lang=ru")
        page.fill("#receipt", "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA")
        page.click("form[action^='/followup?'] button[type=submit]")
        page.wait_for_selector("#receipt-error")
        assert page.get_attribute("#receipt", "aria-invalid") == "true"
        assert "receipt-error" in (page.get_attribute("#receipt", "aria-describedby") or "")
        assert serious_violations(v) == []
        assert v.foreign_requests() == []
        assert v.requests  # the recorder saw the pages and their assets


def test_keyboard_reaches_the_form_and_the_language_switcher(
        live_server: LiveServer, browser: Browser) -> None:
    with visit(browser, live_server.url, javascript=False) as v:
        page = v.page
        v.goto("/report?lang=be")
        page.keyboard.press("Tab")
        skip = translations("be").gettext("Skip to the main content")
        assert page.evaluate("document.activeElement.textContent") == skip
        page.keyboard.press("Tab")  # the brand link
        page.keyboard.press("Tab")  # the first language
        assert page.evaluate("document.activeElement.getAttribute('hreflang')") == "be"
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # русский
        page.wait_for_url("**/report?lang=ru")
        assert page.get_attribute("html", "lang") == "ru"
        # Tab order reaches the first question of the form after the intro links.
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "role-victim":
                break
        assert page.evaluate("document.activeElement.id") == "role-victim"
        assert v.foreign_requests() == []
