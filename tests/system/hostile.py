"""The live installation the hostile-input catalogue attacks, and raw-socket helpers.

:class:`Target` holds one SQLite installation served by a real ``python -m api serve``
with small limits (so oversize cases are cheap), a recovery key, staff of each role with
sessions, a partner key, one real submission (its receipt, case id and ETag) and a TOTP
code that has already been used once.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlmodel import Session

from api.auth.models import StaffUser
from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from api.core.models import utcnow
from tests.factories import (
    StaffHandle,
    create_partner_key,
    create_recovery_key_text,
    create_staff,
    sample_report,
)
from tests.system.live import Deployment, LiveApi, mint_token

LIMITS = {
    "DOKAZ_MAX_JSON_BYTES": str(16 * 1024),
    "DOKAZ_MAX_FILE_BYTES": str(256 * 1024),
    "DOKAZ_MAX_SUBMISSION_BYTES": str(1024 * 1024),
    "DOKAZ_MAX_FILES_PER_SUBMISSION": "12",
    "DOKAZ_REQUEST_BODY_TIMEOUT_SECONDS": "2",
    "DOKAZ_MAX_HEADER_BYTES": "8192",
    "DOKAZ_WEB_MAX_TEXT_CHARS": "2000",
    "DOKAZ_RECEIPT_ATTEMPTS_PER_HOUR": "100000",
    # Seconds a client may take to send its request headers (see test_slowloris_headers).
    "DOKAZ_HEADER_TIMEOUT_SECONDS": "3",
}


@dataclass
class Target:
    dep: Deployment
    api: LiveApi
    client: httpx.Client
    staff: dict[str, StaffHandle] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    partner_key: str = ""
    receipt: str = ""
    reference: str = ""
    case_id: str = ""
    etag: str = ""
    used_code: str = ""
    followup_token: str = ""

    @property
    def url(self) -> str:
        return self.api.url

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def form_page(self, lang: str = "be") -> tuple[str, str]:
        """(cookie nonce, CSRF token) from a fresh GET of the report form."""
        with httpx.Client(base_url=self.url) as fresh:
            r = fresh.get(f"/report?lang={lang}")
            match = re.search(r'name="csrf" value="([^"]+)"', r.text)
            assert r.status_code == 200 and match, r.status_code
            return r.cookies["dokaz_form"], match.group(1)


def build_target(dep: Deployment) -> Target:
    with Session(dep.engine, expire_on_commit=False) as s:
        create_recovery_key_text(s)
        staff = {
            "admin": create_staff(s, Role.ADMIN),
            "coordinator": create_staff(s, Role.COORDINATOR),
            "caseworker": create_staff(s, Role.CASEWORKER, on_intake_duty=True),
            "lawyer": create_staff(s, Role.LAWYER),
            "replay": create_staff(s, Role.CASEWORKER),
        }
        partner_key, _ = create_partner_key(s)
    api = dep.start_api()
    target = Target(dep, api, httpx.Client(base_url=api.url, timeout=30), staff)
    target.partner_key = partner_key
    for role in ("admin", "coordinator", "caseworker", "lawyer"):
        target.tokens[role] = mint_token(dep.engine, dep.settings, staff[role])

    r = target.client.post("/api/v1/submissions", json=sample_report())
    assert r.status_code == 201, r.text
    target.receipt, target.reference = r.json()["receipt"], r.json()["reference"]
    listing = target.client.get("/api/v1/cases", headers=target.bearer("caseworker")).json()
    target.case_id = listing["items"][0]["id"]
    got = target.client.get(f"/api/v1/cases/{target.case_id}",
                            headers=target.bearer("caseworker"))
    target.etag = got.headers["etag"]

    r = target.client.post("/api/v1/followup/session", json={"receipt": target.receipt})
    assert r.status_code == 201, r.text
    target.followup_token = r.json()["token"]

    # Sign in once through the API: that code is now used up and must not work again.
    handle = staff["replay"]
    with Session(dep.engine) as s:
        user = s.get(StaffUser, handle.id)
        assert user is not None
        user.totp_last_step = 0
        s.add(user)
        s.commit()
    target.used_code = code_for_step(handle.totp_secret, step_at(utcnow()))
    r = target.client.post("/api/v1/auth/login", json={
        "username": handle.user.username, "password": handle.password,
        "code": target.used_code})
    assert r.status_code == 200, r.text
    return target


# ---- raw sockets -----------------------------------------------------------------------


@dataclass
class RawResult:
    status: int  # 0: the server closed the connection without an HTTP answer
    body: bytes
    raw: bytes
    seconds: float
    closed: bool


def raw_exchange(port: int, head: bytes, body_parts: list[bytes] | None = None,
                 pause: float = 0.0, read_timeout: float = 15.0) -> RawResult:
    """Send ``head`` (and body parts, ``pause`` apart), then read until the server closes."""
    start = time.monotonic()
    data = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        try:
            sock.sendall(head)
            for part in body_parts or []:
                time.sleep(pause)
                sock.sendall(part)
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        while not closed:
            chunk = _read_some(sock)
            if chunk is None:
                closed = True
            elif not chunk:
                break  # the server went quiet with the connection still open
            else:
                data += chunk
    return RawResult(_status(data), data.partition(b"\r\n\r\n")[2], data,
                     time.monotonic() - start, closed)


def trickle_headers(port: int, every: float, give_up: float) -> RawResult:
    """Slowloris: a request line, then one header byte every ``every`` seconds, never
    finishing; returns when the server drops the connection or after ``give_up`` s."""
    start = time.monotonic()
    closed = False
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=every) as sock:
        sock.sendall(b"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        filler = b"X-Slow: " + b"a" * 10_000
        i = 0
        while time.monotonic() - start < give_up:
            try:
                sock.sendall(filler[i % len(filler):][:1])
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            i += 1
            chunk = _read_some(sock)
            if chunk is None:
                closed = True
                break
            data += chunk
    return RawResult(_status(data), data, data, time.monotonic() - start, closed)


def _read_some(sock: socket.socket) -> bytes | None:
    """One read: what arrived, ``b""`` if nothing did within the socket's timeout, or None
    once the server has closed or reset the connection."""
    try:
        return sock.recv(65536) or None
    except TimeoutError:
        return b""
    except ConnectionResetError:
        return None


def _status(data: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else 0


def json_error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body
