"""Helpers for driving the public pages in Chromium like a person would."""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Request

from tests.web.conftest import SCREENSHOTS

BAD_IMPACTS = ("serious", "critical")


def tiny_png(seed: int) -> bytes:
    """A valid 4x4 PNG whose pixels depend on ``seed`` (so two files differ)."""
    raw = b"".join(b"\x00" + bytes((seed * 40 + x * 10) % 256 for x in range(12))
                   for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@dataclass(frozen=True)
class UploadFile:
    name: str
    mime_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def payload(self) -> FilePayload:
        return {"name": self.name, "mimeType": self.mime_type, "buffer": self.data}


def two_files(tag: str) -> list[UploadFile]:
    return [
        UploadFile(f"фота-{tag}.png", "image/png", tiny_png(len(tag))),
        UploadFile(f"notes {tag}.txt", "text/plain",
                   f"Запіс сведкі {tag}: 12 жніўня, Акрэсціна.\n".encode() * 50),
    ]


@dataclass
class Visit:
    """A browser context that records every request it makes."""

    browser: Browser
    context: BrowserContext
    page: Page
    base_url: str
    javascript: bool
    requests: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.base_url + "/")]


@contextmanager
def visit(browser: Browser, base_url: str, *, javascript: bool, width: int = 1280,
          height: int = 900) -> Iterator[Visit]:
    context = browser.new_context(java_script_enabled=javascript,
                                  viewport={"width": width, "height": height},
                                  locale="en-US")
    page = context.new_page()
    v = Visit(browser, context, page, base_url, javascript)

    def record(request: Request) -> None:
        v.requests.append(request.url)

    context.on("request", record)
    try:
        yield v
    finally:
        context.close()


def _axe_findings(page: Page) -> list[str]:
    results = Axe().run(page)
    out = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BAD_IMPACTS:
            targets = [n.get("target") for n in violation.get("nodes", [])][:3]
            out.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return out


def serious_violations(v: Visit) -> list[str]:
    """Serious or critical axe-core findings (axe.min.js from axe-playwright-python).

    axe needs JavaScript. In a context with JavaScript off the page as rendered is served
    once more, byte for byte, to a JavaScript-enabled page at the same origin (so its
    stylesheet loads and colour contrast is judged), and axe runs there.
    """
    if v.javascript:
        return _axe_findings(v.page)
    html = v.page.content()
    context = v.browser.new_context(viewport=v.page.viewport_size)
    try:
        page = context.new_page()
        snapshot_url = v.base_url + "/__axe_snapshot__"
        page.route(snapshot_url, lambda route: route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=html))
        page.goto(snapshot_url)
        return _axe_findings(page)
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill_report(page: Page, files: list[UploadFile], narrative: str) -> None:
    """Everything a thorough person would fill in, by field id (language-independent)."""
    page.check("#role-relative")
    page.check("#categories-detention")
    page.check("#categories-torture")
    page.check("#torture_risk")
    page.fill("#narrative", narrative)
    page.fill("#when_day", "12")
    page.select_option("#when_month", "8")
    page.fill("#when_year", "2020")
    page.check("#when_approximate")
    page.select_option("#region", "BY-HM")
    page.select_option("#facility_type", "tsip")
    page.fill("#place_details", "Акрэсціна, камера 7")
    page.fill("#person_name", "Ігар Т.")
    page.fill("#person_details", "41 год, рабочы")
    page.fill("#perpetrator_details", "АМАП, без жэтонаў")
    page.fill("#submitter_name", "Алена")
    page.fill("#contact", "signal +000 0000")
    page.check("#consent-aggregate_statistics")
    page.check("#consent-contact_back")
    page.set_input_files("#files", files=[f.payload() for f in files])


def receipt_text(page: Page) -> str:
    text = page.inner_text("#receipt-code")
    code = re.sub(r"[^0-9A-Z]", "", text)
    assert len(code) == 32, text
    return "-".join(code[i : i + 4] for i in range(0, 32, 4))
