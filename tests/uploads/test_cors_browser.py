"""Cross-origin tus uploads in a real browser: a page on another origin (a second local
server) uploads with tus-js-client's browser build in Chromium. With its origin listed in
``tus_cors_origins`` the upload goes through and can be reported; with another origin
listed (or none, the default) the browser is refused before anything is created."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import text

from api.core.settings import Settings
from tests.conftest import DbUnderTest
from tests.intake.helpers import report
from tests.web.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    free_port,
    intake_ready,
    live_server,
)

__all__ = ["intake_ready", "live_server"]

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><meta charset="utf-8"><title>partner uploader</title>
<script src="tus.min.js"></script>
<script>
  const endpoint = new URLSearchParams(location.search).get("endpoint");
  const bytes = new Uint8Array(300000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 251;
  window.expected = bytes;
  const up = new tus.Upload(new Blob([bytes]), {
    endpoint, chunkSize: 100000, retryDelays: null,
    metadata: { filename: "from-partner.bin" },
    onSuccess() { window.result = "done " + up.url; },
    onError(err) { window.result = "error " + String(err.message || err); },
  });
  up.start();
</script>"""
DATA = bytes((i * 7) % 251 for i in range(300000))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module only (tests/web keeps one for the session): Playwright's
    sync API holds an event loop in this thread while it runs, and the other tests here
    run their own (anyio.run) once it is gone."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_origin(node_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The partner's page, served from its own origin (another port on localhost)."""
    root = tmp_path / "partner"
    root.mkdir()
    shutil.copy(node_dir / "node_modules" / "tus-js-client" / "dist" / "tus.min.js", root)
    (root / "index.html").write_text(PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(request: pytest.FixtureRequest, database: DbUnderTest, tmp_path: Path,
             page_origin: str) -> Settings:
    """The test database's settings with the origins listed in ``tus_cors_origins``: the
    test's parameter, "page" standing for the partner page's origin."""
    listed = str(request.param).replace("page", page_origin)
    return database.make_settings(tmp_path / "data", tus_cors_origins=listed)


def upload_from_the_page(browser: Browser, page_origin: str, server: LiveServer) -> str:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{page_origin}/index.html?endpoint={server.url}/api/v1/uploads")
        page.wait_for_function("window.result !== undefined", timeout=30_000)
        result: str = page.evaluate("window.result")
        return result
    finally:
        context.close()


@pytest.mark.parametrize("settings", ["https://elsewhere.example, page"], indirect=True)
def test_a_listed_origin_uploads_across_origins(
        browser: Browser, page_origin: str, live_server: LiveServer) -> None:
    result = upload_from_the_page(browser, page_origin, live_server)
    assert result.startswith("done "), result
    url = result.split(" ", 1)[1]
    assert url.startswith(live_server.url + "/api/v1/uploads/")
    r = httpx.post(f"{live_server.url}/api/v1/submissions", json=report(uploads=[url]))
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["sha256"] == hashlib.sha256(DATA).hexdigest()


@pytest.mark.parametrize("settings", ["", "https://elsewhere.example"], indirect=True)
def test_an_origin_not_listed_is_refused_by_the_browser(
        browser: Browser, page_origin: str, live_server: LiveServer) -> None:
    result = upload_from_the_page(browser, page_origin, live_server)
    assert result.startswith("error "), result
    with live_server.engine.connect() as conn:  # stopped at the preflight: nothing made
        assert conn.execute(text("SELECT count(*) FROM upload")).scalar_one() == 0
