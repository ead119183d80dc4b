"""Dokaz behind a real onion service, on a private Tor network (tests/system/tor/network.py).

``dokaz serve`` runs with ``DOKAZ_CLIENT_IDENTITY=proxy-protocol`` behind an onion service
with ``HiddenServiceExportCircuitID haproxy`` and ``HiddenServicePoWDefensesEnabled 1``.
Through the client's SOCKS port, each SOCKS username is its own circuit (Tor isolates
streams by SOCKS credentials by default):

1. "alice" submits a report with a file;
2. "bob" follows it up with alice's receipt;
3. "mallory" floods submissions until the per-client limit answers 429;
4. alice and bob are still admitted: mallory spent only mallory's budget.

The same tor runs the staff onion service of docs/deployment-tor.md, with client
authorisation: the client holding the key reaches it, an outsider client without the key
cannot even fetch its descriptor. Until ``dokaz serve`` has its own staff port, the staff
service points at a second API process of the same installation (identity ``address``:
the staff onion does not export circuit ids).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tests.factories import create_recovery_key_text
from tests.system.live import Deployment, LiveApi, deployment
from tests.system.tor.network import TorNetwork, socks5_reaches, tor_available, tor_network
from tests.system.tor.proxied import wait_ready
from tests.system.traffic import Submitter

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not tor_available(), reason="needs Debian's tor and tor-gencert "
                       "(apt-get install tor; scripts/test.sh installs it)"),
]

PER_CIRCUIT = 3  # submissions per client per hour
REQUEST_TIMEOUT = 90.0  # a first request on a new circuit builds a rendezvous first


@pytest.fixture(scope="module")
def onion(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Deployment, LiveApi, TorNetwork]]:
    with deployment("sqlite", tmp_path_factory.mktemp("tor")) as dep:
        with Session(dep.engine) as s:
            create_recovery_key_text(s)
        env = dep.env(DOKAZ_CLIENT_IDENTITY="proxy-protocol",
                      DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR=str(PER_CIRCUIT))
        api = LiveApi(env, Path(dep.root) / "api.log")
        dep.apis.append(api)
        wait_ready(api)
        staff = dep.start_api()
        with tor_network(api.port, staff_port=staff.port) as net:
            yield dep, api, net


def through(net: TorNetwork, circuit: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://{net.onion}", proxy=net.proxy_url(circuit),
                        timeout=REQUEST_TIMEOUT)


def submit(client: httpx.Client, submitter: Submitter) -> httpx.Response:
    _sent, ctype, body = submitter.prepare()
    return client.post("/api/v1/submissions", content=body, headers={"Content-Type": ctype})


def test_report_follow_up_and_flood_through_the_onion(
        onion: tuple[Deployment, LiveApi, TorNetwork]) -> None:
    _, api, net = onion
    submitter = Submitter("", file_sizes=(64 * 1024,))
    with through(net, "alice") as alice, through(net, "bob") as bob, \
            through(net, "mallory") as mallory:
        start = time.monotonic()
        first = submit(alice, submitter)
        assert first.status_code == 201, first.text
        report = first.json()
        assert len(report["files"]) == 1

        opened = bob.post("/api/v1/followup/session", json={"receipt": report["receipt"]})
        assert opened.status_code == 201, opened.text
        token = opened.json()["token"]
        status = bob.get("/api/v1/followup/status", headers={"Authorization": f"Bearer {token}"})
        assert status.status_code == 200, status.text
        assert status.json()["reference"] == report["reference"]

        codes = [submit(mallory, submitter).status_code for _ in range(PER_CIRCUIT + 2)]
        assert codes == [201] * PER_CIRCUIT + [429, 429], codes

        again = submit(alice, submitter)
        assert again.status_code == 201, again.text
        other = submit(bob, submitter)
        assert other.status_code == 201, other.text
        assert bob.get("/api/v1/followup/status",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
        took = time.monotonic() - start
    assert took < 120, f"the traffic through the onion took {took:.0f} s"
    assert api.proc.poll() is None
    assert "circuit:" not in api.log.read_text(errors="replace")


def test_a_connection_without_the_proxy_header_is_refused(
        onion: tuple[Deployment, LiveApi, TorNetwork]) -> None:
    # Anyone on the machine who bypasses the onion service and talks plain HTTP to the
    # port gets no answer at all.
    _, api, _ = onion
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{api.port}/healthz", timeout=5)
    assert api.proc.poll() is None


def test_the_staff_onion_admits_only_the_authorised_client(
        onion: tuple[Deployment, LiveApi, TorNetwork]) -> None:
    _, _, net = onion
    assert net.staff_onion is not None and net.outsider_socks_port is not None
    with httpx.Client(base_url=f"http://{net.staff_onion}", proxy=net.proxy_url("staff"),
                      timeout=REQUEST_TIMEOUT) as caseworker:
        assert caseworker.get("/healthz").status_code == 200
    # Without the key the descriptor cannot be decrypted: no introduction, no stream.
    assert not socks5_reaches(net.outsider_socks_port, net.staff_onion, "outsider")
    # The same outsider reaches the public onion service.
    assert socks5_reaches(net.outsider_socks_port, net.onion, "outsider-public")
