"""Fixtures for the public pages: a real uvicorn server and Debian's Chromium.

The server runs the real application (``create_app``) on a free 127.0.0.1 port in a
background thread, against the test database of the ``settings``/``engine`` fixtures
(so on SQLite and on PostgreSQL). Chromium is the system one (``/usr/bin/chromium``),
never a downloaded build; each test gets a fresh browser context (no cookies, no cache).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.auth.roles import Role
from api.core.settings import Settings
from tests.factories import create_recovery_key_text, create_staff

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    engine: Engine
    thread: threading.Thread
    server: uvicorn.Server
    staff: list[object] = field(default_factory=list)


@pytest.fixture
def intake_ready(session: Session, settings: Settings) -> None:
    """What intake needs: the organisation recovery key and a caseworker on intake duty."""
    create_recovery_key_text(session)
    create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)


@contextmanager
def serving(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    """The real app on a free port, in a thread, until the block ends."""
    app = create_app(settings, engine)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-web-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, engine, thread, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(settings: Settings, engine: Engine, intake_ready: None) -> Iterator[LiveServer]:
    with serving(settings, engine) as server:
        yield server


# Per module, not per session: Playwright's sync API keeps an event loop running in the
# main thread while it is started, so a later test in the same worker that calls
# asyncio.run() would fail ("cannot be called from a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
