"""``/api/docs`` and ``/api/redoc`` in Chromium: they render the operations from assets of
Dokaz itself, under their strict policy, and send no request to another origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, Route

from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

# Records every policy violation the page meets (an init script runs outside the CSP).
_WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push({directive: e.violatedDirective, blocked: e.blockedURI});
});
"""
# ReDoc 2 always draws its "API docs by Redocly" logo from its vendor's site. The page's
# img-src refuses it inside the browser, so it never reaches the network; ReDoc then
# hides the image (its onError).
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@dataclass
class DocsVisit:
    page: Page
    response: Response
    attempted: list[str] = field(default_factory=list)  # every load the page started
    sent: list[str] = field(default_factory=list)  # those that reached the network
    violations: list[dict[str, Any]] = field(default_factory=list)

    def foreign(self, urls: list[str], base: str) -> list[str]:
        return [u for u in urls if not u.startswith((base + "/", "data:", "blob:"))]


def _visit(browser: Browser, server: LiveServer, path: str, ready: str) -> DocsVisit:
    context = browser.new_context()
    context.add_init_script(_WATCH_CSP)
    page = context.new_page()
    attempted: list[str] = []
    sent: list[str] = []

    def network(route: Route) -> None:
        # Offline for every other origin: a page that depended on one would stay blank.
        sent.append(route.request.url)
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", network)
    page.on("request", lambda r: attempted.append(r.url))
    response = page.goto(server.url + path)
    assert response is not None and response.status == 200
    page.wait_for_selector(ready, timeout=20_000)
    page.wait_for_load_state("networkidle")
    visit = DocsVisit(page, response, attempted, sent)
    visit.violations = page.evaluate("window.__violations")
    return visit


def test_swagger_ui_renders_the_operations_from_our_own_assets(
        browser: Browser, live_server: LiveServer) -> None:
    v = _visit(browser, live_server, "/api/docs", ".opblock")
    try:
        csp = v.response.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in csp and "unsafe" not in csp
        paths = [s.replace("\u200b", "")
                 for s in v.page.locator(".opblock-summary-path").all_inner_texts()]
        assert "/api/v1/submissions" in paths
        # The submission body's schema resolves (its $ref to SubmissionIn): opened, the
        # operation shows the body, not "Could not resolve reference".
        v.page.locator(".opblock-post .opblock-summary").first.click()
        v.page.wait_for_selector(".opblock-body")
        assert "Could not resolve" not in v.page.content()
        assert f"{live_server.url}/api/docs/assets/favicon.png" in v.sent
        assert v.foreign(v.attempted, live_server.url) == []
        assert v.violations == []
    finally:
        v.page.context.close()


def test_redoc_renders_the_operations_from_our_own_assets(
        browser: Browser, live_server: LiveServer) -> None:
    v = _visit(browser, live_server, "/api/redoc", "[data-section-id^='operation/']")
    try:
        assert "unsafe" not in v.response.headers["content-security-policy"]
        assert v.page.locator("[data-section-id^='operation/']").count() > 5
        assert "Submit a report" in v.page.inner_text("body")
        # Styled: ReDoc's <style> elements carry the nonce or a listed hash, and apply
        # (a blocked <style> has no sheet).
        assert v.page.evaluate("document.querySelectorAll('style[data-styled]').length") > 0
        assert v.page.evaluate("Array.from(document.querySelectorAll('style'))"
                               ".every(e => e.sheet !== null)")
        assert v.foreign(v.sent, live_server.url) == []
        # The one foreign load ReDoc attempts is its logo, refused by the policy.
        assert v.foreign(v.attempted, live_server.url) in ([], [REDOC_LOGO])
        assert v.violations in ([], [{"directive": "img-src", "blocked": REDOC_LOGO}])
    finally:
        v.page.context.close()
