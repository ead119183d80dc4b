"""Issue 15's trickling body, behind the Tor deployment (tests/system/tor_deployment.py), on
SQLite and PostgreSQL: a tus PATCH that brings one byte every three seconds was still being
read after 120 s, holding a connection and its file descriptors. Now every window of
``DOKAZ_BODY_RATE_WINDOW_SECONDS`` must bring ``DOKAZ_MIN_BODY_BYTES_PER_WINDOW`` bytes, or
the request ends with 408; a phone on Tor at 1 KB/s is never cut off.

The window is scaled down (4 s, 2 KiB) so the test takes seconds; the defaults keep the
same ratio to a 1 KB/s phone (60 s, 4 KiB: a fifteenth of what it sends)."""

from __future__ import annotations

import base64
import select
import socket
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session

from tests.factories import create_recovery_key_text
from tests.system.tor.proxied import request, status, tor_header
from tests.system.tor_deployment import TorDeployment, tor_deployment

pytestmark = pytest.mark.slow

WINDOW_SECONDS = 4
NEED_BYTES = 2048
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[TorDeployment]:
    with tor_deployment(request.param, tmp_path_factory.mktemp(f"rate-{request.param}"),
                        DOKAZ_BODY_RATE_WINDOW_SECONDS=str(WINDOW_SECONDS),
                        DOKAZ_MIN_BODY_BYTES_PER_WINDOW=str(NEED_BYTES)) as served:
        with Session(served.dep.engine) as s:
            create_recovery_key_text(s)
        yield served


def _new_upload(tor: TorDeployment, circuit: int, length: int) -> str:
    name = base64.b64encode(b"evidence.bin").decode()
    with tor.circuit(circuit) as client:
        r = client.post("/api/v1/uploads", headers={
            **TUS, "Upload-Length": str(length), "Upload-Metadata": f"filename {name}"})
    assert r.status_code == 201, r.text
    return r.headers["Location"]


def _patch_paced(tor: TorDeployment, circuit: int, path: str, body: bytes, piece: int,
                 every: float, give_up: float) -> tuple[bytes, float]:
    """PATCH ``body`` on one proxied connection, ``piece`` bytes every ``every`` seconds,
    until the server has answered and closed, or ``give_up`` seconds pass; the answer and
    when the connection ended."""
    head = request("PATCH", path, b"", close=True, **TUS, Upload_Offset="0",
                   Content_Type="application/offset+octet-stream")
    head = head.replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode())
    started = time.monotonic()
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", tor.public_port), timeout=10) as s:
        s.sendall(tor_header(circuit) + head)
        sent = 0
        while time.monotonic() - started < give_up:
            if sent < len(body):
                try:
                    s.sendall(body[sent:sent + piece])
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += piece
            readable, _, _ = select.select([s], [], [], every)
            if readable:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                answer += data  # read on: the server closes after its answer
    return bytes(answer), time.monotonic() - started


def test_a_trickling_patch_is_stopped_with_408_within_two_windows(tor: TorDeployment) -> None:
    path = _new_upload(tor, 301, 10_000)
    answer, seconds = _patch_paced(tor, 301, path, b"x" * 10_000, piece=1, every=3,
                                   give_up=40)
    assert answer, f"no answer after {seconds:.0f} s: the trickle is still being read"
    assert status(answer) == 408, answer[:300]
    assert b"too slowly" in answer
    # The first window ends after 4 s with 2 bytes of 2048: stopped then, not after 120 s.
    assert seconds < 2 * WINDOW_SECONDS + 3
    with tor.circuit(302) as other:
        assert other.get("/healthz").status_code == 200


def test_a_phone_at_one_kilobyte_a_second_is_never_cut_off(tor: TorDeployment) -> None:
    size = 3 * WINDOW_SECONDS * 1024  # three windows' worth at 1 KiB/s
    path = _new_upload(tor, 303, size)
    answer, seconds = _patch_paced(tor, 303, path, b"y" * size, piece=256, every=0.25,
                                   give_up=60)
    assert status(answer) == 204, answer[:300]
    assert f"Upload-Offset: {size}".lower().encode() in answer.lower()
    assert seconds >= 2 * WINDOW_SECONDS  # it really did take several windows
