"""Keyboard-only use of the console in Chromium: signing in, moving through the queue to a
case and sending a question; an admin's new account and a coordinator's approvals. With
Tab, typing, Space and Enter alone (no mouse, no script)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page
from sqlmodel import Session

from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from tests.console.in_browser import sign_in
from tests.factories import create_staff
from tests.web.browsing import fill_report, visit
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


def tab_to(page: Page, selector: str, limit: int = 200) -> None:
    """Press Tab until ``selector`` has the focus (fails if it never gets it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with the keyboard")


def test_a_caseworker_works_with_the_keyboard_alone(live_server: LiveServer, browser: Browser,
                                                    session: Session) -> None:
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True,
                          settings=live_server.settings)
    with visit(browser, live_server.url, javascript=True) as submitter:
        submitter.goto("/report?lang=en")
        fill_report(submitter.page, [], "Keyboard canary: detained at the station.")
        submitter.page.click("button[type=submit]")
        submitter.page.wait_for_selector("#receipt-code", timeout=60_000)

    with visit(browser, live_server.url, javascript=False) as v:
        page = v.page
        v.goto("/staff/sign-in?lang=en")
        tab_to(page, "#username")
        page.keyboard.type(worker.user.username)
        tab_to(page, "#password")
        page.keyboard.type(worker.password)
        tab_to(page, "#code")
        page.keyboard.type(code_for_step(worker.totp_secret, step_at(datetime.now(UTC))))
        page.keyboard.press("Enter")
        page.wait_for_selector("nav.tabs")

        # The skip link comes first and takes the focus to the main content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('skip')")
        tab_to(page, "table.cases tbody th a")
        page.keyboard.press("Enter")
        page.wait_for_selector("div.narrative")
        assert "Keyboard canary" in page.inner_text("div.narrative")

        tab_to(page, "textarea[name=body]")
        page.keyboard.type("Which station were you taken to?")
        tab_to(page, "form[action$='/messages'] button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_selector("p.notice")
        assert "Which station were you taken to?" in page.inner_text("ol.messages")
        # Focus is always visible: the focused element draws an outline.
        tab_to(page, "a")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", "")


def test_an_admin_and_a_coordinator_decide_with_the_keyboard_alone(
        live_server: LiveServer, browser: Browser, session: Session) -> None:
    """The admin's account form and the coordinator's approval, by Tab, typing, Space and
    Enter: the two-person pages are as usable without a mouse as the caseworker's."""
    settings, engine = live_server.settings, live_server.engine
    admin = create_staff(session, Role.ADMIN, settings=settings)
    coordinator = create_staff(session, Role.COORDINATOR, settings=settings)
    with visit(browser, live_server.url, javascript=False) as a, \
            visit(browser, live_server.url, javascript=False) as c:
        sign_in(a, engine, "en", admin.user.username, admin.password, admin.totp_secret)
        a.goto("/staff/admin/accounts")
        tab_to(a.page, "#new-username")
        a.page.keyboard.type("keyboard-new")
        tab_to(a.page, "#new-password")
        a.page.keyboard.type("a-first-password-1")
        tab_to(a.page, "form[action='/staff/admin/accounts'] input[name=on_intake_duty]")
        a.page.keyboard.press("Space")
        tab_to(a.page, "form[action='/staff/admin/accounts'] button[type=submit]")
        a.page.keyboard.press("Enter")
        a.page.wait_for_selector("figure.qr svg")
        assert "keyboard-new" in a.page.inner_text("main")

        sign_in(c, engine, "en", coordinator.user.username, coordinator.password,
                coordinator.totp_secret)
        # The reader approval first: duty for someone who may not read yet is refused.
        for kind in ("may read cases at all", "goes on intake duty"):
            c.goto("/staff/approvals")
            for _ in range(10):  # from one approve button to the next, to this kind's
                tab_to(c.page, "form[action$='/approve'] button")
                if c.page.evaluate("k => document.activeElement.closest('tr')"
                                   ".textContent.includes(k)", kind):
                    break
            c.page.keyboard.press("Enter")
            c.page.wait_for_selector("p.notice")
            assert c.page.inner_text("p.notice") == "Approved: the change took effect."
        assert "keyboard-new" not in c.page.inner_text("main")
        a.goto("/staff/admin/accounts")
        row = a.page.locator("main tbody tr", has_text="keyboard-new").inner_text()
        assert "yes, approved on" in row and "on duty" in row
