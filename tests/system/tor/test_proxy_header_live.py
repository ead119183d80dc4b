"""``dokaz serve`` with ``DOKAZ_CLIENT_IDENTITY=proxy-protocol``, over real sockets: each
client sends the PROXY header Tor would write for its circuit, then HTTP.

A connection with a valid header gets its answers (keep-alive included) and the header
never reaches the HTTP parser; each circuit is its own client for the per-client intake
limit; a connection without a header, with a garbage header or with a header that takes
longer than the header timeout is closed without a single byte of response.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.factories import create_recovery_key_text, sample_report
from tests.system.live import Deployment, LiveApi, deployment
from tests.system.tor.proxied import exchange, request, status, tor_header, wait_ready
from tests.system.traffic import multipart_body

HEADER_TIMEOUT = 1.5
PER_CIRCUIT = 2  # submissions per client per hour, low so a test can exhaust it


def submission(canary: str) -> bytes:
    ctype, body = multipart_body(
        [("submission", json.dumps(sample_report(narrative=f"Narrative {canary}")))],
        [("files", f"{canary}.bin", canary.encode() * 64)])
    return request("POST", "/api/v1/submissions", body, Content_Type=ctype)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, LiveApi]]:
    with deployment("sqlite", tmp_path_factory.mktemp("proxied")) as dep:
        with Session(dep.engine) as s:
            create_recovery_key_text(s)
        env = dep.env(DOKAZ_CLIENT_IDENTITY="proxy-protocol",
                      DOKAZ_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
                      DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR=str(PER_CIRCUIT))
        api = LiveApi(env, Path(dep.root) / "api.log")
        dep.apis.append(api)
        wait_ready(api)
        yield dep, api


def test_a_proxied_client_gets_its_answer(served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    response = exchange(api.port, tor_header(7) + request("GET", "/healthz"))
    assert status(response) == 200
    # The header split over several reads, as a slow link delivers it.
    header = tor_header(8)
    response = exchange(api.port, header[:5], header[5:20], header[20:] + request(
        "GET", "/healthz"), pause=0.05)
    assert status(response) == 200


def test_the_header_is_read_once_then_http_keeps_alive(
        served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    response = exchange(api.port, tor_header(9) + request("GET", "/healthz", close=False)
                        + request("GET", "/healthz"))
    assert response.count(b"HTTP/1.1 200") == 2
    # A second PROXY line on the same connection is HTTP garbage, not a new identity.
    response = exchange(api.port, tor_header(10) + tor_header(11) + request("GET", "/healthz"))
    assert status(response) == 400


def test_each_circuit_is_its_own_client(served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    flooder, other = tor_header(1000), tor_header(1001)
    for i in range(PER_CIRCUIT):
        assert status(exchange(api.port, flooder + submission(f"CANARYflood{i}"))) == 201
    refused = exchange(api.port, flooder + submission("CANARYrefused"))
    assert status(refused) == 429 and b"retry-after" in refused.lower()
    # Same circuit on a new connection with another source port: still the same client.
    again = exchange(api.port, tor_header(1000, sport=4444) + submission("CANARYagain"))
    assert status(again) == 429
    admitted = exchange(api.port, other + submission("CANARYother"))
    assert status(admitted) == 201, admitted[-500:]
    assert b"receipt" in admitted


@pytest.mark.parametrize("first_bytes", [
    request("GET", "/healthz"),  # no header at all
    b"PROXY TCP6 fc00:dead:beef:4dad::1 ::1 1 80\n" + request("GET", "/healthz"),  # no CR
    b"PROXY TCP4 999.1.1.1 127.0.0.1 1 80\r\n" + request("GET", "/healthz"),
    b"PROXY TCP6 fc00:dead:beef:4dad::1 ::1 080 80\r\n" + request("GET", "/healthz"),
    b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n" + request("GET", "/healthz"),  # over 107 bytes
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x24" + b"\x00" * 36 + request("GET", "/healthz"),  # v2
])
def test_without_a_valid_header_the_connection_closes_unanswered(
        served: tuple[Deployment, LiveApi], first_bytes: bytes) -> None:
    _, api = served
    start = time.monotonic()
    assert exchange(api.port, first_bytes) == b""
    assert time.monotonic() - start < HEADER_TIMEOUT  # refused at once, not timed out


def test_a_slow_header_is_closed_unanswered(served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    header = tor_header(12)
    start = time.monotonic()
    # One byte every 0.2 s: the 49-byte header would take about 10 s.
    response = exchange(api.port, *[header[i:i + 1] for i in range(len(header))], pause=0.2)
    took = time.monotonic() - start
    assert response == b""
    assert HEADER_TIMEOUT - 0.1 < took < HEADER_TIMEOUT + 3


def test_a_silent_connection_is_closed_after_the_header_timeout(
        served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    start = time.monotonic()
    assert exchange(api.port) == b""
    assert HEADER_TIMEOUT - 0.1 < time.monotonic() - start < HEADER_TIMEOUT + 3


def test_http_headers_still_have_the_header_timeout(served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    start = time.monotonic()
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    response = exchange(api.port, tor_header(13), *[head[i:i + 4] for i in range(0, 40, 4)],
                        pause=0.3)
    assert response == b""
    assert time.monotonic() - start < HEADER_TIMEOUT + 3


def test_nothing_identifying_is_logged(served: tuple[Deployment, LiveApi]) -> None:
    _, api = served
    log = api.log.read_text(errors="replace")
    assert "fc00:dead:beef" not in log and "circuit:" not in log
