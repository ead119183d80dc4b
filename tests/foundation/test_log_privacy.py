"""No client IP address or user agent reaches any log line, on any route."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.core.logging import configure_logging, scrub
from api.core.settings import Settings
from tests.factories import create_recovery_key_text
from tests.foundation.serve import wait_healthy

CANARY_IP = "203.0.113.77"
CANARY_IP6 = "2001:db8::beef:77"
CANARY_UA = "Mozilla/5.0 (X11; CanaryOS 42) CanaryBrowser/9.9"
HEADERS = {
    "X-Forwarded-For": f"{CANARY_IP}, {CANARY_IP6}",
    "X-Real-IP": CANARY_IP,
    "Forwarded": f"for={CANARY_IP}",
    "User-Agent": CANARY_UA,
}


def _assert_clean(text: str) -> None:
    for needle in (CANARY_IP, CANARY_IP6, "CanaryBrowser", "CanaryOS", "testclient", "127.0.0.1"):
        assert needle not in text, f"{needle!r} leaked into logs"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    yield stream
    configure_logging("WARNING", "text")


def test_scrub_removes_addresses_and_agents() -> None:
    line = (f"peer {CANARY_IP}:5555 [{CANARY_IP6}]:80 ua={CANARY_UA} user-agent: curl/8.1 "
            f"from ::1 and fe80::1%eth0 and 1:2:3:4:5:6:7:8")
    out = scrub(line)
    _assert_clean(out)
    for leaked in ("curl/8.1", "::1", "fe80", "1:2:3:4:5:6:7:8"):
        assert leaked not in out


def test_scrub_keeps_clock_times_and_ordinary_text() -> None:
    line = "job done at 01:33:06.763 in 12:30 for case ab12-cd34; ratio 3:1"
    assert scrub(line) == line


def test_in_process_requests_leave_no_client_identity(
    captured_logs: io.StringIO, settings: Settings, engine: object
) -> None:
    app = create_app(settings, engine)  # type: ignore[arg-type]
    seen: dict[str, object] = {}

    @app.get("/probe")
    def probe(request: Request) -> dict[str, str]:
        seen["client"] = request.client
        seen["headers"] = dict(request.headers)
        logging.getLogger("dokaz.test").warning("probe from %s", request.headers.get("user-agent"))
        return {"ok": "yes"}

    with TestClient(app) as client:
        for path in ("/healthz", "/readyz", "/probe", "/nowhere"):
            client.get(path, headers=HEADERS)
        client.post("/healthz", headers=HEADERS, content=b"x")
    assert seen["client"] is None
    assert "user-agent" not in seen["headers"]  # type: ignore[operator]
    assert "x-forwarded-for" not in seen["headers"]  # type: ignore[operator]
    text = captured_logs.getvalue()
    assert '"route": "/probe"' in text  # the access log is there, just anonymous
    _assert_clean(text)


def _server_lines(stream: io.StringIO) -> list[dict[str, object]]:
    """The captured JSON lines the server wrote. In-process, the test's own HTTP client
    (httpx) logs each URL it requests into the same handler; that is the client's log,
    not the server's, so it is left out."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [x for x in lines if not str(x["logger"]).startswith(("httpx", "httpcore"))]


def test_logs_name_route_templates_never_paths(
    captured_logs: io.StringIO, settings: Settings, engine: Engine, session: Session
) -> None:
    """Paths carry capabilities (a tus upload's secret): no log line may contain one."""
    create_recovery_key_text(session)
    app = create_app(settings, engine)
    secret = "s3cr3tCapability" + secrets.token_hex(16)

    @app.get("/probe/{token}")
    def broken(token: str) -> None:
        raise RuntimeError(f"failed for {token}")

    tus = {"Tus-Resumable": "1.0.0"}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(f"/probe/{secret}").status_code == 500
        assert client.get(f"/api/v1/nowhere/{secret}").status_code == 404
        created = client.post("/api/v1/uploads", headers={**tus, "Upload-Length": "5"})
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        token = location.rsplit("/", 1)[1]
        patched = client.patch(location, content=b"hello", headers={
            **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert patched.status_code == 204, patched.text
        assert client.head(location, headers=tus).status_code == 200
    lines = _server_lines(captured_logs)
    text = json.dumps(lines)
    assert secret not in text and token not in text
    errors = [x for x in lines if x["logger"] == "dokaz.errors"]
    assert [(x["msg"], x["route"], x["error_type"]) for x in errors] == [
        ("unhandled error", "/probe/{token}", "RuntimeError")]
    routes = {(x["method"], x["route"]) for x in lines if x["logger"] == "dokaz.access"}
    assert {("GET", "/probe/{token}"), ("GET", "(unmatched)"), ("POST", "/api/v1/uploads"),
            ("PATCH", "/api/v1/uploads/{token}"), ("HEAD", "/api/v1/uploads/{token}")} <= routes


def test_public_request_log_lines_carry_only_the_minute(
    captured_logs: io.StringIO, settings: Settings, engine: object
) -> None:
    """Property 13: every line logged while a public route is served (the access line and
    the route's own lines, also from a worker thread) has a time cut to the minute; staff
    routes and lines outside any request keep their exact time."""
    import json

    import anyio.to_thread

    app = create_app(settings, engine)  # type: ignore[arg-type]

    async def log_in_thread(name: str) -> None:
        await anyio.to_thread.run_sync(lambda: logging.getLogger(name).warning("in thread"))

    @app.get("/probe-public")
    async def public() -> dict[str, str]:
        logging.getLogger("dokaz.intake").warning("public route line")
        await log_in_thread("dokaz.intake.thread")
        return {"ok": "yes"}

    @app.get("/probe-public-fails")
    def fails() -> dict[str, str]:
        raise RuntimeError("boom")

    @app.get("/api/v1/auth/probe/staff-line")
    def staff() -> dict[str, str]:
        logging.getLogger("dokaz.cases").warning("staff route line")
        return {"ok": "yes"}

    with TestClient(app, raise_server_exceptions=False) as client:
        # Make sure some lines fall off the minute, so an exact time would show.
        while time.time() % 60 < 0.05:
            time.sleep(0.05)
        client.get("/probe-public")
        assert client.get("/probe-public-fails").status_code == 500
        client.get("/api/v1/auth/probe/staff-line")
    logging.getLogger("dokaz.outside").warning("no request")
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    by_route = {(x["logger"], x["route"] if x["logger"] == "dokaz.access" else x["msg"]): x["ts"]
                for x in lines}
    minute = [by_route[("dokaz.access", "/probe-public")],
              by_route[("dokaz.intake", "public route line")],
              by_route[("dokaz.intake.thread", "in thread")],
              by_route[("dokaz.access", "/probe-public-fails")],
              # logged by the error handler outside the middleware, still this request's
              by_route[("dokaz.errors", "unhandled error")]]
    assert all(ts.endswith(":00.000+00:00") for ts in minute), minute
    exact = [by_route[("dokaz.access", "/api/v1/auth/probe/staff-line")],
             by_route[("dokaz.cases", "staff route line")], by_route[("dokaz.outside",
                                                                       "no request")]]
    assert not all(ts.endswith(":00.000+00:00") for ts in exact), exact


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_server_logs_nothing_identifying(tmp_path: Path) -> None:
    """`dokaz serve` under uvicorn, access log and error log included."""
    port = _free_port()
    env = dict(os.environ, DOKAZ_DATA_DIR=str(tmp_path / "data"), DOKAZ_PORT=str(port),
               DOKAZ_LOG_LEVEL="DEBUG")
    env.pop("DOKAZ_DATABASE_URL", None)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api", "serve"], env=env, stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(proc, base, log=log_path)
            with httpx.Client(base_url=base, headers=HEADERS) as c:
                # Not ready: started without a terminal, so no recovery key was made.
                assert c.get("/readyz").status_code == 503
                assert c.get("/missing").status_code == 404
                assert c.post("/healthz").status_code == 405
            # A malformed request line makes uvicorn log a warning of its own.
            with socket.create_connection(("127.0.0.1", port)) as raw:
                ua = CANARY_UA.encode()
                raw.sendall(b"GARBAGE / HTTP/1.1\r\nUser-Agent: " + ua + b"\r\n\r\n")
                raw.recv(1024)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log_path.read_text()
    assert '"route": "/readyz"' in text
    # The one line that may show an address is the server's own, where it listens (the
    # client here connects from that same address, and no other line may show it).
    startup = f"Uvicorn running on http://127.0.0.1:{port} (Press CTRL+C to quit)"
    lines = text.splitlines()
    assert [json.loads(line)["msg"] for line in lines if "Uvicorn running" in line] == [startup]
    _assert_clean("\n".join(line for line in lines if startup not in line))


@pytest.mark.slow
def test_startup_shows_where_it_listens_and_keeps_library_noise_below_info(
        tmp_path: Path) -> None:
    """At the default level the first start says what it migrated and where it listens,
    in Dokaz's words; Alembic's plugin and per-revision lines stay at DEBUG."""
    port = _free_port()
    env = dict(os.environ, DOKAZ_DATA_DIR=str(tmp_path / "data"), DOKAZ_PORT=str(port),
               DOKAZ_LOG_LEVEL="INFO", DOKAZ_LOG_FORMAT="text")
    env.pop("DOKAZ_DATABASE_URL", None)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "api", "serve"], env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_healthy(proc, f"http://127.0.0.1:{port}", log=log_path)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lines = log_path.read_text().splitlines()
    assert not [line for line in lines if "alembic" in line], lines
    assert any(line.startswith("INFO    dokaz.db: database schema upgraded to ") for line in lines)
    assert (f"INFO    uvicorn.error: Uvicorn running on http://127.0.0.1:{port} "
            "(Press CTRL+C to quit)") in lines
    assert not [line for line in lines if "color_message" in line or "[redacted]" in line]
