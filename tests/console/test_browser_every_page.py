"""axe-core on every page of the console, each as the role that uses it, in Chromium.

The list of pages is the app's own: every GET route under /staff must have a visit below
(or a commented reason in ``NOT_PAGES``), so a new page without an accessibility check
fails this test. Besides the GET pages: the pages a POST answers with (a new account's
sign-in code, the audit check), the error pages (401 as the sign-in form, 403, 404) and
the four-eyes refusal. No page may have a serious or critical violation.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from playwright.sync_api import Browser
from sqlmodel import Session

from api.auth.roles import Role
from api.console import queue
from tests.console.in_browser import sign_in
from tests.factories import StaffHandle, create_staff, submit_report
from tests.web.browsing import Visit, serious_violations, visit
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

# GET routes under /staff that answer with something other than an HTML page.
NOT_PAGES = {
    "/staff/static/console.css": "the stylesheet",
    "/staff/cases/{case_id}/attachments/{attachment_id}": "a file download, never rendered",
}
ACT_LINK = re.compile(r"/staff/cases/[0-9a-f-]{36}/acts/([0-9a-f-]{36})$")


def console_get_routes(app: FastAPI) -> set[str]:
    """Every GET route under /staff, as the app serves it (included routers flattened)."""
    return {str(context.path) for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
            and str(context.path).startswith("/staff")
            and "GET" in (context.original_route.methods or ())}


@dataclass(frozen=True)
class Seen:
    """What a visit needs: the cases and the ids the routes take."""

    case: str
    duplicate_reference: str
    act: str
    person: str
    intervention: str
    partner: str


# route -> the visits that cover it: (who, path), who being a role's visit or None.
Visits = Callable[[Seen], list[tuple[str, str]]]
PAGES: dict[str, Visits] = {
    "/staff/": lambda s: [("coordinator", "/staff/")],
    "/staff/sign-in": lambda s: [("anonymous", "/staff/sign-in"),
                                 ("anonymous", "/staff/sign-in?done=signed_out")],
    "/staff/account": lambda s: [("caseworker", "/staff/account"), ("admin", "/staff/account")],
    "/staff/queue": lambda s: [("caseworker", f"/staff/queue?tab={tab.name}")
                               for tab in queue.TABS]
    + [("caseworker", "/staff/queue?tab=all&state=new&sort=priority")],
    "/staff/cases/{case_id}": lambda s: [("caseworker", f"/staff/cases/{s.case}"),
                                         ("coordinator", f"/staff/cases/{s.case}")],
    "/staff/cases/{case_id}/acts/new": lambda s: [("caseworker",
                                                   f"/staff/cases/{s.case}/acts/new")],
    "/staff/cases/{case_id}/acts/{act_id}": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/acts/{s.act}")],
    "/staff/cases/{case_id}/merge": lambda s: [
        ("coordinator", f"/staff/cases/{s.case}/merge?reference={s.duplicate_reference}")],
    "/staff/cases/{case_id}/referral-drafts/{mechanism}": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/referral-drafts/wgeid?lang=fr"),
        ("caseworker", f"/staff/cases/{s.case}/referral-drafts/wgad?lang=be")],
    "/staff/cases/{case_id}/split": lambda s: [
        ("coordinator", f"/staff/cases/{s.case}/split")],
    "/staff/cases/{case_id}/persons/new": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/persons/new")],
    "/staff/cases/{case_id}/persons/{person_id}": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/persons/{s.person}")],
    "/staff/cases/{case_id}/relationships": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/relationships")],
    "/staff/cases/{case_id}/interventions": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/interventions")],
    "/staff/cases/{case_id}/interventions/new": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/interventions/new")],
    "/staff/cases/{case_id}/interventions/{intervention_id}": lambda s: [
        ("caseworker", f"/staff/cases/{s.case}/interventions/{s.intervention}")],
    "/staff/admin/partners": lambda s: [("admin", "/staff/admin/partners")],
    "/staff/admin/partners/{partner_id}": lambda s: [
        ("admin", f"/staff/admin/partners/{s.partner}")],
    "/staff/admin/organisation-profile": lambda s: [
        ("admin", "/staff/admin/organisation-profile")],
    "/staff/admin/audit/export": lambda s: [("admin", "/staff/admin/audit/export")],
    "/staff/approvals": lambda s: [("coordinator", "/staff/approvals")],
    "/staff/admin/accounts": lambda s: [("admin", "/staff/admin/accounts")],
    "/staff/admin/system": lambda s: [("admin", "/staff/admin/system")],
}
ERROR_PAGES = [
    ("anonymous", "/staff/queue", 401),  # the sign-in form, with "Please sign in"
    ("caseworker", "/staff/approvals", 403),
    ("admin", "/staff/queue", 403),
    ("caseworker", f"/staff/cases/{uuid.UUID(int=7)}", 404),
    # No route, so no session is read: this page is in the browser's language (en-US).
    ("caseworker", "/staff/no-such-page", 404),
]
UNROUTED = "/staff/no-such-page"


def test_every_console_page_is_listed_here(live_server: LiveServer) -> None:
    app = live_server.server.config.app
    assert isinstance(app, FastAPI)
    routes = console_get_routes(app)
    assert routes - set(PAGES) - set(NOT_PAGES) == set(), "a console page has no axe visit"
    assert set(PAGES) | set(NOT_PAGES) <= routes, "a listed page is gone: drop it here"


@pytest.mark.parametrize(("lang", "javascript"), [("be", False), ("en", True)],
                         ids=["be-nojs", "en-js"])
def test_no_console_page_has_a_serious_axe_violation(
        live_server: LiveServer, browser: Browser, session: Session, lang: str,
        javascript: bool) -> None:
    settings, engine = live_server.settings, live_server.engine
    handles: dict[str, StaffHandle] = {
        "caseworker": create_staff(session, Role.CASEWORKER, on_intake_duty=True,
                                   settings=settings),
        "coordinator": create_staff(session, Role.COORDINATOR, on_intake_duty=True,
                                    settings=settings),
        "admin": create_staff(session, Role.ADMIN, settings=settings),
    }
    with httpx.Client(base_url=live_server.url, timeout=60) as public:
        shared = submit_report(
            public, acts=["detention", "torture", "disappearance"],
            narrative="Axe canary: beaten at Okrestina, then nobody knew where he was.",
            reporter={"role": "relative", "relationship": "brother"},
            when={"start": "2025-03", "ongoing": True},
            persons=[{"role": "victim", "name": "Canary Axeson", "whereabouts_unknown": True}],
            consent={"internal_handling": True, "share_un": True,
                     "un_name_to_government": True, "aggregate_statistics": True})
        duplicate = submit_report(public, narrative="Axe canary: the same night, retold.")

    found: dict[str, list[str]] = {}
    with visit(browser, live_server.url, javascript=javascript) as anonymous, \
            visit(browser, live_server.url, javascript=javascript) as worker, \
            visit(browser, live_server.url, javascript=javascript) as coordinator, \
            visit(browser, live_server.url, javascript=javascript) as admin:
        people: dict[str, Visit] = {"anonymous": anonymous, "caseworker": worker,
                                    "coordinator": coordinator, "admin": admin}
        for role, handle in handles.items():
            sign_in(people[role], engine, lang, handle.user.username, handle.password,
                    handle.totp_secret)

        def check(role: str, path: str, status: int = 200) -> None:
            v = people[role]
            if role == "anonymous":  # no account yet: the page's language is asked for
                path += ("&" if "?" in path else "?") + f"lang={lang}"
            response = v.page.goto(v.base_url + path)
            assert response is not None and response.status == status, (role, path)
            expected = "en" if path == UNROUTED else lang
            assert v.page.get_attribute("html", "lang") == expected, (role, path)
            if problems := serious_violations(v):
                found[f"{role} {path}"] = problems

        # The caseworker writes to the submitter, so the case page has a thread to show.
        worker.goto("/staff/queue?tab=all")
        worker.page.locator("table.cases tbody th a", has_text=shared["reference"]).click()
        worker.page.wait_for_selector("dl.facts")
        case_id = worker.page.url.rstrip("/").rsplit("/", 1)[1].split("?")[0]
        worker.page.fill("textarea[name=body]", "Axe question: which cell?")
        worker.page.click("form[action$='/messages'] button[type=submit]")
        worker.page.wait_for_selector("p.notice")
        act_href = worker.page.locator("ul.acts li a").first.get_attribute("href") or ""
        matched = ACT_LINK.search(act_href)
        assert matched, act_href
        person_href = worker.page.locator(
            "a[href*='/persons/']:not([href$='/persons/new'])").first.get_attribute("href")
        person = (person_href or "").rsplit("/", 1)[1]
        # An intervention recorded on its form, so its edit page has one to show.
        worker.goto(f"/staff/cases/{case_id}/interventions/new")
        worker.page.select_option("#f-intervention_type", index=1)
        worker.page.click("form[action$='/interventions'] button[type=submit]")
        worker.page.wait_for_selector("p.notice")
        intervention_href = worker.page.locator(
            "a[href*='/interventions/']:not([href$='/interventions/new'])"
        ).first.get_attribute("href")
        intervention = (intervention_href or "").rsplit("/", 1)[1]
        # A partner, so its page (keys, the form to issue one) has one to show.
        admin.goto("/staff/admin/partners")
        admin.page.fill("#partner-name", f"Axe partner {lang}")
        admin.page.click("form[action='/staff/admin/partners'] button[type=submit]")
        admin.page.wait_for_url("**/staff/admin/partners/*")
        partner = admin.page.url.split("?")[0].rsplit("/", 1)[1]
        seen = Seen(case=case_id, duplicate_reference=duplicate["reference"],
                    act=matched.group(1), person=person, intervention=intervention,
                    partner=partner)

        # Pages that answer a POST: a new account's code (leaving an approval pending for
        # the coordinator's page), the audit log's check, the four-eyes refusal.
        admin.goto("/staff/admin/accounts")
        admin.page.fill("#new-username", f"axe-{lang}-new")
        admin.page.fill("#new-password", "a-first-password-1")
        admin.page.click("form[action='/staff/admin/accounts'] button[type=submit]")
        admin.page.wait_for_selector("figure.qr svg")
        if problems := serious_violations(admin):
            found["admin POST /staff/admin/accounts"] = problems
        admin.goto("/staff/admin/system")
        admin.page.click("form[action='/staff/admin/audit/verify'] button[type=submit]")
        admin.page.wait_for_load_state()
        if problems := serious_violations(admin):
            found["admin POST /staff/admin/audit/verify"] = problems

        for route in sorted(PAGES):
            for role, path in PAGES[route](seen):
                check(role, path)
        for role, path, status in ERROR_PAGES:
            check(role, path, status)
    assert found == {}
