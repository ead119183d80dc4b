"""Two people to one decision, in Chromium, with JavaScript off and on, in two languages.

A caseworker sends a case to review and cannot verify it herself (four eyes: the page
refuses); a coordinator verifies it, merges a second report of the same arrest into it
(preview, then confirm: both narratives on the case, the duplicate shown as merged) and
asks for a colleague's access, which a second coordinator approves on /staff/approvals
before the colleague can open the case; an admin's new account signs in but reads nothing
until a coordinator approves it, and then reads the next report it is on duty for. Every
page on the way passes axe-core.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack

import pytest
from playwright.sync_api import Browser
from sqlmodel import Session

from api.auth.roles import Role
from tests.console.in_browser import open_case, report, sign_in, t, totp_secret_of
from tests.console.test_browser import check_page
from tests.factories import StaffHandle, create_staff
from tests.web.browsing import Visit, visit
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

REFUSED = ("You cannot open this", "Nothing was found here")


def move(v: Visit, state: str) -> None:
    v.page.select_option("#to", state)
    v.page.click("form[action$='/transitions'] button[type=submit]")


def refused(v: Visit, path: str, lang: str) -> None:
    """``path`` is answered with the console's refusal page (403 or 404), no content."""
    response = v.page.goto(v.base_url + path)
    assert response is not None and response.status in (403, 404), path
    assert v.page.inner_text("h1") in [t(lang, h) for h in REFUSED]
    assert v.page.locator("div.narrative").count() == 0


def narratives(v: Visit) -> list[str]:
    return [text.strip() for text in v.page.locator("div.narrative").all_inner_texts()]


@pytest.mark.parametrize(("lang", "javascript"), [("be", False), ("en", True)],
                         ids=["be-nojs", "en-js"])
def test_a_second_person_verifies_a_coordinator_merges_and_grants_an_admins_account_waits(
        live_server: LiveServer, browser: Browser, session: Session, lang: str,
        javascript: bool) -> None:
    settings, engine = live_server.settings, live_server.engine
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    first = create_staff(session, Role.COORDINATOR, on_intake_duty=True, settings=settings)
    second = create_staff(session, Role.COORDINATOR, on_intake_duty=True, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, settings=settings)
    admin = create_staff(session, Role.ADMIN, settings=settings)
    told = f"First account ({lang}): detained at the bus stop on Pritytskogo."
    retold = f"A neighbour ({lang}): the same arrest at the bus stop, seen from a window."
    _, reference = report(browser, live_server.url, lang=lang, javascript=javascript,
                          narrative=told)
    _, duplicate = report(browser, live_server.url, lang=lang, javascript=javascript,
                          narrative=retold)

    with ExitStack() as people:
        def person(handle: StaffHandle) -> Visit:
            v = people.enter_context(visit(browser, live_server.url, javascript=javascript))
            sign_in(v, engine, lang, handle.user.username, handle.password, handle.totp_secret)
            return v

        # The caseworker sends the case to review and may not verify it herself.
        w = person(worker)
        case_path = open_case(w, reference)
        for state in ("triage", "in_review"):
            move(w, state)
            w.page.wait_for_selector("p.notice")
        # The page does not offer the move and says why ...
        assert w.page.locator("#to option[value=verified]").count() == 0
        four_eyes = t(lang, "You sent this case to review; a second person must verify it.")
        assert four_eyes in w.page.inner_text("ul.refused li[data-state=verified]")
        # ... and a forged form that offers it anyway is refused by the server.
        w.page.eval_on_selector("#to", "s => s.add(new Option('verified', 'verified'))")
        move(w, "verified")
        w.page.wait_for_selector("p.detail")
        assert w.page.inner_text("h1") == t(lang, "You cannot open this")
        assert w.page.inner_text("p.detail") == four_eyes
        check_page(w, "refused-four-eyes", lang)
        w.goto(case_path)
        assert t(lang, "in review") in w.page.inner_text("dl.facts")

        # The colleague has no access yet.
        g = person(colleague)
        refused(g, case_path, lang)

        # A coordinator verifies it.
        c1 = person(first)
        c1.goto(case_path)
        move(c1, "verified")
        c1.page.wait_for_selector("p.notice")
        assert t(lang, "verified") in c1.page.inner_text("dl.facts")

        # ... merges the duplicate: a preview first, then the merge.
        c1.page.fill("#duplicate", duplicate.lower())  # references are read in any case
        c1.page.click("form[action$='/merge'] button[type=submit]")
        c1.page.wait_for_selector("input[name=from_case_id]", state="attached")
        assert c1.page.inner_text("h1") == t(lang, "Merge a duplicate")
        preview = c1.page.inner_text("main table")
        assert reference in preview and duplicate in preview
        check_page(c1, "merge", lang)
        c1.page.click("form[action$='/merge'] button[type=submit]")
        c1.page.wait_for_selector("p.notice")
        assert c1.page.inner_text("p.notice") == t(lang, "The duplicate is merged into this case.")
        assert sorted(narratives(c1)) == sorted([told, retold])
        c1.page.click("section[aria-labelledby=links-heading] a")
        c1.page.wait_for_selector("dl.facts")
        facts = c1.page.inner_text("dl.facts")
        assert t(lang, "duplicate") in facts and t(lang, "Merged into") in facts
        assert duplicate in c1.page.inner_text("h1")
        c1.page.click("dl.facts a")  # to the case it was merged into
        c1.page.wait_for_selector("dl.facts")
        assert c1.page.url.endswith(case_path)

        # ... and asks for the colleague's access, which she cannot approve herself.
        c1.page.select_option("#grantee", str(colleague.user.id))
        c1.page.click("form[action$='/access'] button[type=submit]")
        c1.page.wait_for_selector("p.notice")
        c1.goto("/staff/approvals")
        mine = c1.page.locator("main tbody tr", has_text=colleague.user.username)
        assert mine.count() == 1 and mine.locator("form").count() == 0
        assert t(lang, "a second person decides") in mine.inner_text()
        refused(g, case_path, lang)  # a request is not yet access

        c2 = person(second)
        c2.goto("/staff/approvals")
        check_page(c2, "approvals", lang)
        asked = c2.page.locator("main tbody tr", has_text=colleague.user.username)
        assert t(lang, "access to a case") in asked.inner_text()
        asked.locator("form[action$='/approve'] button").click()
        c2.page.wait_for_selector("p.notice")
        assert c2.page.inner_text("p.notice") == t(lang, "Approved: the change took effect.")

        g.goto(case_path)
        assert sorted(narratives(g)) == sorted([told, retold])

        # An admin's new account reads nothing until a coordinator approves it.
        a = person(admin)
        a.goto("/staff/admin/accounts")
        username, password = f"new-{lang}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        a.page.fill("#new-username", username)
        a.page.fill("#new-password", password)
        a.page.check("form[action='/staff/admin/accounts'] input[name=on_intake_duty]")
        a.page.click("form[action='/staff/admin/accounts'] button[type=submit]")
        a.page.wait_for_selector("figure.qr svg")
        check_page(a, "new-account", lang)
        secret = totp_secret_of(a.page.inner_text("figure.qr code"))
        assert password not in a.page.content()
        a.goto("/staff/admin/accounts")
        row = a.page.locator("main tbody tr", has_text=username)
        assert t(lang, "not until a coordinator approves") in row.inner_text()

        n = people.enter_context(visit(browser, live_server.url, javascript=javascript))
        sign_in(n, engine, lang, username, password, secret)
        n.goto("/staff/queue?tab=all")
        assert n.page.locator("table.cases tbody th a").count() == 0
        refused(n, case_path, lang)

        c2.goto("/staff/approvals")
        assert c2.page.locator("main tbody tr", has_text=username).count() == 2
        # Its duty waits for its reader request: the page says so and offers no approval.
        duty = c2.page.locator("main tbody tr", has_text=username).filter(
            has_text=t(lang, "goes on intake duty"))
        assert duty.locator("form[action$='/approve']").count() == 0
        assert t(lang, "Approve the account as a reader first.") in duty.inner_text()
        for kind in ("may read cases at all", "goes on intake duty"):
            row = c2.page.locator("main tbody tr", has_text=username).filter(
                has_text=t(lang, kind))
            with c2.page.expect_navigation():  # the same address each time: wait for it
                row.locator("form[action$='/approve'] button").click()
            assert c2.page.locator("p.notice").inner_text() == t(
                lang, "Approved: the change took effect."), c2.page.inner_text("main")
        assert c2.page.locator("main tbody tr", has_text=username).count() == 0

        later = f"A later report ({lang}): taken from home at night."
        _, fresh = report(browser, live_server.url, lang=lang, javascript=javascript,
                          narrative=later)
        open_case(n, fresh)
        assert narratives(n) == [later]
        refused(n, case_path, lang)  # approval is no grant: the older case stays closed
        a.goto("/staff/admin/accounts")
        row = a.page.locator("main tbody tr", has_text=username)
        assert t(lang, "not until a coordinator approves") not in row.inner_text()
