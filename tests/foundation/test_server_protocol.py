"""`dokaz serve`'s HTTP protocol: slow or oversized request headers are cut off."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.foundation.serve import wait_healthy


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("proto")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = dict(os.environ, DOKAZ_DATA_DIR=str(tmp / "data"), DOKAZ_PORT=str(port),
               DOKAZ_HEADER_TIMEOUT_SECONDS="2", DOKAZ_MAX_HEADER_BYTES="4096")
    env.pop("DOKAZ_DATABASE_URL", None)
    log = (tmp / "log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log=tmp / "log")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _closed_after(sock: socket.socket, budget: float) -> float | None:
    """Trickle a header byte every 0.25 s; return when the server closed, or None."""
    started = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    sock.settimeout(0.25)
    while time.monotonic() - started < budget:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        try:
            sock.sendall(b"X")
        except OSError:
            return time.monotonic() - started
    return None


@pytest.mark.slow
def test_slow_headers_are_cut_off(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        closed = _closed_after(sock, budget=10)
    assert closed is not None, "a slowloris client held the connection"
    assert closed < 5
    assert httpx.get(f"http://127.0.0.1:{server}/healthz").status_code == 200


@pytest.mark.slow
def test_keep_alive_requests_are_not_cut_off(server: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{server}") as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(1.2)  # idle between requests is the keep-alive timeout's business
        assert client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_oversized_headers_get_431(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431")
    assert b"larger than this server accepts" in answer


@pytest.mark.slow
def test_large_bodies_behind_small_headers_are_not_mistaken_for_headers(server: int) -> None:
    """A POST whose first read holds the headers and 60 KiB of body is an ordinary request."""
    body = b"x" * 60_000
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 405"), answer[:60]


@pytest.mark.slow
def test_header_cap_applies_to_every_request_on_a_connection(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 3000 + b"\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
